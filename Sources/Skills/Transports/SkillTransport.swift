import Foundation

/// One validated call, as a transport receives it.
public struct SkillInvocation: Sendable {
    public var manifest: SkillManifest
    /// The parameters after validation and defaults. Artifact parameters (schema `format`
    /// `image-artifact`, `mask-artifact`, ...) hold the artifact's absolute file path here.
    public var params: JSONValue
    /// The artifacts those parameters named, by parameter name (HTTP and MCP send their bytes).
    public var inputs: [String: Artifact]
    /// An empty folder the skill may write new files to; the runner collects the ones the
    /// reply names and removes the folder.
    public var outputDirectory: URL

    public init(manifest: SkillManifest, params: JSONValue, inputs: [String: Artifact], outputDirectory: URL) {
        (self.manifest, self.params, self.inputs, self.outputDirectory) = (manifest, params, inputs, outputDirectory)
    }

    public var skill: String { manifest.name }
    public var limits: SkillManifest.Limits { manifest.limits }
}

/// What a skill answered: its result and the new files it made.
public struct SkillReply: Sendable, Equatable {
    /// The result object, without the `artifacts` member (the runner puts artifact ids there).
    public var result: JSONValue
    public var artifacts: [NewArtifact]
    /// What the skill wrote to its log (stderr), kept for the transcript, never for the model.
    public var log: String

    public init(result: JSONValue, artifacts: [NewArtifact] = [], log: String = "") {
        (self.result, self.artifacts, self.log) = (result, artifacts, log)
    }
}

/// A file a skill produced, before the runner stores it.
public struct NewArtifact: Sendable, Equatable {
    public enum Content: Sendable, Equatable {
        /// A file the skill wrote inside its output folder.
        case file(URL)
        case bytes(Data)
    }

    public var content: Content
    public var kind: Artifact.Kind
    public var source: String?
    public var box: [Double]?
    public var label: String?

    public init(content: Content, kind: Artifact.Kind, source: String? = nil, box: [Double]? = nil, label: String? = nil) {
        (self.content, self.kind, self.source, self.box, self.label) = (content, kind, source, box, label)
    }
}

/// Whether a skill can be called now, as `skills list` shows it.
public enum SkillHealth: Sendable, Equatable, CustomStringConvertible {
    /// Callable; the text says how (`ready`, `running (pid 123)`, `up`).
    case ready(String)
    /// Not callable now; the text says why.
    case down(String)

    public var description: String {
        switch self {
        case .ready(let how): how
        case .down(let why): "down: \(why)"
        }
    }
}

/// How the runner reaches a skill: a process, an HTTP service, an MCP server.
///
/// A transport enforces the limits it can see (timeout, output size, process limits) and maps
/// every failure to a ``SkillError``. It must return promptly when its task is cancelled.
public protocol SkillTransport: Sendable {
    func call(_ invocation: SkillInvocation) async throws(SkillError) -> SkillReply
    /// A cheap check that does not start anything.
    func health() async -> SkillHealth
    /// Stops what the transport started (persistent processes, started servers).
    func shutdown() async
}

extension SkillReply {
    /// Reads the JSON object a skill answered with, the contract shared by the subprocess and
    /// HTTP transports:
    /// - `{"error": "message"}` (only an `error` string, optionally with `details`) is the
    ///   skill reporting a failure: a `tool_error`;
    /// - otherwise the object is the result; its optional `artifacts` member lists new files as
    ///   `{"path": "<file in the output folder>", "kind": "mask", "source": "<artifact id>",
    ///   "box": [x0, y0, x1, y1], "label": "..."}` or with `"base64"` instead of `path`.
    public static func decode(_ bytes: some Collection<UInt8>, skill: String, outputDirectory: URL,
                              log: String = "") throws(SkillError) -> SkillReply {
        let value: JSONValue
        do { value = try JSONValue(parsing: bytes) } catch {
            throw SkillError(.badOutput, skill: skill, "the output is \(error.message); expected one JSON object"
                + Self.excerpt(bytes))
        }
        return try decode(value, skill: skill, outputDirectory: outputDirectory, log: log)
    }

