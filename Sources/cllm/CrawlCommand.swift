// `cllm crawl`: a polite crawl into a directory of WARC files and text, resumable after a kill.
import ArgumentParser
import CrystallineCrawl
import Foundation

struct Crawl: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Crawl web pages politely into WARC files and plain text ready for `cllm prepare` or `cllm train --follow`.",
        discussion: """
        Obeys robots.txt (RFC 9309), keeps one request per host in flight with a randomised delay that \
        grows when the host slows down, honours Retry-After, and stays on the seeds' hosts unless \
        --allow-domain says otherwise. DIR gets warc/*.warc.gz (requests, responses, extracted text \
        as conversion records), text/*.txt (one file per distinct main text) and crawl.sqlite3 (the \
        frontier and fetch log). Ctrl-C stops after the requests in flight; `--resume` continues a \
        stopped or killed crawl without fetching a finished page again.
        """)
    @Argument(help: "Seed URLs (http or https).") var seeds: [String] = []
    @Option(name: [.short, .long], help: "Output directory.") var out: String
    @Flag(help: "Continue the crawl in --out (its stored settings; seeds given now are added).") var resume = false
    @Option(help: "User-Agent product and version; its first word is matched against robots.txt.") var userAgent: String?
    @Option(help: "A URL or e-mail address where site owners can reach you, sent in the User-Agent.") var contact: String?
    @Option(help: "Pages to fetch in all (default 100).") var maxPages: Int?
    @Option(help: "Links to follow from a seed (default 3; 0 fetches the seeds only).") var maxDepth: Int?
    @Option(help: "Seconds between requests to one host, randomised 0.5-1.5x (default 1).") var delay: Double?
    @Option(help: "Largest response body kept, in bytes (default 5 MiB).") var maxPageBytes: Int?
    @Option(help: "Seconds before a request is abandoned (default 30).") var timeout: Double?
    @Option(help: "Hosts fetched at once; still one request per host (default 8).") var concurrency: Int?
    @Option(name: .customLong("allow-domain"), help: "Also crawl this domain and its subdomains (repeatable).") var allowDomains: [String] = []
    @Option(help: "Never fetch URLs matching this pattern (* and ?; repeatable).") var deny: [String] = []
    @Flag(help: "Print one line per URL as JSON instead of text.") var json = false
    @Flag(name: [.short, .long], help: "Only the summary.") var quiet = false

    func run() throws {
        try reportingErrors {
            // Only the options given change the settings, so a resumed crawl keeps its own.
            let given: (inout CrawlSettings) -> Void = { s in
                if let v = userAgent { s.userAgent = v }
                if let v = contact { s.contact = v }
                s.seeds = seeds
                if let v = maxPages { s.maxPages = v }
                if let v = maxDepth { s.maxDepth = v }
                if let v = delay { s.delay = v; s.maxDelay = max(s.maxDelay, v) }
                if let v = maxPageBytes { s.maxPageBytes = v }
                if let v = timeout { s.timeout = v }
                if let v = concurrency { s.concurrency = v }
                if !allowDomains.isEmpty { s.allowDomains = allowDomains }
                if !deny.isEmpty { s.deny = deny }
            }
            let dir = URL(fileURLWithPath: out)
            let crawler: Crawler
            if resume {
                crawler = try Crawler.resume(directory: dir, adjust: given)
            } else {
                var s = CrawlSettings()
                given(&s)
                crawler = try Crawler(directory: dir, settings: s)
            }
            installInterruptHandler()
            crawler.shouldStop = { interruptRequested.load(ordering: .relaxed) }
            let started = Date()
            let counts = try crawler.run { event in
                guard !quiet else { return }
                print(json ? Self.json(event) : Self.line(event))
                flushOutput()
            }
            let seconds = Date().timeIntervalSince(started)
            let stopped = interruptRequested.load(ordering: .relaxed)
            print("\(stopped ? "stopped" : "done") in \(Terminal.duration(seconds)): \(counts.fetched) page(s) stored, \(counts.duplicates) duplicate(s), \(counts.redirects) redirect(s), \(counts.blocked) blocked by robots.txt, \(counts.failed) failed, \(counts.queued) still queued; \(out)/text holds the extracted text")
            if stopped || counts.queued > 0 { print("continue with: cllm crawl --resume --out \(out)") }
            if stopped { throw ExitCode(130) }
        }
    }

    static func line(_ e: CrawlEvent) -> String {
        switch e {
        case .robots(let origin, let policy): return "robots  \(origin): \(policy)"
        case .fetched(let url, let status, let bytes, let seconds, let chars):
            return "fetched \(status) \(url) (\(bytes) bytes, \(String(format: "%.2f", seconds)) s\(chars.map { ", \($0) characters of text" } ?? ""))"
        case .duplicate(let url, let of): return "same    \(url) (same content as \(of))"
        case .redirected(let url, let status, let to): return "moved   \(status) \(url) -> \(to)"
        case .blocked(let url, let reason): return "skipped \(url): \(reason)"
        case .retrying(let url, let reason, let after): return "retry   \(url): \(reason); again in \(String(format: "%.1f", after)) s"
        case .failed(let url, let reason): return "failed  \(url): \(reason)"
        }
    }

    static func json(_ e: CrawlEvent) -> String {
        var o: [String: Any]
        switch e {
        case .robots(let origin, let policy): o = ["event": "robots", "origin": origin, "policy": policy]
        case .fetched(let url, let status, let bytes, let seconds, let chars):
            o = ["event": "fetched", "url": url, "status": status, "bytes": bytes, "seconds": seconds]
            if let chars { o["text_characters"] = chars }
        case .duplicate(let url, let of): o = ["event": "duplicate", "url": url, "of": of]
        case .redirected(let url, let status, let to): o = ["event": "redirected", "url": url, "status": status, "to": to]
        case .blocked(let url, let reason): o = ["event": "blocked", "url": url, "reason": reason]
        case .retrying(let url, let reason, let after): o = ["event": "retrying", "url": url, "reason": reason, "after_seconds": after]
        case .failed(let url, let reason): o = ["event": "failed", "url": url, "reason": reason]
        }
        let data = (try? JSONSerialization.data(withJSONObject: o, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
