// The crawler as a site owner meets it: a local server on 127.0.0.1 logs every request, and
// the tests check that robots.txt was obeyed (a disallowed URL is never requested), that one
// host never had two requests at once or two closer than half the delay, that Retry-After was
// honoured, and that a crawl killed mid-way and resumed fetches no page twice.
import Foundation
import XCTest
import CrystallineFormats
@testable import CrystallineCrawl
import CrystallineIngest

final class CrawlerTests: XCTestCase {
    var temporary: URL!

    override func setUpWithError() throws {
        temporary = FileManager.default.temporaryDirectory.appendingPathComponent("cllm-crawl-\(UUID().uuidString.prefix(8))")
    }

    override func tearDown() { try? FileManager.default.removeItem(at: temporary) }

    static func page(_ title: String, links: [String], words: Int = 40) -> TestResponse {
        let prose = (0..<words).map { "word\($0 % 17)" }.joined(separator: " ")
        return .html("""
            <!doctype html><html><head><title>\(title)</title></head><body>
            <nav>\(links.map { "<a href=\"\($0)\">\($0)</a>" }.joined(separator: " "))</nav>
            <article><h1>\(title)</h1><p>\(title) begins here, with enough prose, commas, and sentences to be main text. \(prose).</p></article>
            <footer>footer text</footer></body></html>
            """)
    }

    func settings(_ server: TestHTTPServer, seeds: [String], delay: Double) -> CrawlSettings {
        var s = CrawlSettings()
        s.seeds = seeds.map { server.base + $0 }
        s.delay = delay
        s.maxDelay = max(delay, 5)
        s.timeout = 5
        s.maxAttempts = 2
        s.contact = "https://example.org/contact"
        return s
    }

