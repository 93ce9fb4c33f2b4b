// The crawl's memory, in SQLite (DIR/crawl.sqlite3): the URL frontier, every fetch, the content
// fingerprints, robots.txt per origin, and how far each WARC file is known to be good. Every
// page's outcome is one transaction, committed after its WARC records are on disk, so a crawl
// killed at any moment resumes where it was without fetching a finished page again, and a
// record torn by the kill is cut off the WARC file on resume.
import Foundation

public struct CrawlCounts: Sendable, Equatable {
    public var queued = 0, fetched = 0, duplicates = 0, blocked = 0, failed = 0, redirects = 0, skipped = 0
}

final class CrawlState {
    let db: SQLiteDatabase

    init(directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        db = try SQLiteDatabase(path: directory.appendingPathComponent("crawl.sqlite3").path)
        try db.execute("""
            PRAGMA journal_mode=WAL;
            PRAGMA synchronous=FULL;
            CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS urls(
                url TEXT PRIMARY KEY, origin TEXT NOT NULL, depth INTEGER NOT NULL,
                state TEXT NOT NULL DEFAULT 'queued', attempts INTEGER NOT NULL DEFAULT 0,
                not_before REAL NOT NULL DEFAULT 0, found_on TEXT, seq INTEGER NOT NULL, note TEXT);
            CREATE INDEX IF NOT EXISTS urls_queue ON urls(state, origin, depth, seq);
            CREATE TABLE IF NOT EXISTS fetches(
                id INTEGER PRIMARY KEY, url TEXT NOT NULL, status INTEGER, content_type TEXT, bytes INTEGER,
                payload_sha1 TEXT, text_sha1 TEXT, text_file TEXT, warc_file TEXT, warc_offset INTEGER, warc_length INTEGER,
                started REAL NOT NULL, seconds REAL NOT NULL, outcome TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS payloads(sha1 TEXT PRIMARY KEY, url TEXT NOT NULL, date TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS texts(sha1 TEXT PRIMARY KEY, url TEXT NOT NULL, file TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS robots(origin TEXT PRIMARY KEY, fetched REAL NOT NULL, status INTEGER NOT NULL, body BLOB);
            CREATE TABLE IF NOT EXISTS warc_files(name TEXT PRIMARY KEY, good_length INTEGER NOT NULL);
            """)
    }

    // MARK: Settings

    func loadSettings() throws -> CrawlSettings? {
        guard let json = try db.query("SELECT value FROM meta WHERE key='settings'").first?.first?.text else { return nil }
        do { return try JSONDecoder().decode(CrawlSettings.self, from: Data(json.utf8)) } catch {
            throw CrawlError.state("\(db.path): unreadable crawl settings (\(error))")
        }
    }

    func saveSettings(_ s: CrawlSettings) throws {
        let json = String(decoding: try JSONEncoder().encode(s), as: UTF8.self)
        try db.query("INSERT OR REPLACE INTO meta(key, value) VALUES('settings', ?)", [.text(json)])
    }

    // MARK: Frontier

    /// Adds `url` unless it is already known (in any state). Returns whether it was new.
    @discardableResult
    func enqueue(_ url: String, origin: String, depth: Int, foundOn: String?) throws -> Bool {
        try db.query("INSERT OR IGNORE INTO urls(url, origin, depth, found_on, seq) VALUES(?, ?, ?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM urls))",
                     [.text(url), .text(origin), .int(depth), foundOn.map { .text($0) } ?? .null])
        return db.changes > 0
    }

    /// Origins with URLs waiting, and the earliest time each may be tried.
    func waitingOrigins() throws -> [(origin: String, notBefore: Double)] {
        try db.query("SELECT origin, MIN(not_before) FROM urls WHERE state='queued' GROUP BY origin").map { ($0[0].text!, $0[1].double ?? 0) }
    }

    /// The next URL of `origin` that may be tried at `now`: shallowest first, then oldest.
    func next(origin: String, now: Double) throws -> (url: String, depth: Int, attempts: Int)? {
        guard let row = try db.query("SELECT url, depth, attempts FROM urls WHERE state='queued' AND origin=? AND not_before<=? ORDER BY depth, seq LIMIT 1",
                                     [.text(origin), .double(now)]).first else { return nil }
        return (row[0].text!, row[1].int!, row[2].int!)
    }

    func setState(_ url: String, _ state: String, note: String? = nil) throws {
        try db.query("UPDATE urls SET state=?, note=? WHERE url=?", [.text(state), note.map { .text($0) } ?? .null, .text(url)])
    }

