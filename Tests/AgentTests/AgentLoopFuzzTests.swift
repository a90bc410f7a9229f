import Foundation
import Skills
import Synchronization
import Tensors
import Testing
@testable import Agent

/// Adversarial model output through the whole loop: 10,000 mutated turns (the codec fuzz's
/// generator) with real skills behind the runner. The model is replaced by a scripted backend:
/// no real model can be made to write these strings on demand, and the loop, codec, registry
/// and runner are what is under test here.
@Suite struct AgentLoopFuzzTests {
    /// Plays back outputs: the mutated turn, then a final answer.
    final class ScriptedBackend: AgentBackend, Sendable {
        let name = "scripted"
        let format: ToolCallFormat
        private let outputs = Mutex<[String]>([])

        init(format: ToolCallFormat) { self.format = format }

        func queue(_ texts: [String]) { outputs.withLock { $0 = texts } }

        func complete(_ messages: [AgentMessage], tools: [ToolSpec]) async throws -> BackendReply {
            BackendReply(text: outputs.withLock { $0.isEmpty ? "" : $0.removeFirst() })
        }
    }

    @Test func tenThousandAdversarialTurnsThroughTheLoop() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("loopfuzz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let canary = folder.appendingPathComponent("pwned").path
        let serve = AgentLoopTests.checkout.appendingPathComponent("skills/echo/serve.py").path
        try """
            name: echo
            version: 1.0.0
            aliases: [grounding_dino, sam]
            description: Returns its text.
            input_schema: {type: object, properties: {text: {type: string}, times: {type: integer, default: 1}}, required: [text]}
            transport: {kind: subprocess, command: [python3, \(serve)], persistent: true}
            limits: {timeout_s: 30, concurrency: 2}
            """.write(to: folder.appendingPathComponent("echo.yaml"), atomically: true, encoding: .utf8)
        let registry = SkillRegistry.discover(in: [folder])
        #expect(registry.problems.isEmpty)
        let runner = SkillRunner(registry: registry, artifacts: try ArtifactStore(directory: folder.appendingPathComponent("artifacts")))
        let allowed = Set(SkillError.Kind.allCases.map(\.rawValue) + ["ok"])
        let injections = ["$(touch \(canary))", "`touch \(canary)`", "; touch \(canary)", "__import__('os').system('touch \(canary)')"]
        var random = SplitMix64(seed: 0xF00D)
        var malformed = 0, calls = 0
        for number in 0..<10_000 {
            let format = number % 2 == 0 ? ToolCallFormat.llavaPlus : .json
            var text = CodecFuzzTests.mutated(number: number, format: format, using: &random)
            if number % 7 == 0 { text = text.replacingOccurrences(of: "the frisbee", with: injections[number % injections.count]) }
            let backend = ScriptedBackend(format: format)
            backend.queue([text, ToolCallCodec.render(AssistantTurn(value: "done"), format: format)])
            let transcript = await AgentLoop(backend: backend, runner: runner, maxSteps: 2).run(question: "q", images: [])
            let first = try #require(transcript.steps.first, "case \(number)")
            if let error = first.malformed {
                malformed += 1
                // The error goes back to the model as its next input.
                #expect(transcript.steps.count == 2 && transcript.steps[1].newMessages.last?.text.contains(error.description) == true,
                        "case \(number)")
            }
            for call in first.calls {
                calls += 1
                #expect(allowed.contains(call.outcome), "case \(number): \(call.outcome)")
                #expect(call.output.objectValue != nil, "case \(number)")
            }
        }
        await runner.shutdown()
        print("loop fuzz: 10000 adversarial turns, \(malformed) malformed (returned to the model), \(calls) skill calls")
        #expect(malformed > 1000 && calls > 100)
        #expect(!FileManager.default.fileExists(atPath: canary), "model output reached a shell or an evaluator")
    }
}
