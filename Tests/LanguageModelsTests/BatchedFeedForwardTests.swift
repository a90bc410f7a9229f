import Testing
@testable import LanguageModels
import Tensors

/// Prompt batches run the feed-forward pass in slices of the intermediate width and attention
/// in chunks of queries; a random f32 model wider than one slice, with a batch longer than one
/// chunk, must give the logits of token-by-token evaluation (which does neither).
@Suite struct BatchedFeedForwardTests {
    private static func randomModel(intermediateSize: Int, threads: Int) throws -> Llama {
        let c = LlamaConfiguration(vocabularySize: 40, hiddenSize: 64, intermediateSize: intermediateSize, layerCount: 2,
                                   headCount: 4, keyValueHeadCount: 2, ropeTheta: 10_000, ropeStyle: .halves,
                                   rmsNormEpsilon: 1e-5, contextLength: 512)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func matrix(_ rows: Int, _ columns: Int) -> WeightMatrix {
            let values = (0..<rows * columns).map { _ -> Float in
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return (Float(state >> 40) / Float(1 << 24) - 0.5) / Float(columns).squareRoot()
            }
            return WeightMatrix(rows: rows, columns: columns, values: values)
        }
        let ones = [Float](repeating: 1, count: c.hiddenSize)
        let layers = (0..<c.layerCount).map { _ in
            Llama.Layer(attentionNorm: ones, query: matrix(c.queryWidth, 64), key: matrix(c.keyValueWidth, 64),
                        value: matrix(c.keyValueWidth, 64), attentionOutput: matrix(64, c.queryWidth),
                        feedForwardNorm: ones, gate: matrix(intermediateSize, 64), up: matrix(intermediateSize, 64),
                        down: matrix(64, intermediateSize))
        }
        return try Llama(configuration: c, tokenEmbedding: matrix(c.vocabularySize, 64), layers: layers,
                         outputNorm: ones, output: nil, threads: threads)
    }

    @Test(arguments: [1, 2])
    func slicedBatchMatchesTokenByToken(threads: Int) throws {
        // Three slices, the last one partial.
        let intermediate = 2 * LlamaSession.feedForwardSlice + 96
        let model = try Self.randomModel(intermediateSize: intermediate, threads: threads)
        let tokens = (0..<LlamaSession.attentionQueries + 20).map { ($0 * 7 + 3) % 40 }
        let batch = LlamaSession(model: model, capacity: 256, cachePrecision: .f32)
        let whole = try batch.evaluateAll(tokens) { $1 }
        let stepwise = LlamaSession(model: model, capacity: 256, cachePrecision: .f32)
        var worst: Float = 0
        for (i, token) in tokens.enumerated() {
            let logits = try stepwise.evaluate([token])
            for (a, b) in zip(whole[i], logits) { worst = max(worst, abs(a - b)) }
        }
        #expect(worst <= 1e-4, "largest logit difference \(worst)")
    }
}
