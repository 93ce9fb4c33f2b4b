// `cllm ingest`: documents (text, Markdown, HTML, PDF, images) to plain-text files for training.
import ArgumentParser
import CrystallineIngest
import Foundation

struct Ingest: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Turn text, Markdown, HTML, PDF and image files into plain text ready for `cllm prepare` or `cllm train --follow`.",
        discussion: """
        PDFs are read page by page with pdftotext (poppler-utils); pages with almost no text layer, \
        and PNG/JPEG/TIFF images, are read by OCR with tesseract (tesseract-ocr, tesseract-ocr-eng) \
        from 300 dpi page images. Each distinct text is written once to DIR as NAME-SHA.txt; a \
        report line per file goes to DIR/ingest-report.jsonl.
        """)
    @Argument(help: "Files or directories (walked recursively).") var paths: [String]
    @Option(name: [.short, .long], help: "Output directory.") var out: String
    @Flag(help: "Do not OCR images or pages without a text layer.") var noOcr = false
    @Option(help: "Tesseract language (default eng).") var language = "eng"
    @Option(help: "A PDF page with fewer text characters than this is OCR'd (default 20).") var minPageCharacters = 20
    @Flag(help: "Print each file's report as JSON.") var json = false

    func run() throws {
        try reportingErrors {
            var settings = IngestSettings()
            settings.ocr = !noOcr
            settings.ocrLanguage = language
            settings.minPageCharacters = minPageCharacters
            let ingester = try DocumentIngester(out: URL(fileURLWithPath: out), settings: settings)
            let reports = try ingester.ingest(paths) { r in
                if json {
                    let e = JSONEncoder(); e.keyEncodingStrategy = .convertToSnakeCase; e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                    print(String(decoding: (try? e.encode(r)) ?? Data(), as: UTF8.self))
                } else {
                    print(Self.line(r))
                }
                flushOutput()
            }
            let written = reports.filter { $0.output != nil && $0.duplicateOf == nil }
            let skipped = reports.filter { $0.skipped != nil }
            if !json {
                print("\(reports.count) file(s): \(written.count) written, \(reports.count - written.count - skipped.count) duplicate(s), \(skipped.count) skipped; \(written.reduce(0) { $0 + $1.characters }) characters in \(out)")
            }
            if let missing = skipped.first(where: { $0.skipped?.contains("is not installed") == true }) { Terminal.error("note: \(missing.skipped!)") }
        }
    }

    static func line(_ r: IngestReport) -> String {
        if let why = r.skipped { return "skipped  \(r.path): \(why)" }
        var parts = ["\(r.kind)", r.method ?? ""]
        if let p = r.pages { parts.append("\(p) page(s)\(r.ocrPages > 0 ? ", \(r.ocrPages) by OCR" : "")") }
        if let c = r.ocrConfidence { parts.append(String(format: "OCR confidence %.0f", c)) }
        parts.append("\(r.characters) characters")
        let dest = r.duplicateOf.map { "same text as \($0)" } ?? "-> \(r.output ?? "")"
        return "ingested \(r.path): \(parts.joined(separator: ", ")) \(dest)"
    }
}
