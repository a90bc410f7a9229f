import Foundation
import ModelStore
import Testing
@testable import LanguageModels

/// The real SmolLM2-135M-Instruct Q4_1 GGUF against llama.cpp (through llama-cpp-python,
/// scripts/fixtures/make_llama_reference.py): logits at every position of a chat prompt, and
/// 64-token greedy continuations of five prompts.
///
/// Bit-for-bit agreement is not a meaningful target for this model: ggml rounds every
/// activation vector to 8 bits per block before each quantised product, and a single value
/// landing on the other side of a rounding boundary moves the final logits by 0.1-0.3. llama.cpp
/// itself disagrees with itself by up to 0.48 between its batched and token-by-token paths on
/// this prompt, and that flips the first greedy token of prompt 4. The tests therefore bound the
/// logit differences, and require greedy decoding to agree until the first step where
/// llama.cpp's own best and second-best candidates are nearly tied.
@Suite(.serialized) struct SmolLM2ReferenceTests {
    private struct Reference: Decodable {
        struct Position: Decodable {
            let top_ids: [Int]
            let top_logits: [Float]
            let sampled_logits: [Float]
        }
        struct Case: Decodable {
            let prompt: String
            let tokens: [Int]
            let positions: [Position]?
            let greedy: [Int]
            let greedy_margins: [Float]
            let greedy_text: String
        }
        let sampled_ids: [Int]
        let cases: [Case]
    }

    private static let checkout = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    private static let reference = Result {
        try JSONDecoder().decode(Reference.self, from: Data(contentsOf: Bundle.module.url(
            forResource: "Fixtures/smollm2_llamacpp", withExtension: "json")!))
    }

    static let model = Result {
        try Llama(gguf: try ModelStore.locate(searchFrom: [checkout]).url(of: "smollm2-135m-instruct"), threads: 2)
    }

    @Test func configurationComesFromTheMetadata() throws {
        let c = try Self.model.get().configuration
        #expect(c == LlamaConfiguration(vocabularySize: 49_152, hiddenSize: 576, intermediateSize: 1536, layerCount: 30,
                                        headCount: 9, keyValueHeadCount: 3, headDimension: 64, ropeTheta: 100_000,
                                        ropeStyle: .interleaved, rmsNormEpsilon: 1e-5, contextLength: 8192))
    }

    /// Bound: about twice the 0.48 by which llama.cpp's batched and token-by-token paths differ
    /// on this prompt. Where the top candidate leads by more than that, it must be ours too.
    @Test func logitsAtEveryPromptPositionMatchLlamaCpp() throws {
        let reference = try Self.reference.get()
        let first = reference.cases[0]
        let positions = try #require(first.positions)
        let session = LlamaSession(model: try Self.model.get(), capacity: 256)
        var worst: Float = 0
        _ = try session.evaluateAll(first.tokens) { p, logits in
            let expected = positions[p]
            for (id, value) in zip(expected.top_ids, expected.top_logits) { worst = max(worst, abs(logits[id] - value)) }
            for (id, value) in zip(reference.sampled_ids, expected.sampled_logits) { worst = max(worst, abs(logits[id] - value)) }
            if expected.top_logits[0] - expected.top_logits[1] > 0.5 {
                #expect(argmax(logits) == expected.top_ids[0], "position \(p)")
            }
        }
        #expect(worst <= 1.0, "largest logit difference \(worst)")
    }

    /// Same tokens as llama.cpp until a step where llama.cpp's own top two logits are within
    /// 0.5 of each other: diverging at a step where llama.cpp was sure would be a real difference.
    @Test(arguments: 0..<5)
    func greedyContinuationFollowsLlamaCppUntilANearTie(index: Int) throws {
        let reference = try Self.reference.get().cases[index]
        let session = LlamaSession(model: try Self.model.get(), capacity: 256)
        var logits = try session.evaluate(reference.tokens)
        var generated: [Int] = []
        for _ in 0..<reference.greedy.count {
            let token = argmax(logits)
            generated.append(token)
            logits = try session.evaluate([token])
        }
        let agreed = zip(generated, reference.greedy).prefix { $0 == $1 }.count
        if agreed < reference.greedy.count {
            #expect(reference.greedy_margins[agreed] < 0.5,
                    "prompt \(index): diverged at step \(agreed), where llama.cpp led by \(reference.greedy_margins[agreed])")
        }
    }

    /// Every step of llama.cpp's greedy continuations, teacher-forced: after llama.cpp's own
    /// tokens so far, our best token must be llama.cpp's wherever llama.cpp led by more than the
    /// spread of its own two paths (0.5, as above). Unlike free-running decoding, one near tie
    /// does not end the comparison, so all 320 steps are checked.
    @Test func everyTeacherForcedStepAgreesWhereLlamaCppIsSure() throws {
        var checked = 0, agreed = 0
        for reference in try Self.reference.get().cases {
            let session = LlamaSession(model: try Self.model.get(), capacity: 256)
            var logits = try session.evaluate(reference.tokens)
            for (step, token) in reference.greedy.enumerated() {
                if argmax(logits) == token { agreed += 1 }
                if reference.greedy_margins[step] > 0.5 {
                    checked += 1
                    #expect(argmax(logits) == token, "\(reference.prompt.prefix(30))... step \(step)")
                }
                logits = try session.evaluate([token])
            }
        }
        #expect(checked > 200)
        print("teacher-forced greedy steps equal to llama.cpp's: \(agreed) of 320; \(checked) with a lead over 0.5")
    }
}
