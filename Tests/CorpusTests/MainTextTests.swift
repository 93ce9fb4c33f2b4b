// Main-text extraction scored on fixture pages whose main text is known exactly
// (scripts/make_extraction_fixtures.py): bag-of-words token F1 against NAME.txt.
import Foundation
import XCTest
@testable import CrystallineIngest

enum TokenF1 {
    static func tokens(_ s: String) -> [String] {
        s.lowercased().split { !$0.isLetter && !$0.isNumber }.map(String.init)
    }

    /// Precision, recall and F1 of the tokens of `got` against those of `want` (multisets).
    static func score(_ got: String, _ want: String) -> (precision: Double, recall: Double, f1: Double) {
        var counts: [String: Int] = [:]
        for t in tokens(want) { counts[t, default: 0] += 1 }
        let g = tokens(got), w = tokens(want)
        var overlap = 0
        for t in g where (counts[t] ?? 0) > 0 { counts[t]! -= 1; overlap += 1 }
        guard overlap > 0 else { return (0, 0, 0) }
        let p = Double(overlap) / Double(g.count), r = Double(overlap) / Double(w.count)
        return (p, r, 2 * p * r / (p + r))
    }
}

final class MainTextTests: XCTestCase {
    static var pages: URL { Bundle.module.resourceURL!.appendingPathComponent("Pages") }

    func testFixturePagesF1() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.pages.path).filter { $0.hasSuffix(".html") }.sorted()
        XCTAssertGreaterThanOrEqual(names.count, 8)
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("cllm-f1-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: out) }
        let ingester = try DocumentIngester(out: out)
        var scores: [Double] = []
        for name in names {
            let html = Self.pages.appendingPathComponent(name)
            let want = try String(contentsOf: html.deletingPathExtension().appendingPathExtension("txt"), encoding: .utf8)
            let report = ingester.ingestFile(html.path)
            let got = try String(contentsOf: out.appendingPathComponent(try XCTUnwrap(report.output, name)), encoding: .utf8)
            let s = TokenF1.score(got, want)
            print(String(format: "%@: precision %.3f recall %.3f F1 %.3f", name, s.precision, s.recall, s.f1))
            XCTAssertGreaterThanOrEqual(s.f1, 0.85, "\(name): F1 \(s.f1)\n--- got:\n\(got)")
            scores.append(s.f1)
        }
        let mean = scores.reduce(0, +) / Double(scores.count)
        print(String(format: "mean token F1 over %d pages: %.3f", scores.count, mean))
        XCTAssertGreaterThanOrEqual(mean, 0.93)
    }

    func testParserToleratesBrokenMarkup() {
        let page = MainText.extract("<html><body><div><p>First paragraph, unclosed, with enough words to count as text<p>Second one &amp; an entity &#x263A; &bogus; <b>bold <i>crossed</b> tags</i><script>if (a < b) { document.write('<p>no</p>') }</script><!-- <p>comment</p> --></div>")
        XCTAssertTrue(page.text.contains("First paragraph, unclosed"))
        XCTAssertTrue(page.text.contains("Second one & an entity ☺ &bogus;"))
        XCTAssertFalse(page.text.contains("document.write"))
        XCTAssertFalse(page.text.contains("comment"))
        // Never crashes on garbage.
        for junk in ["<", "<<<>>>", "<a href='x", "<p attr=\"unterminated>text", "</p></p></div>", "<!--", "&#99999999999;", "<scr<script>ipt>"] {
            _ = MainText.extract(junk)
        }
    }

    func testLinksAndRobotsMeta() {
        let page = MainText.extract("""
            <html><head><meta name="robots" content="noindex, nofollow"><base href="http://h.org/dir/"></head>
            <body><a href="a.html">A</a><a rel="nofollow" href="b.html">B</a><a href="">empty</a></body></html>
            """)
        XCTAssertEqual(page.links, ["a.html"])
        XCTAssertEqual(page.base, "http://h.org/dir/")
        XCTAssertTrue(page.noindex)
        XCTAssertTrue(page.nofollow)
    }
}
