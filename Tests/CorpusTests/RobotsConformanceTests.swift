// Our RFC 9309 conformance table: (section, robots.txt, product token, URL path, expected).
// The cases were derived from the RFC's text, with google/robotstxt's test suite as a map of
// what to cover (none of its cases are copied).
import XCTest
@testable import CrystallineCrawl

struct RobotsCase {
    var section: String
    var robots: String
    var agent: String
    var path: String
    var allowed: Bool
}

let robotsConformance: [RobotsCase] = [
    // §2.1 / §2.2: the basic record.
    .init(section: "2.2", robots: "User-agent: *\nDisallow: /private\n", agent: "CrystallineBot", path: "/private/x", allowed: false),
    .init(section: "2.2", robots: "User-agent: *\nDisallow: /private\n", agent: "CrystallineBot", path: "/public", allowed: true),
    .init(section: "2.2", robots: "", agent: "CrystallineBot", path: "/anything", allowed: true),
    .init(section: "2.2", robots: "User-agent: *\nDisallow: /\n", agent: "CrystallineBot", path: "/", allowed: false),
    // §2.2.1: product tokens match case-insensitively; the matching group, not `*`.
    .init(section: "2.2.1", robots: "User-agent: crystallinebot\nDisallow: /x\n", agent: "CrystallineBot", path: "/x", allowed: false),
    .init(section: "2.2.1", robots: "User-agent: CRYSTALLINEBOT\nDisallow: /x\n", agent: "CrystallineBot", path: "/x", allowed: false),
    .init(section: "2.2.1", robots: "User-agent: *\nDisallow: /\n\nUser-agent: CrystallineBot\nAllow: /\n", agent: "CrystallineBot", path: "/page", allowed: true),
    .init(section: "2.2.1", robots: "User-agent: *\nAllow: /\n\nUser-agent: CrystallineBot\nDisallow: /\n", agent: "CrystallineBot", path: "/page", allowed: false),
    .init(section: "2.2.1", robots: "User-agent: OtherBot\nDisallow: /\n", agent: "CrystallineBot", path: "/page", allowed: true),
    // A user-agent line's value is matched by its product token: version and comments are ignored.
    .init(section: "2.2.1", robots: "User-agent: CrystallineBot/2.0 (compatible)\nDisallow: /v\n", agent: "CrystallineBot", path: "/v", allowed: false),
    // The token is matched whole, not as a prefix or substring.
    .init(section: "2.2.1", robots: "User-agent: Crystalline\nDisallow: /\n", agent: "CrystallineBot", path: "/a", allowed: true),
    .init(section: "2.2.1", robots: "User-agent: CrystallineBotPlus\nDisallow: /\n", agent: "CrystallineBot", path: "/a", allowed: true),
    // Several groups for one agent are merged.
    .init(section: "2.2.1", robots: "User-agent: CrystallineBot\nDisallow: /a\n\nUser-agent: Other\nDisallow: /b\n\nUser-agent: CrystallineBot\nDisallow: /c\n",
          agent: "CrystallineBot", path: "/c", allowed: false),
    .init(section: "2.2.1", robots: "User-agent: CrystallineBot\nDisallow: /a\n\nUser-agent: Other\nDisallow: /b\n\nUser-agent: CrystallineBot\nDisallow: /c\n",
          agent: "CrystallineBot", path: "/b", allowed: true),
    // Several `*` groups are merged too, when no group names the agent.
    .init(section: "2.2.1", robots: "User-agent: *\nDisallow: /a\n\nUser-agent: *\nDisallow: /b\n", agent: "CrystallineBot", path: "/b", allowed: false),
    // Consecutive user-agent lines share one group.
    .init(section: "2.2.1", robots: "User-agent: Other\nUser-agent: CrystallineBot\nDisallow: /shared\n", agent: "CrystallineBot", path: "/shared", allowed: false),
    // A user-agent line after rules starts a new group.
    .init(section: "2.2.1", robots: "User-agent: CrystallineBot\nDisallow: /a\nUser-agent: Other\nDisallow: /b\n", agent: "CrystallineBot", path: "/b", allowed: true),
    // Rules before any user-agent line belong to no group.
    .init(section: "2.2.1", robots: "Disallow: /orphan\nUser-agent: *\nDisallow: /x\n", agent: "CrystallineBot", path: "/orphan", allowed: true),
    // §2.2.2: the longest match wins, in either order.
    .init(section: "2.2.2", robots: "User-agent: *\nDisallow: /folder\nAllow: /folder/page\n", agent: "CrystallineBot", path: "/folder/page", allowed: true),
    .init(section: "2.2.2", robots: "User-agent: *\nAllow: /folder/page\nDisallow: /folder\n", agent: "CrystallineBot", path: "/folder/page", allowed: true),
    .init(section: "2.2.2", robots: "User-agent: *\nAllow: /folder\nDisallow: /folder/page\n", agent: "CrystallineBot", path: "/folder/page", allowed: false),
    .init(section: "2.2.2", robots: "User-agent: *\nAllow: /folder\nDisallow: /folder/page\n", agent: "CrystallineBot", path: "/folder/other", allowed: true),
    // Allow wins a tie of equal length.
    .init(section: "2.2.2", robots: "User-agent: *\nDisallow: /page\nAllow: /page\n", agent: "CrystallineBot", path: "/page", allowed: true),
    .init(section: "2.2.2", robots: "User-agent: *\nAllow: /page\nDisallow: /page\n", agent: "CrystallineBot", path: "/page", allowed: true),
    // Length counts octets of the pattern, wildcards included.
    .init(section: "2.2.2", robots: "User-agent: *\nDisallow: /*.html\nAllow: /a.html\n", agent: "CrystallineBot", path: "/a.html", allowed: true),
    .init(section: "2.2.2", robots: "User-agent: *\nAllow: /a\nDisallow: /*.html\n", agent: "CrystallineBot", path: "/a.html", allowed: false),
    // An empty Disallow disallows nothing.
    .init(section: "2.2.2", robots: "User-agent: *\nDisallow:\n", agent: "CrystallineBot", path: "/x", allowed: true),
    // Matching is case-sensitive in the path.
    .init(section: "2.2.2", robots: "User-agent: *\nDisallow: /Private\n", agent: "CrystallineBot", path: "/private", allowed: true),
    // Rules match path prefixes, query included.
    .init(section: "2.2.2", robots: "User-agent: *\nDisallow: /search?q=\n", agent: "CrystallineBot", path: "/search?q=cats", allowed: false),
    .init(section: "2.2.2", robots: "User-agent: *\nDisallow: /search?q=\n", agent: "CrystallineBot", path: "/search", allowed: true),
    // /robots.txt is always allowed.
    .init(section: "2.2.2", robots: "User-agent: *\nDisallow: /\n", agent: "CrystallineBot", path: "/robots.txt", allowed: true),
    // Percent-encoding: escapes of unreserved characters equal the characters; hex case does not matter.
    .init(section: "2.2.2", robots: "User-agent: *\nDisallow: /%7Ejoe\n", agent: "CrystallineBot", path: "/~joe/index.html", allowed: false),
    .init(section: "2.2.2", robots: "User-agent: *\nDisallow: /~joe\n", agent: "CrystallineBot", path: "/%7ejoe/index.html", allowed: false),
    .init(section: "2.2.2", robots: "User-agent: *\nDisallow: /a%3cd\n", agent: "CrystallineBot", path: "/a%3Cd", allowed: false),
    // Reserved characters stay encoded: %2F is not a path separator.
    .init(section: "2.2.2", robots: "User-agent: *\nDisallow: /a/b\n", agent: "CrystallineBot", path: "/a%2Fb", allowed: true),
    // Non-ASCII octets are compared percent-encoded (UTF-8).
    .init(section: "2.2.2", robots: "User-agent: *\nDisallow: /foo/bär\n", agent: "CrystallineBot", path: "/foo/b%C3%A4r", allowed: false),
    .init(section: "2.2.2", robots: "User-agent: *\nDisallow: /foo/b%C3%A4r\n", agent: "CrystallineBot", path: "/foo/bär", allowed: false),
    // §2.2.3: special characters.
    .init(section: "2.2.3", robots: "User-agent: *\nDisallow: /*.pdf$\n", agent: "CrystallineBot", path: "/docs/report.pdf", allowed: false),
    .init(section: "2.2.3", robots: "User-agent: *\nDisallow: /*.pdf$\n", agent: "CrystallineBot", path: "/docs/report.pdf?download=1", allowed: true),
    .init(section: "2.2.3", robots: "User-agent: *\nDisallow: /*/private/\n", agent: "CrystallineBot", path: "/a/b/private/c", allowed: false),
    .init(section: "2.2.3", robots: "User-agent: *\nDisallow: /a*b*c\n", agent: "CrystallineBot", path: "/axxbyyc", allowed: false),
    .init(section: "2.2.3", robots: "User-agent: *\nDisallow: /a*b*c\n", agent: "CrystallineBot", path: "/axxbyy", allowed: true),
    .init(section: "2.2.3", robots: "User-agent: *\nDisallow: /$\n", agent: "CrystallineBot", path: "/", allowed: false),
    .init(section: "2.2.3", robots: "User-agent: *\nDisallow: /$\n", agent: "CrystallineBot", path: "/page", allowed: true),
    .init(section: "2.2.3", robots: "User-agent: *\nDisallow: *\n", agent: "CrystallineBot", path: "/anything", allowed: false),
    // `$` in the middle of a pattern is an ordinary octet.
    .init(section: "2.2.3", robots: "User-agent: *\nDisallow: /a$b\n", agent: "CrystallineBot", path: "/a$b", allowed: false),
    // `#` starts a comment, anywhere on a line.
    .init(section: "2.2.3", robots: "# a comment\nUser-agent: * # everyone\nDisallow: /c # not /d\n", agent: "CrystallineBot", path: "/c", allowed: false),
    .init(section: "2.2.3", robots: "User-agent: *\nDisallow: /c#d\n", agent: "CrystallineBot", path: "/d", allowed: true),
    // §2.2: keys are case-insensitive; whitespace around values is ignored; CRLF and CR line ends.
    .init(section: "2.2", robots: "USER-AGENT: *\nDISALLOW: /x\n", agent: "CrystallineBot", path: "/x", allowed: false),
    .init(section: "2.2", robots: "User-agent:*\nDisallow:    /x   \n", agent: "CrystallineBot", path: "/x", allowed: false),
    .init(section: "2.2", robots: "User-agent: *\r\nDisallow: /x\r\n", agent: "CrystallineBot", path: "/x", allowed: false),
    .init(section: "2.2", robots: "User-agent: *\rDisallow: /x\r", agent: "CrystallineBot", path: "/x", allowed: false),
    // A UTF-8 byte-order mark is skipped.
    .init(section: "2.2", robots: "\u{FEFF}User-agent: *\nDisallow: /x\n", agent: "CrystallineBot", path: "/x", allowed: false),
    // Unknown lines and lines without a colon are ignored, not fatal.
    .init(section: "2.2", robots: "User-agent: *\nCrawl-delay: 10\nnonsense line\nDisallow: /x\n", agent: "CrystallineBot", path: "/x", allowed: false),
    // Sitemap lines do not end a group.
    .init(section: "2.2.4", robots: "User-agent: *\nSitemap: https://example.com/s.xml\nDisallow: /x\n", agent: "CrystallineBot", path: "/x", allowed: false),
    // Tolerated misspellings that real sites use.
    .init(section: "2.2", robots: "Useragent: *\nDissallow: /x\n", agent: "CrystallineBot", path: "/x", allowed: false),
]

