// The CLIP ViT vision tower (Radford et al. 2021), as LLaVA uses it: patch embedding, class and
// position embeddings, pre-norm transformer layers; features taken from a chosen layer
// (LLaVA: the second-to-last), with or without the class token. Hugging Face weight names
// (`vision_model.*`, under a prefix for LLaVA checkpoints).

import CBLAS
import Foundation
import Tensors

/// The shape of a CLIP vision tower (Hugging Face `CLIPVisionConfig`).
public struct CLIPVisionConfiguration: Sendable, Equatable, Decodable {
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layerCount: Int
    public var headCount: Int
    public var imageSize: Int
    public var patchSize: Int
    public var layerNormEpsilon: Float
    public var activation: String

    enum CodingKeys: String, CodingKey {
        case hiddenSize = "hidden_size", intermediateSize = "intermediate_size", layerCount = "num_hidden_layers"
        case headCount = "num_attention_heads", imageSize = "image_size", patchSize = "patch_size"
        case layerNormEpsilon = "layer_norm_eps", activation = "hidden_act"
    }

    /// `layer_norm_eps` and `hidden_act` may be absent (configs that omit defaults): CLIP's are
    /// 1e-5 and quick GELU.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(hiddenSize: try c.decode(Int.self, forKey: .hiddenSize),
                  intermediateSize: try c.decode(Int.self, forKey: .intermediateSize),
                  layerCount: try c.decode(Int.self, forKey: .layerCount), headCount: try c.decode(Int.self, forKey: .headCount),
                  imageSize: try c.decode(Int.self, forKey: .imageSize), patchSize: try c.decode(Int.self, forKey: .patchSize),
                  layerNormEpsilon: try c.decodeIfPresent(Float.self, forKey: .layerNormEpsilon) ?? 1e-5,
                  activation: try c.decodeIfPresent(String.self, forKey: .activation) ?? "quick_gelu")
    }

    public init(hiddenSize: Int, intermediateSize: Int, layerCount: Int, headCount: Int, imageSize: Int,
                patchSize: Int, layerNormEpsilon: Float = 1e-5, activation: String = "quick_gelu") {
        (self.hiddenSize, self.intermediateSize, self.layerCount, self.headCount) = (hiddenSize, intermediateSize, layerCount, headCount)
        (self.imageSize, self.patchSize, self.layerNormEpsilon, self.activation) = (imageSize, patchSize, layerNormEpsilon, activation)
    }

    /// Patches per side.
    public var gridSize: Int { imageSize / patchSize }
    /// Class token plus patches.
    public var tokenCount: Int { 1 + gridSize * gridSize }
}

/// A CLIP ViT vision tower with its weights.
public struct CLIPVisionTransformer: Sendable {
    public let configuration: CLIPVisionConfiguration
    let activation: ActivationFunction
    /// The patch convolution as a matrix over flattened patches (`[hidden, 3 * patch * patch]`).
    let patchEmbedding: Linear
    let classEmbedding: [Float]
    let positionEmbedding: [Float]
    let preNorm: LayerNorm
    let layers: [EncoderLayer]

    struct EncoderLayer: Sendable {
        let norm1: LayerNorm, norm2: LayerNorm
        /// Query, key and value projections stacked: one product gives all three.
        let queryKeyValue: Linear
        let output: Linear
        let fc1: Linear, fc2: Linear
    }

