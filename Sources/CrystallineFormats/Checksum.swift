// CRC-32 (the zlib/PNG polynomial), through the system zlib: a few GB/s, so every tensor of a
// model or checkpoint can be verified on load at a small fraction of the read time.
import CZlib

public enum CRC32 {
    /// The CRC-32 of `count` bytes at `bytes`, continuing from `previous` (0 to start).
    public static func checksum(_ bytes: UnsafeRawPointer, count: Int, previous: UInt32 = 0) -> UInt32 {
        var crc = UInt(previous)
        var done = 0
        while done < count {  // zlib takes a 32-bit length
            let n = min(count - done, 1 << 30)
            crc = CZlib.crc32(crc, bytes.advanced(by: done).assumingMemoryBound(to: UInt8.self), UInt32(n))
            done += n
        }
        return UInt32(truncatingIfNeeded: crc)
    }

    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, count: $0.count) }
    }

    /// Eight lowercase hex digits.
    public static func hex(_ crc: UInt32) -> String {
        let digits = String(crc, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }
}
