import Foundation
import Testing
@testable import LanguageModels

/// A random 2-layer LLaMA saved by `transformers` (scripts/fixtures/make_tiny_llama.py) and the
/// logits `transformers` computed for a fixed token sequence.
@Suite struct HuggingFaceLlamaTests {
    private struct Reference: Decodable {
        let tokens: [Int]
        let logits: [[Float]]
    }

    private static let directory = Bundle.module.url(forResource: "Fixtures/tiny-llama", withExtension: nil)!

    private func reference() throws -> Reference {
        try JSONDecoder().decode(Reference.self, from: Data(contentsOf: Self.directory.appendingPathComponent("logits.json")))
    }

    @Test(arguments: [1, 2])
    func logitsAtEveryPositionMatchTransformers(threads: Int) throws {
        let model = try Llama(huggingFace: Self.directory, threads: threads)
        #expect(model.configuration.ropeStyle == .halves)
        #expect(model.configuration.keyValueHeadCount == 2)
        let reference = try reference()
        let session = LlamaSession(model: model, capacity: 64, cachePrecision: .f32)
        var worst: Float = 0
        _ = try session.evaluateAll(reference.tokens) { position, logits in
            for (a, b) in zip(logits, reference.logits[position]) { worst = max(worst, abs(a - b)) }
        }
        #expect(worst <= 1e-4, "largest logit difference \(worst)")
    }

    /// The same logits whether the prompt goes in as one batch (GEMM path), token by token
    /// (matrix-vector path), or in two uneven chunks that continue from the cache.
    @Test func batchAndIncrementalEvaluationAgree() throws {
        let model = try Llama(huggingFace: Self.directory, threads: 2)
        let tokens = try reference().tokens
        let whole = try LlamaSession(model: model, capacity: 64, cachePrecision: .f32).evaluate(tokens)
        let stepwise = LlamaSession(model: model, capacity: 64, cachePrecision: .f32)
        var last: [Float] = []
        for token in tokens { last = try stepwise.evaluate([token]) }
        let chunked = LlamaSession(model: model, capacity: 64, maxBatch: 9, cachePrecision: .f32)
        let split = try chunked.evaluate(tokens)
        for i in whole.indices {
            #expect(abs(whole[i] - last[i]) <= 1e-4)
            #expect(abs(whole[i] - split[i]) <= 1e-4)
        }
    }

    @Test func contextOverflowAndBadTokensAreErrors() throws {
        let model = try Llama(huggingFace: Self.directory, threads: 1)
        let session = LlamaSession(model: model, capacity: 4)
        #expect(throws: ModelError.contextFull(needed: 5, capacity: 4)) { try session.evaluate([1, 2, 3, 4, 5]) }
        #expect(throws: ModelError.self) { try session.evaluate([256]) }
        #expect(throws: ModelError.self) { try session.evaluate([Int]()) }
    }

    @Test func missingTensorIsNamed() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("tiny-\(UUID())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.directory.appendingPathComponent("config.json"))) as! [String: Any]
        config["num_hidden_layers"] = 3  // the checkpoint has 2
        try JSONSerialization.data(withJSONObject: config).write(to: scratch.appendingPathComponent("config.json"))
        try FileManager.default.copyItem(at: Self.directory.appendingPathComponent("model.safetensors"),
                                         to: scratch.appendingPathComponent("model.safetensors"))
        let error = #expect(throws: (any Error).self) { try Llama(huggingFace: scratch, threads: 1) }
        #expect("\(error!)".contains("model.layers.2.input_layernorm.weight"))
    }
}
