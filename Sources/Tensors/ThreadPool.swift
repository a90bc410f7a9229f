import Foundation
import Synchronization

/// A fixed set of worker threads for data-parallel loops on the hot path.
///
/// Token generation makes hundreds of small parallel calls per token, each a few microseconds
/// of work, so waking a sleeping thread for each would cost more than the work. Workers here
/// spin on an atomic generation counter for a while after each job and only then sleep on a
/// condition variable; the calling thread does one share of the work itself; and the body is
/// passed without a heap-allocated closure context.
public final class ThreadPool: @unchecked Sendable {
    /// Threads taking part in each loop, the caller included.
    public let threadCount: Int

    /// Incremented for every job; workers run the job when they see it change.
    private let generation = Atomic<Int>(0)
    /// Workers still running the current job.
    private let pending = Atomic<Int>(0)
    /// Workers asleep on `condition`, which a new job must wake.
    private let sleepers = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private let condition = NSCondition()
    /// Written before `generation` is incremented and read after it is seen, so the atomic's
    /// ordering publishes it.
    private var job: ((Int) -> Void)?

    /// Polls of the generation counter before a worker goes to sleep: about 0.1-0.3 ms.
    private static let spinLimit = 100_000

    /// A pool of `threads` participants (at least 1); `threads - 1` worker threads are started.
    public init(threads: Int) {
        threadCount = max(1, threads)
        for index in 1..<threadCount {
            let thread = Thread { [unowned self] in self.workerLoop(index) }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    deinit {
        stopping.store(true, ordering: .sequentiallyConsistent)
        condition.lock()
        condition.broadcast()
        condition.unlock()
    }

    /// Runs `body(part)` for each `part` in `0..<threadCount` concurrently and returns when all are done.
    public func run(_ body: (Int) -> Void) {
        if threadCount == 1 { body(0); return }
        // The workers are done with `body` before this returns, so it never really escapes.
        withoutActuallyEscaping(body) { body in
            job = body
            pending.store(threadCount - 1, ordering: .sequentiallyConsistent)
            generation.add(1, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                condition.lock()
                condition.broadcast()
                condition.unlock()
            }
            body(0)
            while pending.load(ordering: .acquiring) > 0 {}
            job = nil
        }
    }

    /// Splits `0..<count` into `threadCount` contiguous chunks (multiples of `granularity`) and runs them in parallel.
    public func parallelFor(_ count: Int, granularity: Int = 1, _ body: (Range<Int>) -> Void) {
        let units = (count + granularity - 1) / granularity
        if threadCount == 1 || units < 2 { body(0..<count); return }
        let parts = min(threadCount, units)
        run { part in
            guard part < parts else { return }
            let start = units * part / parts * granularity
            let end = min(count, units * (part + 1) / parts * granularity)
            if start < end { body(start..<end) }
        }
    }

    private func workerLoop(_ index: Int) {
        var seen = 0
        while true {
            var spins = 0
            while generation.load(ordering: .acquiring) == seen {
                if stopping.load(ordering: .relaxed) { return }
                spins += 1
                if spins < Self.spinLimit { continue }
                condition.lock()
                sleepers.add(1, ordering: .sequentiallyConsistent)
                while generation.load(ordering: .sequentiallyConsistent) == seen && !stopping.load(ordering: .relaxed) {
                    condition.wait()
                }
                sleepers.subtract(1, ordering: .sequentiallyConsistent)
                condition.unlock()
                spins = 0
            }
            seen = generation.load(ordering: .acquiring)
            var body = job
            body!(index)
            body = nil  // release before reporting done: the caller checks that nothing kept it
            pending.subtract(1, ordering: .releasing)
        }
    }
}
