// A PNG writer: 8-bit RGB, every row filtered by whichever of PNG's five filters leaves the
// smallest sum of absolute values (libpng's heuristic), then deflated by the system zlib.
import Foundation
import CZlib

public enum PNG {
    /// `pixels` holds width·height RGB triples, row by row.
    public static func encode(width: Int, height: Int, rgb pixels: [UInt8]) -> Data {
        precondition(pixels.count == width * height * 3)
        let stride = width * 3
        var raw = [UInt8]()
        raw.reserveCapacity(height * (1 + stride))
        var previous = [UInt8](repeating: 0, count: stride)
        var candidate = [UInt8](repeating: 0, count: stride)
        var best = [UInt8](repeating: 0, count: stride)
        for y in 0..<height {
            let row = Array(pixels[(y * stride)..<((y + 1) * stride)])
            var bestFilter: UInt8 = 0, bestCost = Int.max
            for filter in UInt8(0)...4 {
                applyFilter(filter, row: row, previous: previous, into: &candidate)
                let cost = candidate.reduce(0) { $0 + Int(Int8(bitPattern: $1).magnitude) }
                if cost < bestCost { bestCost = cost; bestFilter = filter; swap(&best, &candidate) }
            }
            raw.append(bestFilter)
            raw += best
            previous = row
        }
        var png = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        png += chunk("IHDR", bigEndian(UInt32(width)) + bigEndian(UInt32(height)) + [8, 2, 0, 0, 0])
        png += chunk("IDAT", deflate(raw))
        png += chunk("IEND", [])
        return png
    }

    /// PNG filter types 0–4 (none, sub, up, average, Paeth) over one row of 3-byte pixels.
    static func applyFilter(_ type: UInt8, row: [UInt8], previous: [UInt8], into out: inout [UInt8]) {
        for i in 0..<row.count {
            let a = i >= 3 ? Int(row[i - 3]) : 0, b = Int(previous[i]), c = i >= 3 ? Int(previous[i - 3]) : 0
            let predictor: Int
            switch type {
            case 0: predictor = 0
            case 1: predictor = a
            case 2: predictor = b
            case 3: predictor = (a + b) / 2
            default:
                let p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
                predictor = pa <= pb && pa <= pc ? a : (pb <= pc ? b : c)
            }
            out[i] = UInt8(truncatingIfNeeded: Int(row[i]) - predictor)
        }
    }

    /// A zlib stream (RFC 1950) of `bytes` at the best compression level.
    public static func deflate(_ bytes: [UInt8]) -> [UInt8] {
        var size = compressBound(uLong(bytes.count))
        var out = [UInt8](repeating: 0, count: Int(size))
        let status = out.withUnsafeMutableBufferPointer { o in
            bytes.withUnsafeBufferPointer { i in compress2(o.baseAddress, &size, i.baseAddress, uLong(bytes.count), Z_BEST_COMPRESSION) }
        }
        precondition(status == Z_OK, "zlib compress2 failed (\(status)) with a buffer of compressBound's size")
        return Array(out.prefix(Int(size)))
    }

    /// The bytes of a zlib stream (for tests and readers of our own files).
    public static func inflate(_ bytes: [UInt8], expectedSize: Int) -> [UInt8]? {
        var size = uLong(expectedSize)
        var out = [UInt8](repeating: 0, count: expectedSize)
        let status = out.withUnsafeMutableBufferPointer { o in
            bytes.withUnsafeBufferPointer { i in uncompress(o.baseAddress, &size, i.baseAddress, uLong(bytes.count)) }
        }
        return status == Z_OK && Int(size) == expectedSize ? out : nil
    }

    static func chunk(_ type: String, _ data: [UInt8]) -> Data {
        let body = Array(type.utf8) + data
        return Data(bigEndian(UInt32(data.count)) + body + bigEndian(crc32(body)))
    }

    static func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }

    public static func crc32(_ bytes: [UInt8]) -> UInt32 { CRC32.checksum(bytes) }
}
