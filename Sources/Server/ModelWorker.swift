import Foundation

/// The one thread the model runs on: jobs run one at a time, first come first served.
///
/// The model holds one KV cache and its thread pool is shared by the vision encoder and the
/// decoder, so requests are served in turn rather than interleaved; running them on a thread
/// of their own keeps the blocking compute off Swift's cooperative pool (two threads on a
/// two-core machine), which serves the HTTP handlers meanwhile.
final class ModelWorker: @unchecked Sendable {
    // Guarded by `condition`.
    private let condition = NSCondition()
    private var jobs: [() -> Void] = []
    private var stopped = false

    init() {
        let thread = Thread { [self] in loop() }
        thread.name = "model-worker"
        thread.start()
    }

    /// Requests waiting behind the one running.
    var queued: Int {
        condition.lock()
        defer { condition.unlock() }
        return jobs.count
    }

    /// Runs `job` after every job submitted before it; its result or error comes back here.
    func run<T: Sendable>(_ job: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            condition.lock()
            guard !stopped else {
                condition.unlock()
                continuation.resume(throwing: CancellationError())
                return
            }
            jobs.append { continuation.resume(with: Result { try job() }) }
            condition.signal()
            condition.unlock()
        }
    }

    /// Ends the thread once the queued jobs are done; later jobs fail with `CancellationError`.
    func stop() {
        condition.lock()
        stopped = true
        condition.signal()
        condition.unlock()
    }

    private func loop() {
        condition.lock()
        while true {
            while jobs.isEmpty {
                if stopped { condition.unlock(); return }
                condition.wait()
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job()
            condition.lock()
        }
    }
}
