// `cllm bench --allreduce` under mpirun: the gradient sum's time at our models' sizes.
import Foundation
import CrystallineDistributed
import CrystallineModel

func benchAllReduce(wire: GradientWire, repeats: Int, json: Bool) throws {
    guard let environment = MPIEnvironment.detect() else {
        throw CLIError("--allreduce measures the sum over the processes of an MPI job: run it as `mpirun -np 2 cllm bench --allreduce`")
    }
    let group = try MPIProcessGroup(wire: wire)
    defer { group.finalize() }
    func parameters(_ c: GPTConfig) -> Int { ParameterLayout(config: c).totalCount }
    let sizes: [(String, Int)] = [
        ("4 KiB", 1 << 10), ("64 KiB", 1 << 14), ("1 MiB", 1 << 18),
        ("baby", parameters(GPTConfig(vocabSize: 65, blockSize: 64, nLayer: 4, nHead: 4, nEmbd: 128))),
        ("shakespeare", parameters(GPTConfig(vocabSize: 65, blockSize: 256, nLayer: 6, nHead: 6, nEmbd: 384))),
        ("gpt2", parameters(GPTConfig(vocabSize: 50257, blockSize: 1024, nLayer: 12, nHead: 12, nEmbd: 768))),
    ]
    var results: [AllReduceBenchmark.Measurement] = []
    for (name, n) in sizes {
        // GPT-2's 0.5 GB takes seconds a repetition over TCP: fewer of them.
        results.append(try AllReduceBenchmark.measure(group, name: name, elements: n, repeats: n > 50_000_000 ? max(3, repeats / 3) : repeats))
    }
    guard group.rank == 0 else { return }
    if json {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        let object: [String: Any] = [
            "processes": group.size, "local_processes": environment.localSize, "library": group.libraryVersion, "wire": wire.rawValue,
            "results": try JSONSerialization.jsonObject(with: encoder.encode(results)),
        ]
        try printJSON(object)
        return
    }
    print("all-reduce (in place, sum) over \(group.size) processes, \(environment.localSize) on this machine, \(group.libraryVersion), \(wire.rawValue) on the wire; median of \(repeats)")
    print("size          elements        bytes     median ms   algo GB/s   bus GB/s")
    for r in results {
        print(r.name.padding(toLength: 12, withPad: " ", startingAt: 0)
              + String(format: "%10d %12d %12.3f %11.2f %10.2f", r.elements, r.bytes, r.seconds * 1e3, r.algorithmBandwidth / 1e9, r.busBandwidth / 1e9))
    }
}