    func testPoliteCrawlOfALocalSite() throws {
        let server = try TestHTTPServer { path, n in
            switch path {
            case "/robots.txt": return .text("User-agent: *\nDisallow: /private\nAllow: /private/open\n\nUser-agent: OtherBot\nDisallow: /\n")
            case "/index.html":
                return Self.page("Index", links: ["/a.html", "/b.html", "/private/secret.html", "/private/open.html", "/slow.html", "/busy.html",
                                                  "/broken.html", "/moved", "/missing.html", "/a.html#section", "HTTP://127.0.0.1:\(0)/x",
                                                  "http://other.invalid/page", "mailto:someone@example.org"])
            case "/a.html": return Self.page("Page A", links: ["/b.html", "/index.html"])
            case "/b.html": return Self.page("Page B", links: ["/a.html", "/c.html"])
            case "/c.html": return Self.page("Page A", links: ["/b.html", "/index.html"])  // the same bytes as /a.html
            case "/private/open.html": return Self.page("Open", links: [])
            case "/slow.html": var r = Self.page("Slow", links: []); r.delay = 0.8; return r
            case "/busy.html": return n == 0 ? .status(429, headers: [("Retry-After", "2")]) : Self.page("Busy", links: [])
            case "/broken.html": var r = Self.page("Broken", links: []); r.breakAfter = 40; return r
            case "/moved": return .redirect("/moved-again")
            case "/moved-again": return .redirect("/b.html", status: 302)
            default: return .status(404)
            }
        }
        defer { server.stop() }
        let delay = 0.3
        let crawler = try Crawler(directory: temporary, settings: settings(server, seeds: ["/index.html"], delay: delay))
        var events: [CrawlEvent] = []
        let counts = try crawler.run { events.append($0) }
        let log = server.log

        // robots.txt: read once, first; a disallowed URL never requested; the allowed exception was.
        XCTAssertEqual(log.first?.path, "/robots.txt")
        XCTAssertEqual(server.requests("/robots.txt").count, 1)
        XCTAssertTrue(server.requests("/private/secret.html").isEmpty, "a URL disallowed by robots.txt was requested")
        XCTAssertEqual(server.requests("/private/open.html").count, 1)
        XCTAssertTrue(log.allSatisfy { $0.userAgent == "CrystallineBot/1.0 (+https://example.org/contact)" }, "\(Set(log.map(\.userAgent)))")
        // One spelling per page: /a.html#section is /a.html; each page once (the retried ones aside).
        for path in ["/index.html", "/a.html", "/b.html", "/c.html", "/slow.html", "/moved", "/moved-again", "/missing.html"] {
            XCTAssertEqual(server.requests(path).count, 1, "\(path): \(log.map(\.path))")
        }
        // Retry-After: 2 on the 429 was honoured before the second try.
        let busy = server.requests("/busy.html")
        XCTAssertEqual(busy.count, 2)
        if busy.count == 2 { XCTAssertGreaterThanOrEqual(busy[1].arrived - busy[0].arrived, 2.0 - 0.05) }
        // The broken page was retried and then given up.
        XCTAssertEqual(server.requests("/broken.html").count, 2)
        // One request at a time, and at least half the delay between one's end and the next's start.
        let ordered = log.sorted { $0.arrived < $1.arrived }
        for (previous, next) in zip(ordered, ordered.dropFirst()) {
            let ended = try XCTUnwrap(previous.finished)
            XCTAssertGreaterThanOrEqual(next.arrived - ended, 0.5 * delay - 0.02, "\(next.path) started \(next.arrived - ended) s after \(previous.path) ended")
        }
        // After the slow page the delay adapted upwards (mean of the delay and the 0.8 s latency).
        if let slow = ordered.firstIndex(where: { $0.path == "/slow.html" }), slow + 1 < ordered.count {
            XCTAssertGreaterThanOrEqual(ordered[slow + 1].arrived - ordered[slow].finished!, 0.5 * (delay + 0.8) / 2 - 0.02)
        }
        // Blocked: the disallowed page, and the link to port 0, whose robots.txt cannot be fetched.
        XCTAssertEqual(counts.blocked, 2)
        XCTAssertTrue(events.contains { if case .blocked(let url, let reason) = $0 { return url.contains(":0/") && reason.contains("could not be fetched") }; return false })
        XCTAssertEqual(counts.duplicates, 1)
        XCTAssertEqual(counts.redirects, 2)
        XCTAssertEqual(counts.failed, 2)  // the missing page and the broken one
        XCTAssertEqual(counts.queued, 0)
        XCTAssertTrue(events.contains { if case .duplicate(let url, _) = $0 { return url.hasSuffix("/c.html") }; return false })
        // Text: one file per distinct main text, without the navigation or footer.
        let texts = try FileManager.default.contentsOfDirectory(atPath: temporary.appendingPathComponent("text").path)
        XCTAssertEqual(texts.count, counts.fetched)
        let indexText = try texts.map { try String(contentsOf: temporary.appendingPathComponent("text/\($0)"), encoding: .utf8) }
            .first { $0.contains("Index begins here") }
        XCTAssertNotNil(indexText)
        XCTAssertFalse(indexText?.contains("footer text") ?? true)
        XCTAssertFalse(indexText?.contains("/private/secret.html") ?? true)
        try WARCCheck.verify(directory: temporary.appendingPathComponent("warc"))
    }

