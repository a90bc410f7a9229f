import CProcess
import Foundation
import Synchronization

/// A running skill process, driven by one I/O thread that polls its pipes (and its pidfd):
/// stdin is written without blocking, stdout goes to `onStdout` as it arrives
/// (the consumer enforces its limits; returning false kills the process group and stops
/// reading, so an oversized output is never read to its end), stderr is drained continuously
/// into a bounded tail, and when the process exits the rest of its process group is killed,
/// what it wrote is drained, and `onExit` runs, after every `onStdout`.
///
/// The process leads its own group and is not reaped before the group is killed, so killing
/// `-pid` can never reach an unrelated process that reused the number.
///
/// Why a thread and poll(2) rather than dispatch sources: on Linux, cancelling a libdispatch read
/// source while its pipe has a pending event raced with the event loop and crashed the host
/// (about 1 process in 15 under load). A thread per running process is cheap and has no such
/// shared state; timers still run on a dispatch queue.
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

    /// The wake pipe: a byte on it makes the I/O thread look at `pendingInput` again.
    private let wakeRead: Int32
    private let wakeWrite: Int32

    private struct State {
        var stdoutOpen = true
        var stderrOpen = true
        var stdinOpen = true
        /// Until the I/O thread ends: after that the wake pipe's numbers may belong to another
        /// process's pipes, so nothing may write to them.
        var wakeOpen = true
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
        var wake: [Int32] = [-1, -1]
        // (Children close every inherited descriptor before exec, so setting close-on-exec after
        // pipe(2) races with nothing.)
        guard pipe(&wake) == 0 else {
            kill(-child.pid, SIGKILL)
            var status: Int32 = 0
            waitpid(child.pid, &status, 0)
            [child.stdin_fd, child.stdout_fd, child.stderr_fd, child.pid_fd].filter { $0 >= 0 }.forEach { close($0) }
            throw SkillError(.unavailable, skill: skill, "cannot create a pipe: \(String(cString: strerror(errno)))")
        }
        for fd in wake {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        let process = ChildProcess(child: child, isolation: isolation, wake: (wake[0], wake[1]), onStdout: onStdout, onExit: onExit)
        let thread = Thread { process.run() }
        thread.name = "skill-process-\(child.pid)"
        thread.start()
        return process
    }

    private init(child: cprocess_child, isolation: NetworkIsolation, wake: (Int32, Int32),
                 onStdout: @escaping @Sendable (ArraySlice<UInt8>) -> Bool,
                 onExit: @escaping @Sendable (ProcessTermination) -> Void) {
        pid = child.pid
        stdinFD = child.stdin_fd
        stdoutFD = child.stdout_fd
        stderrFD = child.stderr_fd
        pidFD = child.pid_fd
        (wakeRead, wakeWrite) = wake
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

    /// The I/O thread: waits on the pipes and the pidfd (or, on kernels without pidfd_open,
    /// checks for the exit every 20 ms) until the process has exited and been drained.
    private func run() {
        while true {
            var fds: [pollfd] = [pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
            let (stdoutOpen, stderrOpen, wantsOutput) = state.withLock { ($0.stdoutOpen, $0.stderrOpen, $0.stdinOpen && !$0.pendingInput.isEmpty) }
            if stdoutOpen { fds.append(pollfd(fd: stdoutFD, events: Int16(POLLIN), revents: 0)) }
            if stderrOpen { fds.append(pollfd(fd: stderrFD, events: Int16(POLLIN), revents: 0)) }
            if wantsOutput { fds.append(pollfd(fd: stdinFD, events: Int16(POLLOUT), revents: 0)) }
            if pidFD >= 0 { fds.append(pollfd(fd: pidFD, events: Int16(POLLIN), revents: 0)) }
            let ready = poll(&fds, nfds_t(fds.count), pidFD >= 0 ? -1 : 20)
            if ready < 0 && errno != EINTR { break }
            var exited = false
            for entry in fds where entry.revents != 0 {
                switch entry.fd {
                case wakeRead:
                    var sink = [UInt8](repeating: 0, count: 64)
                    while Glibc.read(wakeRead, &sink, sink.count) > 0 {}
                case stdoutFD: _ = readStdout()
                case stderrFD: _ = readStderr()
                case stdinFD: flushInput()
                default: exited = true
                }
            }
            if pidFD < 0 {
                var info = siginfo_t()
                exited = waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info._sifields._sigchld.si_pid == pid
            }
            if exited { break }
        }
        handleExit()
        state.withLock { state in
            state.wakeOpen = false
            close(wakeRead)
            close(wakeWrite)
        }
    }

    /// Makes the I/O thread poll again (new input to write).
    private func wake() {
        state.withLock { state in
            guard state.wakeOpen else { return }
            var byte: UInt8 = 1
            _ = write(wakeWrite, &byte, 1)
        }
    }

    // MARK: - Control (any thread)

    /// Queues `bytes` for the process's stdin (then closes it if `thenClose`), without blocking.
    func send(_ bytes: [UInt8], thenClose: Bool = false) {
        state.withLock { state in
            state.pendingInput += bytes
            if thenClose { state.closeInputWhenWritten = true }
        }
        flushInput()
        wake()
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

    // MARK: - Events (on the I/O thread, except flushInput, which any thread may call)

    private func readStdout() -> ReadResult {
        // A stopped stream's descriptor may already be closed and reused: never touch it.
        guard state.withLock({ $0.stdoutOpen }) else { return .closed }
        let (result, chunk) = read(stdoutFD)
        if let chunk, !onStdout(chunk[...]) {
            killGroup()
            stop(\.stdoutOpen)
            return .closed
        }
        if result == .closed { stop(\.stdoutOpen) }
        return result
    }

    private func readStderr() -> ReadResult {
        guard state.withLock({ $0.stderrOpen }) else { return .closed }
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
        if result == .closed { stop(\.stderrOpen) }
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

    /// Stops reading a stream and closes it (only the I/O thread reads, so nothing else can be
    /// using the descriptor).
    private func stop(_ stream: WritableKeyPath<State, Bool>) {
        let wasOpen = state.withLock { state in
            defer { state[keyPath: stream] = false }
            return state[keyPath: stream]
        }
        if wasOpen { close(stream == \State.stdoutOpen ? stdoutFD : stderrFD) }
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
                    return // the I/O thread polls for room (POLLOUT) while input is pending
                } else {
                    // EPIPE: the skill closed its stdin. Its answer or its exit tells the rest.
                    state.pendingInput = []
                    closeInput(&state)
                    return
                }
            }
            if state.closeInputWhenWritten { closeInput(&state) }
        }
    }

    private func closeInput(_ state: inout State) {
        guard state.stdinOpen else { return }
        state.stdinOpen = false
        close(stdinFD)
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
        stop(\.stdoutOpen)
        stop(\.stderrOpen)
        if pidFD >= 0 { close(pidFD) }
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