    /// The same contract for an already parsed value.
    public static func decode(_ value: JSONValue, skill: String, outputDirectory: URL,
                              log: String = "") throws(SkillError) -> SkillReply {
        guard case .object(var object) = value else {
            let kind = ["array": "an array", "string": "a string", "boolean": "a boolean", "null": "null"][value.schemaType] ?? "a number"
            throw SkillError(.badOutput, skill: skill, "the output is \(kind); expected a JSON object")
        }
        if let message = object["error"]?.stringValue, Set(object.keys).isSubset(of: ["error", "details"]) {
            throw SkillError(.toolError, skill: skill, message)
        }
        var artifacts: [NewArtifact] = []
        if let listed = object.removeValue(forKey: "artifacts") {
            guard let items = listed.arrayValue else {
                throw SkillError(.badOutput, skill: skill, "/artifacts: expected an array of {path, kind}")
            }
            for (index, item) in items.enumerated() {
                artifacts.append(try newArtifact(item, at: "/artifacts/\(index)", skill: skill, outputDirectory: outputDirectory))
            }
        }
        return SkillReply(result: .object(object), artifacts: artifacts, log: log)
    }

    private static func newArtifact(_ item: JSONValue, at pointer: String, skill: String,
                                    outputDirectory: URL) throws(SkillError) -> NewArtifact {
        func bad(_ why: String) -> SkillError { SkillError(.badOutput, skill: skill, "\(pointer): \(why)") }
        guard item.objectValue != nil else { throw bad("expected an object with path (or base64) and kind") }
        let kind: Artifact.Kind
        if let name = item["kind"]?.stringValue {
            guard let known = Artifact.Kind(rawValue: name) else {
                throw bad("kind '\(name)' is not one of \(Artifact.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            kind = known
        } else {
            kind = .image
        }
        let content: NewArtifact.Content
        if let path = item["path"]?.stringValue {
            // Only files in the call's own output folder: a skill's answer cannot make the
            // runner copy an arbitrary file into the conversation.
            let folder = outputDirectory.standardizedFileURL.resolvingSymlinksInPath().path + "/"
            let url = (path.hasPrefix("/") ? URL(fileURLWithPath: path) : outputDirectory.appendingPathComponent(path))
                .standardizedFileURL.resolvingSymlinksInPath()
            guard url.path.hasPrefix(folder) else { throw bad("'\(path)' is outside the call's output folder") }
            content = .file(url)
        } else if let encoded = item["base64"]?.stringValue {
            guard let data = Data(base64Encoded: encoded) else { throw bad("base64 is not valid base64") }
            content = .bytes(data)
        } else {
            throw bad("expected path or base64")
        }
        var box: [Double]?
        if let listed = item["box"] {
            guard let values = listed.arrayValue?.compactMap(\.numberValue), values.count == 4,
                  values.allSatisfy({ (0...1).contains($0) }), values[0] <= values[2], values[1] <= values[3]
            else { throw bad("box: expected normalised [x0, y0, x1, y1] with 0 <= x0 <= x1 <= 1 and 0 <= y0 <= y1 <= 1") }
            box = values
        }
        return NewArtifact(content: content, kind: kind, source: item["source"]?.stringValue, box: box,
                           label: item["label"]?.stringValue)
    }

    /// The first bytes of bad output, for the message.
    static func excerpt(_ bytes: some Collection<UInt8>) -> String {
        guard !bytes.isEmpty else { return " (it was empty)" }
        let text = String(decoding: bytes.prefix(80), as: UTF8.self).replacingOccurrences(of: "\n", with: "\\n")
        return " (it began: \(text)\(bytes.count > 80 ? "..." : ""))"
    }
}
