// Starting a data-parallel training process under `mpirun`: the MPI group, the thread budget,
// the agreement that every process is ready before the first step, the line that tells the
// user what is running, and what a process says when the launcher ends the job.
import Foundation
import CrystallineTraining

public final class DataParallelLaunch {
    public let environment: MPIEnvironment
    public let group: MPIProcessGroup
    public let threadsPerProcess: Int
    public let reduction: GradientReduction

    /// Joins the MPI job this process was launched into. `threads` overrides the even share of
    /// the machine's cores; the caller must apply it before the first parallel region.
    public init(environment: MPIEnvironment, threads: Int? = nil, reduction: GradientReduction = GradientReduction(),
                wire: GradientWire = .fp32) throws {
        self.environment = environment
        threadsPerProcess = threads ?? environment.threadsPerProcess()
        self.reduction = reduction
        group = try MPIProcessGroup(wire: wire)
        guard group.size == environment.size, group.rank == environment.rank else {
            throw DistributedError("MPI says rank \(group.rank) of \(group.size) but the launcher's environment says rank \(environment.rank) of \(environment.size); was cllm started by a different MPI than the one loaded (\(group.libraryName))? Set CLLM_MPI_LIBRARY to the launcher's libmpi")
        }
    }

    public var isPrimary: Bool { group.rank == 0 }

    /// Every process says whether it is ready; a process that is ready learns here that another
    /// is not (and throws), so no process waits forever in the first step for one that failed.
    public func agree(ready: Bool) throws {
        let failed = try group.allReduce(ready ? 0 : 1)
        if ready && failed > 0 {
            throw DistributedError("rank \(group.rank): stopping, \(Int(failed)) other process(es) of the run failed to start (see their error)")
        }
    }

    /// The first line a data-parallel run prints.
    public func summary(config c: TrainingConfig) -> String {
        let perProcess = c.gradAccum / max(1, group.size)
        let tokens = c.gradAccum * c.batchSize * c.blockSize
        let how = reduction.shardOptimizer
            ? "and scattered after the backward pass, the optimizer moments sharded (ZeRO-1: 1/\(group.size) each)"
            : reduction.overlap ? "in \(reduction.bucketBytes >> 20) MiB buckets during the backward pass" : "after the backward pass"
        return "distributed: \(group.size) processes × \(threadsPerProcess) thread\(threadsPerProcess == 1 ? "" : "s") (\(group.libraryVersion), \(environment.launcher) launch, \(environment.localSize) on this machine); global batch \(c.gradAccum) × \(c.batchSize) × \(c.blockSize) = \(tokens) tokens per step, \(perProcess) micro-batch\(perProcess == 1 ? "" : "es") per process; gradients summed \(how), \(group.wire.rawValue) on the wire"
    }

    /// What this process says when the launcher ends the job (SIGTERM, or SIGINT from Ctrl-C on
    /// `mpirun`): a run cannot save a consistent checkpoint once a peer is gone, so it leaves
    /// the last one (written atomically, never half) and names the command that continues it.
    public static func installTerminationNotice(rank: Int, runDirectory: String) {
        let text = "\ncllm rank \(rank): stopped by the MPI launcher (a process of the run died, or the run was interrupted); the last checkpoint in \(runDirectory) is intact: continue with `cllm train --resume --out \(runDirectory)` (under mpirun or alone)\n"
        terminationNotice = strdup(text)
        for sig in [SIGTERM, SIGINT] {
            signal(sig) { sig in
                if let notice = terminationNotice { _ = write(2, notice, strlen(notice)) }
                _exit(128 + sig)
            }
        }
    }
}

/// The notice written by the signal handler (C memory: the handler may not allocate).
nonisolated(unsafe) private var terminationNotice: UnsafeMutablePointer<CChar>?
