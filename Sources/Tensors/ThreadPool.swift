import Foundation

/// A fixed set of worker threads for data-parallel loops on the hot path.
///
/// Token generation makes hundreds of small parallel calls per token, so the workers are started
/// once and woken per call, the calling thread does one share of the work itself, and the body
/// is passed without a heap-allocated closure context.
public final class ThreadPool: @unchecked Sendable {
    /// Threads taking part in each loop, the caller included.
    public let threadCount: Int

    private let condition = NSCondition()
    private var generation = 0
    private var pending = 0
    private var job: ((Int) -> Void)?
    private var workers: [Thread] = []
    private var stopping = false

    /// A pool of `threads` participants (at least 1); `threads - 1` worker threads are started.
    public init(threads: Int) {
        threadCount = max(1, threads)
        for index in 1..<threadCount {
            let thread = Thread { [unowned self] in self.workerLoop(index) }
            thread.stackSize = 1 << 20
            thread.start()
            workers.append(thread)
        }
    }

    deinit {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    /// Runs `body(part)` for each `part` in `0..<threadCount` concurrently and returns when all are done.
    public func run(_ body: (Int) -> Void) {
        if threadCount == 1 { body(0); return }
        // The workers are done with `body` before this returns, so it never really escapes.
        withoutActuallyEscaping(body) { body in
            condition.lock()
            job = body
            pending = threadCount - 1
            generation += 1
            condition.broadcast()
            condition.unlock()
            body(0)
            condition.lock()
            while pending > 0 { condition.wait() }
            job = nil
            condition.unlock()
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
            condition.lock()
            while generation == seen && !stopping { condition.wait() }
            if stopping { condition.unlock(); return }
            seen = generation
            var body = job
            condition.unlock()
            body!(index)
            body = nil  // release before reporting done: the caller checks that nothing kept it
            condition.lock()
            pending -= 1
            if pending == 0 { condition.broadcast() }
            condition.unlock()
        }
    }
}
