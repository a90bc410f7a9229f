import Foundation
import Synchronization

/// Keeps a subprocess skill warm (its model loaded once): up to `limits.concurrency` processes,
/// started on demand, each with one request in flight, speaking JSON lines.
///
/// A request is one line on the process's stdin, `{"id": N, "params": {...}, "output_dir":
/// "..."}`; the answer is one line on its stdout, `{"id": N, ...}`, and the object without
/// `id` is decoded exactly like a one-shot answer (``SkillReply/decode(_:skill:outputDirectory:log:)``).
/// stderr is drained continuously; what a call's process wrote there during the call becomes
/// the reply's log.
///
/// A process that exits fails its call in flight as `crashed`. A timeout, a cancellation, an
/// answer line longer than `max_output_bytes` (`too_large`), a line that is not JSON or answers
/// another id (`bad_output`) kill the process group. The next call starts a new process. The
/// timeout of a call that starts a process covers the start.
public actor PersistentProcessTransport: SkillTransport {
    public nonisolated let manifest: SkillManifest
    /// One slot per process the skill may run; a nil or dead worker is replaced on demand.
    private var workers: [Worker?]
    private var freeSlots: [Int]
    /// Calls beyond the concurrency limit (the runner's gate normally keeps them out).
    private var waiting: [CheckedContinuation<Int, Never>] = []

    public init(manifest: SkillManifest) {
        self.manifest = manifest
        let slots = max(1, manifest.limits.concurrency)
        workers = Array(repeating: nil, count: slots)
        freeSlots = Array((0..<slots).reversed())
    }

    deinit {
        for worker in workers { worker?.process.killGroup() }
    }

    public func call(_ invocation: SkillInvocation) async throws(SkillError) -> SkillReply {
        let slot = await takeSlot()
        defer { giveBack(slot) }
        guard !Task.isCancelled else { throw SkillError(.cancelled, skill: manifest.name, "the call was cancelled") }
        let worker: Worker
        if let running = workers[slot], running.exchange.isAlive {
            worker = running
        } else {
            worker = try Worker(manifest: manifest)
            workers[slot] = worker
        }
        return try await worker.request(invocation)
    }

    /// `running (pid N)` while processes are warm, `ready (starts on first call)` before, and
    /// down if the command does not resolve.
    public func health() async -> SkillHealth {
        if let problem = ProcessLaunch.problem(with: manifest) { return .down(problem) }
        let running = workers.compactMap { $0 }.filter(\.exchange.isAlive)
        guard !running.isEmpty else { return .ready("ready (starts on first call)") }
        let pids = running.map { String($0.process.pid) }
        var text = pids.count == 1 ? "running (pid \(pids[0]))" : "running (pids \(pids.joined(separator: ", ")))"
        if let warning = running.lazy.compactMap(\.process.isolation.warning).first { text += "; \(warning)" }
        return .ready(text)
    }

    /// Closes every process's stdin, gives them half a second to exit, then kills their groups.
    public func shutdown() async {
        let stopping = workers.compactMap { $0?.process }
        workers = workers.map { _ in nil }
        await withTaskGroup(of: Void.self) { group in
            for process in stopping { group.addTask { await process.stop(grace: 0.5) } }
        }
    }

    private func takeSlot() async -> Int {
        if let slot = freeSlots.popLast() { return slot }
        return await withCheckedContinuation { waiting.append($0) }
    }

    private func giveBack(_ slot: Int) {
        if waiting.isEmpty { freeSlots.append(slot) } else { waiting.removeFirst().resume(returning: slot) }
    }

    /// One warm process.
    private struct Worker: Sendable {
        let process: ChildProcess
        let exchange: Exchange

        init(manifest: SkillManifest) throws(SkillError) {
            let exchange = Exchange(skill: manifest.name, maxLineBytes: manifest.limits.maxOutputBytes)
            let launch = try ProcessLaunch(manifest: manifest, outputDirectory: nil)
            process = try ChildProcess.start(launch, skill: manifest.name, onStdout: exchange.receive, onExit: exchange.exited)
            self.exchange = exchange
        }

        func request(_ invocation: SkillInvocation) async throws(SkillError) -> SkillReply {
            let skill = invocation.skill
            let limits = invocation.limits
            let id = exchange.newID()
            let line: JSONValue = ["id": .number(Double(id)), "params": invocation.params,
                                   "output_dir": .string(invocation.outputDirectory.path)]
            let stderrMark = process.stderrCount
            let timer = process.after(seconds: limits.timeoutSeconds) { [process, exchange] in
                let error = SkillError(.timeout, skill: skill, "no answer within \(limits.timeoutSeconds) s; the process group was killed and restarts on the next call")
                if exchange.fail(id, error) { process.killGroup() }
            }
            let outcome = await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    if exchange.expect(id, continuation) { process.send(Array((line.compactJSON + "\n").utf8)) }
                }
            } onCancel: {
                if exchange.fail(id, SkillError(.cancelled, skill: skill, "the call was cancelled; the process group was killed")) {
                    process.killGroup()
                }
            }
            timer.cancel()
            switch outcome {
            case .answer(let value):
                let log = [process.isolation.warning, process.stderrText(since: stderrMark)].compactMap { $0 }.joined(separator: "\n")
                return try SkillReply.decode(value, skill: skill, outputDirectory: invocation.outputDirectory, log: log)
            case .failed(let error):
                throw error
            case .exited(let termination):
                throw SkillError(.crashed, skill: skill, process.crashMessage(termination, stderrSince: stderrMark))
            }
        }
    }

    /// How a request ended.
    private enum Outcome: Sendable {
        /// The answer object without `id`.
        case answer(JSONValue)
        case failed(SkillError)
        case exited(ProcessTermination)
    }

    /// The JSON-lines conversation with one process: the partial line, the request in flight,
    /// and whether the process may take another request. Fed from the process's queue.
    private final class Exchange: Sendable {
        private struct Pending {
            var id: Int
            var continuation: CheckedContinuation<Outcome, Never>
        }
        private struct State {
            var alive = true
            var lastID = 0
            var partial: [UInt8] = []
            var pending: Pending?
        }
        private let skill: String
        private let maxLineBytes: Int
        private let state = Mutex(State())

        init(skill: String, maxLineBytes: Int) {
            (self.skill, self.maxLineBytes) = (skill, maxLineBytes)
        }

        /// False once the process exited or was killed: the next call starts a new one.
        var isAlive: Bool { state.withLock { $0.alive } }

        func newID() -> Int {
            state.withLock { state in
                state.lastID += 1
                return state.lastID
            }
        }

        /// Registers the request in flight; false (the continuation resumed) if it cannot be sent.
        func expect(_ id: Int, _ continuation: CheckedContinuation<Outcome, Never>) -> Bool {
            let refusal = state.withLock { state -> Outcome? in
                // Checked under the lock: a cancellation either finds the request pending, or
                // happened before and is seen here.
                if Task.isCancelled { return .failed(SkillError(.cancelled, skill: skill, "the call was cancelled")) }
                guard state.alive else {
                    return .failed(SkillError(.crashed, skill: skill, "the process exited before the request was sent"))
                }
                state.pending = Pending(id: id, continuation: continuation)
                return nil
            }
            guard let refusal else { return true }
            continuation.resume(returning: refusal)
            return false
        }

        /// Fails request `id` if it is still in flight and marks the process for restart; true
        /// if it did (the caller then kills the process group).
        func fail(_ id: Int, _ error: SkillError) -> Bool {
            let taken = state.withLock { state -> Pending? in
                guard let pending = state.pending, pending.id == id else { return nil }
                state.pending = nil
                state.alive = false
                return pending
            }
            taken?.continuation.resume(returning: .failed(error))
            return taken != nil
        }

        /// Splits stdout into lines and answers the request in flight; false (kill the process
        /// group) when the protocol is broken.
        func receive(_ chunk: ArraySlice<UInt8>) -> Bool {
            var resumed: [(CheckedContinuation<Outcome, Never>, Outcome)] = []
            let keepGoing = state.withLock { state -> Bool in
                state.partial += chunk
                while let newline = state.partial.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = state.partial[..<newline]
                    defer { state.partial.removeFirst(newline + 1) }
                    if line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\t") }) { continue }
                    let outcome = answer(line, expecting: state.pending?.id)
                    if let pending = state.pending {
                        resumed.append((pending.continuation, outcome))
                        state.pending = nil
                    }
                    guard case .answer = outcome else {
                        state.alive = false
                        return false
                    }
                }
                if state.partial.count > maxLineBytes {
                    if let pending = state.pending {
                        resumed.append((pending.continuation, tooLarge))
                        state.pending = nil
                    }
                    state.alive = false
                    return false
                }
                return true
            }
            for (continuation, outcome) in resumed { continuation.resume(returning: outcome) }
            return keepGoing
        }

        private var tooLarge: Outcome {
            .failed(SkillError(.tooLarge, skill: skill,
                               "the answer line passed max_output_bytes (\(maxLineBytes) bytes); the process group was killed"))
        }

        /// One line read as the answer to request `id`.
        private func answer(_ line: ArraySlice<UInt8>, expecting id: Int?) -> Outcome {
            func bad(_ why: String) -> Outcome {
                .failed(SkillError(.badOutput, skill: skill, why + "; the process group was killed"))
            }
            guard line.count <= maxLineBytes else { return tooLarge }
            let value: JSONValue
            do { value = try JSONValue(parsing: line) } catch {
                return bad("an answer line is \(error.message), not a JSON object" + SkillReply.excerpt(line))
            }
            guard let id else { return bad("the process wrote a line while no request was in flight" + SkillReply.excerpt(line)) }
            guard case .object(var object) = value, let answered = object.removeValue(forKey: "id") else {
                return bad("the answer line has no \"id\"" + SkillReply.excerpt(line))
            }
            guard answered.numberValue == Double(id) else {
                return bad("the answer has id \(answered.compactJSON) but request \(id) is in flight")
            }
            return .answer(.object(object))
        }

        func exited(_ termination: ProcessTermination) {
            let taken = state.withLock { state -> Pending? in
                state.alive = false
                defer { state.pending = nil }
                return state.pending
            }
            taken?.continuation.resume(returning: .exited(termination))
        }
    }
}
