// Reading one document as text: plain text and Markdown as they are, HTML through the
// main-text extractor, PDFs page by page through poppler's pdftotext, and pages with almost no
// text layer (scans) and image files through tesseract's OCR. Writes nothing: `cllm ingest`
// (DocumentIngester) stores what it reads, and the crawler reads the PDFs it fetches.
import Foundation

public struct DocumentReader: Sendable {
    public let settings: IngestSettings
    static let textExtensions: Set<String> = ["txt", "text", "md", "markdown", "rst"]
    static let htmlExtensions: Set<String> = ["html", "htm", "xhtml"]
    static let imageExtensions: Set<String> = ["png", "jpg", "jpeg", "tif", "tiff", "pbm", "pgm", "ppm", "webp"]

    public init(settings: IngestSettings = IngestSettings()) { self.settings = settings }

    /// The text of one file, tidied, and what was done to get it. Failures (a missing tool
    /// included) become `report.skipped`, so one scan does not stop a directory of text files.
    public func read(_ path: String) -> (text: String?, report: IngestReport) {
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
                guard settings.ocr else { report.skipped = "an image, and OCR is off"; return (nil, report) }
                let (t, confidence) = try ocr(image: path)
                report.method = "ocr"
                report.ocrPages = 1
                report.ocrConfidence = confidence
                text = t
            } else {
                report.skipped = "not a text, Markdown, HTML, PDF or image file (by its extension)"
                return (nil, report)
            }
            let cleaned = Self.tidy(text)
            report.characters = cleaned.count
            guard !cleaned.isEmpty else { report.skipped = "no text found"; return (nil, report) }
            return (cleaned, report)
        } catch IngestError.unreadable(_, let reason) {
            report.skipped = reason  // the report already names the file
        } catch {
            report.skipped = "\(error)"
        }
        return (nil, report)
    }

    func bytes(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else { throw IngestError.unreadable(path, reason: "cannot be read") }
        return [UInt8](data)
    }

    func readUTF8(_ path: String) throws -> String {
        let b = try bytes(path)
        guard !b.isEmpty else { throw IngestError.unreadable(path, reason: "empty file") }
        switch Self.utf8(b) {
        case .success(let text): return text
        case .failure(let offset): throw IngestError.unreadable(path, reason: "not valid UTF-8 (near byte \(offset.byte))")
        }
    }

    /// Where a byte sequence stops being UTF-8.
    public struct InvalidUTF8: Error { public let byte: Int }

    /// The text of `bytes` if they are valid UTF-8; else the offset of the first bad sequence.
    public static func utf8(_ bytes: [UInt8]) -> Result<String, InvalidUTF8> {
        var it = bytes.makeIterator()
        var decoder = UTF8()
        var out = String.UnicodeScalarView()
        var offset = 0
        while true {
            switch decoder.decode(&it) {
            case .scalarValue(let s): out.append(s); offset += UTF8.width(s)
            case .emptyInput: return .success(String(out))
            case .error: return .failure(InvalidUTF8(byte: offset))
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

}
