import Agent
import Foundation
import HTTP
import Imaging
import LanguageModels
import LLaVA
import Skills
import Synchronization
import Tokenizers

/// An OpenAI-compatible chat-completions server for one local LLaVA model.
///
/// Routes: `GET /v1/models` (and `/v1/models/{id}`), `POST /v1/chat/completions`, `GET /health`.
/// A completion takes `messages` (string content, or `text` and `image_url` parts with
/// `data:` URLs of PNG or JPEG images), `max_tokens`, `temperature`, `top_p`, `seed`, `stop`,
/// `stream` (Server-Sent Events ending with `data: [DONE]`) and `tools` (OpenAI function
/// tools). With tools, the turn is generated under the grammar built from their parameter
/// schemas (the one the agent's local backend uses, ``ToolCallGrammar``), so every call the
/// model writes parses and names a tool with well-formed arguments; calls come back as
/// `tool_calls` with `finish_reason: "tool_calls"`.
///
/// One model, one request at a time: requests wait in a first-come queue (``ModelWorker``).
public final class ChatServer: Sendable {
    public let modelName: String
    private let model: LockedModel
    private let worker = ModelWorker()
    private let log: @Sendable (String) -> Void
    private let created = Int(Date().timeIntervalSince1970)
    /// Tokens generated when a request gives no `max_tokens`.
    public let defaultMaxTokens: Int

    /// - Parameters:
    ///   - log: receives one line per request (method, path, status, time, tokens); never the content.
    public init(llava: LLaVAModel, generator: TextGenerator, modelName: String, defaultMaxTokens: Int = 256,
                log: @escaping @Sendable (String) -> Void = { _ in }) {
        self.modelName = modelName
        model = LockedModel(llava: llava, generator: generator, grammar: ToolCallGrammar(generator: generator))
        self.defaultMaxTokens = defaultMaxTokens
        self.log = log
    }

    /// Starts serving on `host:port` (port 0: a free port, see ``HTTPServer/port``).
    public func listen(host: String = "127.0.0.1", port: Int, limits: HTTPServer.Limits = .init()) throws -> HTTPServer {
        try HTTPServer(host: host, port: port, limits: limits,
                       refusal: { status, message in .json(status, APIError(status, message).json.compactJSON) }) { [self] request in
            await handle(request)
        }
    }

    /// Lets the queued requests finish, then stops the model's thread.
    public func stop() { worker.stop() }

    /// Answers one HTTP request.
    public func handle(_ request: HTTPServerRequest) async -> HTTPServerResponse {
        let start = ContinuousClock.now
        let (response, note) = await route(request)
        if case .bytes = response.body {
            log(logLine(request, status: response.status, since: start, note: note))
        }
        return response
    }

    private func route(_ request: HTTPServerRequest) async -> (HTTPServerResponse, String) {
        let path = request.path
        switch (request.method, path) {
        case ("GET", "/v1/models"), ("HEAD", "/v1/models"):
            return (.json(200, JSONValue.object(["object": "list", "data": .array([modelEntry])]).compactJSON), "")
        case ("GET", _) where path.hasPrefix("/v1/models/"):
            let id = String(path.dropFirst("/v1/models/".count)).removingPercentEncoding ?? ""
            guard id == modelName else { return (error(APIError(404, "model '\(id)' does not exist; this server serves '\(modelName)'", type: "not_found_error", param: "model")), "") }
            return (.json(200, modelEntry.compactJSON), "")
        case ("GET", "/health"), ("GET", "/"):
            return (.json(200, JSONValue.object(["status": "ok", "model": .string(modelName), "queued": .number(Double(worker.queued))]).compactJSON), "")
        case ("POST", "/v1/chat/completions"):
            return await completion(request)
        case (_, "/v1/models"), (_, "/v1/chat/completions"), (_, "/health"):
            return (error(APIError(405, "\(request.method) is not allowed on \(path)", type: "invalid_request_error")), "")
        default:
            return (error(APIError(404, "no route \(request.method) \(path) (this server has GET /v1/models and POST /v1/chat/completions)", type: "not_found_error")), "")
        }
    }

