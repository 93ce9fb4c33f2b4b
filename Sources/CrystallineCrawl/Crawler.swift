// The crawl loop. One thread decides; URLSession threads fetch. For every origin (scheme, host,
// port) at most one request is in flight, and the next starts no sooner than the origin's delay
// after the last one ended: the configured delay, randomised 0.5–1.5×, raised towards the
// server's response time when it answers slowly (Scrapy's AutoThrottle rule: new delay = mean of
// the old delay and the latest latency), and pushed back by `Retry-After`. robots.txt is read
// before any other URL of an origin and re-read when older than the cache limit.
import CrystallineFormats
import CrystallineIngest
import Foundation

/// What the crawler reports as it goes.
public enum CrawlEvent: Sendable {
    case robots(origin: String, policy: String)
    case fetched(url: String, status: Int, bytes: Int, seconds: Double, textCharacters: Int?)
    case duplicate(url: String, of: String)
    case redirected(url: String, status: Int, to: String)
    case blocked(url: String, reason: String)
    case retrying(url: String, reason: String, afterSeconds: Double)
    case failed(url: String, reason: String)
}

/// Not shared between threads: only `finished` (under `inbox`) and `wake` are touched by the
/// fetch callbacks.
public final class Crawler: @unchecked Sendable {
    public let directory: URL
    public let settings: CrawlSettings
    /// Polled between fetches; returning true ends the crawl cleanly (in-flight fetches finish first).
    public var shouldStop: () -> Bool = { false }

    private let state: CrawlState
    private var lock: DirectoryLock?
    private var warc: WARCWriter!
    private var warcName = ""
    private var random = SystemRandomNumberGenerator()

    private struct Host {
        var busy = false
        var nextAllowed = 0.0
        var delay: Double
        var policy: RobotsPolicy?
        var robotsFetched = 0.0
    }
    private var hosts: [String: Host] = [:]
    private let seedHosts: Set<String>

    private enum Job { case robots(origin: String, url: URL, hops: Int), page(url: String, depth: Int, attempts: Int) }
    private struct Finished { var job: Job; var outcome: FetchOutcome; var started: Date; var requestHeaders: [(String, String)] }
    private let inbox = NSLock()
    private var finished: [Finished] = []
    private let wake = DispatchSemaphore(value: 0)
    private var inFlight = 0
    private var pagesInFlight = 0

    /// Starts a new crawl in `directory` (refused if one is there already).
    public convenience init(directory: URL, settings: CrawlSettings) throws {
        try self.init(directory: directory, resume: false) { $0 = settings }
    }

    /// Continues the crawl in `directory` under its stored settings, changed by `adjust` (the
    /// options given again; seeds added now join the stored ones).
    public static func resume(directory: URL, adjust: (inout CrawlSettings) -> Void = { _ in }) throws -> Crawler {
        try Crawler(directory: directory, resume: true, adjust)
    }

    private init(directory: URL, resume: Bool, _ adjust: (inout CrawlSettings) -> Void) throws {
        self.directory = directory
        var effective = CrawlSettings()
        if !resume {
            // A new crawl with bad settings or seeds is refused before any file is made.
            adjust(&effective)
            try Self.checkedSeeds(effective)
        }
        let lock = try DirectoryLock(directory)
        let state = try CrawlState(directory: directory)
        if let stored = try state.loadSettings() {
            guard resume else {
                throw CrawlError.state("\(directory.path) already holds a crawl: continue it with --resume, or choose another --out")
            }
            effective = stored
            adjust(&effective)
            effective.seeds = stored.seeds + effective.seeds.filter { !stored.seeds.contains($0) }
        } else if resume {
            throw CrawlError.state("\(directory.path) holds no crawl to resume (no crawl.sqlite3)")
        }
        let seeds = try Self.checkedSeeds(effective)
        self.settings = effective
        self.state = state
        self.lock = lock
        seedHosts = Set(seeds.compactMap { URL(string: $0)?.host })
        try state.saveSettings(effective)
        for s in seeds { try state.enqueue(s, origin: CrawlURL.origin(URL(string: s)!), depth: 0, foundOn: nil) }
        try openWARC()
    }

