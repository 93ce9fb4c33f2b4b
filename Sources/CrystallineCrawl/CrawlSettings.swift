// What a crawl is allowed to do: where it may go, how fast, how much. Stored in the crawl's
// database so that `cllm crawl --resume` continues under the same rules.
import Foundation

public struct CrawlSettings: Codable, Sendable, Equatable {
    /// The User-Agent header. Its first word's product token (`CrystallineBot` in
    /// `CrystallineBot/1.0 (+https://…)`) is what robots.txt groups are matched against.
    public var userAgent = "CrystallineBot/1.0"
    /// A URL or mail address where site owners can reach the operator, added to the User-Agent.
    public var contact: String? = nil
    public var seeds: [String] = []
    /// Pages to fetch in all (robots.txt and redirects not counted).
    public var maxPages = 100
    /// Links followed from a seed (0: the seeds only).
    public var maxDepth = 3
    /// Minimum seconds between the end of one request to a host and the start of the next; each
    /// wait is randomised to 0.5–1.5× (as Scrapy's RANDOMIZE_DOWNLOAD_DELAY), and raised when
    /// the host answers slowly.
    public var delay = 1.0
    /// The adaptive delay never exceeds this.
    public var maxDelay = 60.0
    /// Bytes kept of one response; the rest is not stored (the WARC record is marked truncated).
    public var maxPageBytes = 5 * 1024 * 1024
    /// Seconds before a request is abandoned (and retried).
    public var timeout = 30.0
    /// Attempts per URL for 5xx, 408, 429 and network errors, with doubling back-off.
    public var maxAttempts = 3
    /// Hosts (and their subdomains) that may be crawled besides the seeds' hosts.
    public var allowDomains: [String] = []
    /// Shell-style patterns (`*`, `?`) of URLs never fetched.
    public var deny: [String] = []
    /// Whether links to other hosts are followed at all (only to `allowDomains` otherwise).
    public var sameSiteOnly = true
    /// Hosts fetched at once (each host still has at most one request in flight).
    public var concurrency = 8
    /// How long a fetched robots.txt is trusted (RFC 9309 §2.4: at most 24 hours).
    public var robotsCacheSeconds = 24 * 3600.0

    public init() {}

    /// The User-Agent header as sent.
    public var userAgentHeader: String { contact.map { "\(userAgent) (+\($0))" } ?? userAgent }

    /// The product token matched against robots.txt `User-agent` lines.
    public var productToken: String {
        RobotsTxt.productToken(ArraySlice(userAgent.utf8))
    }

    public func validate() throws {
        func check(_ ok: Bool, _ message: String) throws { if !ok { throw CrawlError.invalidSettings(message) } }
        try check(!productToken.isEmpty && productToken != "*", "the user agent must start with a product token of letters, '-' or '_' (e.g. MyBot/1.0)")
        try check(maxPages > 0, "max pages must be positive")
        try check(maxDepth >= 0, "max depth cannot be negative")
        try check(delay.isFinite && delay >= 0, "the delay must be a non-negative number of seconds")
        try check(maxDelay.isFinite && maxDelay >= delay, "the maximum delay must be at least the delay")
        try check(maxPageBytes >= 1024, "the page size cap must be at least 1024 bytes")
        try check(timeout.isFinite && timeout > 0, "the timeout must be positive")
        try check(maxAttempts >= 1, "at least one attempt per URL")
        try check(concurrency >= 1, "concurrency must be at least 1")
        try check(robotsCacheSeconds > 0 && robotsCacheSeconds <= 24 * 3600, "robots.txt may be cached for at most 24 hours (RFC 9309 §2.4)")
    }
}

public enum CrawlError: Error, CustomStringConvertible {
    case invalidSettings(String)
    case invalidSeed(String)
    case state(String)

    public var description: String {
        switch self {
        case .invalidSettings(let m): return "invalid crawl settings: \(m)"
        case .invalidSeed(let s): return "not an http(s) URL: \(s)"
        case .state(let m): return m
        }
    }
}
