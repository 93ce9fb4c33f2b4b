import Foundation
import CrystallineData
import CrystallineInterop
import CrystallineTraining

/// A temporary directory removed when the test ends.
func temporaryDirectory(_ name: String = #function) -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("cllm-test-\(name.filter(\.isLetter))-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Writes `text` to a corpus file in `dir`.
func writeCorpus(_ text: String, in dir: URL, name: String = "corpus.txt") -> String {
    let url = dir.appendingPathComponent(name)
    try! Data(text.utf8).write(to: url)
    return url.path
}

/// A small deterministic corpus with real structure (so losses fall).
let smallCorpus = String(repeating: "the quick brown fox jumps over the lazy dog. ", count: 60)
    + String(repeating: "a stitch in time saves nine; all that glitters is not gold. ", count: 40)

/// A tiny, fast training config over `corpus`.
func tinyConfig(corpus: String, out: URL) -> TrainingConfig {
    var c = TrainingConfig()
    c.corpus = corpus
    c.out = out.path
    c.nLayer = 2; c.nHead = 2; c.nEmbd = 16; c.blockSize = 16
    c.batchSize = 4; c.maxSteps = 20; c.warmupSteps = 2
    c.evalInterval = 10; c.evalIters = 2
    c.sampleTokens = 0
    return c
}
