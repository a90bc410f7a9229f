import Foundation
import HTTP

/// Calls a skill served over HTTP: a JSON POST to the manifest's `url`.
///
/// Two body conventions, chosen by the URL:
/// - **plain JSON**: the parameters object, answered by the shared skill contract
///   (`SkillReply.decode`);
/// - **LLaVA-Plus tool worker** (the path ends in `/worker_generate`): the same parameters,
///   answered by the worker's fields (`boxes`, `logits`, `phrases`, ...). A string field holding
///   a base64 PNG or JPEG (`edited_image`, say) becomes a new artifact and leaves the result, and
///   a non-zero `error_code` (FastChat's worker convention) is the worker reporting a failure.
///
/// In both, artifact parameters are sent as base64 strings of the artifact's bytes: a server
/// may run elsewhere and cannot read the conversation's files.
///
/// With `start`, the transport starts the server on the first call (and again after it died),
/// waits for it to answer `health` (2xx; without a health path, any HTTP answer to `GET /`)
/// within the call's timeout, and stops it at `shutdown()`.
public final class HTTPTransport: SkillTransport {
    public let manifest: SkillManifest
    private let client = HTTPClient()
    private let endpoint: Result<HTTPEndpoint, HTTPFailure>
    private let start: [String]?
    private let healthPath: String?
    private let isWorker: Bool
    private let server: HTTPStartedServer

    /// Connecting is given at most this long (or the call's timeout if shorter).
    static let connectTimeout: Duration = .seconds(5)

    public init(manifest: SkillManifest) {
        self.manifest = manifest
        let url: String
        switch manifest.transport {
        case .http(let u, let start, let health): (url, self.start, healthPath) = (u, start, health)
        default: (url, start, healthPath) = ("", nil, nil)
        }
        endpoint = HTTPEndpoint.parse(url)
        isWorker = (try? endpoint.get().target.split(separator: "?").first?.hasSuffix("/worker_generate")) ?? false
        server = HTTPStartedServer()
    }

    public func call(_ invocation: SkillInvocation) async throws(SkillError) -> SkillReply {
        let skill = manifest.name
        let timeout = invocation.limits.timeoutSeconds
        let deadline = ContinuousClock.now + .milliseconds(Int64(timeout * 1000))
        let endpoint: HTTPEndpoint
        switch self.endpoint {
        case .success(let value): endpoint = value
        case .failure(let failure): throw Self.error(failure, skill: skill, endpoint: nil, timeout: timeout, server: nil)
        }
        var process: ServerProcess?
        if let start {
            process = try await server.ensureRunning(start, manifest: manifest, deadline: deadline) { [self] deadline async in
                await isUp(endpoint, deadline: deadline)
            }
        }

        var params = invocation.params.objectValue ?? [:]
        for (name, artifact) in invocation.inputs {
            guard let bytes = FileManager.default.contents(atPath: artifact.url.path) else {
                throw SkillError(.unavailable, skill: skill, "cannot read artifact \(artifact.id) for /\(name)")
            }
            params[name] = .string(bytes.base64EncodedString())
        }
        let request = HTTPRequest(method: "POST", endpoint: endpoint,
                                  headers: [("Content-Type", "application/json"), ("Accept", "application/json")],
                                  body: Array(JSONValue.object(params).compactJSON.utf8))
        let limits = HTTPLimits(connectTimeout: Self.connectTimeout, deadline: deadline,
                                maxBodyBytes: invocation.limits.maxOutputBytes)
        let response: HTTPResponse
        do { response = try await client.send(request, limits: limits) } catch {
            if case .closed = error, let process {
                // A started server that dropped the connection may be dying: let its exit be recorded.
                for _ in 0..<20 where process.termination == nil { try? await Task.sleep(for: .milliseconds(10)) }
            }
            throw Self.error(error, skill: skill, endpoint: endpoint, timeout: timeout, server: process)
        }
        try Self.check(response, skill: skill)
        if isWorker {
            let value: JSONValue
            do { value = try JSONValue(parsing: response.body) } catch {
                throw SkillError(.badOutput, skill: skill, "the answer is \(error.message); expected one JSON object"
                    + SkillReply.excerpt(response.body))
            }
            return try workerReply(value, invocation)
        }
        return try SkillReply.decode(response.body, skill: skill, outputDirectory: invocation.outputDirectory)
    }