final class RobotsConformanceTests: XCTestCase {
    func testTable() {
        XCTAssertGreaterThanOrEqual(robotsConformance.count, 50)
        var failures: [String] = []
        for c in robotsConformance {
            let got = RobotsTxt(c.robots).isAllowed(c.path, agent: c.agent)
            if got != c.allowed {
                failures.append("§\(c.section): \(c.path) for \(c.agent) with \(c.robots.debugDescription): expected \(c.allowed ? "allowed" : "disallowed")")
            }
        }
        XCTAssert(failures.isEmpty, failures.joined(separator: "\n"))
    }

    /// §2.5: at least 500 KiB are parsed; what lies past the limit is ignored, and the line cut
    /// by the limit is dropped rather than read as a shorter rule.
    func testParseLimit() {
        let padding = String(repeating: "# padding line to make the file large\n", count: 520 * 1024 / 38)
        let robots = "User-agent: *\nDisallow: /early\n" + padding + "Disallow: /late\n"
        XCTAssertGreaterThan(robots.utf8.count, 500 * 1024)
        let parsed = RobotsTxt(robots)
        XCTAssertTrue(parsed.truncated)
        XCTAssertFalse(parsed.isAllowed("/early", agent: "CrystallineBot"))
        XCTAssertTrue(parsed.isAllowed("/late", agent: "CrystallineBot"))
        // A rule 499 KiB in is still read.
        let within = "User-agent: *\n" + String(repeating: "#\n", count: 499 * 512) + "Disallow: /deep\n"
        XCTAssertFalse(RobotsTxt(within).isAllowed("/deep", agent: "CrystallineBot"))
    }

