import Foundation
import LanguageModels
import LLaVA
import ModelFormats
import ModelStore
import Skills
import Testing
import Tokenizers
@testable import Agent

/// The agent loop end to end: the real embedded default model (SmolLM2 + EfficientNet-Lite0 +
/// the untrained projector) writing grammar-constrained turns, and real skills run by the
/// runner as subprocesses. The model is not trained for tools yet, so the tests assert what
/// must hold for any model: every turn parses, every call is validated and recorded, the loop
/// ends within its limits, and the transcript tells the whole story.
@Suite(.serialized) struct AgentLoopTests {
    static let checkout = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func backend(maxTokens: Int = 256) throws -> LocalBackend {
        let store = try ModelStore.locate(searchFrom: [checkout])
        let gguf = try store.url(of: "smollm2-135m-instruct")
        let llava = try LLaVAModel.tiny(languageModel: gguf, visionWeights: try store.url(of: "efficientnet-lite0"), threads: 2)
        let file = try GGUFFile(url: gguf)
        let generator = TextGenerator(model: llava.language, tokenizer: try makeTokenizer(gguf: file),
                                      template: ChatTemplate(gguf: file) ?? .chatML, contextLength: 2048)
        return LocalBackend(name: "llava-plus-tiny", llava: llava, generator: generator, format: .json, maxTokens: maxTokens)
    }

    static func photo(_ name: String) throws -> URL {
        try ModelStore.locate(searchFrom: [checkout]).url(of: "skimage-data").appendingPathComponent(name)
    }

    /// A registry with the project's echo skill and a skill whose parameter pattern the grammar
    /// cannot enforce, so that the runner's validation is what catches a bad call.
    static func registry(in folder: URL) throws -> SkillRegistry {
        let echo = checkout.appendingPathComponent("skills/echo/main.sh").path
        try """
            name: label
            version: 1.0.0
            description: Echoes a lowercase label.
            input_schema: {type: object, properties: {label: {type: string, pattern: "^[a-z]+$", maxLength: 12}}, required: [label]}
            transport: {kind: subprocess, command: [\(echo)]}
            limits: {timeout_s: 5}
            """.write(to: folder.appendingPathComponent("label.yaml"), atomically: true, encoding: .utf8)
        try """
            name: echo
            version: 1.0.0
            description: Returns its parameters unchanged.
            input_schema: {type: object, properties: {text: {type: string, minLength: 1, maxLength: 40}}, required: [text], additionalProperties: false}
            transport: {kind: subprocess, command: [\(echo)]}
            limits: {timeout_s: 5}
            """.write(to: folder.appendingPathComponent("echo.yaml"), atomically: true, encoding: .utf8)
        let registry = SkillRegistry.discover(in: [folder], loader: ManifestLoader(), displayPath: { $0.lastPathComponent })
        #expect(registry.problems.isEmpty, "\(registry.problems)")
        return registry
    }

    @Test func everyTurnParsesAndEveryCallIsRecorded() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("agent-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try ArtifactStore(directory: folder.appendingPathComponent("artifacts"))
        let log = try CallLog(directory: folder.appendingPathComponent("run"))
        let runner = SkillRunner(registry: try Self.registry(in: folder), artifacts: store, log: log)
        let cat = try store.add(contentsOf: try Self.photo("chelsea.png"))
        let loop = AgentLoop(backend: try Self.backend(), runner: runner, maxSteps: 3)

        let transcript = await loop.run(question: "Use the echo skill to repeat the word cat, then answer.", images: [cat])
        await runner.shutdown()

        #expect(!transcript.steps.isEmpty && transcript.steps.count <= 3)
        // Grammar-constrained: no unreadable turn, every action names a registered skill.
        #expect(transcript.steps.allSatisfy { $0.malformed == nil && $0.turn != nil })
        let names = Set(runner.registry.callableNames)
        #expect(transcript.steps.flatMap { $0.turn?.actions ?? [] }.allSatisfy { names.contains($0.name) })
        // Every distinct call the model made was run (or rejected) by the runner and recorded,
        // except a final repeat of the previous step's calls, which ends the run instead.
        let ran = transcript.stopReason == .repeatedCalls ? transcript.steps.dropLast() : transcript.steps[...]
        let made = ran.reduce(0) { total, step in
            total + (step.turn?.actions ?? []).reduce(into: [ToolCall]()) { if !$0.contains($1) { $0.append($1) } }.count
        }
        #expect(transcript.steps.reduce(0) { $0 + $1.calls.count } == made)
        #expect(log.calls.count == made)
        // A step that called skills puts their outputs in the next user turn.
        for (index, step) in transcript.steps.enumerated() where !step.calls.isEmpty && index + 1 < transcript.steps.count {
            let next = transcript.steps[index + 1].newMessages.last { $0.role == .user }
            #expect(next?.text.contains("\(step.calls[0].skill) output: ") == true)
        }
        switch transcript.stopReason {
        case .answered: #expect(transcript.steps.last?.turn?.actions.isEmpty == true)
        case .stepLimit: #expect(transcript.steps.count == 3)
        case .repeatedCalls:
            let last = transcript.steps.suffix(2).map { Set(($0.turn?.actions ?? []).map { "\($0.name) \($0.params.compactJSON)" }) }
            #expect(last.count == 2 && last[0] == last[1])
        default: Issue.record("unexpected stop: \(transcript.stopReason.text)")
        }
        #expect(transcript.steps.allSatisfy { $0.generatedTokens > 0 && $0.modelSeconds > 0 })
        let json = transcript.json
        #expect(json["question"] == "Use the echo skill to repeat the word cat, then answer.")
        #expect(json["steps"]?.arrayValue?.count == transcript.steps.count)
        #expect(transcript.html.contains("data:image/png;base64,"))
        print(transcript.markdown)
    }

