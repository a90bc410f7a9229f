import Foundation

/// One skill call as it happened: enough to audit it, show it in a transcript, and answer
/// the same call again in replay mode.
public struct CallRecord: Sendable, Equatable {
    public var skill: String
    public var version: String
    /// The parameters after defaults, with artifact parameters as artifact ids (not paths).
    public var params: JSONValue
    public var appliedDefaults: [AppliedDefault]
    /// The SHA-256 of each artifact parameter's bytes, by parameter name.
    public var inputs: [String: String]
    /// The result as the model sees it (artifacts as summaries), or the error's JSON.
    public var output: JSONValue
    /// `ok` or a ``SkillError/Kind`` raw value.
    public var outcome: String
    /// The artifacts the call produced.
    public var artifacts: [Artifact]
    public var milliseconds: Double
    public var started: Date
    /// The skill's log (stderr), trimmed to its last 4 KB.
    public var log: String

    /// What identifies "the same call" for replay: skill, version, parameters and input bytes.
    public var replayKey: String {
        "\(skill)@\(version) \(params.compactJSON) " + inputs.keys.sorted().map { "\($0)=\(inputs[$0]!)" }.joined(separator: ",")
    }

    public var json: JSONValue {
        .object([
            "skill": .string(skill), "version": .string(version), "params": params,
            "applied_defaults": .array(appliedDefaults.map { .object(["pointer": .string($0.pointer), "value": $0.value]) }),
            "inputs": .object(inputs.mapValues { .string($0) }), "output": output, "outcome": .string(outcome),
            "artifacts": .array(artifacts.map(\.record)),
            "ms": .number((milliseconds * 1000).rounded() / 1000),
            "started": .string(started.ISO8601Format(Self.timeFormat)),
            "log": .string(log),
        ])
    }

    init(json value: JSONValue, artifactFolder: URL) throws(JSONValue.ParseError) {
        func field<T>(_ key: String, _ get: (JSONValue) -> T?) throws(JSONValue.ParseError) -> T {
            guard let member = value[key], let typed = get(member) else {
                throw JSONValue.ParseError(message: "/\(key): missing or of the wrong type")
            }
            return typed
        }
        skill = try field("skill", \.stringValue)
        version = try field("version", \.stringValue)
        params = try field("params") { $0 }
        appliedDefaults = try field("applied_defaults", \.arrayValue).compactMap { item in
            item["pointer"]?.stringValue.flatMap { pointer in item["value"].map { AppliedDefault(pointer: pointer, value: $0) } }
        }
        inputs = try field("inputs", \.objectValue).compactMapValues(\.stringValue)
        output = try field("output") { $0 }
        outcome = try field("outcome", \.stringValue)
        artifacts = try field("artifacts", \.arrayValue).compactMap { Artifact(record: $0, folder: artifactFolder) }
        milliseconds = try field("ms", \.numberValue)
        started = (try? Date(field("started", \.stringValue), strategy: Self.timeFormat)) ?? Date(timeIntervalSince1970: 0)
        log = value["log"]?.stringValue ?? ""
    }

    private static let timeFormat = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    public init(skill: String, version: String, params: JSONValue, appliedDefaults: [AppliedDefault],
                inputs: [String: String], output: JSONValue, outcome: String, artifacts: [Artifact],
                milliseconds: Double, started: Date, log: String) {
        self.skill = skill
        self.version = version
        self.params = params
        self.appliedDefaults = appliedDefaults
        self.inputs = inputs
        self.output = output
        self.outcome = outcome
        self.artifacts = artifacts
        self.milliseconds = milliseconds
        self.started = started
        self.log = log
    }
}