    /// §2.3.1: what a fetch outcome means.
    func testFetchOutcomes() {
        let url = URL(string: "http://example.com/page")!
        XCTAssertNil(RobotsPolicy.from(status: 404, body: [], agent: "CrystallineBot").refusal(url), "4xx: everything allowed (§2.3.1.3)")
        XCTAssertNil(RobotsPolicy.from(status: 410, body: [], agent: "CrystallineBot").refusal(url))
        XCTAssertNotNil(RobotsPolicy.from(status: 503, body: [], agent: "CrystallineBot").refusal(url), "5xx: nothing allowed (§2.3.1.4)")
        XCTAssertNotNil(RobotsPolicy.from(status: 500, body: [], agent: "CrystallineBot").refusal(url))
        XCTAssertNotNil(RobotsPolicy.from(status: nil, body: [], agent: "CrystallineBot").refusal(url), "unreachable: nothing allowed")
        XCTAssertNotNil(RobotsPolicy.from(status: 429, body: [], agent: "CrystallineBot").refusal(url))
        XCTAssertNil(RobotsPolicy.from(status: 301, body: [], agent: "CrystallineBot", redirectsExhausted: true).refusal(url), "more than 5 redirects: unavailable (§2.3.1.2)")
        XCTAssertNil(RobotsPolicy.from(status: 503, body: [], agent: "CrystallineBot").refusal(URL(string: "http://example.com/robots.txt")!))
        let rules = RobotsPolicy.from(status: 200, body: Array("User-agent: *\nDisallow: /page\n".utf8), agent: "CrystallineBot")
        XCTAssertNotNil(rules.refusal(url))
    }

    /// Hostile patterns cannot make matching slow (no exponential backtracking).
    func testManyWildcardsStayFast() {
        let pattern = "/" + String(repeating: "*a", count: 200) + "$"
        let robots = RobotsTxt("User-agent: *\nDisallow: \(pattern)\n")
        let path = "/" + String(repeating: "a", count: 5000) + "b"
        let start = Date()
        XCTAssertTrue(robots.isAllowed(path, agent: "x"))
        XCTAssertLessThan(Date().timeIntervalSince(start), 30)  // a backtracking matcher would never finish
    }
}
