// `cllm chat`: an interactive conversation in the terminal, like `ollama run`. The conversation
// stays in the model's KV cache between turns (CrystallineInference.ChatSession).
import ArgumentParser
import Foundation
import CrystallineInference
import CrystallineModel

struct Chat: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Chat with a model in the terminal; the conversation stays in its KV cache.",
        discussion: """
        Each message is framed the way the bundled corpus frames dialogue ("USER:\\n<message>\\n\\nMODEL:\\n") \
        and the reply ends at the first blank line. Commands: /reset (new conversation), \
        /temperature T, /top-k K, /top-p P, /max-tokens N, /help, /quit (or Ctrl-D).
        """)
    @OptionGroup var model: ModelOption
    @Option(name: [.short, .long], help: "Sampling temperature; 0 is greedy.") var temperature: Float = 0.8
    @Option(help: "Sample only from the k most likely tokens (0: all).") var topK: Int = 40
    @Option(help: "Sample only from the smallest set reaching this probability (1: all).") var topP: Float = 1
    @Option(name: [.customShort("n"), .long], help: "Most tokens per reply.") var maxTokens: Int = 200
    @Option(name: [.short, .long], help: "Random seed.") var seed: UInt64 = 1337
    @Option(help: "Speaker name of your messages.") var userName = "USER"
    @Option(help: "Speaker name of the model's replies.") var modelName = "MODEL"
    @Option(help: "Weights for generation: fp32, bf16 or q8_0.") var precision: WeightFormat = .fp32

    func run() throws {
        try reportingErrors {
            let lm = try model.load(format: precision)
            let options = GenerationOptions(maxTokens: maxTokens, temperature: temperature, topK: topK, topP: topP, seed: seed)
            try options.validate()
            let chat = ChatSession(model: lm, template: ChatTemplate(userName: userName, assistantName: modelName), options: options)
            let interactive = isatty(STDIN_FILENO) != 0
            print("chatting with \(model.directory.path) (\(lm.config.nLayer) layers, context \(lm.config.blockSize) tokens); /help for commands")
            while true {
                if interactive { print("> ", terminator: ""); flushOutput() }
                guard let line = readLine() else { print(""); break }
                let text = line.trimmingCharacters(in: .whitespaces)
                if text.isEmpty { continue }
                if text.hasPrefix("/") {
                    if try !command(text, chat) { break }
                    continue
                }
                if !interactive { print("> \(text)") }
                do {
                    let (_, stats) = try chat.send(text) { print($0, terminator: ""); flushOutput() }
                    print(String(format: "\n[%d tokens, %.0f tokens/s, context %d/%d]", stats.completionTokens, stats.tokensPerSecond,
                                 min(chat.contextTokens, lm.config.blockSize), lm.config.blockSize))
                } catch {
                    Terminal.error("error: \(error)")
                }
            }
        }
    }

    /// Runs a slash command; returns false to quit.
    private func command(_ text: String, _ chat: ChatSession) throws -> Bool {
        let parts = text.split(separator: " ", maxSplits: 1).map(String.init)
        let argument = parts.count > 1 ? parts[1] : ""
        func set(_ apply: (inout GenerationOptions) -> Void) {
            var o = chat.options
            apply(&o)
            do { try o.validate(); chat.options = o; print("ok") } catch { Terminal.error("error: \(error)") }
        }
        switch parts[0] {
        case "/quit", "/exit", "/bye": return false
        case "/reset": chat.reset(); print("(new conversation)")
        case "/temperature": if let v = Float(argument) { set { $0.temperature = v } } else { Terminal.error("usage: /temperature T") }
        case "/top-k": if let v = Int(argument) { set { $0.topK = v } } else { Terminal.error("usage: /top-k K") }
        case "/top-p": if let v = Float(argument) { set { $0.topP = v } } else { Terminal.error("usage: /top-p P") }
        case "/max-tokens": if let v = Int(argument) { set { $0.maxTokens = v } } else { Terminal.error("usage: /max-tokens N") }
        case "/help":
            print("/reset  /temperature T  /top-k K  /top-p P  /max-tokens N  /quit")
            let o = chat.options
            print("now: temperature \(o.temperature), top-k \(o.topK ?? 0), top-p \(o.topP ?? 1), max tokens \(o.maxTokens)")
        default: Terminal.error("unknown command \(parts[0]); /help lists them")
        }
        return true
    }
}
