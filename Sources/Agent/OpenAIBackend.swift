import Foundation
import HTTP
import Skills

/// Any OpenAI-compatible chat-completions server as an agent backend (`llava-plus serve`,
/// llama.cpp's server, vLLM, Ollama, ...), over plain `http://`.
///
/// Images go inline as `data:` URLs. With ``useNativeTools`` the skills are sent as function
/// `tools` and the server's `tool_calls` are turned back into the JSON tool-call text the loop
/// parses (the loop's own turns go back as `tool_calls` and `tool` messages); without it, the
/// system prompt asks for the JSON format and the model's text is parsed as it is.
public final class OpenAIBackend: AgentBackend, CustomStringConvertible {
    public let name: String
    /// The loop reads the JSON tool-call format: native tool calls are rendered into it.
    public let format: ToolCallFormat = .json
    public let baseURL: String
    public let model: String
    public let useNativeTools: Bool
    public let maxTokens: Int
    public let temperature: Double
    public let seed: Int?
    /// The whole exchange (connect, send, generate, read) must be over within this long.
    public let timeout: Duration
    public static let connectTimeout: Duration = .seconds(10)
    /// Largest answer read.
    static let maxResponseBytes = 16 << 20

    private let endpoint: HTTPEndpoint
    private let apiKey: APIKey?
    private let client = HTTPClient()

    /// - Parameters:
    ///   - baseURL: the API root, as OpenAI clients take it (`http://127.0.0.1:8080/v1`);
    ///     requests go to `<baseURL>/chat/completions`.
    ///   - apiKeyVariable: the environment variable holding the API key, sent as a bearer
    ///     token (the key itself is never logged nor shown).
    public init(baseURL: String, model: String, apiKeyVariable: String? = nil, useNativeTools: Bool = true,
                maxTokens: Int = 256, temperature: Double = 0, seed: Int? = nil, timeout: Duration = .seconds(300),
                environment: [String: String] = ProcessInfo.processInfo.environment) throws(OpenAIBackendError) {
        let root = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        let url = root + "/chat/completions"
        switch HTTPEndpoint.parse(url) {
        case .success(let endpoint): self.endpoint = endpoint
        case .failure(let failure):
            if case .unreachable(let why) = failure { throw OpenAIBackendError("base URL \(baseURL): \(why)") }
            throw OpenAIBackendError("base URL \(baseURL) is not an http:// URL")
        }
        if let apiKeyVariable {
            guard let key = environment[apiKeyVariable], !key.isEmpty else {
                throw OpenAIBackendError("the environment variable \(apiKeyVariable) (named for the API key) is not set or empty")
            }
            apiKey = APIKey(value: key)
        } else {
            apiKey = nil
        }
        (self.baseURL, self.model, self.useNativeTools) = (root, model, useNativeTools)
        (self.maxTokens, self.temperature, self.seed, self.timeout) = (maxTokens, temperature, seed, timeout)
        name = "\(root) \(model)"
    }

    public var description: String { "OpenAIBackend(\(name))" }

    /// `<baseURL>/chat/completions`, as errors name it.
    public var completionsURL: String { baseURL + "/chat/completions" }