    /// The settings validated and the seeds normalised; at least one seed.
    @discardableResult
    static func checkedSeeds(_ settings: CrawlSettings) throws -> [String] {
        try settings.validate()
        let seeds = try settings.seeds.map { s in
            guard let n = CrawlURL.normalise(s) else { throw CrawlError.invalidSeed(s) }
            return n
        }
        guard !seeds.isEmpty else { throw CrawlError.invalidSettings("give at least one seed URL") }
        return seeds
    }

    /// Cuts every WARC file back to its last committed record (a kill can tear the one being
    /// written) and starts a new file for this session.
    private func openWARC() throws {
        let dir = directory.appendingPathComponent("warc")
        let known = try state.warcFiles()
        for (name, good) in known {
            let url = dir.appendingPathComponent(name)
            if let size = (try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? UInt64, size > good {
                _ = try WARCWriter(url: url, truncateTo: good)
            }
        }
        let stamp = WARCRecord.timestamp(Date()).filter { $0.isNumber }
        warcName = String(format: "crawl-%@-%05d.warc.gz", stamp, known.count + 1)
        warc = try WARCWriter(url: dir.appendingPathComponent(warcName))
        let info = WARCWriter.info(filename: warcName, fields: [
            ("software", "cllm crawl (Crystalline)"), ("format", "WARC File Format 1.1"),
            ("conformsTo", "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/"),
            ("http-header-user-agent", settings.userAgentHeader), ("robots", "obey (RFC 9309)"),
        ])
        try warc.write([info])
        try state.setWarcGoodLength(warcName, warc.offset)
    }

    public func counts() throws -> CrawlCounts { try state.counts() }

    // MARK: The loop

    /// Crawls until the frontier is empty, `max_pages` pages are fetched, or `shouldStop`.
    @discardableResult
    public func run(onEvent: (CrawlEvent) -> Void = { _ in }) throws -> CrawlCounts {
        var stopping = false
        while true {
            try drain(onEvent)
            if !stopping && shouldStop() { stopping = true }
            let fetched = try state.pagesFetched()
            let full = fetched + pagesInFlight >= settings.maxPages
            var nextWake = Double.infinity
            if !stopping && !full {
                nextWake = try dispatch(onEvent)
            }
            if inFlight == 0 {
                if stopping || full { break }
                if nextWake == .infinity { break }  // nothing queued anywhere
            }
            let wait = min(max(nextWake - now(), 0.001), 0.25)
            _ = wake.wait(timeout: .now() + wait)
        }
        return try state.counts()
    }

    private func now() -> Double { Date().timeIntervalSince1970 }

    /// Starts what may start now; returns when the next origin will be ready.
    private func dispatch(_ onEvent: (CrawlEvent) -> Void) throws -> Double {
        var nextWake = Double.infinity
        for (origin, notBefore) in try state.waitingOrigins() {
            var host = hosts[origin] ?? Host(delay: settings.delay)
            if host.busy { continue }
            let t = now()
            let ready = max(host.nextAllowed, notBefore)
            if ready > t { nextWake = min(nextWake, ready); continue }
            if inFlight >= settings.concurrency { nextWake = min(nextWake, t + 0.05); continue }
            if host.policy == nil || t - host.robotsFetched > settings.robotsCacheSeconds {
                if let cached = try state.robots(origin: origin), t - cached.fetched <= settings.robotsCacheSeconds {
                    host.policy = RobotsPolicy.from(status: cached.status < 0 ? nil : cached.status, body: cached.body, agent: settings.productToken,
                                                    redirectsExhausted: cached.status == 310)
                    host.robotsFetched = cached.fetched
                } else {
                    host.busy = true
                    hosts[origin] = host
                    start(.robots(origin: origin, url: URL(string: origin + "/robots.txt")!, hops: 0))
                    continue
                }
            }
            hosts[origin] = host
            // Blocked URLs are settled without a request; then the first allowed one goes.
            while let next = try state.next(origin: origin, now: t) {
                let url = URL(string: next.url)!
                if let reason = host.policy!.refusal(url) {
                    try state.setState(next.url, "blocked", note: reason)
                    onEvent(.blocked(url: next.url, reason: reason))
                    continue
                }
                if try state.pagesFetched() + pagesInFlight >= settings.maxPages { return .infinity }
                hosts[origin]!.busy = true
                pagesInFlight += 1
                start(.page(url: next.url, depth: next.depth, attempts: next.attempts))
                break
            }
        }
        return nextWake
    }

    private func start(_ job: Job) {
        let url: URL
        switch job {
        case .robots(_, let u, _): url = u
        case .page(let s, _, _): url = URL(string: s)!
        }
        // What is sent is what the WARC request record says (URLSession adds its own
        // Accept-Encoding and decodes the body).
        let headers = [("User-Agent", settings.userAgentHeader),
                       ("Accept", "text/html,application/xhtml+xml,text/plain;q=0.9,*/*;q=0.5")]
        inFlight += 1
        let started = Date()
        Fetcher.get(url, headers: headers, timeout: settings.timeout, maxBytes: settings.maxPageBytes) { [self] outcome in
            inbox.withLock { finished.append(Finished(job: job, outcome: outcome, started: started, requestHeaders: headers)) }
            wake.signal()
        }
    }

    private func drain(_ onEvent: (CrawlEvent) -> Void) throws {
        let done = inbox.withLock { let d = finished; finished.removeAll(); return d }
        for f in done {
            inFlight -= 1
            switch f.job {
            case .robots(let origin, let url, let hops): try handleRobots(f, origin: origin, url: url, hops: hops, onEvent)
            case .page(let url, let depth, let attempts):
                pagesInFlight -= 1
                try handlePage(f, url: url, depth: depth, attempts: attempts, onEvent)
            }
        }
    }

    /// After a request to `origin` ends: the adaptive delay and the earliest next start.
    private func release(_ origin: String, latency: Double, ok: Bool, retryAfter: Double? = nil) {
        var host = hosts[origin] ?? Host(delay: settings.delay)
        host.busy = false
        if ok { host.delay = min(settings.maxDelay, max(settings.delay, (host.delay + latency) / 2)) }
        else { host.delay = min(settings.maxDelay, max(host.delay, (host.delay + latency) / 2)) }
        var wait = host.delay * Double.random(in: 0.5...1.5, using: &random)
        if let r = retryAfter { wait = max(wait, r) }
        host.nextAllowed = now() + wait
        hosts[origin] = host
    }

    // MARK: robots.txt

    private func handleRobots(_ f: Finished, origin: String, url: URL, hops: Int, _ onEvent: (CrawlEvent) -> Void) throws {
        var status: Int?
        var body: [UInt8] = []
        var latency = 0.0
        switch f.outcome {
        case .response(let r, let seconds):
            latency = seconds
            status = r.status
            body = r.body
            try archive(url: url, response: r, requestHeaders: f.requestHeaders, started: f.started, text: nil)
            if (300..<400).contains(r.status), let location = r.header("Location"),
               let next = CrawlURL.normalise(location, base: url).flatMap(URL.init(string:)) {
                if hops < 5 {
                    start(.robots(origin: origin, url: next, hops: hops + 1))
                    return
                }
                status = 310  // stored marker: redirects exhausted
            }
        case .failure(_, let seconds):
            latency = seconds
        }
        let policy = RobotsPolicy.from(status: status, body: body, agent: settings.productToken, redirectsExhausted: status == 310)
        let t = now()
        try state.transaction { try state.setRobots(origin: origin, fetched: t, status: status ?? -1, body: body); try state.setWarcGoodLength(warcName, warc.offset) }
        var host = hosts[origin] ?? Host(delay: settings.delay)
        host.policy = policy
        host.robotsFetched = t
        hosts[origin] = host
        release(origin, latency: latency, ok: status.map { $0 < 500 } ?? false)
        onEvent(.robots(origin: origin, policy: describe(policy)))
    }

    private func describe(_ p: RobotsPolicy) -> String {
        switch p {
        case .rules(let rules, let status): return "robots.txt \(status): \(rules.count) rule(s) for \(settings.productToken)"
        case .allowAll(let r): return r
        case .disallowAll(let r): return r
        }
    }

    // MARK: Pages

    private func handlePage(_ f: Finished, url: String, depth: Int, attempts: Int, _ onEvent: (CrawlEvent) -> Void) throws {
        let pageURL = URL(string: url)!
        let origin = CrawlURL.origin(pageURL)
        switch f.outcome {
        case .failure(let message, let seconds):
            release(origin, latency: seconds, ok: false)
            try retryOrFail(url, attempts: attempts, reason: message, retryAfter: nil, started: f.started, seconds: seconds, onEvent)
        case .response(let r, let seconds):
            let retryable = [408, 429, 500, 502, 503, 504, 522, 524].contains(r.status)
            let retryAfter = (r.status == 429 || r.status == 503) ? r.retryAfter().map { min($0, 3600) } : nil
            release(origin, latency: seconds, ok: r.status < 400, retryAfter: retryAfter)
            if retryable && attempts + 1 < settings.maxAttempts {
                try retryOrFail(url, attempts: attempts, reason: "\(r.status) \(HTTPReason.phrase(r.status))", retryAfter: retryAfter,
                                started: f.started, seconds: seconds, onEvent)
                return
            }
            if (300..<400).contains(r.status), let location = r.header("Location") {
                let target = CrawlURL.normalise(location, base: pageURL)
                let placed = try archive(url: pageURL, response: r, requestHeaders: f.requestHeaders, started: f.started, text: nil)
                try state.transaction {
                    try log(url, r, placed: placed, started: f.started, seconds: seconds, outcome: "redirect")
                    try state.setState(url, "redirect", note: target)
                    if let target, inScope(target) {
                        try state.enqueue(target, origin: CrawlURL.origin(URL(string: target)!), depth: depth, foundOn: url)
                    }
                    try state.setWarcGoodLength(warcName, warc.offset)
                }
                onEvent(.redirected(url: url, status: r.status, to: target ?? location))
                return
            }
            guard (200..<300).contains(r.status) else {
                let placed = try archive(url: pageURL, response: r, requestHeaders: f.requestHeaders, started: f.started, text: nil)
                let reason = "\(r.status) \(HTTPReason.phrase(r.status))"
                try state.transaction {
                    try log(url, r, placed: placed, started: f.started, seconds: seconds, outcome: "failed")
                    try state.setState(url, "failed", note: reason)
                    try state.setWarcGoodLength(warcName, warc.offset)
                }
                onEvent(.failed(url: url, reason: reason))
                return
            }
            try store(url: url, pageURL: pageURL, depth: depth, response: r, f: f, seconds: seconds, onEvent)
        }
    }

    private func retryOrFail(_ url: String, attempts: Int, reason: String, retryAfter: Double?, started: Date, seconds: Double,
                             _ onEvent: (CrawlEvent) -> Void) throws {
        if attempts + 1 < settings.maxAttempts {
            let backoff = retryAfter ?? max(settings.delay, 1) * pow(2, Double(attempts))
            try state.retryLater(url, notBefore: now() + backoff, note: reason)
            onEvent(.retrying(url: url, reason: reason, afterSeconds: backoff))
        } else {
            try state.transaction {
                try state.logFetch(.init(url: url, status: nil, contentType: nil, bytes: 0, payloadSHA1: nil, textSHA1: nil, textFile: nil,
                                         warcFile: nil, warcOffset: nil, warcLength: nil, started: started.timeIntervalSince1970,
                                         seconds: seconds, outcome: "failed"))
                try state.setState(url, "failed", note: "\(reason) after \(attempts + 1) attempt(s)")
            }
            onEvent(.failed(url: url, reason: "\(reason) after \(attempts + 1) attempt(s)"))
        }
    }

    /// A 2xx page: stored once per payload (later copies become revisit records), its text
    /// extracted and written once per distinct text, its links queued.
    private func store(url: String, pageURL: URL, depth: Int, response r: FetchResponse, f: Finished, seconds: Double,
                       _ onEvent: (CrawlEvent) -> Void) throws {
        let payloadSHA1 = SHA1.hex(r.body)
        if let first = try state.payload(payloadSHA1) {
            let placed = try archiveRevisit(url: pageURL, response: r, started: f.started, original: first)
            try state.transaction {
                try log(url, r, placed: placed, started: f.started, seconds: seconds, outcome: "duplicate", payload: payloadSHA1)
                try state.setState(url, "duplicate", note: first.url)
                try state.setWarcGoodLength(warcName, warc.offset)
            }
            onEvent(.duplicate(url: url, of: first.url))
            return
        }
        var text: String?
        var links: [String] = []
        let type = r.contentType
        if type == "text/html" || type == "application/xhtml+xml" || (type.isEmpty && looksLikeHTML(r.body)) {
            let page = MainText.extract(r.body)
            if !page.noindex { text = page.text }
            if !page.nofollow {
                let base = page.base.flatMap { URL(string: $0, relativeTo: pageURL) } ?? pageURL
                links = page.links.compactMap { CrawlURL.normalise($0, base: base) }
            }
        } else if type.hasPrefix("text/plain") || type == "text/markdown" {
            text = try? DocumentReader.utf8(r.body).get()
        } else if (type == "application/pdf" || r.body.starts(with: Array("%PDF-".utf8))) && !r.truncated {
            text = pdfText(r.body)
        }
        if let t = text, t.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { text = nil }
        // The text file first (atomically), then the WARC records, then the state that points at both.
        var textSHA1: String?, textFile: String?
        if let text {
            let sha = SHA1.hex(Array(text.utf8))
            textSHA1 = sha
            if let existing = try state.text(sha) { textFile = existing } else {
                let name = "text/\(sha.prefix(16)).txt"
                try AtomicFile.write(Data((text + "\n").utf8), to: directory.appendingPathComponent(name))
                textFile = name
            }
        }
        let placed = try archive(url: pageURL, response: r, requestHeaders: f.requestHeaders, started: f.started, text: text)
        let date = WARCRecord.timestamp(f.started)
        try state.transaction {
            try log(url, r, placed: placed, started: f.started, seconds: seconds, outcome: "done", payload: payloadSHA1, textSHA1: textSHA1, textFile: textFile)
            try state.setState(url, "done", note: r.truncated ? "truncated at \(settings.maxPageBytes) bytes" : nil)
            try state.addPayload(payloadSHA1, url: url, date: date)
            if let textSHA1, let textFile { try state.addText(textSHA1, url: url, file: textFile) }
            if depth < settings.maxDepth {
                for link in links where inScope(link) {
                    try state.enqueue(link, origin: CrawlURL.origin(URL(string: link)!), depth: depth + 1, foundOn: url)
                }
            }
            try state.setWarcGoodLength(warcName, warc.offset)
        }
        onEvent(.fetched(url: url, status: r.status, bytes: r.body.count, seconds: seconds, textCharacters: text?.count))
    }

    private func log(_ url: String, _ r: FetchResponse, placed: (offset: UInt64, length: UInt64)?, started: Date, seconds: Double, outcome: String,
                     payload: String? = nil, textSHA1: String? = nil, textFile: String? = nil) throws {
        try state.logFetch(.init(url: url, status: r.status, contentType: r.contentType, bytes: r.body.count, payloadSHA1: payload,
                                 textSHA1: textSHA1, textFile: textFile, warcFile: warcName, warcOffset: placed?.offset,
                                 warcLength: placed?.length, started: started.timeIntervalSince1970, seconds: seconds, outcome: outcome))
    }

    /// A fetched PDF's text as `cllm ingest` reads it (pdftotext, OCR for scanned pages); nil
    /// when poppler is not installed or the PDF is unreadable (it stays in the WARC either way).
    private func pdfText(_ body: [UInt8]) -> String? {
        guard ExternalTool.isAvailable("pdftotext"), ExternalTool.isAvailable("pdfinfo") else { return nil }
        // pdftotext reads files, not pipes with seeking.
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("cllm-crawl-\(getpid())-\(UUID().uuidString.prefix(8)).pdf")
        defer { try? FileManager.default.removeItem(at: file) }
        guard (try? Data(body).write(to: file)) != nil else { return nil }
        return DocumentReader().read(file.path).text
    }

    private func looksLikeHTML(_ body: [UInt8]) -> Bool {
        let head = String(decoding: body.prefix(512), as: UTF8.self).lowercased()
        return head.contains("<html") || head.contains("<!doctype html")
    }

    /// Whether a link may be queued: http(s), within the seeds' hosts or the allowed domains,
    /// and matching no deny pattern.
    func inScope(_ url: String) -> Bool {
        guard let host = URL(string: url)?.host else { return false }
        let allowed = settings.allowDomains.contains { host == $0 || host.hasSuffix("." + $0) }
        if !allowed && (settings.sameSiteOnly || !settings.allowDomains.isEmpty) && !seedHosts.contains(host) { return false }
        return !settings.deny.contains { fnmatch($0, url, 0) == 0 || url.contains($0) && !$0.contains("*") && !$0.contains("?") }
    }

    // MARK: WARC

    /// The request, the response and (with text) a conversion record; returns the response's place.
    @discardableResult
    private func archive(url: URL, response r: FetchResponse, requestHeaders: [(String, String)], started: Date, text: String?) throws
        -> (offset: UInt64, length: UInt64) {
        let block = HTTPMessage.response(status: r.status, reason: HTTPReason.phrase(r.status), headers: r.headers, body: r.body)
        var fields = [("WARC-Target-URI", url.absoluteString)]
        if r.truncated { fields.append(("WARC-Truncated", "length")) }
        let response = WARCRecord(type: .response, date: started, fields: fields, contentType: "application/http;msgtype=response",
                                  block: block, payload: r.body)
        let request = WARCRecord(type: .request, date: started,
                                 fields: [("WARC-Target-URI", url.absoluteString), ("WARC-Concurrent-To", response.id)],
                                 contentType: "application/http;msgtype=request",
                                 block: HTTPMessage.request(url: url, headers: requestHeaders))
        var records = [request, response]
        if let text {
            records.append(WARCRecord(type: .conversion, date: started,
                                      fields: [("WARC-Target-URI", url.absoluteString), ("WARC-Refers-To", response.id)],
                                      contentType: "text/plain; charset=utf-8", block: Array(text.utf8)))
        }
        let placed = try warc.write(records)
        return placed[1]
    }

    private func archiveRevisit(url: URL, response r: FetchResponse, started: Date, original: (url: String, date: String)) throws
        -> (offset: UInt64, length: UInt64) {
        let block = HTTPMessage.responseHeadersOnly(status: r.status, reason: HTTPReason.phrase(r.status), headers: r.headers)
        var record = WARCRecord(type: .revisit, date: started,
                                fields: [("WARC-Target-URI", url.absoluteString),
                                         ("WARC-Profile", "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"),
                                         ("WARC-Refers-To-Target-URI", original.url), ("WARC-Refers-To-Date", original.date),
                                         ("WARC-Payload-Digest", WARCRecord.digest(r.body))],
                                contentType: "application/http;msgtype=response", block: block)
        record.payload = nil
        return try warc.write([record])[0]
    }
}
