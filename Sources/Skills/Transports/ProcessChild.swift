import CProcess
import Foundation
import Synchronization

/// A running skill process, driven by dispatch sources on one serial queue so that no thread
/// waits on it: stdin is written without blocking, stdout goes to `onStdout` as it arrives
/// (the consumer enforces its limits; returning false kills the process group and stops
/// reading, so an oversized output is never read to its end), stderr is drained continuously
/// into a bounded tail, and when the process exits the rest of its process group is killed,
/// what it wrote is drained, and `onExit` runs, after every `onStdout`.
///
/// The process leads its own group and is not reaped before the group is killed, so killing
/// `-pid` can never reach an unrelated process that reused the number.
final class ChildProcess: Sendable {
    let pid: Int32
    let isolation: NetworkIsolation
    /// How much of stderr is kept (the end of it).
    static let stderrCapacity = 64 << 10
    /// The most a stream is drained after the exit (a process that left the group may still be
    /// writing; the call does not wait for it).
    private static let drainLimit = 1 << 20

    private let queue: DispatchQueue
    private let stdinFD: Int32
    private let stdoutFD: Int32
    private let stderrFD: Int32
    private let pidFD: Int32
    private let onStdout: @Sendable (ArraySlice<UInt8>) -> Bool
    private let onExit: @Sendable (ProcessTermination) -> Void
    private let state = Mutex(State())

    private struct State {
        var stdout: Source?
        var stderr: Source?
        var exit: Source?
        /// Exists only while input waits for room in the pipe.
        var stdin: Source?
        var stdinOpen = true
        var pendingInput: [UInt8] = []
        var closeInputWhenWritten = false
        var stderrTail: [UInt8] = []
        var stderrTotal = 0
        /// Set when the process is reaped; from then on `pid` may belong to someone else.
        var termination: ProcessTermination?
        /// Set once `onExit` has run.
        var finished = false
        var exitWaiters: [CheckedContinuation<ProcessTermination, Never>] = []
    }

    private enum ReadResult { case data, wouldBlock, closed }

    /// libdispatch sources are thread-safe; the Linux overlay just does not declare them Sendable.
    private struct Source: @unchecked Sendable {
        let source: any DispatchSourceProtocol
    }

    /// A write to a pipe whose reader is gone must fail with EPIPE, not kill the host.
    private static let ignoreBrokenPipes: Void = { _ = signal(SIGPIPE, SIG_IGN) }()

    /// Starts `launch`; throws `unavailable` (naming `skill`) if the program cannot be executed.
    static func start(_ launch: ProcessLaunch, skill: String,
                      onStdout: @escaping @Sendable (ArraySlice<UInt8>) -> Bool,
                      onExit: @escaping @Sendable (ProcessTermination) -> Void) throws(SkillError) -> ChildProcess {
        _ = ignoreBrokenPipes
        var child = cprocess_child()
        let environment = launch.environment.keys.sorted().map { "\($0)=\(launch.environment[$0]!)" }
        let status = withCStringArray(launch.arguments) { argv in
            withCStringArray(environment) { envp in
                launch.executable.path.withCString { path in
                    launch.directory.path.withCString { directory in
                        var spec = cprocess_spec(path: path, argv: argv, envp: envp, directory: directory,
                                                 memory_mb: launch.memoryMB, isolate_network: launch.isolateNetwork ? 1 : 0)
                        return cprocess_spawn(&spec, &child)
                    }
                }
            }
        }
        guard status == 0 else {
            let reason = String(cString: strerror(child.failed_errno))
            let what = switch child.failed_stage {
            case CPROCESS_STAGE_EXEC: "cannot execute '\(launch.executable.path)'"
            case CPROCESS_STAGE_DIRECTORY: "cannot enter the working directory '\(launch.directory.path)'"
            case CPROCESS_STAGE_RLIMIT: "cannot set the memory limit of \(launch.memoryMB) MB"
            case CPROCESS_STAGE_FORK: "cannot fork"
            default: "cannot set up the process's pipes"
            }
            throw SkillError(.unavailable, skill: skill, "\(what): \(reason)")
        }
        let isolation: NetworkIsolation = switch child.isolation {
        case CPROCESS_ISOLATION_NOT_REQUESTED: .notRequested
        case CPROCESS_ISOLATION_UNAVAILABLE: .unavailable(String(cString: strerror(child.isolation_errno)))
        default: .isolated
        }
        let process = ChildProcess(child: child, isolation: isolation, onStdout: onStdout, onExit: onExit)
        process.startSources()
        return process
    }

