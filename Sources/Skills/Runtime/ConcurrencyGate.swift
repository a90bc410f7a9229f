/// At most `limit` holders at a time; later arrivals wait in a first-come, first-served queue.
/// This is the per-skill concurrency limit: a skill that can run two calls at once gets a gate
/// of two, and a burst of fifty calls queues rather than starting fifty processes.
actor ConcurrencyGate {
    let limit: Int
    private var holders = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []
    private var head = 0

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    func enter() async {
        if holders < limit {
            holders += 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    /// Hands the place to the longest waiting caller, or frees it.
    func leave() {
        if head < waiting.count {
            let next = waiting[head]
            head += 1
            if head == waiting.count { waiting.removeAll(keepingCapacity: true); head = 0 }
            next.resume()
        } else {
            holders -= 1
        }
    }

    /// Holders now and callers queued behind them.
    var load: (running: Int, queued: Int) { (holders, waiting.count - head) }
}
