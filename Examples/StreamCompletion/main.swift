// Streams a completion from a trained model through the library API alone (no CLI code).
//
//     swift run -c release StreamCompletion models/default "ROMEO:"
import Foundation
import CrystallineInference

let arguments = CommandLine.arguments
let directory = URL(fileURLWithPath: arguments.count > 1 ? arguments[1] : "models/default")
let prompt = arguments.count > 2 ? arguments[2] : "ROMEO:"

do {
    let model = try LanguageModel.load(directory: directory)
    let options = GenerationOptions(maxTokens: 120, temperature: 0.8, topK: 40, seed: 7, stop: ["\n\n"])
    print(prompt, terminator: "")
    for try await piece in model.generate(prompt: prompt, options: options) {
        print(piece, terminator: "")
        fflush(stdout)
    }
    print()
} catch {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(1)
}