    private var modelEntry: JSONValue {
        ["id": .string(modelName), "object": "model", "created": .number(Double(created)), "owned_by": "llava-plus"]
    }

    private func error(_ error: APIError) -> HTTPServerResponse {
        .json(error.status, error.json.compactJSON)
    }

    /// The log note of a refusal: its message, shortened.
    private func failed(_ error: APIError) -> (HTTPServerResponse, String) {
        (self.error(error), String(error.message.prefix(120)))
    }

    // MARK: - Completions

    private func completion(_ http: HTTPServerRequest) async -> (HTTPServerResponse, String) {
        // The body is read as JSON whatever its Content-Type says (`curl -d` sends form encoding).
        let request: ChatRequest
        do { request = try ChatRequest(body: http.body) } catch {
            return failed(error)
        }
        if let name = request.model, name != modelName {
            return failed(APIError(404, "model '\(name)' does not exist; this server serves '\(modelName)' (GET /v1/models)",
                                   type: "not_found_error", param: "model"))
        }
        let id = "chatcmpl-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
        if request.stream {
            let start = ContinuousClock.now
            return (.eventStream { [self] writer in
                let note = await stream(request, id: id, to: writer)
                log(logLine(http, status: 200, since: start, note: note))
            }, "")
        }
        do {
            let result = try await generate(request, onText: nil)
            return (.json(200, body(result, id: id).compactJSON), result.note)
        } catch {
            return failed(error)
        }
    }

    /// What one generation produced.
    struct Generation: Sendable {
        var text: String
        /// The turn's `thoughts` when tools were given (sent as `reasoning_content`, the field
        /// vLLM and DeepSeek use for reasoning beside the reply).
        var thoughts = ""
        var toolCalls: [ToolCall]
        var finishReason: String
        var promptTokens: Int
        var completionTokens: Int

        var note: String {
            "prompt \(promptTokens) tokens, generated \(completionTokens), \(finishReason)"
        }
    }

    /// Runs the request on the model's thread; `onText` sees the text as it is generated
    /// (not used with tools, whose turn is only known once complete).
    private func generate(_ request: ChatRequest, onText: (@Sendable (String) -> Void)?,
                          cancel: StopSequences? = nil) async throws(APIError) -> Generation {
        let model = self.model
        let maxTokens = request.maxTokens ?? defaultMaxTokens
        do {
            return try await worker.run { try model.generate(request, maxTokens: maxTokens, stops: cancel, onText: onText) }
        } catch let error as APIError {
            throw error
        } catch let error as ModelError {
            if case .contextFull(let needed, let capacity) = error {
                throw APIError(400, "the prompt and max_tokens need \(needed) tokens; the model's context holds \(capacity)",
                               param: "messages")
            }
            throw APIError(500, "\(error)", type: "server_error")
        } catch {
            throw APIError(500, "\(error)", type: "server_error")
        }
    }

    private func body(_ result: Generation, id: String) -> JSONValue {
        var message: [String: JSONValue] = ["role": "assistant", "content": .string(result.text)]
        if !result.thoughts.isEmpty { message["reasoning_content"] = .string(result.thoughts) }
        if !result.toolCalls.isEmpty {
            message["tool_calls"] = .array(toolCallsJSON(result.toolCalls, id: id, indexed: false))
            if result.text.isEmpty { message["content"] = .null }
        }
        return [
            "id": .string(id), "object": "chat.completion", "created": .number(Double(Int(Date().timeIntervalSince1970))),
            "model": .string(modelName),
            "choices": [["index": 0, "message": .object(message), "finish_reason": .string(result.finishReason), "logprobs": .null]],
            "usage": usage(result),
        ]
    }