    func retryLater(_ url: String, notBefore: Double, note: String) throws {
        try db.query("UPDATE urls SET attempts=attempts+1, not_before=?, note=? WHERE url=?", [.double(notBefore), .text(note), .text(url)])
    }

    func counts() throws -> CrawlCounts {
        var c = CrawlCounts()
        for row in try db.query("SELECT state, COUNT(*) FROM urls GROUP BY state") {
            let n = row[1].int ?? 0
            switch row[0].text ?? "" {
            case "queued": c.queued = n
            case "done": c.fetched = n
            case "duplicate": c.duplicates = n
            case "blocked": c.blocked = n
            case "failed": c.failed = n
            case "redirect": c.redirects = n
            default: c.skipped += n
            }
        }
        return c
    }

    /// Pages fetched (done or duplicate), which `max_pages` counts.
    func pagesFetched() throws -> Int {
        try db.query("SELECT COUNT(*) FROM urls WHERE state IN ('done', 'duplicate')").first?.first?.int ?? 0
    }

    // MARK: Fetch log and fingerprints

    struct FetchRow {
        var url: String, status: Int?, contentType: String?, bytes: Int, payloadSHA1: String?, textSHA1: String?, textFile: String?
        var warcFile: String?, warcOffset: UInt64?, warcLength: UInt64?, started: Double, seconds: Double, outcome: String
    }

    func logFetch(_ f: FetchRow) throws {
        try db.query("""
            INSERT INTO fetches(url, status, content_type, bytes, payload_sha1, text_sha1, text_file, warc_file, warc_offset, warc_length, started, seconds, outcome)
            VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [.text(f.url), f.status.map { .int($0) } ?? .null, f.contentType.map { .text($0) } ?? .null, .int(f.bytes),
                  f.payloadSHA1.map { .text($0) } ?? .null, f.textSHA1.map { .text($0) } ?? .null, f.textFile.map { .text($0) } ?? .null,
                  f.warcFile.map { .text($0) } ?? .null, f.warcOffset.map { .int(Int($0)) } ?? .null, f.warcLength.map { .int(Int($0)) } ?? .null,
                  .double(f.started), .double(f.seconds), .text(f.outcome)])
    }

    /// The URL and date that first stored this payload, if any.
    func payload(_ sha1: String) throws -> (url: String, date: String)? {
        try db.query("SELECT url, date FROM payloads WHERE sha1=?", [.text(sha1)]).first.map { ($0[0].text!, $0[1].text!) }
    }

    func addPayload(_ sha1: String, url: String, date: String) throws {
        try db.query("INSERT OR IGNORE INTO payloads(sha1, url, date) VALUES(?, ?, ?)", [.text(sha1), .text(url), .text(date)])
    }

    func text(_ sha1: String) throws -> String? {
        try db.query("SELECT file FROM texts WHERE sha1=?", [.text(sha1)]).first?.first?.text
    }

    func addText(_ sha1: String, url: String, file: String) throws {
        try db.query("INSERT OR IGNORE INTO texts(sha1, url, file) VALUES(?, ?, ?)", [.text(sha1), .text(url), .text(file)])
    }

    // MARK: robots.txt

    func robots(origin: String) throws -> (fetched: Double, status: Int, body: [UInt8])? {
        try db.query("SELECT fetched, status, body FROM robots WHERE origin=?", [.text(origin)]).first.map {
            ($0[0].double!, $0[1].int!, $0[2].blob ?? [])
        }
    }

    func setRobots(origin: String, fetched: Double, status: Int, body: [UInt8]) throws {
        try db.query("INSERT OR REPLACE INTO robots(origin, fetched, status, body) VALUES(?, ?, ?, ?)",
                     [.text(origin), .double(fetched), .int(status), .blob(body)])
    }

    // MARK: WARC files

    func warcFiles() throws -> [(name: String, goodLength: UInt64)] {
        try db.query("SELECT name, good_length FROM warc_files ORDER BY name").map { ($0[0].text!, UInt64($0[1].int!)) }
    }

    func setWarcGoodLength(_ name: String, _ length: UInt64) throws {
        try db.query("INSERT OR REPLACE INTO warc_files(name, good_length) VALUES(?, ?)", [.text(name), .int(Int(length))])
    }

    func transaction<T>(_ body: () throws -> T) throws -> T { try db.transaction(body) }
}
