// What a site's robots.txt fetch means for the crawler (RFC 9309 §2.3.1): the rules of a file
// that was read, everything allowed when the file is unavailable (4xx, or more than five
// redirects), nothing allowed when the server could not be reached or failed (5xx, 429,
// network errors). `/robots.txt` itself is always allowed.
import Foundation

public enum RobotsPolicy: Sendable {
    case rules([RobotsRule], status: Int)
    case allowAll(reason: String)
    case disallowAll(reason: String)

    /// The policy for a robots.txt fetch that ended with `status` (nil: no response) and `body`.
    public static func from(status: Int?, body: [UInt8], agent: String, redirectsExhausted: Bool = false) -> RobotsPolicy {
        if redirectsExhausted { return .allowAll(reason: "robots.txt redirected more than 5 times (RFC 9309 §2.3.1.2: treated as unavailable)") }
        guard let status else { return .disallowAll(reason: "robots.txt could not be fetched (RFC 9309 §2.3.1.4: nothing may be crawled)") }
        switch status {
        case 200..<300: return .rules(RobotsTxt(body).rules(for: agent), status: status)
        case 429: return .disallowAll(reason: "robots.txt answered 429 (treated as unreachable: nothing may be crawled)")
        case 400..<500: return .allowAll(reason: "robots.txt answered \(status) (RFC 9309 §2.3.1.3: unavailable, so everything is allowed)")
        default: return .disallowAll(reason: "robots.txt answered \(status) (RFC 9309 §2.3.1.4: unreachable, so nothing may be crawled)")
        }
    }

    /// Whether the URL may be fetched; nil, or the reason it may not.
    public func refusal(_ url: URL) -> String? {
        let path = CrawlURL.pathAndQuery(url)
        if path == "/robots.txt" { return nil }
        switch self {
        case .rules(let rules, _): return RobotsTxt.isAllowed(path, rules: rules) ? nil : "disallowed by robots.txt"
        case .allowAll: return nil
        case .disallowAll(let reason): return reason
        }
    }
}
