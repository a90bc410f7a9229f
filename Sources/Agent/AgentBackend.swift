import Skills

/// What a backend answered for one step.
public struct BackendReply: Sendable, Equatable {
    public var text: String
    public var promptTokens: Int
    public var generatedTokens: Int
    /// Time spent in the model (image encoding, prompt, generation).
    public var seconds: Double

    public init(text: String, promptTokens: Int = 0, generatedTokens: Int = 0, seconds: Double = 0) {
        (self.text, self.promptTokens, self.generatedTokens, self.seconds) = (text, promptTokens, generatedTokens, seconds)
    }
}

/// A model that writes the assistant's turns: the local engine, or an OpenAI-compatible server.
public protocol AgentBackend: Sendable {
    /// A short name for transcripts (`llava-plus-tiny`, `http://host/v1 model`).
    var name: String { get }
    /// The format this backend's model writes tool calls in.
    var format: ToolCallFormat { get }
    /// The next assistant turn. `tools` lists what the model may call (each skill's name and
    /// the parameter schema it is shown); a backend that can constrain its output uses it so
    /// that every call it writes parses and names a real skill.
    func complete(_ messages: [AgentMessage], tools: [ToolSpec]) async throws -> BackendReply
}

/// A skill as the model sees it.
public struct ToolSpec: Sendable, Equatable {
    public var name: String
    public var description: String
    /// The manifest's input schema without its artifact parameters: the loop fills them with
    /// the latest image, as LLaVA-Plus did, so the model never has to spell (or invent) an
    /// artifact id.
    public var parameters: JSONValue

    public init(manifest: SkillManifest) {
        name = manifest.name
        description = manifest.description
        let artifacts = Set(SkillRunner.artifactParameters(of: manifest))
        var schema = manifest.inputSchema.objectValue ?? [:]
        if let properties = schema["properties"]?.objectValue {
            schema["properties"] = .object(properties.filter { !artifacts.contains($0.key) })
        }
        if let required = schema["required"]?.arrayValue {
            schema["required"] = .array(required.filter { !artifacts.contains($0.stringValue ?? "") })
        }
        parameters = .object(schema)
    }

    /// `detect(caption, box_threshold=0.3)`: the one-line signature for prompts.
    public var signature: String {
        let properties = parameters["properties"]?.objectValue ?? [:]
        let required = Set((parameters["required"]?.arrayValue ?? []).compactMap(\.stringValue))
        let ordered = properties.keys.sorted { (required.contains($0) ? 0 : 1, $0) < (required.contains($1) ? 0 : 1, $1) }
        let arguments = ordered.map { key -> String in
            if let value = properties[key]?["default"] { return "\(key)=\(value.compactJSON)" }
            return required.contains(key) ? key : "\(key)?"
        }
        return "\(name)(\(arguments.joined(separator: ", ")))"
    }
}
