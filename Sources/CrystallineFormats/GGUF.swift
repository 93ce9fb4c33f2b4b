// GGUF v3, the file format of llama.cpp: a header, typed key/value metadata, tensor infos, then
// the tensor data, each tensor aligned to `general.alignment` (32) bytes. Little-endian.
//
// Dimensions are listed fastest-varying first (ne[0] is the row length), so a row-major
// [rows, cols] matrix is written with dims [cols, rows].
import Foundation

public enum GGUFValue: Equatable, Sendable {
    case uint32(UInt32), int32(Int32), float32(Float), bool(Bool), string(String), uint64(UInt64)
    case stringArray([String]), int32Array([Int32]), float32Array([Float])

    var typeCode: UInt32 {
        switch self {
        case .uint32: return 4
        case .int32, .int32Array: return 5
        case .float32, .float32Array: return 6
        case .bool: return 7
        case .string, .stringArray: return 8
        case .uint64: return 10
        }
    }
}

public enum GGMLType: UInt32, Sendable {
    case f32 = 0, f16 = 1
    /// Blocks of 32 values along a row: an fp16 scale d, then 32 int8 q; value = d·q.
    case q8_0 = 8

    /// Bytes that `count` values take.
    func bytes(_ count: Int) -> Int {
        switch self {
        case .f32: return 4 * count
        case .f16: return 2 * count
        case .q8_0: return count / 32 * GGUFTensor.q8BlockBytes
        }
    }
}

public struct GGUFTensor: Equatable, Sendable {
    public var name: String
    /// Row-major shape (slowest first), as in PyTorch; written reversed.
    public var shape: [Int]
    public var type: GGMLType
    /// The values (for `.q8_0`, what the blocks decode to).
    public var values: [Float]
    /// For `.q8_0`: the blocks as stored in the file.
    public var blocks: [UInt8]?

    static let q8BlockBytes = 34

    public init(name: String, shape: [Int], type: GGMLType, values: [Float]) {
        precondition(type != .q8_0, "a Q8_0 tensor is made from its blocks (GGUFTensor.q8_0)")
        self.name = name; self.shape = shape; self.type = type; self.values = values
    }

    /// A Q8_0 tensor from quantized rows: `quants` (one int8 per value) and `scales` (one per
    /// block of 32 along the last dimension, each a value fp16 represents exactly).
    public static func q8_0(name: String, shape: [Int], quants: UnsafeBufferPointer<Int8>, scales: UnsafeBufferPointer<Float>) -> GGUFTensor {
        precondition((shape.last ?? 0) % 32 == 0 && quants.count == scales.count * 32 && quants.count == shape.reduce(1, *))
        var blocks = [UInt8](), values = [Float]()
        blocks.reserveCapacity(scales.count * q8BlockBytes)
        values.reserveCapacity(quants.count)
        for b in 0..<scales.count {
            let d = Float16(scales[b])
            precondition(Float(d) == scales[b], "Q8_0 scales must be fp16 values")
            withUnsafeBytes(of: d.bitPattern.littleEndian) { blocks.append(contentsOf: $0) }
            for i in 0..<32 {
                let q = quants[32 * b + i]
                blocks.append(UInt8(bitPattern: q))
                values.append(Float(d) * Float(q))
            }
        }
        var t = GGUFTensor(name: name, shape: shape, type: .f32, values: values)
        t.type = .q8_0
        t.blocks = blocks
        return t
    }

    /// Decodes Q8_0 blocks.
    static func q8Values(_ raw: UnsafeRawBufferPointer, at start: Int, count: Int) -> [Float] {
        var values = [Float](repeating: 0, count: count)
        for b in 0..<(count / 32) {
            let base = start + b * q8BlockBytes
            let d = Float(Float16(bitPattern: raw.loadUnaligned(fromByteOffset: base, as: UInt16.self).littleEndian))
            for i in 0..<32 { values[32 * b + i] = d * Float(Int8(bitPattern: raw[base + 2 + i])) }
        }
        return values
    }
}

public enum GGUF {
    public static let magic: UInt32 = 0x4655_4747  // "GGUF" little-endian
    public static let version: UInt32 = 3
    public static let alignment = 32

