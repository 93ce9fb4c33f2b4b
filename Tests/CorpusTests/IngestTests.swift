// `ingest` on documents the test makes itself: a hand-written PDF with a text layer, the same
// page rendered to an image and wrapped as an image-only PDF (so only OCR can read it), a PNG,
// text, HTML and bad input. Skipped, with a message, where poppler or tesseract is missing.
import Foundation
import XCTest
import CrystallineFormats
@testable import CrystallineIngest

/// The smallest PDFs that poppler reads: Helvetica text pages, or one grey image per page.
enum MinimalPDF {
    static func document(pages: [String]) -> Data {
        // Objects: 1 catalog, 2 pages, 3 font, then per page: page object and content stream.
        var objects: [String] = []
        objects.append("<< /Type /Catalog /Pages 2 0 R >>")
        let kids = pages.indices.map { "\(4 + 2 * $0) 0 R" }.joined(separator: " ")
        objects.append("<< /Type /Pages /Kids [\(kids)] /Count \(pages.count) >>")
        objects.append("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
        for (i, text) in pages.enumerated() {
            var stream = "BT /F1 14 Tf 72 740 Td 18 TL\n"
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                let escaped = line.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "(", with: "\\(").replacingOccurrences(of: ")", with: "\\)")
                stream += "(\(escaped)) Tj T*\n"
            }
            stream += "ET"
            objects.append("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents \(5 + 2 * i) 0 R >>")
            objects.append("<< /Length \(stream.utf8.count) >>\nstream\n\(stream)\nendstream")
        }
        return assemble(objects.map { Array($0.utf8) })
    }

    /// One page showing an 8-bit grey image (width × height pixels) across the whole page.
    static func imagePage(gray: [UInt8], width: Int, height: Int) -> Data {
        let compressed = PNG.deflate(gray)
        let content = "q 612 0 0 792 0 0 cm /Im1 Do Q"
        let objects: [[UInt8]] = [
            Array("<< /Type /Catalog /Pages 2 0 R >>".utf8),
            Array("<< /Type /Pages /Kids [3 0 R] /Count 1 >>".utf8),
            Array("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /XObject << /Im1 5 0 R >> >> /Contents 4 0 R >>".utf8),
            Array("<< /Length \(content.utf8.count) >>\nstream\n\(content)\nendstream".utf8),
            Array("<< /Type /XObject /Subtype /Image /Width \(width) /Height \(height) /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode /Length \(compressed.count) >>\nstream\n".utf8)
                + compressed + Array("\nendstream".utf8),
        ]
        return assemble(objects)
    }

    static func assemble(_ objects: [[UInt8]]) -> Data {
        var out = Array("%PDF-1.4\n".utf8)
        var offsets: [Int] = []
        for (i, body) in objects.enumerated() {
            offsets.append(out.count)
            out += Array("\(i + 1) 0 obj\n".utf8) + body + Array("\nendobj\n".utf8)
        }
        let xref = out.count
        var table = "xref\n0 \(objects.count + 1)\n0000000000 65535 f \n"
        for o in offsets { table += String(format: "%010d 00000 n \n", o) }
        table += "trailer\n<< /Size \(objects.count + 1) /Root 1 0 R >>\nstartxref\n\(xref)\n%%EOF\n"
        return Data(out + Array(table.utf8))
    }

    /// Reads a binary PGM (P5) as written by `pdftoppm -gray`.
    static func readPGM(_ data: Data) -> (width: Int, height: Int, pixels: [UInt8])? {
        let bytes = [UInt8](data)
        var fields: [String] = [], i = 0, current = ""
        while fields.count < 4 && i < bytes.count {
            let c = bytes[i]
            if c == 0x23 { while i < bytes.count && bytes[i] != 0x0A { i += 1 } }
            else if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { if !current.isEmpty { fields.append(current); current = "" } }
            else { current.append(Character(UnicodeScalar(c))) }
            i += 1
        }
        guard fields.count == 4, fields[0] == "P5", let w = Int(fields[1]), let h = Int(fields[2]), bytes.count - i >= w * h else { return nil }
        return (w, h, Array(bytes[i..<(i + w * h)]))
    }
}