    /// Builds the tower from checkpoint tensors named `<prefix>embeddings.*`, `<prefix>encoder.layers.N.*`.
    public init(configuration c: CLIPVisionConfiguration, weights: some WeightSource, prefix: String = "vision_model.") throws {
        guard let activation = ActivationFunction(rawValue: c.activation) else {
            throw WeightError.unsupported("activation '\(c.activation)'")
        }
        guard c.imageSize % c.patchSize == 0, c.hiddenSize % c.headCount == 0 else {
            throw WeightError.unsupported("image size \(c.imageSize) with patch \(c.patchSize), hidden \(c.hiddenSize) with \(c.headCount) heads")
        }
        configuration = c
        self.activation = activation
        let p = prefix + "embeddings."
        let patchValues = 3 * c.patchSize * c.patchSize
        patchEmbedding = Linear(inputs: patchValues, outputs: c.hiddenSize, weight: try weights.tensor(
            p + "patch_embedding.weight", shape: [c.hiddenSize, 3, c.patchSize, c.patchSize]).scalars, bias: nil)
        classEmbedding = try weights.tensor(p + "class_embedding", shape: [c.hiddenSize]).scalars
        positionEmbedding = try weights.tensor(p + "position_embedding.weight", shape: [c.tokenCount, c.hiddenSize]).scalars
        // "pre_layrnorm" is Hugging Face's spelling.
        preNorm = try LayerNorm(weights: weights, name: prefix + "pre_layrnorm", width: c.hiddenSize, epsilon: c.layerNormEpsilon)
        layers = try (0..<c.layerCount).map { i in
            let l = prefix + "encoder.layers.\(i)."
            let (h, m) = (c.hiddenSize, c.intermediateSize)
            return EncoderLayer(
                norm1: try LayerNorm(weights: weights, name: l + "layer_norm1", width: h, epsilon: c.layerNormEpsilon),
                norm2: try LayerNorm(weights: weights, name: l + "layer_norm2", width: h, epsilon: c.layerNormEpsilon),
                queryKeyValue: Linear(stacking: try ["q_proj", "k_proj", "v_proj"].map {
                    try Linear(weights: weights, name: l + "self_attn." + $0, inputs: h, outputs: h)
                }),
                output: try Linear(weights: weights, name: l + "self_attn.out_proj", inputs: h, outputs: h),
                fc1: try Linear(weights: weights, name: l + "mlp.fc1", inputs: h, outputs: m),
                fc2: try Linear(weights: weights, name: l + "mlp.fc2", inputs: m, outputs: h))
        }
    }

    /// The hidden states after `layerCount` encoder layers (0: the normalised embeddings), as
    /// `[tokens, hidden]` with the class token first — Hugging Face's `hidden_states[layerCount]`.
    /// The work is split between `pool`'s threads.
    public func hiddenStates(_ pixels: Tensor, layers layerCount: Int, pool: ThreadPool) -> Tensor {
        let c = configuration
        precondition(pixels.shape == [3, c.imageSize, c.imageSize], "CLIP takes [3, \(c.imageSize), \(c.imageSize)], got \(pixels.shape)")
        precondition((0...layers.count).contains(layerCount))
        let (tokens, width) = (c.tokenCount, c.hiddenSize)
        var states = [Float](repeating: 0, count: tokens * width)
        // Every buffer of the forward pass, allocated once per image.
        let scratch = Scratch(tokens: tokens, width: width, intermediate: c.intermediateSize,
                              patchValues: 3 * c.imageSize * c.imageSize, threads: pool.threadCount)
        defer { scratch.deallocate() }
        states.withUnsafeMutableBufferPointer { x in
            let x = x.baseAddress!
            embed(pixels, into: x, scratch: scratch, pool: pool)
            preNorm.apply(x, rows: tokens, into: x, pool: pool)
            for layer in layers.prefix(layerCount) { run(layer, x, scratch, pool) }
        }
        return Tensor(shape: [tokens, width], scalars: states)
    }

    /// LLaVA's image features: the output of layer `selectLayer` (negative counts from the end,
    /// -1 being the last; LLaVA uses -2), without the class token unless `keepClassToken`.
    public func features(_ pixels: Tensor, selectLayer: Int = -2, keepClassToken: Bool = false, pool: ThreadPool) -> Tensor {
        let layer = selectLayer < 0 ? layers.count + 1 + selectLayer : selectLayer
        let states = hiddenStates(pixels, layers: layer, pool: pool)
        if keepClassToken { return states }
        let width = configuration.hiddenSize
        return Tensor(shape: [states.shape[0] - 1, width], scalars: Array(states.scalars[width...]))
    }

    /// Activations between the layers: `[tokens, width]` (`queryKeyValue`: three widths,
    /// `hidden`: the intermediate size), plus one `[tokens, tokens]` attention score matrix per
    /// thread. `hidden` also holds the flattened patches (`patchValues`) before the first layer.
    private struct Scratch {
        let normed, queryKeyValue, attended, hidden, scores: UnsafeMutablePointer<Float>