    public static func encode(metadata: [(String, GGUFValue)], tensors: [GGUFTensor]) -> Data {
        var d = Data()
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
        func str(_ s: String) { u64(UInt64(s.utf8.count)); d.append(contentsOf: Array(s.utf8)) }
        func value(_ v: GGUFValue) {
            switch v {
            case .uint32(let x): u32(x)
            case .int32(let x): u32(UInt32(bitPattern: x))
            case .float32(let x): u32(x.bitPattern)
            case .bool(let x): d.append(x ? 1 : 0)
            case .string(let s): str(s)
            case .uint64(let x): u64(x)
            case .stringArray(let a): u32(8); u64(UInt64(a.count)); a.forEach(str)
            case .int32Array(let a): u32(5); u64(UInt64(a.count)); a.forEach { u32(UInt32(bitPattern: $0)) }
            case .float32Array(let a): u32(6); u64(UInt64(a.count)); a.forEach { u32($0.bitPattern) }
            }
        }
        func pad() { while d.count % alignment != 0 { d.append(0) } }
        u32(magic); u32(version); u64(UInt64(tensors.count)); u64(UInt64(metadata.count))
        for (key, v) in metadata {
            str(key)
            switch v {
            case .stringArray, .int32Array, .float32Array: u32(9)
            default: u32(v.typeCode)
            }
            value(v)
        }
        var offset = 0
        for t in tensors {
            str(t.name)
            u32(UInt32(t.shape.count))
            for dim in t.shape.reversed() { u64(UInt64(dim)) }
            u32(t.type.rawValue)
            u64(UInt64(offset))
            offset += t.type.bytes(t.values.count)
            offset = (offset + alignment - 1) / alignment * alignment
        }
        pad()
        for t in tensors {
            switch t.type {
            case .f32: for v in t.values { u32(v.bitPattern) }
            case .f16: for v in t.values { withUnsafeBytes(of: Float16(v).bitPattern.littleEndian) { d.append(contentsOf: $0) } }
            case .q8_0: d.append(contentsOf: t.blocks!)
            }
            pad()
        }
        return d
    }

    /// Reads a GGUF file written by `encode` (or llama.cpp's tools) back: metadata and F32, F16
    /// and Q8_0 tensors.
    public static func decode(_ data: Data, path: String = "<memory>") throws -> (metadata: [String: GGUFValue], tensors: [GGUFTensor]) {
        var r = Reader(data: data, path: path)
        guard try r.u32() == magic else { throw r.fail("not a GGUF file (bad magic)") }
        let v = try r.u32()
        guard v == 2 || v == 3 else { throw r.fail("unsupported GGUF version \(v)") }
        let tensorCount = try r.u64(), kvCount = try r.u64()
        guard tensorCount < 1 << 20, kvCount < 1 << 20 else { throw r.fail("implausible counts (\(tensorCount) tensors, \(kvCount) metadata keys)") }
        var metadata: [String: GGUFValue] = [:]
        for _ in 0..<kvCount {
            let key = try r.string()
            metadata[key] = try r.value(type: try r.u32())
        }
        var infos: [(String, [Int], UInt32, Int)] = []
        for _ in 0..<tensorCount {
            let name = try r.string()
            let nd = Int(try r.u32())
            guard nd <= 4 else { throw r.fail("tensor \(name) has \(nd) dimensions") }
            var dims: [Int] = []
            for _ in 0..<nd {
                let d = try r.u64()
                guard d <= UInt64(Int32.max) else { throw r.fail("tensor \(name) has dimension \(d)") }
                dims.append(Int(d))
            }
            let type = try r.u32(), offset = try r.u64()
            guard offset <= UInt64(data.count) else { throw r.fail("tensor \(name) starts at \(offset), past the end of the file") }
            infos.append((name, dims.reversed(), type, Int(offset)))
        }
        var align = alignment
        if case .uint32(let a)? = metadata["general.alignment"] {
            guard a > 0, a <= 1 << 20, a & (a - 1) == 0 else { throw r.fail("general.alignment \(a) is not a power of two") }
            align = Int(a)
        }
        let base = (r.offset + align - 1) / align * align
        var tensors: [GGUFTensor] = []
        for (name, shape, type, offset) in infos {
            guard let t = GGMLType(rawValue: type) else { throw r.fail("tensor \(name) has unsupported type \(type)") }
            var count = 1, overflow = false
            for d in shape where !overflow { (count, overflow) = count.multipliedReportingOverflow(by: d) }
            if !overflow { (_, overflow) = count.multipliedReportingOverflow(by: 4) }
            if t == .q8_0, shape.isEmpty || shape.last! % 32 != 0 { throw r.fail("Q8_0 tensor \(name) has rows of \(shape.last ?? 0) values, not a multiple of 32") }
            let start = base + offset
            guard !overflow, t.bytes(count) <= data.count - min(start, data.count) else { throw r.fail("tensor \(name) lies outside the file") }
            let tensor: GGUFTensor = data.withUnsafeBytes { raw in
                switch t {
                case .f32, .f16:
                    let values: [Float] = (0..<count).map { i in
                        t == .f32 ? Float(bitPattern: raw.loadUnaligned(fromByteOffset: start + 4 * i, as: UInt32.self).littleEndian)
                            : Float(Float16(bitPattern: raw.loadUnaligned(fromByteOffset: start + 2 * i, as: UInt16.self).littleEndian))
                    }
                    return GGUFTensor(name: name, shape: shape, type: t, values: values)
                case .q8_0:
                    var q = GGUFTensor(name: name, shape: shape, type: .f32, values: GGUFTensor.q8Values(raw, at: start, count: count))
                    q.type = .q8_0
                    q.blocks = Array(raw[start..<(start + t.bytes(count))])
                    return q
                }
            }
            tensors.append(tensor)
        }
        return (metadata, tensors)
    }

