// The LLaMA decoder (LLaMA 1-3, Vicuna, SmolLM2, Qwen2-style without biases): RMSNorm, RoPE,
// grouped-query attention, SwiGLU, tied or separate output embedding. Inference only.
// Weights stay in their stored block format (memory-mapped); token generation multiplies them
// with fused kernels, prompt batches decode one matrix at a time into floats for a BLAS GEMM.

import CBLAS
import Foundation
import Tensors

/// A LLaMA-family decoder's weights. Stateless: the per-conversation state is a ``LlamaSession``.
public final class Llama: @unchecked Sendable {
    /// One transformer block.
    public struct Layer: Sendable {
        public var attentionNorm: [Float]
        public var query: WeightMatrix, key: WeightMatrix, value: WeightMatrix, attentionOutput: WeightMatrix
        public var feedForwardNorm: [Float]
        public var gate: WeightMatrix, up: WeightMatrix, down: WeightMatrix

        public init(attentionNorm: [Float], query: WeightMatrix, key: WeightMatrix, value: WeightMatrix,
                    attentionOutput: WeightMatrix, feedForwardNorm: [Float], gate: WeightMatrix, up: WeightMatrix,
                    down: WeightMatrix) {
            (self.attentionNorm, self.query, self.key, self.value) = (attentionNorm, query, key, value)
            (self.attentionOutput, self.feedForwardNorm) = (attentionOutput, feedForwardNorm)
            (self.gate, self.up, self.down) = (gate, up, down)
        }
    }

    public let configuration: LlamaConfiguration
    /// `[vocabulary, hidden]`: row `t` is token `t`'s embedding.
    public let tokenEmbedding: WeightMatrix
    public let layers: [Layer]
    public let outputNorm: [Float]
    /// `[vocabulary, hidden]`; the token embedding itself when the model ties them.
    public let output: WeightMatrix
    /// The threads that run matrix-vector products and attention.
    public let pool: ThreadPool
    /// Bytes of all weight matrices (the tied output counted once).
    public var weightBytes: Int {
        let matrices = [tokenEmbedding] + (output.data == tokenEmbedding.data ? [] : [output])
            + layers.flatMap { [$0.query, $0.key, $0.value, $0.attentionOutput, $0.gate, $0.up, $0.down] }
        return matrices.reduce(0) { $0 + $1.rows * $1.rowBytes }
    }
    /// RoPE's angles at a position, in the arithmetic of the model's source.
    let rotaryAngles: RotaryAngles

    /// Assembles a model, checking every matrix's shape against the configuration.
    public init(configuration c: LlamaConfiguration, tokenEmbedding: WeightMatrix, layers: [Layer],
                outputNorm: [Float], output: WeightMatrix?, threads: Int) throws {
        func check(_ m: WeightMatrix, _ name: String, _ rows: Int, _ columns: Int) throws {
            guard m.rows == rows, m.columns == columns else {
                throw ModelError.shapeMismatch(tensor: name, expected: [rows, columns], found: [m.rows, m.columns])
            }
        }
        try check(tokenEmbedding, "token_embd.weight", c.vocabularySize, c.hiddenSize)
        guard layers.count == c.layerCount else {
            throw ModelError.invalid("\(layers.count) layers given, the configuration says \(c.layerCount)")
        }
        for (i, layer) in layers.enumerated() {
            try check(layer.query, "blk.\(i).attn_q.weight", c.queryWidth, c.hiddenSize)
            try check(layer.key, "blk.\(i).attn_k.weight", c.keyValueWidth, c.hiddenSize)
            try check(layer.value, "blk.\(i).attn_v.weight", c.keyValueWidth, c.hiddenSize)
            try check(layer.attentionOutput, "blk.\(i).attn_output.weight", c.hiddenSize, c.queryWidth)
            try check(layer.gate, "blk.\(i).ffn_gate.weight", c.intermediateSize, c.hiddenSize)
            try check(layer.up, "blk.\(i).ffn_up.weight", c.intermediateSize, c.hiddenSize)
            try check(layer.down, "blk.\(i).ffn_down.weight", c.hiddenSize, c.intermediateSize)
            guard layer.attentionNorm.count == c.hiddenSize, layer.feedForwardNorm.count == c.hiddenSize else {
                throw ModelError.shapeMismatch(tensor: "blk.\(i).attn_norm.weight", expected: [c.hiddenSize],
                                               found: [layer.attentionNorm.count])
            }
        }
        if let output { try check(output, "output.weight", c.vocabularySize, c.hiddenSize) }
        guard c.headCount % c.keyValueHeadCount == 0 else {
            throw ModelError.invalid("\(c.headCount) heads cannot share \(c.keyValueHeadCount) key/value heads")
        }
        if case .frequencyDivisors(let divisors) = c.ropeScaling, divisors.count != c.headDimension / 2 {
            throw ModelError.shapeMismatch(tensor: "rope_freqs.weight", expected: [c.headDimension / 2], found: [divisors.count])
        }
        configuration = c
        rotaryAngles = RotaryAngles(c)
        self.tokenEmbedding = tokenEmbedding
        self.layers = layers
        self.outputNorm = outputNorm
        self.output = output ?? tokenEmbedding
        pool = ThreadPool(threads: threads)
        // Our pool splits the GEMMs between threads itself; OpenBLAS threads would compete with it.
        openblas_set_num_threads(1)
    }
}

/// Why a model could not be built or run.
public enum ModelError: Error, CustomStringConvertible, Equatable {
    case shapeMismatch(tensor: String, expected: [Int], found: [Int])
    case unsupported(String)
    case invalid(String)
    case contextFull(needed: Int, capacity: Int)

    public var description: String {
        switch self {
        case .shapeMismatch(let name, let expected, let found): "tensor '\(name)' has shape \(found), expected \(expected)"
        case .unsupported(let what): "unsupported: \(what)"
        case .invalid(let why): "invalid model: \(why)"
        case .contextFull(let needed, let capacity):
            "the conversation needs \(needed) positions but the context holds \(capacity); start a new session or raise --context"
        }
    }
}