    /// A turn that runs out of tokens mid-JSON is continued with a bias toward closing quotes
    /// and brackets, so it still parses as a turn.
    @Test func aTurnOutOfTokensStillCloses() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("agent-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let tools = try Self.registry(in: folder).manifests.map(ToolSpec.init)
        let backend = try Self.backend(maxTokens: 12)
        let reply = try await backend.complete([AgentMessage(.system, SkillsPrompt.system(tools: tools, format: .json)),
                                                AgentMessage(.user, "Describe a sunset over the sea in great detail.")], tools: tools)
        #expect(reply.generatedTokens > 12)
        #expect(try ToolCallCodec.parse(reply.text, format: .json).get().actions.allSatisfy { ["echo", "label"].contains($0.name) })
        #expect((try? JSONValue(parsing: reply.text)) != nil, "not strict JSON: \(reply.text)")
    }

    @Test func validationErrorsGoBackToTheModel() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("agent-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let runner = SkillRunner(registry: try Self.registry(in: folder), artifacts: try ArtifactStore(directory: folder.appendingPathComponent("a")))
        let loop = AgentLoop(backend: try Self.backend(), runner: runner, maxSteps: 2)
        // Whatever the model writes, the runner decides validity; an invalid call's error is the
        // result the model sees next.
        let transcript = await loop.run(question: "Call the label skill with the label 'Big Cat 42!'.", images: [])
        await runner.shutdown()
        for (index, step) in transcript.steps.enumerated() {
            for call in step.calls where call.outcome == "invalid_params" {
                #expect(call.output["error"] == "invalid_params")
                if index + 1 < transcript.steps.count {
                    #expect(transcript.steps[index + 1].newMessages.last?.text.contains("\"error\": \"invalid_params\"") == true)
                }
            }
        }
        #expect(transcript.steps.allSatisfy { $0.malformed == nil })
    }
}

extension AgentLoopTests {
    /// The project's built-in skills, as `ask` loads them.
    static func builtinSkills(_ names: [String]) -> SkillRegistry {
        let all = SkillRegistry.discover(in: [checkout.appendingPathComponent("manifests")])
        return SkillRegistry(manifests: names.compactMap { all.manifest(named: $0) })
    }

