// robots.txt as RFC 9309 defines it: parsing into groups, choosing the groups that apply to a
// crawler, and deciding whether a URL path may be fetched. Section numbers below are the RFC's.
//
// Parsing is tolerant, as the RFC asks (§2.2): unknown lines and lines without a colon are
// skipped, keys are case-insensitive, and the common misspellings of the keys that real sites
// use are accepted. Matching compares octets after both sides are put in one percent-encoded
// form (§2.2.2), so `/a%3c` and `/a%3C` and `/ä` and `/%C3%A4` mean the same path.

/// One `allow` or `disallow` line of a group.
public struct RobotsRule: Sendable, Equatable {
    public var allow: Bool
    /// The path pattern, normalised (`*` and a trailing `$` keep their meaning, §2.2.3).
    public var pattern: [UInt8]
}

/// A parsed robots.txt.
public struct RobotsTxt: Sendable {
    /// §2.5: crawlers must parse at least 500 KiB; content past this is ignored.
    public static let parseLimit = 512 * 1024

    /// A group: the product tokens of its user-agent lines and its rules, in file order.
    public struct Group: Sendable {
        public var agents: [String]
        public var rules: [RobotsRule]
    }

    public private(set) var groups: [Group] = []
    /// `Sitemap:` URLs (not part of any group, §2.2.4).
    public private(set) var sitemaps: [String] = []
    /// Whether the file was cut at `parseLimit`.
    public private(set) var truncated = false

    /// Parses the text of a robots.txt file (UTF-8; invalid bytes are kept as they are, since
    /// they are percent-encoded before matching).
    public init(_ bytes: [UInt8]) {
        var body = bytes[...]
        if body.count > Self.parseLimit {
            truncated = true
            body = body.prefix(Self.parseLimit)
            // A line cut in the middle would be a different rule: drop it.
            if let lastNewline = body.lastIndex(where: { $0 == 0x0A || $0 == 0x0D }) { body = body[..<lastNewline] }
        }
        if body.starts(with: [0xEF, 0xBB, 0xBF]) { body = body.dropFirst(3) }
        var current: Group?
        var groupHasRules = false
        for rawLine in body.split(omittingEmptySubsequences: true, whereSeparator: { $0 == 0x0A || $0 == 0x0D }) {
            var line = rawLine
            if let hash = line.firstIndex(of: UInt8(ascii: "#")) { line = line[..<hash] }
            guard let (key, value) = Self.keyValue(line) else { continue }
            switch key {
            case .userAgent:
                // §2.2.1: consecutive user-agent lines open one group; one after a rule opens the next.
                if current == nil || groupHasRules {
                    if let g = current { groups.append(g) }
                    current = Group(agents: [], rules: [])
                    groupHasRules = false
                }
                current!.agents.append(Self.productToken(value))
            case .allow, .disallow:
                // Rules before any user-agent line belong to no group (§2.2.1).
                guard current != nil else { continue }
                groupHasRules = true
                // An empty disallow allows everything, which is what no rule does (§2.2.2).
                guard !value.isEmpty else { continue }
                current!.rules.append(RobotsRule(allow: key == .allow, pattern: Self.normalise(Array(value), isPattern: true)))
            case .sitemap:
                sitemaps.append(String(decoding: value, as: UTF8.self))
            }
        }
        if let g = current { groups.append(g) }
    }

    public init(_ text: String) { self.init(Array(text.utf8)) }

    /// The rules that apply to a crawler whose product token is `agent` (§2.2.1): every group
    /// naming it (case-insensitively), merged; if none does, every `*` group, merged; else none.
    public func rules(for agent: String) -> [RobotsRule] {
        let token = agent.lowercased()
        let named = groups.filter { $0.agents.contains { $0.lowercased() == token } }
        let chosen = named.isEmpty ? groups.filter { $0.agents.contains("*") } : named
        return chosen.flatMap(\.rules)
    }

    /// Whether `agent` may fetch the URL whose path and query (with the leading `/`) are
    /// `pathAndQuery`.
    public func isAllowed(_ pathAndQuery: String, agent: String) -> Bool {
        Self.isAllowed(pathAndQuery, rules: rules(for: agent))
    }

