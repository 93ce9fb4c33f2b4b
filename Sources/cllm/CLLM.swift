// cllm: the command-line interface of Crystalline.
//
// Owns argument parsing, terminal output and signal handling; all work is delegated to the
// library modules. Nothing heavy (thread pool, caches) is created before a subcommand needs it.
import ArgumentParser

@main
struct CLLM: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cllm",
        abstract: "Train and run GPT language models from scratch on the CPU.",
        version: "0.2.0",
        subcommands: [Train.self, Generate.self, Chat.self, Serve.self, Eval.self, Plot.self, Tokenize.self, Logits.self, Prepare.self, Crawl.self, Ingest.self, Export.self, Models.self, Lattice.self, Experiment.self, Bench.self])
}
