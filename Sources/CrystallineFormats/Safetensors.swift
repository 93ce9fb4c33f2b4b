// The safetensors container: an 8-byte little-endian header length, a JSON header mapping
// tensor names to {dtype, shape, data_offsets}, then the raw little-endian tensor bytes.
//
// Reading validates everything before trusting it: header length against the file size,
// offsets against the data section, dtype, and byte counts against shape × element size, in
// arithmetic that cannot overflow. Writing records a CRC-32 of each tensor's bytes in the
// metadata (`cllm.crc32.<name>`); reading verifies every checksum present, so a damaged file
// is refused instead of loaded as wrong numbers. Other tools ignore the extra metadata.
import Foundation

public struct NamedTensor: Equatable, Sendable {
    public var name: String
    public var shape: [Int]
    public var values: [Float]
    public init(name: String, shape: [Int], values: [Float]) {
        self.name = name; self.shape = shape; self.values = values
    }
}

public enum Safetensors {
    /// The metadata key holding the CRC-32 of a tensor's bytes.
    public static func checksumKey(_ tensor: String) -> String { "cllm.crc32." + tensor }

    /// The header may not exceed this (as in the reference implementation).
    public static let maxHeaderLength = 100_000_000

    /// Serialises float32 tensors (in the given order) with optional string metadata and the
    /// CRC-32 of every tensor.
    public static func encode(_ tensors: [NamedTensor], metadata: [String: String] = [:]) -> Data {
        var header: [String: Any] = [:]
        var metadata = metadata
        for t in tensors {
            metadata[checksumKey(t.name)] = t.values.withUnsafeBytes { CRC32.hex(CRC32.checksum($0.baseAddress ?? UnsafeRawPointer(bitPattern: 4)!, count: $0.count)) }
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        for t in tensors {
            let bytes = t.values.count * 4
            header[t.name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + bytes]] as [String: Any]
            offset += bytes
        }
        var json = try! JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        // Pad the header with spaces to 8-byte alignment, as the reference implementation does.
        while json.count % 8 != 0 { json.append(0x20) }
        var data = Data(capacity: 8 + json.count + offset)
        var n = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &n) { data.append(contentsOf: $0) }
        data.append(json)
        for t in tensors { t.values.withUnsafeBytes { data.append(contentsOf: $0) } }
        return data
    }

    /// Parses a safetensors file; F32, F16 and BF16 tensors are converted to Float.
    public static func decode(_ data: Data, path: String = "<memory>") throws -> (tensors: [NamedTensor], metadata: [String: String]) {
        func bad(_ r: String) -> FormatError { .malformed(path: path, reason: r) }
        guard data.count >= 8 else { throw bad("file is \(data.count) bytes, shorter than the 8-byte header length") }
        let headerLength = data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 0, as: UInt64.self).littleEndian }
        guard headerLength <= UInt64(data.count - 8) else {
            throw bad("header length \(headerLength) exceeds the file size \(data.count)")
        }
        guard headerLength <= UInt64(maxHeaderLength) else { throw bad("header length \(headerLength) exceeds \(maxHeaderLength) bytes") }
        let headerEnd = 8 + Int(headerLength)
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<headerEnd)) } catch {
            throw bad("header is not valid JSON")
        }
        guard let header = object as? [String: Any] else { throw bad("header is not a JSON object") }
        let dataSize = data.count - headerEnd
        var metadata: [String: String] = [:]
        if let entry = header["__metadata__"] {
            guard let m = entry as? [String: String] else { throw bad("__metadata__ must map strings to strings") }
            metadata = m
        }
        var tensors: [NamedTensor] = []
        for (name, entry) in header where name != "__metadata__" {
            guard let e = entry as? [String: Any], let dtype = e["dtype"] as? String,
                  let shape = e["shape"] as? [Int], let offsets = e["data_offsets"] as? [Int], offsets.count == 2 else {
                throw bad("tensor '\(name)' has a malformed entry")
            }
            let size: Int
            switch dtype {
            case "F32": size = 4
            case "F16", "BF16": size = 2
            default: throw bad("tensor '\(name)' has unsupported dtype \(dtype) (F32, F16, BF16 are read)")
            }
            guard shape.allSatisfy({ $0 >= 0 }) else { throw bad("tensor '\(name)' has a negative dimension") }
            let (count, overflow) = shape.reduce((1, false)) { acc, d in
                let r = acc.0.multipliedReportingOverflow(by: d); return (r.partialValue, acc.1 || r.overflow)
            }
            let (start, end) = (offsets[0], offsets[1])
            guard start >= 0, end >= start, end <= dataSize else {
                throw bad("tensor '\(name)' has offsets \(offsets) outside the data section of \(dataSize) bytes")
            }
            let (bytes, tooBig) = count.multipliedReportingOverflow(by: size)
            guard !overflow, !tooBig, end - start == bytes else {
                throw bad("tensor '\(name)' holds \(end - start) bytes but shape \(shape) of \(dtype) needs \(overflow || tooBig ? "more than \(Int.max)" : "\(bytes)")")
            }
            if let expected = metadata[checksumKey(name)] {
                let actual = data.withUnsafeBytes { CRC32.hex(CRC32.checksum($0.baseAddress! + headerEnd + start, count: end - start)) }
                guard actual == expected else {
                    throw bad("tensor '\(name)' fails its checksum (CRC-32 \(actual), recorded \(expected)): the file is damaged")
                }
            }
            var values = [Float](repeating: 0, count: count)
            data.withUnsafeBytes { raw in
                let base = raw.baseAddress! + headerEnd + start
                for i in 0..<count {
                    switch dtype {
                    case "F32":
                        values[i] = Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                    case "F16":
                        values[i] = Float(Float16(bitPattern: UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))))
                    default:
                        values[i] = Float(bitPattern: UInt32(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16)
                    }
                }
            }
            tensors.append(NamedTensor(name: name, shape: shape, values: values))
        }
        return (tensors.sorted { $0.name < $1.name }, metadata)
    }

    public static func read(_ url: URL) throws -> (tensors: [NamedTensor], metadata: [String: String]) {
        try decode(readFile(url), path: url.path)
    }

    /// The `__metadata__` of a safetensors file, reading only its header (a checkpoint's trainer
    /// state without its hundreds of megabytes of tensors).
    public static func readMetadata(_ url: URL) throws -> [String: String] {
        func bad(_ r: String) -> FormatError { .malformed(path: url.path, reason: r) }
        let handle: FileHandle
        do { handle = try FileHandle(forReadingFrom: url) } catch {
            throw FormatError.unreadable(path: url.path, reason: (error as NSError).localizedDescription)
        }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        try handle.seek(toOffset: 0)
        guard size >= 8, let prefix = try handle.read(upToCount: 8), prefix.count == 8 else { throw bad("shorter than the 8-byte header length") }
        let length = prefix.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self).littleEndian }
        guard length <= size - 8, length <= 100_000_000 else { throw bad("header length \(length) exceeds the file size \(size)") }
        guard let header = try handle.read(upToCount: Int(length)),
              let object = try? JSONSerialization.jsonObject(with: header) as? [String: Any] else { throw bad("header is not a JSON object") }
        return object["__metadata__"] as? [String: String] ?? [:]
    }

    public static func write(_ tensors: [NamedTensor], metadata: [String: String] = [:], to url: URL) throws {
        try AtomicFile.write(encode(tensors, metadata: metadata), to: url)
    }
}