    /// §2.2.2: the longest matching pattern (in octets) decides; `allow` wins a tie; no match
    /// allows. `/robots.txt` is always allowed.
    public static func isAllowed(_ pathAndQuery: String, rules: [RobotsRule]) -> Bool {
        var path = normalise(Array(pathAndQuery.utf8), isPattern: false)
        if path.isEmpty || path[0] != UInt8(ascii: "/") { path.insert(UInt8(ascii: "/"), at: 0) }
        if path == Array("/robots.txt".utf8) { return true }
        var best: (length: Int, allow: Bool)?
        for rule in rules where matches(rule.pattern, path) {
            let length = rule.pattern.count
            if let b = best, length < b.length || (length == b.length && b.allow) { continue }
            best = (length, rule.allow)
        }
        return best?.allow ?? true
    }

    /// Whether `pattern` matches a prefix of `path` (§2.2.3: `*` is any run of octets, a final
    /// `$` anchors the end). Tracks every position the pattern can have reached, so it is
    /// linear in pattern × path and never backtracks exponentially on hostile patterns.
    static func matches(_ pattern: [UInt8], _ path: [UInt8]) -> Bool {
        var anchored = false
        var p = pattern[...]
        if p.last == UInt8(ascii: "$") { anchored = true; p = p.dropLast() }
        // positions[i]: the path offsets the first i pattern octets can end at.
        var positions: [Int] = [0]
        var reached = [Bool](repeating: false, count: path.count + 1)
        for c in p {
            if positions.isEmpty { return false }
            if c == UInt8(ascii: "*") {
                let first = positions.min()!
                positions = Array(first...path.count)
            } else {
                for i in reached.indices { reached[i] = false }
                var next: [Int] = []
                for pos in positions where pos < path.count && path[pos] == c && !reached[pos + 1] {
                    reached[pos + 1] = true
                    next.append(pos + 1)
                }
                positions = next
            }
        }
        if anchored { return positions.contains(path.count) }
        return !positions.isEmpty
    }

    // MARK: Lines

    enum Key { case userAgent, allow, disallow, sitemap }

    static func keyValue(_ line: ArraySlice<UInt8>) -> (Key, ArraySlice<UInt8>)? {
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { return nil }
        let name = String(decoding: line[..<colon], as: UTF8.self).trimmingSpaces().lowercased()
        let value = trimmed(line[(colon + 1)...])
        switch name {
        case "user-agent", "useragent", "user agent", "user_agent": return (.userAgent, value)
        case "allow": return (.allow, value)
        case "disallow", "dissallow", "dissalow", "disalow", "diasllow", "disallaw": return (.disallow, value)
        case "sitemap", "site-map": return (.sitemap, value)
        default: return nil
        }
    }

    /// §2.2.1: the product token is the name's run of `[A-Za-z_-]` (`Googlebot/2.1` → `Googlebot`);
    /// `*` stays `*`.
    static func productToken(_ value: ArraySlice<UInt8>) -> String {
        if value.first == UInt8(ascii: "*") { return "*" }
        let token = value.prefix { b in (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F || b == 0x2D }
        return String(decoding: token, as: UTF8.self)
    }

    static func trimmed(_ s: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var s = s
        while let f = s.first, f == 0x20 || f == 0x09 { s = s.dropFirst() }
        while let l = s.last, l == 0x20 || l == 0x09 { s = s.dropLast() }
        return s
    }

    // MARK: Percent-encoding (§2.2.2)

    /// One spelling for one path: escapes of unreserved characters are decoded, other escapes
    /// get upper-case hex, and octets outside printable US-ASCII are percent-encoded. In a
    /// pattern `*` and `$` keep their meaning; in a URL they are ordinary octets.
    static func normalise(_ s: [UInt8], isPattern: Bool) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            let c = s[i]
            if c == UInt8(ascii: "%"), i + 2 < s.count + 0, let hi = hexValue(s[i + 1]), let lo = hexValue(s[i + 2]) {
                let byte = hi << 4 | lo
                if isUnreserved(byte) { out.append(byte) } else { out.append(c); out.append(hexDigit(hi)); out.append(hexDigit(lo)) }
                i += 3
                continue
            }
            if c <= 0x20 || c >= 0x7F {
                out.append(UInt8(ascii: "%")); out.append(hexDigit(c >> 4)); out.append(hexDigit(c & 15))
            } else {
                out.append(c)
            }
            i += 1
        }
        return out
    }

    static func isUnreserved(_ b: UInt8) -> Bool {
        (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) || b == 0x2D || b == 0x2E || b == 0x5F || b == 0x7E
    }

    static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: return b - 0x30
        case 0x41...0x46: return b - 0x41 + 10
        case 0x61...0x66: return b - 0x61 + 10
        default: return nil
        }
    }

    static func hexDigit(_ v: UInt8) -> UInt8 { v < 10 ? 0x30 + v : 0x41 + v - 10 }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