    private func usage(_ result: Generation) -> JSONValue {
        ["prompt_tokens": .number(Double(result.promptTokens)), "completion_tokens": .number(Double(result.completionTokens)),
         "total_tokens": .number(Double(result.promptTokens + result.completionTokens))]
    }

    private func toolCallsJSON(_ calls: [ToolCall], id: String, indexed: Bool) -> [JSONValue] {
        calls.enumerated().map { index, call in
            var entry: [String: JSONValue] = [
                "id": .string("call_\(id.dropFirst("chatcmpl-".count))_\(index)"), "type": "function",
                "function": ["name": .string(call.name), "arguments": .string(call.params.compactJSON)],
            ]
            if indexed { entry["index"] = .number(Double(index)) }
            return .object(entry)
        }
    }

    // MARK: - Streaming

    /// Streams one completion as `chat.completion.chunk` events; returns the log note.
    private func stream(_ request: ChatRequest, id: String, to writer: HTTPResponseWriter) async -> String {
        let created = JSONValue.number(Double(Int(Date().timeIntervalSince1970)))
        func chunk(_ delta: JSONValue, finish: String? = nil) -> String {
            JSONValue.object([
                "id": .string(id), "object": "chat.completion.chunk", "created": created, "model": .string(modelName),
                "choices": [["index": 0, "delta": delta, "finish_reason": finish.map(JSONValue.string) ?? .null, "logprobs": .null]],
            ]).compactJSON
        }
        writer.writeEvent(data: chunk(["role": "assistant", "content": ""]))
        // Pieces go from the model's thread to this task; text that could be the start of a
        // stop string is held back until the next piece shows it is not.
        let (pieces, continuation) = AsyncStream.makeStream(of: String.self)
        let control = StopSequences(request.tools.isEmpty ? request.stop : [], tokenizer: model.generator.tokenizer)
        let streaming = request.tools.isEmpty
        let onText: (@Sendable (String) -> Void)? = streaming ? { @Sendable piece in _ = continuation.yield(piece) } : nil
        let task = Task { [self] () -> Result<Generation, APIError> in
            let result: Result<Generation, APIError>
            do throws(APIError) {
                result = .success(try await generate(request, onText: onText, cancel: control))
            } catch {
                result = .failure(error)
            }
            continuation.finish()
            return result
        }
        var pending = ""
        var sentBytes = 0
        for await piece in pieces {
            pending += piece
            let hold = control.heldBack(pending)
            let utf8 = Array(pending.utf8)
            let ready = String(decoding: utf8.prefix(utf8.count - hold), as: UTF8.self)
            guard !ready.isEmpty else { continue }
            if !writer.writeEvent(data: chunk(["content": .string(ready)])) { control.cancelled.store(true, ordering: .relaxed) }
            sentBytes += utf8.count - hold
            pending = String(decoding: utf8.suffix(hold), as: UTF8.self)
        }
        switch await task.value {
        case .failure(let error):
            writer.writeEvent(data: error.json.compactJSON)
            writer.writeEvent(data: "[DONE]")
            return "error: \(error.message)"
        case .success(let result):
            let rest = String(decoding: Array(result.text.utf8).dropFirst(sentBytes), as: UTF8.self)
            if !result.toolCalls.isEmpty {
                var delta: [String: JSONValue] = ["tool_calls": .array(toolCallsJSON(result.toolCalls, id: id, indexed: true))]
                if !result.thoughts.isEmpty { delta["reasoning_content"] = .string(result.thoughts) }
                if !rest.isEmpty { delta["content"] = .string(rest) }
                writer.writeEvent(data: chunk(.object(delta)))
            } else if !rest.isEmpty {
                writer.writeEvent(data: chunk(["content": .string(rest)]))
            }
            writer.writeEvent(data: chunk(.object([:]), finish: result.finishReason))
            if request.includeUsage {
                writer.writeEvent(data: JSONValue.object([
                    "id": .string(id), "object": "chat.completion.chunk", "created": created, "model": .string(modelName),
                    "choices": [], "usage": usage(result),
                ]).compactJSON)
            }
            writer.writeEvent(data: "[DONE]")
            return result.note + ", stream" + (writer.isConnected ? "" : ", client left")
        }
    }

