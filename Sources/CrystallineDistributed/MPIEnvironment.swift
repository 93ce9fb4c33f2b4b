// CrystallineDistributed: training on several processes (several machines) as one run. It owns
// the MPI transport (the library loaded at run time by CMPILoader), the detection of an
// `mpirun` launch, the thread budget of ranks sharing a machine, and an in-process group of
// threads that stands in for MPI in tests. The data-parallel step itself (which micro-batches a
// process computes, when gradients are summed) is the trainer's, behind `DataParallelGroup`.
import Foundation

/// What the launcher (`mpirun`, `mpiexec`, `srun`) told this process through its environment.
public struct MPIEnvironment: Sendable, Equatable {
    /// This process's rank and the number of processes in the job.
    public let rank: Int, size: Int
    /// Processes of the job on this machine (the ranks that share its cores).
    public let localSize: Int
    /// Which launcher set the variables: "Open MPI", "MPICH (Hydra)", "PMIx", "Slurm".
    public let launcher: String

    public init(rank: Int, size: Int, localSize: Int, launcher: String) {
        self.rank = rank
        self.size = size
        self.localSize = localSize
        self.launcher = launcher
    }

    /// The launch this process is part of, or nil when it was started directly. Open MPI sets
    /// OMPI_COMM_WORLD_*; MPICH's Hydra sets PMI_RANK/PMI_SIZE and MPI_LOCALNRANKS; PMIx
    /// launchers PMIX_RANK; Slurm's srun SLURM_PROCID/SLURM_NTASKS.
    public static func detect(_ env: [String: String] = ProcessInfo.processInfo.environment) -> MPIEnvironment? {
        func int(_ key: String) -> Int? { env[key].flatMap { Int($0.trimmingCharacters(in: .whitespaces)) } }
        func make(_ rank: Int?, _ size: Int?, _ local: Int?, _ name: String) -> MPIEnvironment? {
            guard let rank, let size, size >= 1, (0..<size).contains(rank) else { return nil }
            return MPIEnvironment(rank: rank, size: size, localSize: max(1, min(local ?? size, size)), launcher: name)
        }
        return make(int("OMPI_COMM_WORLD_RANK"), int("OMPI_COMM_WORLD_SIZE"), int("OMPI_COMM_WORLD_LOCAL_SIZE"), "Open MPI")
            ?? make(int("PMI_RANK"), int("PMI_SIZE"), int("MPI_LOCALNRANKS"), "MPICH (Hydra)")
            ?? make(int("PMIX_RANK"), int("PMIX_SIZE") ?? int("OMPI_UNIVERSE_SIZE"), int("PMIX_LOCAL_SIZE"), "PMIx")
            ?? make(int("SLURM_PROCID"), int("SLURM_NTASKS"), int("SLURM_NTASKS_PER_NODE"), "Slurm")
    }

    /// Threads each process should run: the machine's cores shared evenly by the processes on
    /// it, at least one. Spinning worker pools that together ask for more threads than cores
    /// leave each other's threads waiting for a core at every parallel region.
    public func threadsPerProcess(cores: Int = ProcessInfo.processInfo.activeProcessorCount) -> Int {
        max(1, cores / localSize)
    }
}
