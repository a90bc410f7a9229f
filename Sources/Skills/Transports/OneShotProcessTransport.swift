import Foundation
import Synchronization

/// Runs a subprocess skill once per call: a new process gets the parameters as one JSON
/// object on stdin (then end-of-file) and answers with one JSON object on stdout, decoded by
/// ``SkillReply/decode(_:skill:outputDirectory:log:)``; stderr becomes the reply's log.
///
/// Enforced: the timeout and cancellation (SIGKILL to the process group), `max_output_bytes`
/// (the group is killed as soon as stdout passes it), the exit status (non-zero or a signal is
/// `crashed`), the memory limit (`RLIMIT_AS`), no network when the manifest says so (best
/// effort), and a scrubbed environment (see ``ProcessLaunch``). When the skill exits, whatever
/// it left running in its process group is killed.
public final class OneShotProcessTransport: SkillTransport {
    public let manifest: SkillManifest
    /// What the last call found about network isolation (shown by `health()`).
    private let lastIsolation = Mutex<NetworkIsolation?>(nil)

    public init(manifest: SkillManifest) {
        self.manifest = manifest
    }

    public func call(_ invocation: SkillInvocation) async throws(SkillError) -> SkillReply {
        let skill = manifest.name
        let limits = invocation.limits
        let launch = try ProcessLaunch(manifest: manifest, outputDirectory: invocation.outputDirectory)
        let run = Run(maxOutputBytes: limits.maxOutputBytes)
        let process = try ChildProcess.start(launch, skill: skill, onStdout: run.receive, onExit: { _ in })
        lastIsolation.withLock { $0 = process.isolation }
        process.send(Array(invocation.params.compactJSON.utf8), thenClose: true)
        let timer = process.after(seconds: limits.timeoutSeconds) {
            run.stop(because: .timeout)
            process.killGroup()
        }
        let termination = await withTaskCancellationHandler {
            await process.waitForExit()
        } onCancel: {
            run.stop(because: .cancelled)
            process.killGroup()
        }
        timer.cancel()

        let (stdout, overflowed, reason) = run.outcome
        if overflowed {
            throw SkillError(.tooLarge, skill: skill, "wrote more than max_output_bytes (\(limits.maxOutputBytes) bytes) to stdout; the process group was killed")
        }
        // A process that finished before its timer fired keeps its answer.
        if termination == .exited(0) {
            let log = [process.isolation.warning, process.stderrText()].compactMap { $0 }.joined(separator: "\n")
            return try SkillReply.decode(stdout, skill: skill, outputDirectory: invocation.outputDirectory, log: log)
        }
        switch reason {
        case .timeout?:
            throw SkillError(.timeout, skill: skill, "no answer within \(limits.timeoutSeconds) s; the process group was killed")
        case .cancelled?:
            throw SkillError(.cancelled, skill: skill, "the call was cancelled; the process group was killed")
        case nil:
            throw SkillError(.crashed, skill: skill, process.crashMessage(termination))
        }
    }

    /// `down` if the command does not resolve; otherwise ready (a process starts per call).
    public func health() async -> SkillHealth {
        if let problem = ProcessLaunch.problem(with: manifest) { return .down(problem) }
        if let warning = lastIsolation.withLock({ $0 })?.warning { return .ready("ready; \(warning)") }
        return .ready("ready (one process per call)")
    }

    /// Nothing outlives a call.
    public func shutdown() async {}

    /// One call's output and why it was stopped, filled from the process's queue.
    private final class Run: Sendable {
        enum Reason { case timeout, cancelled }
        private struct State {
            var stdout: [UInt8] = []
            var overflowed = false
            var reason: Reason?
        }
        private let maxOutputBytes: Int
        private let state = Mutex(State())

        init(maxOutputBytes: Int) {
            self.maxOutputBytes = maxOutputBytes
        }

        /// Keeps stdout up to the limit; past it, asks the process to be killed.
        func receive(_ chunk: ArraySlice<UInt8>) -> Bool {
            state.withLock { state in
                guard state.stdout.count + chunk.count <= maxOutputBytes else {
                    state.overflowed = true
                    return false
                }
                state.stdout += chunk
                return true
            }
        }

        /// The first reason wins (a timeout stays a timeout if the caller then gives up).
        func stop(because reason: Reason) {
            state.withLock { state in
                if state.reason == nil { state.reason = reason }
            }
        }

        var outcome: ([UInt8], Bool, Reason?) {
            state.withLock { ($0.stdout, $0.overflowed, $0.reason) }
        }
    }
}