    private func logLine(_ request: HTTPServerRequest, status: Int, since start: ContinuousClock.Instant, note: String) -> String {
        let elapsed = ContinuousClock.now - start
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        return String(format: "%@ %@ %@ %d %.0f ms", request.remote, request.method, request.path, status, milliseconds)
            + (note.isEmpty ? "" : " (\(note))")
    }
}

/// The model and what generates with it; used only on the worker's thread.
private final class LockedModel: @unchecked Sendable {
    let llava: LLaVAModel
    let generator: TextGenerator
    let grammar: ToolCallGrammar

    init(llava: LLaVAModel, generator: TextGenerator, grammar: ToolCallGrammar) {
        (self.llava, self.generator, self.grammar) = (llava, generator, grammar)
    }

    func generate(_ request: ChatRequest, maxTokens: Int, stops: StopSequences?,
                  onText: (@Sendable (String) -> Void)?) throws -> ChatServer.Generation {
        var messages = request.messages
        if !request.tools.isEmpty, !messages.contains(where: { $0.role == "system" }) {
            // The grammar fixes the format; the prompt tells the model what the tools are for.
            messages.insert(.init(role: "system", text: SkillsPrompt.system(tools: request.tools, format: .json), images: []), at: 0)
        }
        let images = messages.flatMap(\.images).map { llava.imageEmbeddings(llava.vision.preprocess($0)) }
        let chat = messages.map { ChatMessage(role: ChatMessage.Role(rawValue: $0.role), content: $0.text) }
        let text = generator.template.render(chat, addGenerationPrompt: true)
        let tokens = generator.tokenizer.encode(text, addSpecialTokens: true, imagePlaceholder: "<image>", imageTokenId: llava.imageToken)
        let inputs = try llava.inputs(tokens: tokens, imageEmbeddings: images)
        if request.seed != nil, let first = inputs.first {
            // A seeded request is reproducible whatever was served before it: its prompt is
            // evaluated afresh rather than after the prefix the last request left in the cache
            // (a batch and single tokens round differently, and sampling can amplify that).
            try generator.generate(inputs: [first], maxTokens: 0)
        }
        var sampling = SamplingParameters(temperature: request.temperature ?? 1, topP: request.topP ?? 1,
                                          seed: request.seed ?? UInt64.random(in: 0...UInt64.max))
        if sampling.temperature == 0 { sampling = .greedy }
        let emit = onText ?? { _ in }
        if !request.tools.isEmpty {
            let (output, statistics) = try grammar.generate(inputs: inputs, tools: request.tools, requireCall: request.requireCall, parameters: sampling,
                                                            maxTokens: maxTokens, onText: emit)
            var generation = ChatServer.Generation(text: output, toolCalls: [], finishReason: statistics.finishReason == "length" ? "length" : "stop",
                                                   promptTokens: inputs.count, completionTokens: statistics.generatedTokens)
            if case .success(let turn) = ToolCallCodec.parse(output, format: .json) {
                generation.text = turn.value
                generation.thoughts = turn.thoughts
                generation.toolCalls = turn.actions
                if !turn.actions.isEmpty { generation.finishReason = "tool_calls" }
            }
            return generation
        }
        let control = stops ?? StopSequences(request.stop, tokenizer: generator.tokenizer)
        let (output, statistics) = try generator.generate(inputs: inputs, parameters: sampling, maxTokens: maxTokens,
                                                          constraint: control, onText: emit)
        return ChatServer.Generation(text: control.textBeforeStop ?? output, toolCalls: [],
                                     finishReason: statistics.finishReason == "length" ? "length" : "stop",
                                     promptTokens: inputs.count, completionTokens: statistics.generatedTokens)
    }
}