        init(tokens: Int, width: Int, intermediate: Int, patchValues: Int, threads: Int) {
            func buffer(_ count: Int) -> UnsafeMutablePointer<Float> { .allocate(capacity: count) }
            (normed, queryKeyValue, attended) = (buffer(tokens * width), buffer(tokens * 3 * width), buffer(tokens * width))
            hidden = buffer(max(tokens * intermediate, patchValues))
            scores = buffer(threads * tokens * tokens)
        }

        func deallocate() {
            for buffer in [normed, queryKeyValue, attended, hidden, scores] { buffer.deallocate() }
        }
    }

    /// Class token, then one token per patch in row-major order, plus position embeddings.
    private func embed(_ pixels: Tensor, into tokens: UnsafeMutablePointer<Float>, scratch: Scratch, pool: ThreadPool) {
        let c = configuration
        let (grid, patch, size, width) = (c.gridSize, c.patchSize, c.imageSize, c.hiddenSize)
        let patchValues = 3 * patch * patch
        // The flattened patches, `[grid², 3·patch²]`, borrow the MLP buffer.
        let patches = scratch.hidden
        pixels.scalars.withUnsafeBufferPointer { image in
            for gy in 0..<grid { for gx in 0..<grid {
                let row = patches + (gy * grid + gx) * patchValues
                for channel in 0..<3 { for y in 0..<patch { for x in 0..<patch {
                    row[(channel * patch + y) * patch + x] = image[(channel * size + gy * patch + y) * size + gx * patch + x]
                } } }
            } }
        }
        for i in 0..<width { tokens[i] = classEmbedding[i] }
        patchEmbedding.apply(patches, rows: grid * grid, into: tokens + width, pool: pool)
        positionEmbedding.withUnsafeBufferPointer { position in
            for i in 0..<c.tokenCount * width { tokens[i] += position[i] }
        }
    }

    /// Pre-norm attention and MLP blocks, each adding to the residual stream `x` in place.
    private func run(_ layer: EncoderLayer, _ x: UnsafeMutablePointer<Float>, _ s: Scratch, _ pool: ThreadPool) {
        let tokens = configuration.tokenCount
        layer.norm1.apply(x, rows: tokens, into: s.normed, pool: pool)
        layer.queryKeyValue.apply(s.normed, rows: tokens, into: s.queryKeyValue, pool: pool)
        attention(s, pool: pool)
        layer.output.apply(s.attended, rows: tokens, into: x, accumulate: true, pool: pool)
        layer.norm2.apply(x, rows: tokens, into: s.normed, pool: pool)
        layer.fc1.apply(s.normed, rows: tokens, into: s.hidden, activation: activation, pool: pool)
        layer.fc2.apply(s.hidden, rows: tokens, into: x, accumulate: true, pool: pool)
    }

    /// Full (non-causal) multi-head attention over all tokens, heads split between the threads;
    /// each head reads its columns of the stacked query, key and value rows in place.
    private func attention(_ s: Scratch, pool: ThreadPool) {
        let c = configuration
        let (tokens, width, heads) = (c.tokenCount, c.hiddenSize, c.headCount)
        let d = width / heads
        let scale = 1 / Float(d).squareRoot()
        let (t, w, stacked) = (Int32(tokens), Int32(width), Int32(3 * width))
        let (query, key, value) = (s.queryKeyValue, s.queryKeyValue + width, s.queryKeyValue + 2 * width)
        pool.run { part in
            let scores = s.scores + part * tokens * tokens
            for h in stride(from: part, to: heads, by: pool.threadCount) {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, t, t, Int32(d), scale,
                            query + h * d, stacked, key + h * d, stacked, 0, scores, t)
                for row in 0..<tokens { VectorMath.softmax(scores + row * tokens, count: tokens) }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, t, Int32(d), t, 1,
                            scores, t, value + h * d, stacked, 0, s.attended + h * d, w)
            }
        }
    }
}
