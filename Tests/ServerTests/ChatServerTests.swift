import Foundation
import HTTP
import LanguageModels
import LLaVA
import ModelFormats
import ModelStore
import Server
import Skills
import Synchronization
import Testing
import Tokenizers
@testable import Agent

/// The OpenAI-compatible server end to end: the real embedded default model served on a
/// loopback port, talked to over real HTTP (raw requests through our client), and the agent
/// loop driven through it by ``OpenAIBackend`` with the project's real skills. No mocks.
@Suite(.serialized) struct ChatServerTests {
    static let checkout = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// One server for the suite (loading the model takes a while).
    final class Fixture: Sendable {
        let chat: ChatServer
        let server: HTTPServer
        let client = HTTPClient()
        let log = LogLines()

        init() throws {
            let store = try ModelStore.locate(searchFrom: [ChatServerTests.checkout])
            let gguf = try store.url(of: "smollm2-135m-instruct")
            let llava = try LLaVAModel.tiny(languageModel: gguf, visionWeights: try store.url(of: "efficientnet-lite0"), threads: 2)
            let file = try GGUFFile(url: gguf)
            let generator = TextGenerator(model: llava.language, tokenizer: try makeTokenizer(gguf: file),
                                          template: ChatTemplate(gguf: file) ?? .chatML, contextLength: 2048)
            let log = self.log
            chat = ChatServer(llava: llava, generator: generator, modelName: "llava-plus-tiny", defaultMaxTokens: 48) { log.append($0) }
            server = try chat.listen(host: "127.0.0.1", port: 0)
        }

        var baseURL: String { "\(server.url)/v1" }

        func send(_ method: String, _ target: String, body: String? = nil, headers: [(String, String)] = [("Content-Type", "application/json")]) async throws -> HTTPResponse {
            let endpoint = HTTPEndpoint(host: "127.0.0.1", port: server.port, target: target)
            let request = HTTPRequest(method: method, endpoint: endpoint, headers: body == nil ? [] : headers, body: Array((body ?? "").utf8))
            return try await client.send(request, limits: HTTPLimits(connectTimeout: .seconds(5), deadline: .now + .seconds(240), maxBodyBytes: 8 << 20))
        }

        func json(_ method: String, _ target: String, body: JSONValue? = nil) async throws -> (Int, JSONValue) {
            let response = try await send(method, target, body: body?.compactJSON)
            return (response.status, try JSONValue(parsing: response.body))
        }
    }

    final class LogLines: Sendable {
        private let lines = Mutex<[String]>([])
        func append(_ line: String) { lines.withLock { $0.append(line) } }
        var all: [String] { lines.withLock { $0 } }
    }

    static let shared = Result { try Fixture() }

    static func dataURL(_ name: String) throws -> String {
        let url = try ModelStore.locate(searchFrom: [checkout]).url(of: "skimage-data").appendingPathComponent(name)
        return "data:image/png;base64," + (try Data(contentsOf: url)).base64EncodedString()
    }

    /// The project's real `echo` and `ocr` skills, from `manifests/`.
    static func registry() -> SkillRegistry {
        let all = SkillRegistry.discover(in: [checkout.appendingPathComponent("manifests")], loader: ManifestLoader(),
                                         displayPath: { $0.lastPathComponent })
        return SkillRegistry(manifests: all.manifests.filter { ["echo", "ocr"].contains($0.name) })
    }

    static func openAITools(_ tools: [ToolSpec]) -> JSONValue {
        .array(tools.map { ["type": "function", "function": ["name": .string($0.name), "description": .string($0.description), "parameters": $0.parameters]] })
    }

    // MARK: - Raw HTTP

    @Test func listsTheModel() async throws {
        let fixture = try Self.shared.get()
        let (status, body) = try await fixture.json("GET", "/v1/models")
        #expect(status == 200)
        #expect(body["object"] == "list")
        #expect(body["data"]?.arrayValue?.map { $0["id"] } == ["llava-plus-tiny"])
        let (one, entry) = try await fixture.json("GET", "/v1/models/llava-plus-tiny")
        #expect(one == 200 && entry["object"] == "model")
    }

