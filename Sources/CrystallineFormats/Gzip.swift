// gzip members (RFC 1952) through the system zlib. WARC files are a sequence of gzip members,
// one per record, so that a reader can seek to any record's offset and inflate it alone.
import CZlib
import Foundation

public enum Gzip {
    /// One complete gzip member holding `bytes`.
    public static func member(_ bytes: [UInt8], level: Int32 = 6) -> [UInt8] {
        var stream = z_stream()
        // windowBits 15 + 16: a gzip header and trailer instead of zlib's.
        guard deflateInit2_(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            preconditionFailure("zlib deflateInit2 failed")
        }
        defer { deflateEnd(&stream) }
        let bound = Int(deflateBound(&stream, uLong(bytes.count))) + 32
        var out = [UInt8](repeating: 0, count: bound)
        var input = bytes
        let status: Int32 = input.withUnsafeMutableBufferPointer { i in
            out.withUnsafeMutableBufferPointer { o in
                stream.next_in = i.baseAddress
                stream.avail_in = uInt(i.count)
                stream.next_out = o.baseAddress
                stream.avail_out = uInt(o.count)
                return deflate(&stream, Z_FINISH)
            }
        }
        precondition(status == Z_STREAM_END, "zlib deflate did not finish (\(status)) with a deflateBound buffer")
        return Array(out.prefix(Int(stream.total_out)))
    }

    /// The concatenated contents of every gzip member in `bytes`; nil if any member is damaged
    /// or cut short.
    public static func decompressMembers(_ bytes: [UInt8]) -> [UInt8]? {
        var result: [UInt8] = []
        var offset = 0
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while offset < bytes.count {
            var stream = z_stream()
            guard inflateInit2_(&stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return nil }
            defer { inflateEnd(&stream) }
            var status: Int32 = Z_OK
            var input = Array(bytes[offset...])
            input.withUnsafeMutableBufferPointer { i in
                stream.next_in = i.baseAddress
                stream.avail_in = uInt(i.count)
                repeat {
                    chunk.withUnsafeMutableBufferPointer { o in
                        stream.next_out = o.baseAddress
                        stream.avail_out = uInt(o.count)
                        status = inflate(&stream, Z_NO_FLUSH)
                        result.append(contentsOf: o.prefix(o.count - Int(stream.avail_out)))
                    }
                } while status == Z_OK
            }
            guard status == Z_STREAM_END else { return nil }
            offset += Int(stream.total_in)
        }
        return result
    }
}