    struct Reader {
        let data: Data
        let path: String
        var offset = 0
        func fail(_ why: String) -> FormatError { .malformed(path: path, reason: why) }
        mutating func bytes(_ n: Int) throws -> Data {
            guard n >= 0, offset + n <= data.count else { throw fail("truncated at byte \(offset)") }
            defer { offset += n }
            return data.subdata(in: offset..<(offset + n))
        }
        mutating func u32() throws -> UInt32 { try bytes(4).withUnsafeBytes { $0.loadUnaligned(as: UInt32.self).littleEndian } }
        mutating func u64() throws -> UInt64 { try bytes(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self).littleEndian } }
        mutating func string() throws -> String {
            let n = try u64()
            guard n < 1 << 30 else { throw fail("implausible string length \(n)") }
            return String(decoding: try bytes(Int(n)), as: UTF8.self)
        }
        /// Arrays of arrays nest; a file may not nest them deeper than this (the stack is finite).
        static let maxDepth = 8

        mutating func value(type: UInt32, depth: Int = 0) throws -> GGUFValue {
            guard depth <= Self.maxDepth else { throw fail("arrays nested deeper than \(Self.maxDepth) levels") }
            switch type {
            case 0, 1: return .uint32(UInt32(try bytes(1)[0]))
            case 2, 3: return .uint32(UInt32(try bytes(2).withUnsafeBytes { $0.loadUnaligned(as: UInt16.self) }))
            case 4: return .uint32(try u32())
            case 5: return .int32(Int32(bitPattern: try u32()))
            case 6: return .float32(Float(bitPattern: try u32()))
            case 7: return .bool(try bytes(1)[0] != 0)
            case 8: return .string(try string())
            case 10, 11: return .uint64(try u64())
            case 12: return .float32(Float(Double(bitPattern: try u64())))
            case 9:
                let inner = try u32(), length = try u64()
                guard length < 1 << 26 else { throw fail("implausible array length \(length)") }
                let n = Int(length)
                switch inner {
                case 8: return .stringArray(try (0..<n).map { _ in try string() })
                case 5: return .int32Array(try (0..<n).map { _ in Int32(bitPattern: try u32()) })
                case 6: return .float32Array(try (0..<n).map { _ in Float(bitPattern: try u32()) })
                default:
                    for _ in 0..<n { _ = try value(type: inner, depth: depth + 1) }
                    return .int32Array([])
                }
            default: throw fail("unknown metadata type \(type)")
            }
        }
    }
}