    @Test func answersAPlainCompletionWithAnImage() async throws {
        let fixture = try Self.shared.get()
        let request: JSONValue = [
            "model": "llava-plus-tiny", "max_tokens": 12, "temperature": 0,
            "messages": [
                ["role": "system", "content": "You are a helpful assistant."],
                ["role": "user", "content": [["type": "image_url", "image_url": ["url": .string(try Self.dataURL("chelsea.png"))]],
                                             ["type": "text", "text": "What is the capital of France?"]]],
            ],
        ]
        let (status, body) = try await fixture.json("POST", "/v1/chat/completions", body: request)
        #expect(status == 200, "\(body)")
        #expect(body["object"] == "chat.completion")
        let choice = body["choices"]?.arrayValue?.first
        let content = choice?["message"]?["content"]?.stringValue ?? ""
        #expect(!content.isEmpty)
        #expect(["stop", "length"].contains(choice?["finish_reason"]?.stringValue ?? ""))
        // The image's 49 visual tokens are part of the prompt.
        #expect((body["usage"]?["prompt_tokens"]?.numberValue ?? 0) > 49)
        #expect((body["usage"]?["completion_tokens"]?.numberValue ?? 0) >= 1)
        print("plain completion: \(content)")
    }

    /// Streamed chunks, concatenated, are the non-streamed text of the same request and seed,
    /// also when a stop string cuts the text (held-back text must not leak into the stream).
    @Test(arguments: [[], ["."]]) func aStreamConcatenatesToTheSameText(stop: [String]) async throws {
        let fixture = try Self.shared.get()
        var request: [String: JSONValue] = [
            "max_tokens": 24, "temperature": 0.9, "seed": 1234, "stop": .array(stop.map(JSONValue.string)),
            "messages": [["role": "user", "content": "Tell me a short story about a cat. Use several sentences."]],
        ]
        let (status, whole) = try await fixture.json("POST", "/v1/chat/completions", body: .object(request))
        #expect(status == 200, "\(whole)")
        let expected = whole["choices"]?[0]?["message"]?["content"]?.stringValue ?? "<none>"

        request["stream"] = true
        request["stream_options"] = ["include_usage": true]
        let response = try await fixture.send("POST", "/v1/chat/completions", body: JSONValue.object(request).compactJSON)
        #expect(response.status == 200)
        #expect(response.mediaType == "text/event-stream")
        let events = String(decoding: response.body, as: UTF8.self).components(separatedBy: "\n\n").filter { !$0.isEmpty }
        #expect(events.allSatisfy { $0.hasPrefix("data: ") })
        #expect(events.last == "data: [DONE]")
        let chunks = try events.dropLast().map { try JSONValue(parsing: String($0.dropFirst("data: ".count))) }
        #expect(chunks.allSatisfy { $0["object"] == "chat.completion.chunk" })
        let streamed = chunks.compactMap { $0["choices"]?[0]?["delta"]?["content"]?.stringValue }.joined()
        #expect(streamed == expected)
        if !stop.isEmpty { #expect(!streamed.contains(stop[0])) }
        let finish = chunks.compactMap { $0["choices"]?[0]?["finish_reason"]?.stringValue }
        #expect(finish == [whole["choices"]?[0]?["finish_reason"]?.stringValue ?? "?"])
        #expect(chunks.last?["usage"]?["completion_tokens"] != nil)
        print("streamed (stop \(stop)): \(streamed)")
    }

    /// With tools, the turn is generated under their schemas' grammar: calls come back as
    /// `tool_calls` whose arguments validate against the tool's schema.
    @Test func toolCallsValidateAgainstTheSchema() async throws {
        let fixture = try Self.shared.get()
        let tools = Self.registry().manifests.map(ToolSpec.init)
        #expect(Set(tools.map(\.name)) == ["echo", "ocr"])
        for choice: JSONValue in ["required", ["type": "function", "function": ["name": "echo"]]] {
            let request: JSONValue = [
                "max_tokens": 96, "temperature": 0, "tools": Self.openAITools(tools), "tool_choice": choice,
                "messages": [["role": "user", "content": [["type": "image_url", "image_url": ["url": .string(try Self.dataURL("page.png"))]],
                                                          ["type": "text", "text": "Use the echo skill to repeat the word cat."]]]],
            ]
            let (status, body) = try await fixture.json("POST", "/v1/chat/completions", body: request)
            #expect(status == 200, "\(body)")
            let choice0 = body["choices"]?[0]
            #expect(choice0?["finish_reason"] == "tool_calls", "\(body)")
            let calls = choice0?["message"]?["tool_calls"]?.arrayValue ?? []
            #expect(!calls.isEmpty)
            for call in calls {
                #expect(call["type"] == "function")
                #expect(call["id"]?.stringValue?.hasPrefix("call_") == true)
                let name = call["function"]?["name"]?.stringValue ?? ""
                let tool = try #require(tools.first { $0.name == name }, "unknown tool \(name)")
                let arguments = try JSONValue(parsing: call["function"]?["arguments"]?.stringValue ?? "")
                let result = JSONSchemaValidator(schema: tool.parameters).validate(arguments)
                #expect(result.isValid, "\(name) \(arguments): \(result.violations)")
                if choice.objectValue != nil { #expect(name == "echo") }
            }
            print("tool_choice \(choice.compactJSON): \(calls.map { $0.compactJSON })")
        }
    }

    @Test func badRequestsGetOpenAIStyleErrors() async throws {
        let fixture = try Self.shared.get()
        func error(_ body: String, target: String = "/v1/chat/completions", method: String = "POST") async throws -> (Int, String, String) {
            let response = try await fixture.send(method, target, body: body)
            let value = try JSONValue(parsing: response.body)
            return (response.status, value["error"]?["message"]?.stringValue ?? "", value["error"]?["type"]?.stringValue ?? "")
        }
        // Malformed JSON: the parser's byte offset.
        var (status, message, type) = try await error(#"{"messages": [{"role": "user", "content": "hi"}"#)
        #expect(status == 400 && type == "invalid_request_error")
        #expect(message.contains("not valid JSON") && message.contains("byte 47"), "\(message)")
        // Known fields with the wrong type: the field is named.
        (status, message, _) = try await error(#"{"messages": [{"role": "user", "content": "hi"}], "max_tokens": "ten"}"#)
        #expect(status == 400 && message.hasPrefix("max_tokens: expected an integer, found string"), "\(message)")
        (status, message, _) = try await error(#"{"messages": [{"role": "user", "content": 7}]}"#)
        #expect(status == 400 && message.hasPrefix("messages[0].content: expected a string or a list of content parts"), "\(message)")
        (status, message, _) = try await error(#"{"messages": [{"role": "user", "content": "hi"}], "stream": "yes"}"#)
        #expect(status == 400 && message.hasPrefix("stream: expected true or false"), "\(message)")
        (status, message, _) = try await error(#"{"messages": [{"role": "user", "content": "hi"}], "temperature": 5}"#)
        #expect(status == 400 && message.hasPrefix("temperature: 5 is outside 0..2"), "\(message)")
        (status, message, _) = try await error(#"{"messages": "hi"}"#)
        #expect(status == 400 && message.hasPrefix("messages: expected a list"), "\(message)")
        // An http image URL is refused with what to send instead.
        (status, message, _) = try await error(#"{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://example.com/cat.png"}}]}]}"#)
        #expect(status == 400 && message.hasPrefix("messages[0].content[0].image_url: image URLs are not fetched") && message.contains("data:"), "\(message)")
        (status, message, _) = try await error(#"{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}]}"#)
        #expect(status == 400 && message.contains("not a readable PNG image"), "\(message)")
        (status, message, _) = try await error(#"{"messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "function", "function": {"name": "bad name"}}]}"#)
        #expect(status == 400 && message.hasPrefix("tools[0].function.name"), "\(message)")
        // Another model, a wrong route, a wrong method.
        (status, message, type) = try await error(#"{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}"#)
        #expect(status == 404 && type == "not_found_error" && message.contains("llava-plus-tiny"), "\(message)")
        (status, _, _) = try await error("{}", target: "/v1/completions")
        #expect(status == 404)
        (status, _, _) = try await error("{}", target: "/v1/models", method: "POST")
        #expect(status == 405)
        // A chunked body is refused (411) and the connection closed; the server keeps serving.
        let chunked = try await fixture.send("POST", "/v1/chat/completions", body: "{}",
                                             headers: [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")])
        #expect(chunked.status == 411)
        // The HTTP layer's own refusals come in the API's error format too.
        #expect((try? JSONValue(parsing: chunked.body))?["error"]?["type"] == "invalid_request_error")
        #expect(try await fixture.json("GET", "/v1/models").0 == 200)
        #expect(fixture.log.all.contains { $0.contains("POST /v1/chat/completions 400") })
    }

    @Test func refusesOversizedBodiesAndHeads() async throws {
        var limits = HTTPServer.Limits()
        limits.maxBodyBytes = 1000
        limits.maxHeadBytes = 2000
        let server = try HTTPServer(host: "127.0.0.1", port: 0, limits: limits) { request in
            .json(200, "{\"bytes\": \(request.body.count)}")
        }
        let client = HTTPClient()
        func post(_ size: Int, header: Int = 0, extra: [(String, String)] = []) async throws -> HTTPResponse {
            let endpoint = HTTPEndpoint(host: "127.0.0.1", port: server.port, target: "/")
            return try await client.send(HTTPRequest(method: "POST", endpoint: endpoint, headers: [("X-Pad", String(repeating: "a", count: header))] + extra,
                                                     body: [UInt8](repeating: 65, count: size)),
                                         limits: HTTPLimits(connectTimeout: .seconds(5), deadline: .now + .seconds(20), maxBodyBytes: 1 << 20))
        }
        #expect(try await post(1000).status == 200)
        let tooLarge = try await post(1001)
        #expect(tooLarge.status == 413)
        // A server without its own refusal format answers in plain text.
        #expect(String(decoding: tooLarge.body, as: UTF8.self).hasPrefix("the request body (1001 bytes) is larger than"))
        #expect(try await post(10, header: 3000).status == 431)
        // `Expect: 100-continue` gets its interim answer (which the client skips) or none if
        // the body came with the head; either way the final answer follows.
        #expect(try await post(500, extra: [("Expect", "100-continue")]).status == 200)
        // Keep-alive: several requests reuse the connection and all answer.
        for size in [1, 2, 3] { #expect(String(decoding: try await post(size).body, as: UTF8.self) == "{\"bytes\": \(size)}") }
        await server.shutdown()
        await #expect(throws: HTTPFailure.self) { _ = try await post(1) }
    }

    // MARK: - The agent through the server

    /// The agent loop with ``OpenAIBackend`` (native tools) against our server, running the
    /// real echo and ocr skills: the transcript has a call that passed validation and ran, and
    /// a final answer.
    @Test func theAgentRunsThroughTheServer() async throws {
        let fixture = try Self.shared.get()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("server-agent-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try ArtifactStore(directory: folder.appendingPathComponent("artifacts"))
        let runner = SkillRunner(registry: Self.registry(), artifacts: store, log: try CallLog(directory: folder.appendingPathComponent("run")))
        let page = try store.add(contentsOf: try ModelStore.locate(searchFrom: [Self.checkout]).url(of: "skimage-data").appendingPathComponent("page.png"))
        let backend = try OpenAIBackend(baseURL: fixture.baseURL, model: "llava-plus-tiny", useNativeTools: true, maxTokens: 256, temperature: 0)
        let loop = AgentLoop(backend: backend, runner: runner, maxSteps: 3)
        let transcript = await loop.run(question: "Repeat the word cat with echo.", images: [page])
        await runner.shutdown()
        print(transcript.markdown)

        #expect(transcript.backend == "\(fixture.baseURL) llava-plus-tiny")
        #expect(transcript.steps.allSatisfy { $0.malformed == nil && $0.turn != nil })
        let calls = transcript.steps.flatMap(\.calls)
        #expect(calls.contains { $0.outcome == "ok" && ["echo", "ocr"].contains($0.skill) }, "no validated call: \(calls.map { "\($0.skill) \($0.outcome)" })")
        #expect(!transcript.answer.isEmpty)
        #expect([.answered, .repeatedCalls, .stepLimit].contains(transcript.stopReason), "\(transcript.stopReason.text)")
        #expect(transcript.steps.allSatisfy { $0.promptTokens > 0 && $0.generatedTokens > 0 })
    }

    @Test func theBackendNamesTheURLWhenNothingListens() async throws {
        let backend = try OpenAIBackend(baseURL: "http://127.0.0.1:9/v1", model: "m")
        await #expect {
            _ = try await backend.complete([AgentMessage(.user, "hi")], tools: [])
        } throws: { error in
            "\(error)".contains("http://127.0.0.1:9/v1/chat/completions") && "\(error)".contains("refused")
        }
        #expect(throws: OpenAIBackendError.self) { try OpenAIBackend(baseURL: "https://api.openai.com/v1", model: "m") }
        #expect(throws: OpenAIBackendError.self) { try OpenAIBackend(baseURL: "http://x/v1", model: "m", apiKeyVariable: "LLAVA_PLUS_NO_SUCH_KEY", environment: [:]) }
        let keyed = try OpenAIBackend(baseURL: "http://x/v1", model: "m", apiKeyVariable: "K", environment: ["K": "sk-secret"])
        #expect(!"\(keyed)".contains("sk-secret"))
        var dumped = ""
        dump(keyed, to: &dumped)
        #expect(!dumped.contains("sk-secret"))
    }
}

extension JSONValue {
    /// The element at `index` of an array (nil for anything else).
    subscript(index: Int) -> JSONValue? {
        guard let items = arrayValue, items.indices.contains(index) else { return nil }
        return items[index]
    }
}