    private init(child: cprocess_child, isolation: NetworkIsolation,
                 onStdout: @escaping @Sendable (ArraySlice<UInt8>) -> Bool,
                 onExit: @escaping @Sendable (ProcessTermination) -> Void) {
        pid = child.pid
        stdinFD = child.stdin_fd
        stdoutFD = child.stdout_fd
        stderrFD = child.stderr_fd
        pidFD = child.pid_fd
        self.isolation = isolation
        self.onStdout = onStdout
        self.onExit = onExit
        queue = DispatchQueue(label: "llava-plus.skill-process.\(child.pid)")
    }

    /// NUL-terminated copies of `strings` as a NULL-terminated C array, freed after `body`.
    private static func withCStringArray<R>(_ strings: [String],
                                            _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
        let pointers = strings.map { strdup($0) } + [nil]
        defer { pointers.forEach { free($0) } }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    // The handlers hold `self` until the sources are cancelled at the exit: a process object
    // lives as long as its process, which it must reap.
    private func startSources() {
        let stdout = DispatchSource.makeReadSource(fileDescriptor: stdoutFD, queue: queue)
        stdout.setEventHandler { [self] in _ = readStdout() }
        stdout.setCancelHandler { [fd = stdoutFD] in close(fd) }
        let stderr = DispatchSource.makeReadSource(fileDescriptor: stderrFD, queue: queue)
        stderr.setEventHandler { [self] in _ = readStderr() }
        stderr.setCancelHandler { [fd = stderrFD] in close(fd) }
        var exit: Source?
        if pidFD >= 0 {
            let source = DispatchSource.makeReadSource(fileDescriptor: pidFD, queue: queue)
            source.setEventHandler { [self] in handleExit() }
            source.setCancelHandler { [fd = pidFD] in close(fd) }
            exit = Source(source: source)
        } else {
            // Kernels without pidfd_open (before 5.3): one waiting thread per process.
            DispatchQueue.global().async { [self] in
                var info = siginfo_t()
                while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR {}
                queue.async { self.handleExit() }
            }
        }
        state.withLock { state in
            state.stdout = Source(source: stdout)
            state.stderr = Source(source: stderr)
            state.exit = exit
        }
        stdout.resume()
        stderr.resume()
        exit?.source.resume()
    }

    // MARK: - Control (any thread)

    /// Queues `bytes` for the process's stdin (then closes it if `thenClose`), without blocking.
    func send(_ bytes: [UInt8], thenClose: Bool = false) {
        queue.async { [self] in
            state.withLock { state in
                state.pendingInput += bytes
                if thenClose { state.closeInputWhenWritten = true }
            }
            flushInput()
        }
    }

    /// Closes stdin once everything queued is written.
    func closeInput() { send([], thenClose: true) }

    /// SIGKILL to the whole process group (the skill and everything it started), unless the
    /// process has already been reaped.
    func killGroup() {
        state.withLock { state in
            if state.termination == nil { kill(-pid, SIGKILL) }
        }
    }

    /// How the process ended, once it has exited and `onExit` has run.
    @discardableResult
    func waitForExit() async -> ProcessTermination {
        await withCheckedContinuation { continuation in
            let ended = state.withLock { state -> ProcessTermination? in
                guard state.finished, let termination = state.termination else {
                    state.exitWaiters.append(continuation)
                    return nil
                }
                return termination
            }
            if let ended { continuation.resume(returning: ended) }
        }
    }

    /// Runs `action` on the process's queue after `seconds` unless the returned item is
    /// cancelled first. Dispatch, not `Task.sleep`: a limit is enforced on time even when the
    /// Swift concurrency pool is busy.
    func after(seconds: Double, _ action: @escaping @Sendable () -> Void) -> DispatchWorkItem {
        let item = DispatchWorkItem(block: action)
        queue.asyncAfter(deadline: .now() + seconds, execute: item)
        return item
    }

    /// Closes stdin, gives the process `grace` seconds to exit by itself, then kills its group.
    func stop(grace: Double) async {
        closeInput()
        let killer = after(seconds: grace) { [self] in killGroup() }
        await waitForExit()
        killer.cancel()
    }

    /// How much stderr has been written so far (a mark for `stderrText(since:)`).
    var stderrCount: Int { state.withLock { $0.stderrTotal } }

    /// What the process wrote to stderr after `mark`, as far as the kept tail reaches.
    func stderrText(since mark: Int = 0) -> String {
        state.withLock { state in
            let kept = min(state.stderrTotal - mark, state.stderrTail.count)
            return String(decoding: state.stderrTail.suffix(max(0, kept)), as: UTF8.self)
        }
    }

    /// `exited with status 3: <the last lines of stderr>`, for a `crashed` error.
    func crashMessage(_ termination: ProcessTermination, stderrSince mark: Int = 0) -> String {
        let lines = stderrText(since: mark).split(whereSeparator: \.isNewline).suffix(5)
        guard !lines.isEmpty else { return "\(termination) (stderr was empty)" }
        return "\(termination); stderr ends: " + String(lines.joined(separator: " | ").suffix(1000))
    }

    // MARK: - Events (on `queue`)

    private func readStdout() -> ReadResult {
        // A stopped stream's descriptor may already be closed and reused: never touch it.
        guard state.withLock({ $0.stdout != nil }) else { return .closed }
        let (result, chunk) = read(stdoutFD)
        if let chunk, !onStdout(chunk[...]) {
            killGroup()
            stop(\.stdout)
            return .closed
        }
        if result == .closed { stop(\.stdout) }
        return result
    }

    private func readStderr() -> ReadResult {
        guard state.withLock({ $0.stderr != nil }) else { return .closed }
        let (result, chunk) = read(stderrFD)
        if let chunk {
            state.withLock { state in
                state.stderrTail += chunk
                state.stderrTotal += chunk.count
                if state.stderrTail.count > 2 * Self.stderrCapacity {
                    state.stderrTail.removeFirst(state.stderrTail.count - Self.stderrCapacity)
                }
            }
        }
        if result == .closed { stop(\.stderr) }
        return result
    }

    private func read(_ fd: Int32) -> (ReadResult, [UInt8]?) {
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count > 0 { return (.data, Array(buffer[..<count])) }
            if count == 0 { return (.closed, nil) }
            if errno == EINTR { continue }
            return (errno == EAGAIN || errno == EWOULDBLOCK ? .wouldBlock : .closed, nil)
        }
    }