    public func health() async -> SkillHealth {
        guard case .success(let endpoint) = endpoint else { return .down("the url is not a plain http:// URL") }
        if start != nil, await !server.isRunning { return .ready("not started (starts on first call)") }
        return await isUp(endpoint, deadline: .now + .seconds(1)) ? .ready("up") : .down("no answer at \(endpoint.host):\(endpoint.port)")
    }

    public func shutdown() async {
        await server.stop()
        client.closeIdleConnections()
    }

    // MARK: - Steps

    /// Whether the server answers its health probe before `deadline`.
    private func isUp(_ endpoint: HTTPEndpoint, deadline: ContinuousClock.Instant) async -> Bool {
        let probe = HTTPRequest(method: "GET", endpoint: endpoint.with(target: healthPath ?? "/"))
        let limits = HTTPLimits(connectTimeout: Self.connectTimeout, deadline: deadline, maxBodyBytes: 64 << 10)
        guard let response = try? await client.send(probe, limits: limits) else { return false }
        return healthPath == nil || (200..<300).contains(response.status)
    }

    /// Status and media type: a 5xx is the skill failing, any other non-2xx or a body that is
    /// not JSON is an answer the protocol does not expect.
    private static func check(_ response: HTTPResponse, skill: String) throws(SkillError) {
        guard (200..<300).contains(response.status) else {
            let excerpt = String(decoding: response.body.prefix(200), as: UTF8.self)
                .replacingOccurrences(of: "\n", with: " ").trimmingCharacters(in: .whitespaces)
            let text = "HTTP \(response.status)" + (excerpt.isEmpty ? "" : ": \(excerpt)")
            throw SkillError(response.status >= 500 ? .toolError : .badOutput, skill: skill, text)
        }
        let type = response.mediaType ?? ""
        guard type == "application/json" || (type.hasPrefix("application/") && type.hasSuffix("+json")) else {
            throw SkillError(.badOutput, skill: skill, "the answer's Content-Type is \(type.isEmpty ? "missing" : "'\(type)'"); expected application/json"
                + SkillReply.excerpt(response.body))
        }
    }

    /// A worker's answer: base64 images become artifacts, `error_code` a tool error.
    private func workerReply(_ value: JSONValue, _ invocation: SkillInvocation) throws(SkillError) -> SkillReply {
        guard var object = value.objectValue else {
            return try SkillReply.decode(value, skill: manifest.name, outputDirectory: invocation.outputDirectory)
        }
        if let code = object["error_code"]?.numberValue, code != 0 {
            throw SkillError(.toolError, skill: manifest.name, "the worker answered error_code \(JSONValue.format(code))"
                + (object["text"]?.stringValue.map { ": \($0)" } ?? ""))
        }
        // The edited image's pixel grid is the input image's when there was exactly one.
        let source = invocation.inputs.count == 1 ? invocation.inputs.values.first?.id : nil
        var images: [NewArtifact] = []
        for key in object.keys.sorted() {
            guard let text = object[key]?.stringValue, let bytes = Self.decodeImage(text) else { continue }
            object[key] = nil
            images.append(NewArtifact(content: .bytes(bytes), kind: key.contains("mask") ? .mask : .image,
                                      source: source, label: key))
        }
        var reply = try SkillReply.decode(.object(object), skill: manifest.name, outputDirectory: invocation.outputDirectory)
        reply.artifacts += images
        return reply
    }

    /// The bytes of a base64 (or `data:image/...;base64,`) PNG or JPEG, nil for any other string.
    static func decodeImage(_ text: String) -> Data? {
        var payload = Substring(text)
        if payload.hasPrefix("data:image/"), let comma = payload.firstIndex(of: ",") {
            guard payload[..<comma].hasSuffix(";base64") else { return nil }
            payload = payload[payload.index(after: comma)...]
        }
        // Cheap test first: the base64 characters wholly inside the PNG signature (8 bytes: 10
        // characters) or a JPEG's first three bytes.
        guard payload.hasPrefix("iVBORw0KGg") || payload.hasPrefix("/9j/"),
              let bytes = Data(base64Encoded: String(payload), options: .ignoreUnknownCharacters) else { return nil }
        let type = Artifact.sniffMediaType(bytes)
        return type == "image/png" || type == "image/jpeg" ? bytes : nil
    }