    /// RFC 9309 §2.3.1 against a live server: 404, 503, a redirect chain, too many redirects, a
    /// 600 KiB file.
    func testRobotsFetchOutcomes() throws {
        let big = "User-agent: *\nDisallow: /x\n" + String(repeating: "# padding to make a large robots.txt file\n", count: 600 * 1024 / 42)
        let cases: [(name: String, robots: @Sendable (String, Int) -> TestResponse?, xRequested: Bool, pageRequested: Bool)] = [
            ("404: all allowed", { p, _ in p == "/robots.txt" ? .status(404) : nil }, true, true),
            ("503: nothing allowed", { p, _ in p == "/robots.txt" ? .status(503) : nil }, false, false),
            ("3 redirects followed", { p, _ in
                switch p {
                case "/robots.txt": return .redirect("/r1")
                case "/r1": return .redirect("/r2", status: 302)
                case "/r2": return .redirect("/real-robots.txt", status: 307)
                case "/real-robots.txt": return .text("User-agent: *\nDisallow: /x\n")
                default: return nil
                }
            }, false, true),
            ("6 redirects: unavailable, all allowed", { p, _ in
                if p == "/robots.txt" { return .redirect("/r1") }
                if p.hasPrefix("/r"), let n = Int(p.dropFirst(2)) { return .redirect("/r\(n + 1)") }
                return nil
            }, true, true),
            ("600 KiB file", { p, _ in p == "/robots.txt" ? .text(big) : nil }, false, true),
        ]
        for c in cases {
            let server = try TestHTTPServer { path, n in c.robots(path, n) ?? Self.page(path, links: []) }
            defer { server.stop() }
            let dir = temporary.appendingPathComponent(String(c.name.prefix(3)))
            var s = settings(server, seeds: ["/page.html", "/x"], delay: 0.02)
            s.maxDepth = 0
            let counts = try Crawler(directory: dir, settings: s).run()
            XCTAssertEqual(!server.requests("/x").isEmpty, c.xRequested, c.name)
            XCTAssertEqual(!server.requests("/page.html").isEmpty, c.pageRequested, c.name)
            if !c.pageRequested { XCTAssertEqual(counts.blocked, 2, c.name) }
        }
    }

    /// SIGKILL `cllm crawl` between two requests, resume it, and the site sees every page once.
    func testKillAndResumeFetchesNothingTwice() throws {
        guard let cllm = KillHelpers.cllm else { throw XCTSkip("the cllm binary is not beside the tests; build with --build-tests") }
        let pages = 10
        let server = try TestHTTPServer { path, _ in
            if path == "/robots.txt" { return .text("User-agent: *\nAllow: /\n") }
            guard path.hasPrefix("/p"), let n = Int(path.dropFirst(2).prefix { $0.isNumber }) else { return .status(404) }
            return Self.page("Page \(n)", links: n + 1 < pages ? ["/p\(n + 1).html", "/p0.html"] : ["/p0.html"])
        }
        defer { server.stop() }
        let args = ["crawl", server.base + "/p0.html", "--out", temporary.path, "--delay", "1", "--max-depth", "20", "-q"]
        let first = try KillHelpers.start(cllm, args)
        // Wait for the fifth page to be answered, then kill while the crawler waits out its delay.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let done = server.log.filter { $0.path != "/robots.txt" && $0.finished != nil }
            if done.count >= 5 { break }
            usleep(20_000)
        }
        usleep(150_000)
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        let beforeResume = server.log
        XCTAssertTrue(beforeResume.allSatisfy { $0.finished != nil }, "a request was in flight at the kill; the test needs a quiet moment")
        XCTAssertGreaterThanOrEqual(beforeResume.count, 6)
        XCTAssertLessThan(beforeResume.count, pages + 1, "the crawl finished before it could be killed")

