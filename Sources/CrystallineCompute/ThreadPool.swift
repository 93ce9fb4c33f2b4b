// A persistent pool of worker threads used by every parallel loop in Crystalline.
//
// Why not Dispatch.concurrentPerform: a training step issues hundreds of short parallel
// regions. Workers here spin on a generation counter for a while after each region (the next
// one usually follows within microseconds), then sleep on a semaphore, so an idle process uses
// no CPU. The pool is created on first use, so `cllm --help` starts no threads.
import Foundation
import Synchronization
import CCPUFeatures

public final class ThreadPool: @unchecked Sendable {
    /// Number of participants (the calling thread counts as one).
    public let threadCount: Int

    private let generation = Atomic<Int>(0)
    private let nextTask = Atomic<Int>(0)
    private let running = Atomic<Int>(0)
    private let busy = Atomic<Bool>(false)
    /// Cores taken by work outside the pool (see `reserveCore`).
    private let reserved = Atomic<Int>(0)
    /// Per worker: 1 while it sleeps (or is about to) on its semaphore.
    private let sleeping: [SleepFlag]
    private let wakeups: [DispatchSemaphore]
    private var taskCount = 0
    /// The running region's job: a pointer to the caller's copy (on its stack) and its type.
    private var jobPointer: UnsafeRawPointer?
    private var jobType: (any ParallelJob.Type)?

    /// Spin iterations (each a CPU pause, tens of nanoseconds) before a worker sleeps.
    private static let spinLimit = 20_000

    /// The process-wide pool, created on first use. Size: `CLLM_THREADS` or the active cores.
    public static let shared: ThreadPool = {
        if let s = ProcessInfo.processInfo.environment["CLLM_THREADS"], let n = Int(s), n > 0 {
            return ThreadPool(threads: n)
        }
        return ThreadPool(threads: ProcessInfo.processInfo.activeProcessorCount)
    }()