    /// The structured error for a failed exchange.
    private static func error(_ failure: HTTPFailure, skill: String, endpoint: HTTPEndpoint?, timeout: Double,
                              server: ServerProcess?) -> SkillError {
        let place = endpoint.map { "\($0.host):\($0.port)" } ?? "the server"
        switch failure {
        case .unreachable(let why):
            return SkillError(.unavailable, skill: skill, why)
        case .connectTimeout:
            return SkillError(.timeout, skill: skill, "could not connect to \(place) within \(formatSeconds(min(timeout, 5))) s")
        case .timeout:
            return SkillError(.timeout, skill: skill, "no answer from \(place) within \(formatSeconds(timeout)) s")
        case .bodyTooLarge(let declared):
            return SkillError(.tooLarge, skill: skill, declared.map { "the answer declares \($0) bytes" } ?? "the answer passed its size limit")
        case .closed(let why):
            if let server, server.termination != nil {
                return SkillError(.crashed, skill: skill, "the server died during the call: \(server.exitReport)")
            }
            return SkillError(.crashed, skill: skill, "\(why) (\(place))")
        case .malformed(let why):
            return SkillError(.badOutput, skill: skill, "not an HTTP response from \(place): \(why)")
        case .cancelled:
            return SkillError(.cancelled, skill: skill, "the call was cancelled")
        case .io(let why):
            return SkillError(.unavailable, skill: skill, "\(place): \(why)")
        }
    }
}

/// `1`, `2.5`: seconds as a manifest writes them.
func formatSeconds(_ seconds: Double) -> String { JSONValue.format(seconds) }

/// The server an HTTP skill's `start` command runs: started once, on the first call that needs
/// it (concurrent first calls wait for the same start), and again after it died.
actor HTTPStartedServer {
    private var process: ServerProcess?
    private var starting: Task<Result<ServerProcess, SkillError>, Never>?

    var isRunning: Bool { process != nil && process?.termination == nil }

    /// The running server, started now if needed and ready once `isUp` says so (polled until
    /// `deadline`).
    func ensureRunning(_ command: [String], manifest: SkillManifest, deadline: ContinuousClock.Instant,
                       isUp: @escaping @Sendable (ContinuousClock.Instant) async -> Bool) async throws(SkillError) -> ServerProcess {
        if let process, process.termination == nil, starting == nil { return process }
        let skill = manifest.name
        if starting == nil {
            // Set before any suspension, so that concurrent callers wait for this one start.
            let dead = process
            process = nil
            starting = Task {
                await dead?.stop()
                // The server must be reachable, so it keeps the network whatever limits.network says.
                let started: ServerProcess
                do throws(SkillError) {
                    started = try ServerProcess(command: command, projectRoot: manifest.origin.projectRoot,
                                                memoryMB: manifest.limits.memoryMB, isolateNetwork: false, skill: skill)
                } catch {
                    return .failure(error)
                }
                started.child.closeInput()
                while ContinuousClock.now < deadline {
                    if started.termination != nil {
                        return .failure(SkillError(.unavailable, skill: skill, "the server stopped before it was ready: \(started.exitReport)"))
                    }
                    if await isUp(min(deadline, .now + .milliseconds(500))) { return .success(started) }
                    try? await Task.sleep(for: .milliseconds(20))
                }
                await started.stop()
                return .failure(SkillError(.unavailable, skill: skill,
                                           "the server did not become ready within \(formatSeconds(manifest.limits.timeoutSeconds)) s"))
            }
        }
        let result = await starting!.value
        starting = nil
        switch result {
        case .success(let started):
            process = started
            return started
        case .failure(let error):
            throw error
        }
    }

    func stop() async {
        await process?.stop()
        process = nil
    }
}