final class IngestTests: XCTestCase {
    var dir: URL!
    let page1 = "Crystalline reads documents page by page.\nThe quick brown fox jumps over the lazy dog.\nPack my box with five dozen liquor jugs."
    let page2 = "A second page, with its own words.\nSphinx of black quartz, judge my vow."

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("cllm-ingest-test-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func requireTools(_ tools: [String]) throws {
        let missing = tools.filter { !ExternalTool.isAvailable($0) }
        if !missing.isEmpty {
            throw XCTSkip("\(missing.joined(separator: ", ")) not installed (apt-get install poppler-utils tesseract-ocr tesseract-ocr-eng); skipping")
        }
    }

    static func wordRecall(_ got: String, _ want: String) -> Double {
        var have: [String: Int] = [:]
        for t in TokenF1.tokens(got) { have[t, default: 0] += 1 }
        let w = TokenF1.tokens(want)
        var found = 0
        for t in w where (have[t] ?? 0) > 0 { have[t]! -= 1; found += 1 }
        return Double(found) / Double(w.count)
    }

    func testPDFWithTextLayer() throws {
        try requireTools(["pdfinfo", "pdftotext"])
        let pdf = dir.appendingPathComponent("two-pages.pdf")
        try MinimalPDF.document(pages: [page1, page2]).write(to: pdf)
        let out = dir.appendingPathComponent("out")
        let report = try DocumentIngester(out: out).ingest([pdf.path])[0]
        XCTAssertNil(report.skipped)
        XCTAssertEqual(report.kind, "pdf")
        XCTAssertEqual(report.method, "pdftotext")
        XCTAssertEqual(report.pages, 2)
        XCTAssertEqual(report.ocrPages, 0)
        let text = try String(contentsOf: out.appendingPathComponent(try XCTUnwrap(report.output)), encoding: .utf8)
        XCTAssertEqual(Self.wordRecall(text, page1 + "\n" + page2), 1.0, text)
        XCTAssertLessThan(text.range(of: "Crystalline")!.lowerBound, text.range(of: "Sphinx")!.lowerBound, "pages in order")
        // The report line is in the directory too.
        let lines = try String(contentsOf: out.appendingPathComponent("ingest-report.jsonl"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 1)
        XCTAssertTrue(lines[0].contains("\"method\":\"pdftotext\""))
    }

    /// A page rendered to pixels and wrapped as an image-only PDF: only OCR can read it.
    func testScannedPDFGoesThroughOCR() throws {
        try requireTools(["pdfinfo", "pdftotext", "pdftoppm", "tesseract"])
        let source = dir.appendingPathComponent("source.pdf")
        try MinimalPDF.document(pages: [page1]).write(to: source)
        let prefix = dir.appendingPathComponent("render").path
        try ExternalTool.run("pdftoppm", ["-r", "150", "-gray", "-singlefile", source.path, prefix])
        let image = try XCTUnwrap(MinimalPDF.readPGM(try Data(contentsOf: URL(fileURLWithPath: prefix + ".pgm"))))
        let scan = dir.appendingPathComponent("scan.pdf")
        try MinimalPDF.imagePage(gray: image.pixels, width: image.width, height: image.height).write(to: scan)
        // No text layer at all.
        XCTAssertTrue(String(decoding: try ExternalTool.run("pdftotext", [scan.path, "-"]), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
        let out = dir.appendingPathComponent("out")
        let report = try DocumentIngester(out: out).ingest([scan.path])[0]
        XCTAssertNil(report.skipped)
        XCTAssertEqual(report.method, "ocr")
        XCTAssertEqual(report.ocrPages, 1)
        let confidence = try XCTUnwrap(report.ocrConfidence)
        XCTAssertGreaterThan(confidence, 60)
        let text = try String(contentsOf: out.appendingPathComponent(try XCTUnwrap(report.output)), encoding: .utf8)
        let recall = Self.wordRecall(text, page1)
        print(String(format: "OCR of a clean page: word recall %.3f, mean confidence %.1f", recall, confidence))
        XCTAssertGreaterThanOrEqual(recall, 0.95, text)
    }

    func testImageFile() throws {
        try requireTools(["pdftoppm", "tesseract"])
        let source = dir.appendingPathComponent("source.pdf")
        try MinimalPDF.document(pages: [page2]).write(to: source)
        let prefix = dir.appendingPathComponent("photo").path
        try ExternalTool.run("pdftoppm", ["-r", "200", "-png", "-singlefile", source.path, prefix])
        let report = try DocumentIngester(out: dir.appendingPathComponent("out")).ingest([prefix + ".png"])[0]
        XCTAssertEqual(report.kind, "image")
        XCTAssertEqual(report.method, "ocr")
        let text = try String(contentsOf: dir.appendingPathComponent("out").appendingPathComponent(try XCTUnwrap(report.output)), encoding: .utf8)
        XCTAssertGreaterThanOrEqual(Self.wordRecall(text, page2), 0.95, text)
    }

    func testTextHTMLDuplicatesAndBadInput() throws {
        let docs = dir.appendingPathComponent("docs")
        try FileManager.default.createDirectory(at: docs, withIntermediateDirectories: true)
        try "# Notes\n\nSome *markdown* text.   \n\n\n\nAfter blank lines.\n".write(to: docs.appendingPathComponent("a.md"), atomically: true, encoding: .utf8)
        try "# Notes\n\nSome *markdown* text.   \n\n\n\nAfter blank lines.\n".write(to: docs.appendingPathComponent("copy.md"), atomically: true, encoding: .utf8)
        try "<html><body><nav><a href='/'>Home</a></nav><p>An HTML paragraph with enough words to be the main text of its page.</p></body></html>"
            .write(to: docs.appendingPathComponent("page.html"), atomically: true, encoding: .utf8)
        try Data([0x66, 0x6F, 0xFF, 0xFE, 0x6F]).write(to: docs.appendingPathComponent("bad.txt"))
        try Data().write(to: docs.appendingPathComponent("empty.txt"))
        try Data([1, 2, 3]).write(to: docs.appendingPathComponent("data.bin"))
        let out = dir.appendingPathComponent("out")
        let reports = try DocumentIngester(out: out).ingest([docs.path])
        let byName = Dictionary(uniqueKeysWithValues: reports.map { (($0.path as NSString).lastPathComponent, $0) })
        XCTAssertEqual(byName.count, 6)
        XCTAssertEqual(byName["a.md"]?.kind, "markdown")
        let a = try String(contentsOf: out.appendingPathComponent(try XCTUnwrap(byName["a.md"]?.output)), encoding: .utf8)
        XCTAssertEqual(a, "# Notes\n\nSome *markdown* text.\n\nAfter blank lines.\n")
        XCTAssertEqual(byName["copy.md"]?.duplicateOf, byName["a.md"]?.output)
        XCTAssertEqual(byName["page.html"]?.method, "main-text")
        XCTAssertTrue(byName["bad.txt"]?.skipped?.contains("not valid UTF-8") ?? false)
        XCTAssertTrue(byName["empty.txt"]?.skipped?.contains("empty") ?? false)
        XCTAssertNotNil(byName["data.bin"]?.skipped)
        XCTAssertThrowsError(try DocumentIngester(out: out).ingest([dir.appendingPathComponent("nope").path]))
    }

    /// Without poppler or tesseract: a clear message naming the Debian package, not a crash.
    func testMissingToolsAreNamed() throws {
        XCTAssertThrowsError(try ExternalTool.run("cllm-no-such-tool-here", [])) { error in
            XCTAssertTrue("\(error)".contains("not installed"), "\(error)")
        }
        XCTAssertTrue(IngestError.missingTool("pdftotext", package: "poppler-utils").description.contains("apt-get install poppler-utils"))
        guard let cllm = KillHelpers.cllm else { throw XCTSkip("the cllm binary is not beside the tests") }
        let pdf = dir.appendingPathComponent("doc.pdf")
        try MinimalPDF.document(pages: [page1]).write(to: pdf)
        let (status, output) = try KillHelpers.run(cllm, ["ingest", pdf.path, "--out", dir.appendingPathComponent("out").path],
                                                   environment: ["PATH": "/nonexistent"])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("pdfinfo is not installed; it comes with the Debian package poppler-utils"), output)
    }
}
