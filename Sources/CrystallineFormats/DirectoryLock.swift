// An exclusive lock on a directory, held for as long as the value lives: two processes that
// write the same run directory (two `cllm train --out DIR`) would otherwise interleave a
// checkpoint of one with the shards of the other. flock(2) on DIR/.lock: released by the kernel
// when the process dies, so a killed run never leaves a stale lock behind.
//
// Within one process the lock is shared (counted): a library user may keep a finished trainer
// alive while resuming its directory in another, and flock would refuse the second descriptor.
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

public final class DirectoryLock: Sendable {
    public static let fileName = ".lock"
    public let directory: URL
    private let key: String

    /// Open lock files of this process: path → (descriptor, holders).
    private static let held = Mutex<[String: (fd: Int32, holders: Int)]>([:])

    public struct Busy: Error, CustomStringConvertible {
        public let directory: String
        public let holder: String
        public var description: String {
            "\(directory) is in use by another cllm process (\(holder)); wait for it to finish or choose another --out"
        }
    }

    /// Takes the lock or throws `Busy` at once (never waits). Creates the directory if needed.
    public init(_ directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.directory = directory
        let path = directory.standardizedFileURL.resolvingSymlinksInPath().appendingPathComponent(Self.fileName).path
        key = path
        try Self.held.withLock { held in
            if let entry = held[path] { held[path] = (entry.fd, entry.holders + 1); return }
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw FormatError.unreadable(path: path, reason: String(cString: strerror(errno))) }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
                let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
                close(fd)
                throw Busy(directory: directory.path, holder: holder.flatMap { $0.isEmpty ? nil : $0 } ?? "unknown pid")
            }
            // Who holds it, for the message another process prints.
            let note = "pid \(getpid())\n"
            _ = ftruncate(fd, 0)
            _ = note.withCString { pwrite(fd, $0, strlen($0), 0) }
            held[path] = (fd, 1)
        }
    }

    deinit {
        Self.held.withLock { held in
            guard let entry = held[key] else { return }
            if entry.holders > 1 { held[key] = (entry.fd, entry.holders - 1); return }
            _ = ftruncate(entry.fd, 0)
            flock(entry.fd, LOCK_UN)
            close(entry.fd)
            held[key] = nil
        }
    }
}
