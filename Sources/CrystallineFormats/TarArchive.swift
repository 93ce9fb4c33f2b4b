// A POSIX ustar archive of a few regular files, for downloading a model directory as one file
// (`tar -xf` or Python's `tarfile` open it; Hugging Face loads the extracted directory).
import Foundation

public enum TarArchive {
    /// The archive of `files` (name inside the archive, contents), all under `directory/`.
    public static func make(directory: String, files: [(name: String, data: Data)], modified: Date = Date()) throws -> Data {
        var out = Data()
        let mtime = Int(modified.timeIntervalSince1970)
        for (name, data) in files {
            let path = directory.isEmpty ? name : directory + "/" + name
            guard path.utf8.count < 100, !path.contains("..") else {
                throw FormatError.malformed(path: path, reason: "name too long or not relative for a tar entry")
            }
            out.append(header(path: path, size: data.count, mtime: mtime))
            out.append(data)
            out.append(Data(count: (512 - data.count % 512) % 512))
        }
        out.append(Data(count: 1024))  // two zero blocks end the archive
        return out
    }

    static func header(path: String, size: Int, mtime: Int) -> Data {
        var h = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, at offset: Int) { for (i, b) in text.utf8.enumerated() { h[offset + i] = b } }
        func octal(_ value: Int, width: Int) -> String {  // width − 1 digits and a NUL
            let digits = String(value, radix: 8)
            return String(repeating: "0", count: max(0, width - 1 - digits.count)) + digits
        }
        put(path, at: 0)
        put(octal(0o644, width: 8), at: 100)
        put(octal(0, width: 8), at: 108)
        put(octal(0, width: 8), at: 116)
        put(octal(size, width: 12), at: 124)
        put(octal(mtime, width: 12), at: 136)
        put("        ", at: 148)  // checksum field counts as spaces while summing
        h[156] = UInt8(ascii: "0")
        put("ustar", at: 257)
        put("00", at: 263)
        let sum = h.reduce(0) { $0 + Int($1) }
        put(octal(sum, width: 7), at: 148)
        h[155] = 0x20
        return Data(h)
    }
}
