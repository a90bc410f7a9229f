import Foundation
import Synchronization

/// A tool as an MCP server lists it (`tools/list`).
public struct MCPTool: Sendable, Equatable {
    public var name: String
    public var title: String?
    public var description: String?
    /// The JSON Schema of the tool's arguments.
    public var inputSchema: JSONValue

    public init(name: String, title: String? = nil, description: String? = nil, inputSchema: JSONValue) {
        (self.name, self.title, self.description, self.inputSchema) = (name, title, description, inputSchema)
    }
}

/// The server's name and version from `initialize`.
public struct MCPServerInfo: Sendable, Equatable {
    public var name: String
    public var version: String
}

/// An MCP client for one server, over stdio (a process it starts and keeps) or streamable HTTP.
///
/// It connects on first use (`initialize`, then `notifications/initialized`) and again after
/// the server died. Calls may overlap. `tools/call` results are mapped onto the skill contract:
/// `structuredContent`, or a single text block holding a JSON object, is the result; other text
/// becomes `{"text": ...}`; image blocks become artifacts; `isError` is a `tool_error`.
/// Progress notifications for a call are collected into its reply's log. A call that times out
/// or is cancelled is cancelled at the server too (`notifications/cancelled`).
public actor MCPClient {
    /// The protocol revision this client speaks (the server may answer an older one).
    public static let protocolVersion = "2025-06-18"

    public let server: SkillManifest.MCPServer
    private let projectRoot: URL?
    /// Memory and network limits of a stdio server.
    private let limits: SkillManifest.Limits
    /// Who the errors are about: the skill's name, or the server for `import-mcp`.
    private let label: String
    private var channel: (any MCPChannel)?
    private var connecting: Task<Result<(any MCPChannel, MCPServerInfo), MCPFailure>, Never>?
    private var nextID = 0
    /// The server's name and version, once connected.
    public private(set) var serverInfo: MCPServerInfo?

    /// A client of `server`; relative commands resolve against `projectRoot`. A stdio server
    /// runs under `limits` (`memory_mb`, and no network unless `network`, where the kernel
    /// allows it), like a subprocess skill. `label` names the skill (or server) in errors.
    public init(server: SkillManifest.MCPServer, projectRoot: URL?, limits: SkillManifest.Limits, label: String) {
        (self.server, self.projectRoot, self.limits, self.label) = (server, projectRoot, limits, label)
    }

    /// Every tool the server lists (following `nextCursor`).
    public func listTools(timeout: Double) async throws(SkillError) -> [MCPTool] {
        let deadline = ContinuousClock.now + .milliseconds(Int64(timeout * 1000))
        var tools: [MCPTool] = []
        var cursor: String?
        repeat {
            let result = try await exchange("tools/list", params: cursor.map { ["cursor": .string($0)] } ?? [:],
                                            deadline: deadline, timeout: timeout)
            guard let listed = result["tools"]?.arrayValue else {
                throw SkillError(.badOutput, skill: label, "tools/list did not answer a tools array")
            }
            for (index, item) in listed.enumerated() {
                guard let name = item["name"]?.stringValue, let schema = item["inputSchema"], schema.objectValue != nil else {
                    throw SkillError(.badOutput, skill: label, "tools/list: tool \(index) lacks a name or an inputSchema object")
                }
                tools.append(MCPTool(name: name, title: item["title"]?.stringValue, description: item["description"]?.stringValue,
                                     inputSchema: schema))
            }
            cursor = result["nextCursor"]?.stringValue
        } while cursor != nil
        return tools
    }

    /// Calls `tool` with `arguments` within `limits` (timeout, output size). An `artifacts`
    /// member of the result may name files only inside `outputDirectory`.
    public func callTool(_ tool: String, arguments: JSONValue, limits: SkillManifest.Limits,
                         outputDirectory: URL) async throws(SkillError) -> SkillReply {
        let deadline = ContinuousClock.now + .milliseconds(Int64(limits.timeoutSeconds * 1000))
        let channel = try await connected(deadline: deadline, timeout: limits.timeoutSeconds)
        let id = takeID()
        let token = "llava-plus-\(id)"
        let log = Mutex<[String]>([])
        let message: JSONValue = ["jsonrpc": "2.0", "id": .number(Double(id)), "method": "tools/call",
                                  "params": ["name": .string(tool), "arguments": arguments, "_meta": ["progressToken": .string(token)]]]
        let response: JSONValue
        do {
            response = try await channel.request(message, id: id, deadline: deadline, maxBytes: limits.maxOutputBytes) { note in
                if let line = Self.logLine(note, token: token) { log.withLock { $0.append(line) } }
            }
        } catch {
            if error == .timeout || error == .cancelled {
                // Tell the server to stop; not awaited, so that the caller is answered now.
                let reason = error == .timeout ? "timed out after \(formatSeconds(limits.timeoutSeconds)) s" : "cancelled by the caller"
                Task { await channel.notify(["jsonrpc": "2.0", "method": "notifications/cancelled",
                                             "params": ["requestId": .number(Double(id)), "reason": .string(reason)]]) }
            }
            drop(channel, after: error)
            var failure = skillError(error, timeout: limits.timeoutSeconds)
            if error == .timeout { failure.message += " (the call was cancelled at the server)" }
            throw failure
        }
        return try Self.reply(response, skill: label, outputDirectory: outputDirectory, log: log.withLock { $0.joined(separator: "\n") })
    }

    /// Whether the server is connected now; starts nothing.
    public var health: SkillHealth {
        if let channel, channel.isAlive {
            if let stdio = channel as? MCPStdioChannel { return .ready("running (pid \(stdio.process.pid))") }
            return .ready("connected")
        }
        return .ready("not connected (connects on first call)")
    }

    /// Stops a stdio server; forgets an HTTP session.
    public func close() async {
        let current = channel
        channel = nil
        await current?.close()
    }

    // MARK: - Connection

    private func takeID() -> Int {
        nextID += 1
        return nextID
    }

    /// The live channel, connecting (and initializing) first if there is none.
    private func connected(deadline: ContinuousClock.Instant, timeout: Double) async throws(SkillError) -> any MCPChannel {
        if let channel, channel.isAlive { return channel }
        if connecting == nil {
            // Set before any suspension, so that concurrent callers wait for this one start.
            let dead = channel
            channel = nil
            let id = takeID()
            let (server, projectRoot, limits, label) = (self.server, self.projectRoot, self.limits, self.label)
            connecting = Task {
                await dead?.close()
                return await Self.open(server, projectRoot: projectRoot, limits: limits, label: label, initializeID: id, deadline: deadline)
            }
        }
        let result = await connecting!.value
        connecting = nil
        switch result {
        case .success(let (opened, info)):
            channel = opened
            serverInfo = info
            return opened
        case .failure(let failure):
            throw skillError(failure, timeout: timeout)
        }
    }

    /// Starts or reaches the server and runs the initialize handshake.
    private static func open(_ server: SkillManifest.MCPServer, projectRoot: URL?, limits: SkillManifest.Limits, label: String,
                             initializeID id: Int,
                             deadline: ContinuousClock.Instant) async -> Result<(any MCPChannel, MCPServerInfo), MCPFailure> {
        let channel: any MCPChannel
        do throws(MCPFailure) {
            switch server {
            case .command(let command): channel = try MCPStdioChannel(command: command, projectRoot: projectRoot, limits: limits, label: label)
            case .url(let url): channel = try MCPHTTPChannel(url: url)
            }
        } catch {
            return .failure(error)
        }
        let initialize: JSONValue = [
            "jsonrpc": "2.0", "id": .number(Double(id)), "method": "initialize",
            "params": ["protocolVersion": .string(protocolVersion), "capabilities": [:],
                       "clientInfo": ["name": "llava-plus", "version": "1.0.0"]],
        ]
        do throws(MCPFailure) {
            let response = try await channel.request(initialize, id: id, deadline: deadline, maxBytes: MCPStdioChannel.defaultMaxLine) { _ in }
            let result = try resultMember(response)
            guard let version = result["protocolVersion"]?.stringValue else {
                throw MCPFailure.badOutput("initialize did not answer a protocolVersion")
            }
            (channel as? MCPHTTPChannel)?.setProtocolVersion(version)
            await channel.notify(["jsonrpc": "2.0", "method": "notifications/initialized"])
            let info = MCPServerInfo(name: result["serverInfo"]?["name"]?.stringValue ?? "",
                                     version: result["serverInfo"]?["version"]?.stringValue ?? "")
            return .success((channel, info))
        } catch {
            await channel.close()
            return .failure(error)
        }
    }

    /// A request outside a tool call (tools/list): its `result` member.
    private func exchange(_ method: String, params: JSONValue, deadline: ContinuousClock.Instant,
                          timeout: Double) async throws(SkillError) -> JSONValue {
        let channel = try await connected(deadline: deadline, timeout: timeout)
        let id = takeID()
        do throws(MCPFailure) {
            let response = try await channel.request(["jsonrpc": "2.0", "id": .number(Double(id)), "method": .string(method), "params": params],
                                                     id: id, deadline: deadline, maxBytes: MCPStdioChannel.defaultMaxLine) { _ in }
            return try Self.resultMember(response)
        } catch {
            drop(channel, after: error)
            throw skillError(error, timeout: timeout)
        }
    }

    /// Forgets a channel that can no longer be used, so that the next call reconnects.
    private func drop(_ used: any MCPChannel, after failure: MCPFailure) {
        let expired: Bool = if case .httpStatus(404, _) = failure { true } else { false }
        if !used.isAlive || expired, channel.map({ $0 as AnyObject === used as AnyObject }) == true { channel = nil }
    }

    // MARK: - Messages

    private static func resultMember(_ response: JSONValue) throws(MCPFailure) -> JSONValue {
        if let error = response["error"] {
            throw .rpcError(code: Int(error["code"]?.numberValue ?? 0), message: error["message"]?.stringValue ?? error.compactJSON)
        }
        guard let result = response["result"], result.objectValue != nil else {
            throw .badOutput("the response has no result object")
        }
        return result
    }

    /// A notification as a log line, if it concerns this call (progress with its token) or the
    /// server's log (`notifications/message`).
    static func logLine(_ note: JSONValue, token: String) -> String? {
        let params = note["params"]
        switch note["method"]?.stringValue {
        case "notifications/progress" where params?["progressToken"]?.stringValue == token:
            let progress = params?["progress"]?.numberValue.map(JSONValue.format) ?? "?"
            let total = params?["total"]?.numberValue.map { "/" + JSONValue.format($0) } ?? ""
            return "progress \(progress)\(total)" + (params?["message"]?.stringValue.map { ": \($0)" } ?? "")
        case "notifications/message":
            let level = params?["level"]?.stringValue ?? "info"
            let data = params?["data"].map { $0.stringValue ?? $0.compactJSON } ?? ""
            return "[\(level)] \(data)"
        default:
            return nil
        }
    }

    /// A `tools/call` response on the skill contract.
    static func reply(_ response: JSONValue, skill: String, outputDirectory: URL, log: String) throws(SkillError) -> SkillReply {
        let result: JSONValue
        do { result = try resultMember(response) } catch {
            throw SkillError(.toolError, skill: skill, mcpDescription(error))
        }
        let blocks = result["content"]?.arrayValue ?? []
        let texts = blocks.filter { $0["type"]?.stringValue == "text" }.compactMap { $0["text"]?.stringValue }
        if result["isError"]?.boolValue == true {
            throw SkillError(.toolError, skill: skill, texts.isEmpty ? "the tool reported an error" : texts.joined(separator: "\n"))
        }
        var notes: [String] = []
        var artifacts: [NewArtifact] = []
        for (index, block) in blocks.enumerated() {
            switch block["type"]?.stringValue {
            case "text": continue
            case "image":
                guard let data = block["data"]?.stringValue.flatMap({ Data(base64Encoded: $0) }) else {
                    throw SkillError(.badOutput, skill: skill, "/content/\(index): an image block without valid base64 data")
                }
                artifacts.append(NewArtifact(content: .bytes(data), kind: .image, label: block["mimeType"]?.stringValue))
            case let other:
                notes.append("ignored a content block of type \(other ?? "?")")
            }
        }
        let object: JSONValue
        if let structured = result["structuredContent"], structured.objectValue != nil {
            object = structured
        } else if texts.count == 1, let parsed = try? JSONValue(parsing: texts[0]), parsed.objectValue != nil {
            object = parsed
        } else if !texts.isEmpty {
            object = ["text": .string(texts.joined(separator: "\n"))]
        } else if result["content"]?.arrayValue == nil {
            throw SkillError(.badOutput, skill: skill, "the tool result has neither content nor structuredContent")
        } else {
            object = [:]
        }
        var reply = try SkillReply.decode(object, skill: skill, outputDirectory: outputDirectory)
        reply.artifacts += artifacts
        reply.log = ([log].filter { !$0.isEmpty } + notes).joined(separator: "\n")
        return reply
    }

    private func skillError(_ failure: MCPFailure, timeout: Double) -> SkillError {
        switch failure {
        case .timeout:
            SkillError(.timeout, skill: label, "no answer within \(formatSeconds(timeout)) s")
        case .cancelled: SkillError(.cancelled, skill: label, "the call was cancelled")
        case .crashed(let why): SkillError(.crashed, skill: label, why)
        case .unavailable(let why): SkillError(.unavailable, skill: label, why)
        case .tooLarge(let why): SkillError(.tooLarge, skill: label, why)
        case .badOutput(let why): SkillError(.badOutput, skill: label, why)
        case .rpcError, .httpStatus(500..., _): SkillError(.toolError, skill: label, Self.mcpDescription(failure))
        case .httpStatus: SkillError(.badOutput, skill: label, Self.mcpDescription(failure))
        }
    }

    private static func mcpDescription(_ failure: MCPFailure) -> String {
        switch failure {
        case .rpcError(let code, let message): "the server answered error \(code): \(message)"
        case .httpStatus(let status, let excerpt): "HTTP \(status)" + (excerpt.isEmpty ? "" : ": \(excerpt)")
        default: "\(failure)"
        }
    }
}
