// Names of models and runs as they appear in URLs: checked before they touch a path.
import Foundation

enum Names {
    /// `[A-Za-z0-9._-]`, no leading dot, at most 100 characters.
    static func validate(_ name: String, what: String) throws -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        guard !name.isEmpty, name.count <= 100, !name.hasPrefix("."), name.allSatisfy({ allowed.contains($0) }) else {
            throw APIError(.badRequest, "invalid \(what) name '\(name.prefix(100))': use letters, digits, '.', '_' and '-', not starting with '.'")
        }
        return name
    }

    /// `directory/name`, after checking that it resolves inside `directory`.
    static func child(_ name: String, of directory: URL, what: String) throws -> URL {
        let url = directory.appendingPathComponent(try validate(name, what: what))
        let root = directory.standardizedFileURL.resolvingSymlinksInPath().path
        guard url.standardizedFileURL.resolvingSymlinksInPath().path.hasPrefix(root + "/") else {
            throw APIError(.badRequest, "invalid \(what) name '\(name)'")
        }
        return url
    }
}
