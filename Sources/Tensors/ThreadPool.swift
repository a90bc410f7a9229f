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
    /// What the workers share with the caller. The workers hold it strongly, so it outlives
    /// the pool until every worker has seen `stopping` and returned.
    private let shared = Shared()

    /// Polls of the generation counter before a worker goes to sleep: about 0.1-0.3 ms.
    private static let spinLimit = 100_000

    private final class Shared: @unchecked Sendable {
        /// Incremented for every job; workers run the job when they see it change.
        let generation = Atomic<Int>(0)
        /// Workers still running the current job.
        let pending = Atomic<Int>(0)
        /// Workers asleep on `condition`, which a new job must wake.
        let sleepers = Atomic<Int>(0)
        let stopping = Atomic<Bool>(false)
        let condition = NSCondition()
        /// Written before `generation` is incremented and read after it is seen, so the
        /// atomic's ordering publishes it.
        var job: ((Int) -> Void)?

        func wakeSleepers() {
            guard sleepers.load(ordering: .sequentiallyConsistent) > 0 else { return }
            condition.lock()
            condition.broadcast()
            condition.unlock()
        }
    }

    /// A pool of `threads` participants (at least 1); `threads - 1` worker threads are started.
    public init(threads: Int) {
        threadCount = max(1, threads)
        for index in 1..<threadCount {
            let shared = shared
            let thread = Thread { ThreadPool.workerLoop(index, shared) }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    deinit {
        shared.stopping.store(true, ordering: .sequentiallyConsistent)
        shared.condition.lock()
        shared.condition.broadcast()
        shared.condition.unlock()
    }

    /// Runs `body(part)` for each `part` in `0..<threadCount` concurrently and returns when all are done.
    public func run(_ body: (Int) -> Void) {
        if threadCount == 1 { body(0); return }
        // The workers are done with `body` before this returns, so it never really escapes.
        withoutActuallyEscaping(body) { body in
            shared.job = body
            shared.pending.store(threadCount - 1, ordering: .sequentiallyConsistent)
            shared.generation.add(1, ordering: .sequentiallyConsistent)
            shared.wakeSleepers()
            body(0)
            while shared.pending.load(ordering: .acquiring) > 0 {}
            shared.job = nil
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

    private static func workerLoop(_ index: Int, _ shared: Shared) {
        var seen = 0
        while true {
            var spins = 0
            while shared.generation.load(ordering: .acquiring) == seen {
                if shared.stopping.load(ordering: .relaxed) { return }
                spins += 1
                if spins < spinLimit { continue }
                shared.condition.lock()
                shared.sleepers.add(1, ordering: .sequentiallyConsistent)
                while shared.generation.load(ordering: .sequentiallyConsistent) == seen
                        && !shared.stopping.load(ordering: .relaxed) {
                    shared.condition.wait()
                }
                shared.sleepers.subtract(1, ordering: .sequentiallyConsistent)
                shared.condition.unlock()
                spins = 0
            }
            seen = shared.generation.load(ordering: .acquiring)
            var body = shared.job
            body!(index)
            body = nil  // release before reporting done: the caller checks that nothing kept it
            shared.pending.subtract(1, ordering: .releasing)
        }
    }
}
