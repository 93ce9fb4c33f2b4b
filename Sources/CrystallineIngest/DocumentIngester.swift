// Documents to training text: plain text and Markdown as they are, HTML through the main-text
// extractor, PDFs page by page through poppler's pdftotext, and pages with almost no text layer
// (scans) and image files through tesseract's OCR. Each distinct text is written once to the
// output directory, named by its content; every input gets a report line saying what was done.
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
    static let textExtensions: Set<String> = ["txt", "text", "md", "markdown", "rst"]
    static let htmlExtensions: Set<String> = ["html", "htm", "xhtml"]
    static let imageExtensions: Set<String> = ["png", "jpg", "jpeg", "tif", "tiff", "pbm", "pgm", "ppm", "webp"]

    public init(out: URL, settings: IngestSettings = IngestSettings()) throws {
        self.out = out
        self.settings = settings
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

    /// One file; failures become a report with `skipped` (a missing tool is reported, not thrown,
    /// so one scan does not stop a directory of text files).
    public func ingestFile(_ path: String) -> IngestReport {
        let ext = (path as NSString).pathExtension.lowercased()
        var report = IngestReport(path: path, kind: "unknown")
        do {
            let text: String
            if Self.textExtensions.contains(ext) {
                report.kind = ext == "md" || ext == "markdown" ? "markdown" : "text"
                report.method = "read"
                text = try readUTF8(path)
            } else if Self.htmlExtensions.contains(ext) {
                report.kind = "html"
                report.method = "main-text"
                let page = MainText.extract(try bytes(path))
                text = page.title.isEmpty || page.text.hasPrefix(page.title) ? page.text : page.title + "\n\n" + page.text
            } else if ext == "pdf" || isPDF(path) {
                report.kind = "pdf"
                text = try pdfText(path, report: &report)
            } else if Self.imageExtensions.contains(ext) {
                report.kind = "image"
                guard settings.ocr else { report.skipped = "an image, and OCR is off"; return report }
                let (t, confidence) = try ocr(image: path)
                report.method = "ocr"
                report.ocrPages = 1
                report.ocrConfidence = confidence
                text = t
            } else {
                report.skipped = "not a text, Markdown, HTML, PDF or image file (by its extension)"
                return report
            }
            let cleaned = Self.tidy(text)
            report.characters = cleaned.count
            guard !cleaned.isEmpty else { report.skipped = "no text found"; return report }
            let (name, duplicate) = try write(cleaned, from: path)
            report.output = name
            report.duplicateOf = duplicate
        } catch IngestError.unreadable(_, let reason) {
            report.skipped = reason  // the report already names the file
        } catch {
            report.skipped = "\(error)"
        }
        return report
    }

    // MARK: Reading

    func bytes(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else { throw IngestError.unreadable(path, reason: "cannot be read") }
        return [UInt8](data)
    }

    func readUTF8(_ path: String) throws -> String {
        let b = try bytes(path)
        guard !b.isEmpty else { throw IngestError.unreadable(path, reason: "empty file") }
        var it = b.makeIterator()
        var decoder = UTF8()
        var out = String.UnicodeScalarView()
        var offset = 0
        while true {
            switch decoder.decode(&it) {
            case .scalarValue(let s): out.append(s); offset += String(s).utf8.count
            case .emptyInput: return String(out)
            case .error: throw IngestError.unreadable(path, reason: "not valid UTF-8 (near byte \(offset))")
            }
        }
    }

    func isPDF(_ path: String) -> Bool {
        guard let h = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? h.close() }
        return (try? h.read(upToCount: 5)) == Data("%PDF-".utf8)
    }

    /// The PDF's pages through pdftotext; pages with almost no text layer through OCR.
    func pdfText(_ path: String, report: inout IngestReport) throws -> String {
        let info = String(decoding: try ExternalTool.run("pdfinfo", [path]), as: UTF8.self)
        guard let pagesLine = info.split(separator: "\n").first(where: { $0.hasPrefix("Pages:") }),
              let pages = Int(pagesLine.dropFirst("Pages:".count).trimmingCharacters(in: .whitespaces)) else {
            throw IngestError.unreadable(path, reason: "pdfinfo reports no page count")
        }
        report.pages = pages
        var texts: [String] = []
        var confidences: [Double] = []
        for page in 1...max(1, pages) {
            let layer = String(decoding: try ExternalTool.run("pdftotext", ["-layout", "-enc", "UTF-8", "-f", "\(page)", "-l", "\(page)", path, "-"]), as: UTF8.self)
            if layer.filter({ !$0.isWhitespace }).count >= settings.minPageCharacters || !settings.ocr {
                texts.append(layer)
                continue
            }
            let (ocrText, confidence) = try ocrPDFPage(path, page: page)
            report.ocrPages += 1
            if let confidence { confidences.append(confidence) }
            texts.append(ocrText)
        }
        report.method = report.ocrPages == 0 ? "pdftotext" : (report.ocrPages == pages ? "ocr" : "pdftotext+ocr")
        if !confidences.isEmpty { report.ocrConfidence = confidences.reduce(0, +) / Double(confidences.count) }
        return texts.joined(separator: "\n\n")
    }

    func ocrPDFPage(_ path: String, page: Int) throws -> (String, Double?) {
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("cllm-ingest-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: tmp) }
        let prefix = tmp.appendingPathComponent("page").path
        try ExternalTool.run("pdftoppm", ["-r", "\(settings.dpi)", "-f", "\(page)", "-l", "\(page)", "-gray", "-png", "-singlefile", path, prefix])
        return try ocr(image: prefix + ".png")
    }

    /// Tesseract's text and mean word confidence for an image.
    func ocr(image: String) throws -> (String, Double?) {
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("cllm-ocr-\(getpid())-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(atPath: tmp.path + ".txt"); try? FileManager.default.removeItem(atPath: tmp.path + ".tsv") }
        try ExternalTool.run("tesseract", [image, tmp.path, "-l", settings.ocrLanguage, "txt", "tsv"])
        let text = (try? String(contentsOfFile: tmp.path + ".txt", encoding: .utf8)) ?? ""
        let tsv = (try? String(contentsOfFile: tmp.path + ".tsv", encoding: .utf8)) ?? ""
        return (text, Self.meanWordConfidence(tsv))
    }

    /// The mean `conf` of the word rows (level 5) of tesseract's TSV output.
    static func meanWordConfidence(_ tsv: String) -> Double? {
        var sum = 0.0, n = 0
        for line in tsv.split(separator: "\n").dropFirst() {
            let cols = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard cols.count >= 12, cols[0] == "5", let conf = Double(cols[10]), conf >= 0,
                  !cols[11].trimmingCharacters(in: .whitespaces).isEmpty else { continue }
            sum += conf; n += 1
        }
        return n > 0 ? sum / Double(n) : nil
    }

    // MARK: Writing

    /// Trailing spaces off every line, form feeds out, at most one blank line in a row.
    static func tidy(_ text: String) -> String {
        var lines: [Substring] = []
        var blank = 0
        for raw in text.replacingOccurrences(of: "\u{0C}", with: "\n").replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false) {
            var line = raw
            while let l = line.last, l == " " || l == "\t" || l == "\r" { line = line.dropLast() }
            if line.isEmpty { blank += 1; if blank > 1 || lines.isEmpty { continue } } else { blank = 0 }
            lines.append(line)
        }
        while lines.last?.isEmpty == true { lines.removeLast() }
        return lines.joined(separator: "\n")
    }

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