    public init(threads: Int) {
        threadCount = max(1, threads)
        sleeping = (0..<threadCount).map { _ in SleepFlag() }
        wakeups = (0..<threadCount).map { _ in DispatchSemaphore(value: 0) }
        for worker in 1..<max(threadCount, 1) {
            let thread = Thread { [unowned self] in self.workerLoop(worker: worker) }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    /// Runs `body(task, worker)` for every task in `0..<tasks`, spread over the pool; returns when
    /// all are done. `worker` is in `0..<threadCount` and is stable for the duration of one task,
    /// so it can index per-thread scratch buffers. Nested or concurrent calls run serially.
    ///
    /// Handing a closure to other threads costs one small heap box per call
    /// (`withoutActuallyEscaping`); the kernels of a training step use the `ParallelJob`
    /// overload instead, which allocates nothing.
    public func parallelFor(_ tasks: Int, _ body: (_ task: Int, _ worker: Int) -> Void) {
        if tasks <= 0 { return }
        if tasks == 1 || threadCount == 1 {
            for t in 0..<tasks { body(t, 0) }
            return
        }
        withoutActuallyEscaping(body) { parallelFor(tasks, ClosureJob(body: $0)) }
    }

    /// Runs `job.run(task:worker:)` for every task in `0..<tasks`, spread over the pool; returns
    /// when all are done. The job is passed to the workers by address, so nothing is allocated.
    public func parallelFor<Job: ParallelJob>(_ tasks: Int, _ job: Job) {
        if tasks <= 0 { return }
        if tasks == 1 || threadCount == 1 || threadCount - reserved.load(ordering: .relaxed) <= 1
            || !busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged {
            for t in 0..<tasks { job.run(task: t, worker: 0) }
            return
        }
        withUnsafePointer(to: job) { pointer in
            jobPointer = UnsafeRawPointer(pointer)
            jobType = Job.self
            taskCount = tasks
            nextTask.store(0, ordering: .relaxed)
            running.store(threadCount - 1, ordering: .relaxed)
            generation.add(1, ordering: .sequentiallyConsistent)
            for w in 1..<threadCount where sleeping[w].value.exchange(0, ordering: .sequentiallyConsistent) == 1 {
                wakeups[w].signal()
            }
            drain(worker: 0)
            while running.load(ordering: .acquiring) != 0 { cllm_spin_pause() }
            jobPointer = nil
            jobType = nil
        }
        busy.store(false, ordering: .releasing)
    }

    /// Declares that a thread outside the pool will keep a core busy until the reservation is
    /// released (a server's generation beside a training run). While the cores left are fewer
    /// than two, regions run on their caller alone: a spinning pool with more busy threads than
    /// cores loses far more than the reserved core (measured: 85 % of a training run's speed).
    /// Results do not change: work is split the same way, only run serially.
    public func reserveCore() -> CoreReservation { CoreReservation(pool: self) }

    fileprivate func changeReservation(by delta: Int) { reserved.add(delta, ordering: .relaxed) }

    private func drain(worker: Int) {
        guard let jobPointer, let jobType else { return }
        let n = taskCount
        while true {
            let t = nextTask.add(1, ordering: .relaxed).oldValue
            if t >= n { break }
            jobType.run(jobPointer, task: t, worker: worker)
        }
    }

    private func workerLoop(worker: Int) {
        var seen = 0  // the generation at creation; a late-starting thread must not skip region 1
        while true {
            var spins = 0
            while generation.load(ordering: .acquiring) == seen {
                spins += 1
                if spins < Self.spinLimit { cllm_spin_pause(); continue }
                // Announce the sleep, then re-check: the dispatcher bumps the generation before
                // it looks at `sleeping`, so either we see the new generation or it signals us.
                // A stale signal only causes one extra pass through this loop.
                sleeping[worker].value.store(1, ordering: .sequentiallyConsistent)
                if generation.load(ordering: .sequentiallyConsistent) != seen {
                    sleeping[worker].value.store(0, ordering: .relaxed)
                    break
                }
                wakeups[worker].wait()
                spins = 0
            }
            seen = generation.load(ordering: .acquiring)
            drain(worker: worker)
            running.subtract(1, ordering: .releasing)
        }
    }
}

/// A unit of parallel work for `ThreadPool.parallelFor(_:_:)`: a value holding the region's
/// arguments (pointers and sizes), whose `run(task:worker:)` is called once per task index on
/// some pool thread. Being a plain value passed by address, it costs no allocation and no
/// reference counting, unlike a closure handed to other threads.
public protocol ParallelJob {
    func run(task: Int, worker: Int)
}

extension ParallelJob {
    /// Calls `run` on the job stored at `pointer` (the pool keeps only the address and the type).
    static func run(_ pointer: UnsafeRawPointer, task: Int, worker: Int) {
        pointer.assumingMemoryBound(to: Self.self).pointee.run(task: task, worker: worker)
    }
}

/// Adapts a closure to `ParallelJob` (for the closure overload of `parallelFor`).
private struct ClosureJob: ParallelJob {
    let body: (Int, Int) -> Void
    func run(task: Int, worker: Int) { body(task, worker) }
}

/// Atomics are not copyable, so each worker's flag lives in its own object.
private final class SleepFlag: Sendable {
    let value = Atomic<Int>(0)
}

/// Splits `0..<count` into at most `parts` contiguous chunks, each a multiple of `granule`
/// (except the last), and returns chunk `index`.
@inlinable
public func chunk(_ index: Int, of parts: Int, count: Int, granule: Int = 1) -> Range<Int> {
    let units = (count + granule - 1) / granule
    let per = units / parts, extra = units % parts
    let startUnit = index * per + min(index, extra)
    let endUnit = startUnit + per + (index < extra ? 1 : 0)
    return min(count, startUnit * granule)..<min(count, endUnit * granule)
}

/// A job over a range of indices, for `parallelRanges(_:granule:minimumParallel:_:)`: the
/// allocation-free way to split a loop over the pool.
public protocol RangeJob {
    func run(_ range: Range<Int>)
}

/// Runs `job` over contiguous sub-ranges of `0..<count`, one per thread (serially below
/// `minimumParallel`), without allocating.
@inlinable
public func parallelRanges<Job: RangeJob>(_ count: Int, granule: Int = 8, minimumParallel: Int = 1 << 14, _ job: Job) {
    let pool = ThreadPool.shared
    let parts = count >= minimumParallel ? pool.threadCount : 1
    if parts == 1 { job.run(0..<count); return }
    pool.parallelFor(parts, RangeSplit(job: job, parts: parts, count: count, granule: granule))
}

/// Task `part` of `parts` runs the job on its chunk of the range.
@usableFromInline
struct RangeSplit<Job: RangeJob>: ParallelJob {
    @usableFromInline let job: Job
    @usableFromInline let parts: Int, count: Int, granule: Int
    @usableFromInline init(job: Job, parts: Int, count: Int, granule: Int) {
        self.job = job; self.parts = parts; self.count = count; self.granule = granule
    }
    @usableFromInline func run(task: Int, worker: Int) {
        let r = chunk(task, of: parts, count: count, granule: granule)
        if !r.isEmpty { job.run(r) }
    }
}

/// A core kept by work outside the pool; released explicitly or when dropped.
public final class CoreReservation: Sendable {
    private let pool: ThreadPool
    private let held = Atomic<Bool>(true)
    fileprivate init(pool: ThreadPool) {
        self.pool = pool
        pool.changeReservation(by: 1)
    }
    public func release() { if held.exchange(false, ordering: .relaxed) { pool.changeReservation(by: -1) } }
    deinit { release() }
}
