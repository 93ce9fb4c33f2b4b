// Fuzz targets for what the crawler reads from other people's servers: robots.txt files
// (RFC 9309 parsing and matching) and HTML pages (the tolerant parser and main-text extractor).
import Foundation
import CrystallineCrawl
import CrystallineIngest

extension FuzzTargets {
    public static let robotsTxt = FuzzTarget(
        name: "robots-txt", summary: "robots.txt files, parsed and matched against URL paths (RFC 9309)",
        dictionary: ["User-agent:", "Allow:", "Disallow:", "Sitemap:", "*", "$", "#", "%2F", "%7e", "\r\n", "CrystallineBot"]
    ) { data in
        let robots = RobotsTxt([UInt8](data))
        for agent in ["CrystallineBot", "*", "other"] {
            let rules = robots.rules(for: agent)
            invariant(rules.allSatisfy { !$0.pattern.isEmpty }, "an empty rule survived parsing")
            invariant(robots.isAllowed("/robots.txt", agent: agent), "/robots.txt must always be allowed (RFC 9309 §2.2.2)")
            // Every path a rule names, and some that no rule does, decide without trapping.
            for rule in rules.prefix(16) {
                let path = String(decoding: rule.pattern.filter { $0 != UInt8(ascii: "*") && $0 != UInt8(ascii: "$") }, as: UTF8.self)
                _ = robots.isAllowed(path, agent: agent)
            }
            for path in ["/", "/a/b?c=d", "/%E2%82%AC", "/ü/%zz"] { _ = robots.isAllowed(path, agent: agent) }
        }
        invariant(data.count <= RobotsTxt.parseLimit || robots.truncated, "a file over the parse limit was not marked truncated")
    }

    public static let html = FuzzTarget(
        name: "html", summary: "HTML pages through the tolerant parser and the main-text extractor",
        dictionary: ["<p>", "</p>", "<div class=\"content\">", "<script>", "</script>", "<!--", "-->", "<a href=\"", "&amp;", "&#x", "<nav>",
                     "<article>", "<li>", "<pre>", "<meta name=\"robots\" content=\"noindex\">", "<base href=\""]
    ) { data in
        let page = MainText.extract([UInt8](data))
        invariant(!page.text.contains("\u{0}") || data.contains(0), "the extractor invented a NUL")
        _ = page.links.prefix(8).map { CrawlURL.normalise($0, base: URL(string: "http://example.org/dir/page.html")) }
    }
}
