// `cllm ingest`: documents to training text files. Each file is read by DocumentReader; each
// distinct text is written once to the output directory, named by its content; every input gets
// a report line saying what was done.
import CrystallineFormats
import Foundation

/// What happened to one input file.
public struct IngestReport: Codable, Sendable, Equatable {
    public var path: String
    /// text, markdown, html, pdf or image.
    public var kind: String
    /// How the text was obtained: read, main-text, pdftotext, ocr, or pdftotext+ocr.
    public var method: String?
    public var pages: Int?
    /// Pages (or images) that went through OCR.
    public var ocrPages: Int = 0
    public var characters: Int = 0
    /// Tesseract's mean word confidence (0–100) over the OCR'd words.
    public var ocrConfidence: Double?
    /// The text file written (relative to the output directory); nil when skipped.
    public var output: String?
    /// Set when the same text was already ingested.
    public var duplicateOf: String?
    /// Why nothing was written.
    public var skipped: String?
}

public struct IngestSettings: Sendable {
    /// A PDF page with fewer non-space characters than this in its text layer is OCR'd.
    public var minPageCharacters = 20
    public var ocr = true
    public var ocrLanguage = "eng"
    /// Resolution of page images for OCR (tesseract reads best at about 300 dpi).
    public var dpi = 300
    public init() {}
}

public final class DocumentIngester {
    public let out: URL
    public let settings: IngestSettings
    let reader: DocumentReader

    public init(out: URL, settings: IngestSettings = IngestSettings()) throws {
        self.out = out
        self.settings = settings
        reader = DocumentReader(settings: settings)
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
    }

    /// The files under `paths` (directories walked recursively, in name order).
    public static func files(_ paths: [String]) throws -> [String] {
        var result: [String] = []
        for p in paths {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: p, isDirectory: &isDir) else { throw IngestError.unreadable(p, reason: "no such file or directory") }
            if isDir.boolValue {
                let items = FileManager.default.enumerator(atPath: p)?.compactMap { $0 as? String } ?? []
                for item in items.sorted() where !item.split(separator: "/").contains(where: { $0.hasPrefix(".") }) {
                    let full = (p as NSString).appendingPathComponent(item)
                    var d: ObjCBool = false
                    if FileManager.default.fileExists(atPath: full, isDirectory: &d), !d.boolValue { result.append(full) }
                }
            } else {
                result.append(p)
            }
        }
        return result
    }

    /// Ingests every file under `paths`; `onReport` hears each file's report as it is done. The
    /// reports are also appended to `ingest-report.jsonl` in the output directory.
    @discardableResult
    public func ingest(_ paths: [String], onReport: (IngestReport) -> Void = { _ in }) throws -> [IngestReport] {
        var reports: [IngestReport] = []
        for file in try Self.files(paths) {
            let report = ingestFile(file)
            reports.append(report)
            try appendReport(report)
            onReport(report)
        }
        return reports
    }

    /// One file read (DocumentReader) and, when it yields text, written.
    public func ingestFile(_ path: String) -> IngestReport {
        var (text, report) = reader.read(path)
        guard let text else { return report }
        do {
            let (name, duplicate) = try write(text, from: path)
            report.output = name
            report.duplicateOf = duplicate
        } catch {
            report.skipped = "\(error)"
        }
        return report
    }

    // MARK: Writing

    /// Writes `text` as `<name>-<sha1 prefix>.txt` unless that text is already there; returns
    /// the file name and, for a duplicate, the file that already holds it.
    func write(_ text: String, from path: String) throws -> (String, String?) {
        let sha = SHA1.hex(Array(text.utf8)).prefix(12)
        let existing = (try? FileManager.default.contentsOfDirectory(atPath: out.path)) ?? []
        if let same = existing.first(where: { $0.hasSuffix("-\(sha).txt") }) { return (same, same) }
        let stem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
            .unicodeScalars.map { CharacterSet.alphanumerics.contains($0) || $0 == "-" || $0 == "_" ? String($0) : "_" }.joined()
        let name = "\(stem.prefix(60))-\(sha).txt"
        try AtomicFile.write(Data((text + "\n").utf8), to: out.appendingPathComponent(name))
        return (name, nil)
    }

    func appendReport(_ report: IngestReport) throws {
        let url = out.appendingPathComponent("ingest-report.jsonl")
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var data = (try? Data(contentsOf: url)) ?? Data()
        data.append(try encoder.encode(report))
        data.append(0x0A)
        try AtomicFile.write(data, to: url)
    }
}
