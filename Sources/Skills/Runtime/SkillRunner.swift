import Foundation
import Synchronization

/// What one call came to: the output the model sees and the record of how it got there.
public struct SkillCallOutcome: Sendable {
    /// The result object (with an `artifacts` list of summaries when the skill made files), or
    /// the structured error.
    public var result: Result<JSONValue, SkillError>
    /// The call as recorded (also when it failed).
    public var record: CallRecord

    /// The JSON the tool-result turn shows the model: the result, or `{"error", "message"}`.
    public var output: JSONValue { record.output }
}

/// Runs skill calls: validates them against the registry, resolves artifact parameters in the
/// conversation's store, dispatches through the skill's transport under its limits, stores
/// the files it produced, and records every call (or, in replay mode, answers from a record).
///
/// Calls may be made concurrently; each skill's `limits.concurrency` bounds how many run at
/// once and the rest queue in arrival order.
public actor SkillRunner {
    public enum Mode: Sendable, Equatable {
        /// Calls run for real (and are recorded if a log is given).
        case live
        /// Calls are answered from the log; a call not in it is a `not_recorded` error.
        case replay
    }

    public typealias TransportFactory = @Sendable (SkillManifest) -> any SkillTransport

    /// Extra time a transport gets past the timeout to report it itself before the runner
    /// stops waiting for it.
    static let watchdogGrace: Duration = .seconds(2)

    public nonisolated let registry: SkillRegistry
    public nonisolated let artifacts: ArtifactStore
    public nonisolated let log: CallLog?
    public nonisolated let mode: Mode
    private let makeTransport: TransportFactory
    private var transports: [String: any SkillTransport] = [:]
    private var gates: [String: ConcurrencyGate] = [:]

    public init(registry: SkillRegistry, artifacts: ArtifactStore, log: CallLog? = nil, mode: Mode = .live,
                makeTransport: @escaping TransportFactory = SkillRunner.standardTransport) {
        self.registry = registry
        self.artifacts = artifacts
        self.log = log
        self.mode = mode
        self.makeTransport = makeTransport
    }

    /// The transport each manifest declares.
    public static func standardTransport(for manifest: SkillManifest) -> any SkillTransport {
        switch manifest.transport {
        case .subprocess(_, persistent: false): OneShotProcessTransport(manifest: manifest)
        case .subprocess(_, persistent: true): PersistentProcessTransport(manifest: manifest)
        case .http: HTTPTransport(manifest: manifest)
        case .mcp: MCPTransport(manifest: manifest)
        }
    }

    /// Calls skill `name` (a name or an alias) with `params` as the model wrote them.
    public func call(_ name: String, params: JSONValue) async -> SkillCallOutcome {
        let started = Date()
        let clock = ContinuousClock.now
        var record = CallRecord(skill: name, version: "", params: params, appliedDefaults: [], inputs: [:],
                                output: .null, outcome: "", artifacts: [], milliseconds: 0, started: started, log: "")
        let result: Result<JSONValue, SkillError>
        switch prepare(name, params: params, record: &record) {
        case .failure(let error):
            result = .failure(error)
        case .success(let invocation):
            result = await run(invocation, record: &record)
        }
        let elapsed = ContinuousClock.now - clock
        record.milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        switch result {
        case .success(let output): (record.output, record.outcome) = (output, "ok")
        case .failure(let error): (record.output, record.outcome) = (error.json, error.kind.rawValue)
        }
        if mode == .live, let log {
            do { try log.append(record) } catch {
                record.log += "\n[the call could not be recorded: \(error)]"
            }
        }
        return SkillCallOutcome(result: result, record: record)
    }

    /// Whether the skill can be called now, without starting anything.
    public func health(of name: String) async -> SkillHealth {
        guard let manifest = registry.manifest(named: name) else { return .down("no such skill") }
        return await transport(for: manifest).health()
    }

    /// Stops every persistent process and started server.
    public func shutdown() async {
        for transport in transports.values { await transport.shutdown() }
        transports.removeAll()
    }

    /// Running and queued calls of a skill (for tests and status lines).
    public func load(of name: String) async -> (running: Int, queued: Int) {
        guard let gate = gates[registry.manifest(named: name)?.name ?? name] else { return (0, 0) }
        return await gate.load
    }

    // MARK: - Steps

    /// Validation and artifact resolution: everything decided before the skill runs.
    private func prepare(_ name: String, params: JSONValue, record: inout CallRecord) -> Result<SkillInvocation, SkillError> {
        let validated: SkillRegistry.ValidatedCall
        switch registry.validateCall(name: name, params: params) {
        case .failure(.unknownSkill(let name, let suggestion)):
            return .failure(SkillError(.unknownSkill, skill: name, "no skill is called '\(name)'"
                + (suggestion.map { "; did you mean '\($0)'?" } ?? "")
                + " (skills: \(registry.manifests.map(\.name).joined(separator: ", ")))"))
        case .failure(.invalidParams(let name, let violations)):
            if let manifest = registry.manifest(named: name) {
                (record.skill, record.version) = (manifest.name, manifest.version.description)
            }
            return .failure(SkillError(.invalidParams, skill: name, violations.map(\.description).joined(separator: "; ")))
        case .success(let call):
            validated = call
        }
        let manifest = registry.manifest(named: validated.name)!
        record.skill = manifest.name
        record.version = manifest.version.description
        record.params = validated.params
        record.appliedDefaults = validated.appliedDefaults

        var resolved = validated.params.objectValue ?? [:]
        var inputs: [String: Artifact] = [:]
        for parameter in Self.artifactParameters(of: manifest) {
            guard let id = resolved[parameter]?.stringValue else { continue }
            guard let artifact = artifacts.artifact(id) else {
                let known = artifacts.all.map(\.id)
                return .failure(SkillError(.invalidParams, skill: manifest.name, "/\(parameter): no artifact '\(id)' in this conversation"
                    + (known.isEmpty ? " (it has none)" : " (it has: \(known.joined(separator: ", ")))")))
            }
            inputs[parameter] = artifact
            record.inputs[parameter] = artifact.sha256
            resolved[parameter] = .string(artifact.url.path)
        }
        let folder = artifacts.directory.appendingPathComponent("calls", isDirectory: true)
            .appendingPathComponent(UUID().uuidString, isDirectory: true)
        return .success(SkillInvocation(manifest: manifest, params: .object(resolved), inputs: inputs, outputDirectory: folder))
    }

    /// Parameters whose schema `format` is `artifact` or ends in `-artifact` (`image-artifact`,
    /// `mask-artifact`): their values are artifact ids of the conversation.
    public static func artifactParameters(of manifest: SkillManifest) -> [String] {
        let properties = manifest.inputSchema["properties"]?.objectValue ?? [:]
        return properties.keys.sorted().filter {
            guard let format = properties[$0]?["format"]?.stringValue else { return false }
            return format == "artifact" || format.hasSuffix("-artifact")
        }
    }

    /// `params` with each missing required `image-artifact` parameter set to `imageID`: how the
    /// agent loop, `skills call --image` and manifest examples hand a skill "the image".
    public static func fillingImage(_ params: [String: JSONValue], with imageID: String,
                                    for manifest: SkillManifest) -> [String: JSONValue] {
        var filled = params
        let required = manifest.inputSchema["required"]?.arrayValue ?? []
        for parameter in artifactParameters(of: manifest) where filled[parameter] == nil
            && manifest.inputSchema["properties"]?[parameter]?["format"]?.stringValue == "image-artifact"
            && required.contains(.string(parameter)) {
            filled[parameter] = .string(imageID)
        }
        return filled
    }

    private func run(_ invocation: SkillInvocation, record: inout CallRecord) async -> Result<JSONValue, SkillError> {
        if mode == .replay { return replay(record) }
        let manifest = invocation.manifest
        let gate = gate(for: manifest)
        await gate.enter()
        let reply: Result<SkillReply, SkillError>
        do {
            try FileManager.default.createDirectory(at: invocation.outputDirectory, withIntermediateDirectories: true)
            reply = await Self.withWatchdog(transport(for: manifest), invocation)
        } catch {
            reply = .failure(SkillError(.unavailable, skill: manifest.name, "cannot create the call's output folder: \(error.localizedDescription)"))
        }
        await gate.leave()
        defer { try? FileManager.default.removeItem(at: invocation.outputDirectory) }
        switch reply {
        case .failure(let error):
            return .failure(error)
        case .success(let reply):
            record.log = String(reply.log.suffix(4096))
            return finish(reply, invocation: invocation, record: &record)
        }
    }

    /// Stores the reply's files and checks the output against the manifest's output schema.
    private func finish(_ reply: SkillReply, invocation: SkillInvocation, record: inout CallRecord) -> Result<JSONValue, SkillError> {
        let manifest = invocation.manifest
        var output = reply.result.objectValue ?? [:]
        var made: [Artifact] = []
        for (index, new) in reply.artifacts.enumerated() {
            do {
                let bytes: Data
                switch new.content {
                case .bytes(let data): bytes = data
                case .file(let url):
                    guard let data = FileManager.default.contents(atPath: url.path) else {
                        return .failure(SkillError(.badOutput, skill: manifest.name, "/artifacts/\(index): '\(url.lastPathComponent)' was not written"))
                    }
                    bytes = data
                }
                // Skills see paths, not ids: a file made from the call's only input image has
                // that image as its source unless the skill says otherwise.
                let source = new.source ?? (invocation.inputs.count == 1 ? invocation.inputs.values.first?.id : nil)
                made.append(try artifacts.add(bytes, kind: new.kind, source: source, box: new.box, label: new.label))
            } catch {
                return .failure(SkillError(.tooLarge, skill: manifest.name, "/artifacts/\(index): \(error)"))
            }
        }
        if !made.isEmpty { output["artifacts"] = .array(made.map(\.summary)) }
        record.artifacts = made
        if let schema = manifest.outputSchema {
            let check = JSONSchemaValidator(schema: schema).validate(.object(output))
            guard check.isValid else {
                return .failure(SkillError(.badOutput, skill: manifest.name, "the result does not match output_schema: "
                    + check.violations.map(\.description).joined(separator: "; ")))
            }
        }
        return .success(.object(output))
    }

    /// Answers from the log, re-adding the recorded artifacts so their ids resolve again.
    private func replay(_ record: CallRecord) -> Result<JSONValue, SkillError> {
        guard let recorded = log?.lookup(record.replayKey) else {
            return .failure(SkillError(.notRecorded, skill: record.skill,
                                       "no recorded call of \(record.skill)@\(record.version) with parameters \(record.params.compactJSON)"))
        }
        for artifact in recorded.artifacts {
            guard let bytes = FileManager.default.contents(atPath: artifact.url.path) else {
                return .failure(SkillError(.notRecorded, skill: record.skill, "the record lacks artifact \(artifact.id)"))
            }
            do {
                try artifacts.add(bytes, kind: artifact.kind, source: artifact.source, box: artifact.box, label: artifact.label)
            } catch {
                return .failure(SkillError(.unavailable, skill: record.skill, "cannot restore artifact \(artifact.id): \(error)"))
            }
        }
        if recorded.outcome == "ok" { return .success(recorded.output) }
        let kind = SkillError.Kind(rawValue: recorded.outcome) ?? .toolError
        return .failure(SkillError(kind, skill: recorded.skill, recorded.output["message"]?.stringValue ?? recorded.outcome))
    }

    private func transport(for manifest: SkillManifest) -> any SkillTransport {
        if let existing = transports[manifest.name] { return existing }
        let made = makeTransport(manifest)
        transports[manifest.name] = made
        return made
    }

    private func gate(for manifest: SkillManifest) -> ConcurrencyGate {
        if let existing = gates[manifest.name] { return existing }
        let made = ConcurrencyGate(limit: manifest.limits.concurrency)
        gates[manifest.name] = made
        return made
    }

    /// The transport's answer, or a timeout if it has not answered `watchdogGrace` after the
    /// skill's timeout: the host never waits on a transport that fails to enforce its limit.
    /// Cancelling the caller cancels the transport's call.
    static func withWatchdog(_ transport: any SkillTransport, _ invocation: SkillInvocation) async -> Result<SkillReply, SkillError> {
        let race = Race()
        let skill = invocation.skill
        let limit = Duration.milliseconds(Int64(invocation.limits.timeoutSeconds * 1000)) + watchdogGrace
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                race.start(continuation)
                let timer = Task {
                    try? await Task.sleep(for: limit)
                    guard !Task.isCancelled else { return }
                    race.finish(.failure(SkillError(.timeout, skill: skill,
                        "no answer within \(invocation.limits.timeoutSeconds) s (the transport did not stop it)")))
                }
                race.run(Task {
                    do throws(SkillError) { race.finish(.success(try await transport.call(invocation))) } catch {
                        race.finish(.failure(Task.isCancelled && error.kind != .timeout
                            ? SkillError(.cancelled, skill: skill, "the call was cancelled") : error))
                    }
                    timer.cancel()
                })
            }
        } onCancel: {
            race.finish(.failure(SkillError(.cancelled, skill: skill, "the call was cancelled")))
        }
    }

    /// The first of the transport's answer, the watchdog and cancellation wins; finishing also
    /// cancels the transport's task so that it stops its process.
    private final class Race: Sendable {
        private struct State {
            var continuation: CheckedContinuation<Result<SkillReply, SkillError>, Never>?
            var task: Task<Void, Never>?
            var finished = false
        }
        private let state = Mutex(State())

        func start(_ continuation: CheckedContinuation<Result<SkillReply, SkillError>, Never>) {
            let early = state.withLock { state -> Bool in
                state.continuation = continuation
                return state.finished
            }
            if early { continuation.resume(returning: .failure(SkillError(.cancelled, skill: "", "the call was cancelled"))) }
        }

        func run(_ task: Task<Void, Never>) {
            let cancel = state.withLock { state -> Bool in
                state.task = task
                return state.finished
            }
            if cancel { task.cancel() }
        }

        func finish(_ result: Result<SkillReply, SkillError>) {
            let (continuation, task) = state.withLock { state -> (CheckedContinuation<Result<SkillReply, SkillError>, Never>?, Task<Void, Never>?) in
                guard !state.finished else { return (nil, nil) }
                state.finished = true
                defer { state.continuation = nil }
                return (state.continuation, state.task)
            }
            continuation?.resume(returning: result)
            task?.cancel()
        }
    }
}