    public func complete(_ messages: [AgentMessage], tools: [ToolSpec]) async throws -> BackendReply {
        let start = ContinuousClock.now
        var body: [String: JSONValue] = [
            "model": .string(model), "messages": .array(try Self.messages(messages, nativeTools: useNativeTools)),
            "max_tokens": .number(Double(maxTokens)), "temperature": .number(temperature), "stream": false,
        ]
        if let seed { body["seed"] = .number(Double(seed)) }
        if useNativeTools, !tools.isEmpty {
            body["tools"] = .array(tools.map { tool in
                ["type": "function", "function": ["name": .string(tool.name), "description": .string(tool.description), "parameters": tool.parameters]]
            })
        }
        var headers = [("Content-Type", "application/json"), ("Accept", "application/json")]
        if let apiKey { headers.append(("Authorization", "Bearer \(apiKey.value)")) }
        let request = HTTPRequest(method: "POST", endpoint: endpoint, headers: headers, body: Array(JSONValue.object(body).compactJSON.utf8))
        let limits = HTTPLimits(connectTimeout: Self.connectTimeout, deadline: start + timeout, maxBodyBytes: Self.maxResponseBytes)
        let response: HTTPResponse
        do { response = try await client.send(request, limits: limits) } catch {
            throw OpenAIBackendError("POST \(completionsURL): \(Self.explain(error, timeout: timeout))")
        }
        let parsed = try? JSONValue(parsing: response.body)
        guard (200..<300).contains(response.status) else {
            let message = parsed?["error"]?["message"]?.stringValue ?? parsed?["error"]?.stringValue
                ?? String(decoding: response.body.prefix(300), as: UTF8.self)
            throw OpenAIBackendError("POST \(completionsURL): HTTP \(response.status): \(message)")
        }
        guard let parsed, let message = parsed["choices"]?.arrayValue?.first?["message"] else {
            throw OpenAIBackendError("POST \(completionsURL): the answer has no choices[0].message: "
                + String(decoding: response.body.prefix(300), as: UTF8.self))
        }
        let usage = parsed["usage"]
        let elapsed = ContinuousClock.now - start
        return BackendReply(text: Self.text(of: message), promptTokens: Int(usage?["prompt_tokens"]?.numberValue ?? 0),
                            generatedTokens: Int(usage?["completion_tokens"]?.numberValue ?? 0),
                            seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }

    // MARK: - Mapping

    /// The assistant's turn as the loop reads it: native `tool_calls` become the JSON format's
    /// actions (arguments that are not a JSON object stay a string, which the codec reports).
    static func text(of message: JSONValue) -> String {
        let content = message["content"]?.stringValue ?? ""
        guard let calls = message["tool_calls"]?.arrayValue, !calls.isEmpty else { return content }
        let actions: [JSONValue] = calls.map { call in
            let function = call["function"]
            let arguments = function?["arguments"] ?? .object([:])
            let params = arguments.stringValue.flatMap { try? JSONValue(parsing: $0) } ?? arguments
            return ["API_name": function?["name"] ?? "", "API_params": params]
        }
        let readable = actions.compactMap { action -> ToolCall? in
            guard let name = action["API_name"]?.stringValue, let params = action["API_params"], params.objectValue != nil else { return nil }
            return ToolCall(name: name, params: params)
        }
        // Reasoning beside the reply (`reasoning_content`, as `llava-plus serve`, vLLM and DeepSeek send it).
        let thoughts = message["reasoning_content"]?.stringValue ?? ""
        if readable.count == actions.count {
            return ToolCallCodec.render(AssistantTurn(thoughts: thoughts, actions: readable, value: content), format: .json)
        }
        return JSONValue.object(["thoughts": .string(thoughts), "actions": .array(actions), "value": .string(content)]).spacedJSON
    }

    /// The conversation in OpenAI's shape. With native tools, an assistant turn that called
    /// skills becomes `tool_calls`, and the loop's next user turn (one `<skill> output: ...`
    /// line per call, then the question) becomes one `tool` message per call and a user
    /// message with the rest and the images the skills made.
    static func messages(_ messages: [AgentMessage], nativeTools: Bool) throws -> [JSONValue] {
        var result: [JSONValue] = []
        var pending: [(id: String, call: ToolCall)] = []
        for (index, message) in messages.enumerated() {
            switch message.role {
            case .system:
                result.append(["role": "system", "content": .string(message.text)])
            case .assistant:
                pending = []
                if nativeTools, case .success(let turn) = ToolCallCodec.parse(message.text, format: .json), !turn.actions.isEmpty {
                    pending = turn.actions.enumerated().map { ("call_\(index)_\($0.offset)", $0.element) }
                    var entry: [String: JSONValue] = [
                        "role": "assistant", "content": turn.value.isEmpty ? .null : .string(turn.value),
                        "tool_calls": .array(pending.map { entry in
                            ["id": .string(entry.id), "type": "function",
                             "function": ["name": .string(entry.call.name), "arguments": .string(entry.call.params.compactJSON)]]
                        }),
                    ]
                    if !turn.thoughts.isEmpty { entry["reasoning_content"] = .string(turn.thoughts) }
                    result.append(.object(entry))
                } else {
                    result.append(["role": "assistant", "content": .string(message.text)])
                }
            case .user:
                var text = message.text
                if !pending.isEmpty {
                    let (outputs, rest) = splitResults(text, calls: pending.map(\.call))
                    for (entry, output) in zip(pending, outputs) {
                        result.append(["role": "tool", "tool_call_id": .string(entry.id), "content": .string(output)])
                    }
                    text = rest
                    pending = []
                    if text.isEmpty && message.images.isEmpty { continue }
                }
                result.append(["role": "user", "content": try content(text, images: message.images)])
            }
        }
        return result
    }

    /// Each call's output line and what follows them; every call gets the whole text when the
    /// lines do not match the calls.
    static func splitResults(_ text: String, calls: [ToolCall]) -> (outputs: [String], rest: String) {
        let sections = text.components(separatedBy: "\n\n")
        let lines = sections[0].components(separatedBy: "\n")
        guard lines.count == calls.count,
              zip(lines, calls).allSatisfy({ $0.hasPrefix("\($1.name) output: ") }) else {
            return (Array(repeating: text, count: calls.count), "")
        }
        let outputs = zip(lines, calls).map { String($0.dropFirst("\($1.name) output: ".count)) }
        return (outputs, sections.dropFirst().joined(separator: "\n\n"))
    }

    /// A string, or text and `image_url` parts (images first, as the local backend places them).
    static func content(_ text: String, images: [Artifact]) throws -> JSONValue {
        guard !images.isEmpty else { return .string(text) }
        var parts: [JSONValue] = try images.map { image in
            guard let data = FileManager.default.contents(atPath: image.url.path) else {
                throw OpenAIBackendError("cannot read image \(image.id) at \(image.url.path)")
            }
            return ["type": "image_url", "image_url": ["url": .string("data:\(image.mediaType);base64,\(data.base64EncodedString())")]]
        }
        parts.append(["type": "text", "text": .string(text)])
        return .array(parts)
    }

    static func explain(_ failure: HTTPFailure, timeout: Duration) -> String {
        switch failure {
        case .unreachable(let why): why
        case .connectTimeout: "could not connect within \(connectTimeout.components.seconds) s"
        case .timeout: "no complete answer within \(timeout.components.seconds) s"
        case .bodyTooLarge: "the answer is larger than \(maxResponseBytes >> 20) MB"
        case .closed(let why): why
        case .malformed(let why): "not an HTTP response: \(why)"
        case .cancelled: "cancelled"
        case .io(let why): why
        }
    }
}

/// Why the OpenAI-compatible backend failed; the message names the URL.
public struct OpenAIBackendError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// An API key that prints as hidden, so that no log or dump shows it.
private struct APIKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    let value: String
    var description: String { "(hidden)" }
    var debugDescription: String { "(hidden)" }
    var customMirror: Mirror { Mirror(self, children: []) }
}
