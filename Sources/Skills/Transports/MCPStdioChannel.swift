import Foundation
import Synchronization

/// MCP over stdio: newline-delimited JSON-RPC with a server process this channel started.
///
/// The server's stdout arrives in chunks (on its process's I/O thread); they are split into
/// messages and each response goes to the request waiting for its id, so requests may overlap.
/// When the server exits every waiting request fails as `crashed` with its exit status and
/// stderr, and the channel is dead: the client starts a new one.
final class MCPStdioChannel: MCPChannel {
    private let state = Mutex(State())
    /// Set once at the end of init: the server's callbacks need the channel before it exists.
    private let started = Mutex<ServerProcess?>(nil)
    var process: ServerProcess { started.withLock { $0! } }
    /// Longest message accepted while no request says otherwise (initialize, tools/list).
    static let defaultMaxLine = 16 << 20

    private struct Waiter {
        var continuation: CheckedContinuation<Result<JSONValue, MCPFailure>, Never>
        var onNotification: @Sendable (JSONValue) -> Void
        var maxBytes: Int
        var timer: Task<Void, Never>?
    }

    private struct State {
        var waiters: [Int: Waiter] = [:]
        /// Requests cancelled before their waiter was registered.
        var cancelledEarly: Set<Int> = []
        /// Why the channel is dead, once it is.
        var closed: String?
        /// The start of a message whose end has not arrived yet.
        var pending: [UInt8] = []
        /// Inside a message that was too long: its bytes are dropped up to the next newline.
        var skipping = false
    }

    init(command: [String], projectRoot: URL?, limits: SkillManifest.Limits, label: String) throws(MCPFailure) {
        do throws(SkillError) {
            let process = try ServerProcess(command: command, projectRoot: projectRoot, memoryMB: limits.memoryMB,
                                        isolateNetwork: !limits.network, skill: label,
                                        onStdout: { [weak self] chunk in self?.received(chunk); return true },
                                        onExit: { [weak self] _ in self?.serverExited() })
            started.withLock { $0 = process }
        } catch {
            throw .unavailable("cannot start the MCP server: \(error.message)")
        }
    }

    var isAlive: Bool { state.withLock { $0.closed == nil } }

    func request(_ message: JSONValue, id: Int, deadline: ContinuousClock.Instant, maxBytes: Int,
                 onNotification: @escaping @Sendable (JSONValue) -> Void) async throws(MCPFailure) -> JSONValue {
        let line = Array((message.compactJSON + "\n").utf8)
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<JSONValue, MCPFailure>, Never>) in
                let refused: MCPFailure? = state.withLock { state in
                    if let closed = state.closed { return .crashed(closed) }
                    if state.cancelledEarly.remove(id) != nil { return .cancelled }
                    state.waiters[id] = Waiter(continuation: continuation, onNotification: onNotification, maxBytes: maxBytes)
                    return nil
                }
                if let refused { continuation.resume(returning: .failure(refused)); return }
                let timer = Task { [self] in
                    try? await Task.sleep(until: deadline)
                    if !Task.isCancelled { finish(id, .failure(.timeout)) }
                }
                state.withLock { $0.waiters[id]?.timer = timer }
                process.child.send(line)
            }
        } onCancel: {
            let waiting = state.withLock { state in
                if state.waiters[id] != nil { return true }
                state.cancelledEarly.insert(id)
                return false
            }
            if waiting { finish(id, .failure(.cancelled)) }
        }
        return try result.get()
    }

    func notify(_ message: JSONValue) async {
        process.child.send(Array((message.compactJSON + "\n").utf8))
    }

    func close() async {
        await process.stop()
    }

    // MARK: - Reading (on the server's I/O thread)

    /// Resumes the request `id` once (later results for it are dropped).
    private func finish(_ id: Int, _ result: Result<JSONValue, MCPFailure>) {
        guard let waiter = state.withLock({ $0.waiters.removeValue(forKey: id) }) else { return }
        waiter.timer?.cancel()
        waiter.continuation.resume(returning: result)
    }

    /// Splits stdout into lines and dispatches each complete one.
    private func received(_ chunk: ArraySlice<UInt8>) {
        var lines: [[UInt8]] = []
        var oversized: Int?
        state.withLock { state in
            var start = chunk.startIndex
            while let newline = chunk[start...].firstIndex(of: UInt8(ascii: "\n")) {
                if state.skipping { state.skipping = false } else { lines.append(state.pending + chunk[start..<newline]) }
                state.pending.removeAll(keepingCapacity: true)
                start = newline + 1
            }
            if !state.skipping { state.pending += chunk[start...] }
            let limit = state.waiters.values.map(\.maxBytes).max() ?? Self.defaultMaxLine
            if state.pending.count > limit {
                state.pending.removeAll()
                state.skipping = true
                oversized = limit
            }
        }
        for line in lines { dispatch(line) }
        if let limit = oversized {
            // The message cannot be used, and which request it answers is inside it: every
            // waiting request fails rather than waits for its timeout.
            failAll(.tooLarge("the server sent a message of more than \(limit) bytes"))
        }
    }

    private func serverExited() {
        // A server that exits at once can get here before init has stored it (microseconds).
        while started.withLock({ $0 == nil }) { usleep(100) }
        let reason = "the MCP server \(process.exitReport)"
        state.withLock { $0.closed = reason }
        failAll(.crashed(reason))
    }

    private func failAll(_ failure: MCPFailure) {
        for id in state.withLock({ Array($0.waiters.keys) }) { finish(id, .failure(failure)) }
    }

    private func dispatch(_ line: [UInt8]) {
        guard line.contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\r") }) else { return }
        guard let message = try? JSONValue(parsing: line) else {
            // The spec forbids anything but JSON-RPC on stdout: fail the waiting requests with it.
            failAll(.badOutput("the server wrote a line that is not JSON-RPC" + SkillReply.excerpt(line)))
            return
        }
        switch MCPMessageKind(message) {
        case .response(let id):
            finish(id, .success(message))
        case .notification:
            let handlers = state.withLock { $0.waiters.values.map(\.onNotification) }
            for handler in handlers { handler(message) }
        case .serverRequest:
            started.withLock { $0 }?.child.send(Array((mcpAnswer(toServerRequest: message).compactJSON + "\n").utf8))
        case .invalid:
            break  // JSON, but not a JSON-RPC message: nothing can be done with it
        }
    }
}