    /// End to end with real parts: the embedded default model, the real `detect` skill (the
    /// Swift worker) on the cat photo, and a follow-up question in the same conversation. With
    /// one skill offered, every call the grammar lets the model write is a detect call, so the
    /// test can hold the whole path to account: the worker ran it, boxes (if any) came back in
    /// LLaVA-Plus's format and were drawn on the annotated image, and the follow-up saw the
    /// first run's turns and image.
    @Test func detectionOnTheCatPhotoThenAFollowUp() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("agent-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let registry = Self.builtinSkills(["detect"])
        #expect(registry.callableNames.contains("detect"))
        let store = try ArtifactStore(directory: folder.appendingPathComponent("artifacts"))
        let runner = SkillRunner(registry: registry, artifacts: store, log: try CallLog(directory: folder))
        let cat = try store.add(contentsOf: try Self.photo("chelsea.png"))
        let loop = AgentLoop(backend: try Self.backend(), runner: runner, maxSteps: 2)

        let first = await loop.run(question: "Use detect to find the cat.", images: [cat])
        let calls = first.steps.flatMap(\.calls)
        for call in calls {
            #expect(call.skill == "detect")
            #expect(call.outcome == "ok" || call.outcome == "invalid_params", "\(call.outcome): \(call.output.compactJSON)")
            if call.outcome == "ok" {
                let boxes = call.output["boxes"]?.arrayValue ?? []
                #expect(boxes.count == call.output["phrases"]?.arrayValue?.count)
                #expect(boxes.allSatisfy { $0.arrayValue?.count == 4 && $0.arrayValue!.allSatisfy { (0...1).contains($0.numberValue ?? -1) } })
            }
        }
        let boxed = calls.contains { !($0.output["boxes"]?.arrayValue ?? []).isEmpty }
        let annotated = try first.annotatedImage()
        #expect((annotated != nil) == boxed)
        print("first run: \(first.steps.count) steps, \(calls.count) calls (\(calls.map(\.outcome))), boxes: \(boxed), answer: \(first.answer)")

        // The follow-up continues the conversation: the first run's turns and its image stay.
        #expect(first.latestImage?.id == cat.id)
        #expect(first.conversation.first?.images.map(\.id) == [cat.id])
        let second = await loop.run(question: "How many cats did you find?", images: [], after: first)
        await runner.shutdown()
        let shown = try #require(second.steps.first?.newMessages)
        #expect(shown.count == 1 + first.conversation.count + 1)  // system, the first run, the new question
        #expect(shown.last?.text == "How many cats did you find?")
        for call in second.steps.flatMap(\.calls) where call.outcome == "ok" {
            #expect(call.params["image"]?.stringValue == cat.id, "a call without an image reads the conversation's latest")
        }
    }
}

/// Closing a turn that ran out of tokens: an open string must close before brackets count
/// (inside a string a bracket is just a character: the routing set's one invalid turn wrote
/// `"caption": "]]]]...` until the closing budget ran out).
@Suite struct ClosingConstraintTests {
    /// Allows the tokens in `allowed`, like a grammar inside a string or between values.
    final class Allowing: TokenConstraint {
        let allowed: Set<Int>
        init(_ allowed: Set<Int>) { self.allowed = allowed }
        func mask(_ logits: inout [Float]) { for i in logits.indices where !allowed.contains(i) { logits[i] = -.infinity } }
        func accept(_ token: Int) -> Bool { allowed.contains(token) }
        var isComplete: Bool { false }
    }

    @Test func quotesWinOverBracketsAndBracketsOverText() {
        let closers = ClosingConstraint.Closers(quotes: [1], brackets: [2])
        func winner(allowed: Set<Int>, logits: [Float]) -> Int {
            var values = logits
            ClosingConstraint(Allowing(allowed), closers: closers).mask(&values)
            return values.indices.max { values[$0] < values[$1] }!
        }
        // Token 0 is text, 1 a quote, 2 a bracket; the model prefers text, then the bracket.
        #expect(winner(allowed: [0, 1, 2], logits: [30, 1, 20]) == 1)
        #expect(winner(allowed: [0, 2], logits: [30, 1, 20]) == 2)
        #expect(winner(allowed: [0], logits: [30, 1, 20]) == 0, "the grammar still decides what is allowed")
    }
}

/// The routing set in `data/` must stay usable: every line parses and names an installed image
/// and a known label.
@Suite struct RoutingSetTests {
    @Test func everyCaseNamesAnInstalledImageAndAKnownSkill() throws {
        let store = try ModelStore.locate(searchFrom: [AgentLoopTests.checkout])
        let cases = try RoutingEvaluation.load(AgentLoopTests.checkout.appendingPathComponent("data/routing.jsonl"), imageRoot: store.root)
        #expect(cases.count >= 150)
        #expect(Set(cases.map(\.id)).count == cases.count)
        for item in cases {
            #expect(FileManager.default.fileExists(atPath: item.image.path), "\(item.id): \(item.image.path)")
            #expect([nil, "detect", "segment", "ocr", "tag", "retrieve", "edit"].contains(item.skill), "\(item.id)")
        }
    }
}