        let second = try KillHelpers.start(cllm, ["crawl", "--resume", "--out", temporary.path, "-q"])
        second.waitUntilExit()
        XCTAssertEqual(second.terminationStatus, 0)
        let paths = server.log.map(\.path)
        XCTAssertEqual(paths.count, Set(paths).count, "fetched twice: \(paths.filter { p in paths.filter { $0 == p }.count > 1 })")
        XCTAssertEqual(Set(paths), Set(["/robots.txt"] + (0..<pages).map { "/p\($0).html" }))
        try WARCCheck.verify(directory: temporary.appendingPathComponent("warc"))
    }

    /// A PDF on the site is fetched, archived, and its text extracted as `ingest` would.
    func testPDFLinkedFromAPage() throws {
        guard ExternalTool.isAvailable("pdftotext") else { throw XCTSkip("pdftotext not installed (apt-get install poppler-utils)") }
        let pdf = MinimalPDF.document(pages: ["A report published as a PDF.\nIts words reach the corpus too."])
        let server = try TestHTTPServer { path, _ in
            path == "/report.pdf" ? TestResponse(headers: [("Content-Type", "application/pdf")], body: [UInt8](pdf))
                                  : Self.page("Reports", links: ["/report.pdf"])
        }
        defer { server.stop() }
        let counts = try Crawler(directory: temporary, settings: settings(server, seeds: ["/"], delay: 0)).run()
        XCTAssertEqual(counts.fetched, 2)
        let texts = try FileManager.default.contentsOfDirectory(atPath: temporary.appendingPathComponent("text").path)
            .map { try String(contentsOf: temporary.appendingPathComponent("text/\($0)"), encoding: .utf8) }
        XCTAssertTrue(texts.contains { $0.contains("Its words reach the corpus too.") }, "\(texts)")
        try WARCCheck.verify(directory: temporary.appendingPathComponent("warc"))
    }

    /// A second crawl into a directory that holds one is refused unless it resumes.
    func testExistingCrawlNeedsResume() throws {
        let server = try TestHTTPServer { _, _ in Self.page("x", links: []) }
        defer { server.stop() }
        var s = settings(server, seeds: ["/"], delay: 0)
        s.maxDepth = 0
        do { try Crawler(directory: temporary, settings: s).run() }
        XCTAssertThrowsError(try Crawler(directory: temporary, settings: s)) { error in
            XCTAssert("\(error)".contains("--resume"), "\(error)")
        }
        XCTAssertThrowsError(try Crawler.resume(directory: temporary.appendingPathComponent("none")))
        // Bad seeds or settings are refused before anything is written.
        var bad = s
        bad.seeds = ["ftp://example.org/"]
        let fresh = temporary.appendingPathComponent("fresh")
        XCTAssertThrowsError(try Crawler(directory: fresh, settings: bad)) { XCTAssert("\($0)".contains("not an http(s) URL"), "\($0)") }
        bad.seeds = []
        XCTAssertThrowsError(try Crawler(directory: fresh, settings: bad))
        bad.seeds = s.seeds
        bad.userAgent = "*"
        XCTAssertThrowsError(try Crawler(directory: fresh, settings: bad))
        XCTAssertFalse(FileManager.default.fileExists(atPath: fresh.path))
    }

    func testURLNormalisation() {
        XCTAssertEqual(CrawlURL.normalise("HTTP://Example.COM:80/a/./b/../c#frag"), "http://example.com/a/c")
        XCTAssertEqual(CrawlURL.normalise("https://example.com:443"), "https://example.com/")
        XCTAssertEqual(CrawlURL.normalise("/x?q=%7e", base: URL(string: "http://h.org/dir/page")), "http://h.org/x?q=~")
        XCTAssertEqual(CrawlURL.normalise("../up", base: URL(string: "http://h.org/a/b/c")), "http://h.org/a/up")
        XCTAssertNil(CrawlURL.normalise("mailto:a@b.c"))
        XCTAssertNil(CrawlURL.normalise("javascript:void(0)"))
        XCTAssertNil(CrawlURL.normalise("ftp://h.org/x"))
    }

    func testRetryAfterForms() {
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        XCTAssertEqual(FetchResponse(status: 429, headers: [("Retry-After", "120")], body: [], truncated: false).retryAfter(now: now), 120)
        let date = FetchResponse(status: 503, headers: [("retry-after", "Tue, 14 Nov 2023 22:15:20 GMT")], body: [], truncated: false)
        XCTAssertEqual(date.retryAfter(now: now) ?? -1, 120, accuracy: 0.5)
        XCTAssertNil(FetchResponse(status: 503, headers: [], body: [], truncated: false).retryAfter(now: now))
    }
}
