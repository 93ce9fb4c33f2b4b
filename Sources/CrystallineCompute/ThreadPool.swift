// A persistent pool of worker threads used by every parallel loop in Crystalline.
//
// Why not Dispatch.concurrentPerform: a training step issues hundreds of short parallel
// regions; a pool whose workers spin briefly before sleeping starts each region in well under a
// microsecond, and it is created only on first use (so `cllm --help` starts no threads).
import Foundation
import Synchronization

public final class ThreadPool: @unchecked Sendable {
    /// Number of participants (the calling thread counts as one).
    public let threadCount: Int

    private let generation = Atomic<Int>(0)
    private let nextTask = Atomic<Int>(0)
    private let running = Atomic<Int>(0)
    private let busy = Atomic<Bool>(false)
    private var wakeups: [DispatchSemaphore] = []
    private var taskCount = 0
    private var job: ((Int, Int) -> Void)?

    /// The process-wide pool, created on first use. Size: `CLLM_THREADS` or the active cores.
    public static let shared: ThreadPool = {
        if let s = ProcessInfo.processInfo.environment["CLLM_THREADS"], let n = Int(s), n > 0 {
            return ThreadPool(threads: n)
        }
        return ThreadPool(threads: ProcessInfo.processInfo.activeProcessorCount)
    }()

    public init(threads: Int) {
        threadCount = max(1, threads)
        for worker in 1..<max(threadCount, 1) {
            let sem = DispatchSemaphore(value: 0)
            wakeups.append(sem)
            let thread = Thread { [unowned self] in self.workerLoop(worker: worker, wakeup: sem) }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    /// Runs `body(task, worker)` for every task in `0..<tasks`, spread over the pool; returns when
    /// all are done. `worker` is in `0..<threadCount` and is stable for the duration of one task,
    /// so it can index per-thread scratch buffers. Nested or concurrent calls run serially.
    public func parallelFor(_ tasks: Int, _ body: (_ task: Int, _ worker: Int) -> Void) {
        if tasks <= 0 { return }
        if tasks == 1 || threadCount == 1 || !busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged {
            for t in 0..<tasks { body(t, 0) }
            return
        }
        withoutActuallyEscaping(body) { escapable in
            job = escapable
            taskCount = tasks
            nextTask.store(0, ordering: .relaxed)
            running.store(threadCount - 1, ordering: .relaxed)
            generation.add(1, ordering: .releasing)
            for sem in wakeups { sem.signal() }
            drain(worker: 0)
            var spins = 0
            while running.load(ordering: .acquiring) != 0 {
                spins += 1
                if spins > 1000 { sched_yield() }
            }
            job = nil
        }
        busy.store(false, ordering: .releasing)
    }

    private func drain(worker: Int) {
        guard let job else { return }
        let n = taskCount
        while true {
            let t = nextTask.add(1, ordering: .relaxed).oldValue
            if t >= n { break }
            job(t, worker)
        }
    }

    private func workerLoop(worker: Int, wakeup: DispatchSemaphore) {
        while true {
            // Spin briefly (the next parallel region usually follows within microseconds), then sleep.
            var spins = 0
            while wakeup.wait(timeout: .now()) != .success {
                spins += 1
                if spins > 20_000 { wakeup.wait(); break }
            }
            _ = generation.load(ordering: .acquiring)
            drain(worker: worker)
            running.subtract(1, ordering: .releasing)
        }
    }
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