    private func stop(_ stream: WritableKeyPath<State, Source?>) {
        let stopped = state.withLock { state in
            defer { state[keyPath: stream] = nil }
            return state[keyPath: stream]
        }
        stopped?.source.cancel()
    }

    private func flushInput() {
        state.withLock { state in
            guard state.stdinOpen else {
                state.pendingInput = []
                return
            }
            while !state.pendingInput.isEmpty {
                let written = state.pendingInput.withUnsafeBytes { write(stdinFD, $0.baseAddress, $0.count) }
                if written > 0 {
                    state.pendingInput.removeFirst(written)
                } else if written < 0 && errno == EINTR {
                    continue
                } else if written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                    if state.stdin == nil {
                        let source = DispatchSource.makeWriteSource(fileDescriptor: stdinFD, queue: queue)
                        source.setEventHandler { [self] in flushInput() }
                        state.stdin = Source(source: source)
                        source.resume()
                    }
                    return
                } else {
                    // EPIPE: the skill closed its stdin. Its answer or its exit tells the rest.
                    state.pendingInput = []
                    closeInput(&state)
                    return
                }
            }
            state.stdin?.source.cancel()
            state.stdin = nil
            if state.closeInputWhenWritten { closeInput(&state) }
        }
    }

    private func closeInput(_ state: inout State) {
        guard state.stdinOpen else { return }
        state.stdinOpen = false
        // A source's descriptor must stay open until the source is cancelled.
        if let writing = state.stdin {
            state.stdin = nil
            writing.source.setCancelHandler { [fd = stdinFD] in close(fd) }
            writing.source.cancel()
        } else {
            close(stdinFD)
        }
    }

    private func handleExit() {
        let termination = state.withLock { state -> ProcessTermination in
            // The leader is a zombie until reaped, so the group id is still ours: kill what the
            // skill left behind, then reap.
            kill(-pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            let termination: ProcessTermination = status & 0x7f == 0 ? .exited((status >> 8) & 0xff) : .signaled(status & 0x7f)
            state.termination = termination
            return termination
        }
        // Everything the process wrote before it exited is in the pipes now.
        for read in [readStdout, readStderr] {
            var chunks = Self.drainLimit >> 16
            while chunks > 0, read() == .data { chunks -= 1 }
        }
        stop(\.stdout)
        stop(\.stderr)
        stop(\.exit)
        state.withLock { state in
            state.pendingInput = []
            closeInput(&state)
        }
        onExit(termination)
        let waiters = state.withLock { state in
            state.finished = true
            defer { state.exitWaiters = [] }
            return state.exitWaiters
        }
        waiters.forEach { $0.resume(returning: termination) }
    }
}
