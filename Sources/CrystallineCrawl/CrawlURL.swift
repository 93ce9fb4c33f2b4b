// URLs as the crawler keys them: one spelling per resource, so that `HTTP://Example.com:80/a/./b#x`
// and `http://example.com/a/b` are fetched once.
import Foundation

public enum CrawlURL {
    /// The normalised form of `string` resolved against `base`, or nil for what is not an
    /// http(s) URL (mailto:, javascript:, data:, malformed).
    public static func normalise(_ string: String, base: URL? = nil) -> String? {
        let trimmed = string.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, let resolved = URL(string: trimmed, relativeTo: base)?.absoluteURL ?? URL(string: trimmed.addingPercentEncoding(withAllowedCharacters: .urlFragmentAllowed) ?? "", relativeTo: base)?.absoluteURL,
              var c = URLComponents(url: resolved, resolvingAgainstBaseURL: true) else { return nil }
        guard let scheme = c.scheme?.lowercased(), scheme == "http" || scheme == "https", let host = c.host, !host.isEmpty else { return nil }
        c.scheme = scheme
        c.host = host.lowercased()
        if (scheme == "http" && c.port == 80) || (scheme == "https" && c.port == 443) { c.port = nil }
        c.fragment = nil
        c.user = nil; c.password = nil
        var path = removeDotSegments(c.percentEncodedPath)
        if path.isEmpty { path = "/" }
        c.percentEncodedPath = String(decoding: RobotsTxt.normalise(Array(path.utf8), isPattern: false), as: UTF8.self)
        if let q = c.percentEncodedQuery {
            c.percentEncodedQuery = q.isEmpty ? nil : String(decoding: RobotsTxt.normalise(Array(q.utf8), isPattern: false), as: UTF8.self)
        }
        return c.string
    }

    /// RFC 3986 §5.2.4.
    static func removeDotSegments(_ path: String) -> String {
        var output: [Substring] = []
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        for (i, s) in segments.enumerated() {
            if s == "." { if i == segments.count - 1 { output.append("") }; continue }
            if s == ".." {
                if output.count > 1 { output.removeLast() }
                if i == segments.count - 1 { output.append("") }
                continue
            }
            output.append(s)
        }
        var joined = output.joined(separator: "/")
        if path.hasPrefix("/") && !joined.hasPrefix("/") { joined = "/" + joined }
        return joined
    }

    /// `scheme://host[:port]`: the authority whose robots.txt governs a URL (RFC 9309 §2.3).
    public static func origin(_ url: URL) -> String {
        var s = "\(url.scheme ?? "http")://\(url.host ?? "")"
        if let p = url.port { s += ":\(p)" }
        return s
    }

    /// The path and query that robots.txt rules match.
    public static func pathAndQuery(_ url: URL) -> String {
        guard let c = URLComponents(url: url, resolvingAgainstBaseURL: false) else { return "/" }
        var s = c.percentEncodedPath.isEmpty ? "/" : c.percentEncodedPath
        if let q = c.percentEncodedQuery { s += "?" + q }
        return s
    }
}
