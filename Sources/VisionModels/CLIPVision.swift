// The CLIP ViT vision tower (Radford et al. 2021), as LLaVA uses it: patch embedding, class and
// position embeddings, pre-norm transformer layers; features taken from a chosen layer
// (LLaVA: the second-to-last), with or without the class token. Hugging Face weight names
// (`vision_model.*`, under a prefix for LLaVA checkpoints).

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
    /// `[hidden, 3 * patch * patch]`: the patch convolution as a matrix over flattened patches.
    let patchEmbedding: [Float]
    let classEmbedding: [Float]
    let positionEmbedding: [Float]
    let preNorm: LayerNorm
    let layers: [EncoderLayer]

    struct EncoderLayer: Sendable {
        let norm1: LayerNorm, norm2: LayerNorm
        let query: Linear, key: Linear, value: Linear, output: Linear
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
        patchEmbedding = try weights.tensor(p + "patch_embedding.weight", shape: [c.hiddenSize, 3, c.patchSize, c.patchSize]).scalars
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
                query: try Linear(weights: weights, name: l + "self_attn.q_proj", inputs: h, outputs: h),
                key: try Linear(weights: weights, name: l + "self_attn.k_proj", inputs: h, outputs: h),
                value: try Linear(weights: weights, name: l + "self_attn.v_proj", inputs: h, outputs: h),
                output: try Linear(weights: weights, name: l + "self_attn.out_proj", inputs: h, outputs: h),
                fc1: try Linear(weights: weights, name: l + "mlp.fc1", inputs: h, outputs: m),
                fc2: try Linear(weights: weights, name: l + "mlp.fc2", inputs: m, outputs: h))
        }
    }

    /// The hidden states after `layerCount` encoder layers (0: the normalised embeddings), as
    /// `[tokens, hidden]` with the class token first — Hugging Face's `hidden_states[layerCount]`.
    public func hiddenStates(_ pixels: Tensor, layers layerCount: Int) -> Tensor {
        let c = configuration
        precondition(pixels.shape == [3, c.imageSize, c.imageSize], "CLIP takes [3, \(c.imageSize), \(c.imageSize)], got \(pixels.shape)")
        precondition((0...layers.count).contains(layerCount))
        var x = preNorm(embed(pixels))
        for layer in layers.prefix(layerCount) { x = run(layer, x) }
        return Tensor(shape: [c.tokenCount, c.hiddenSize], scalars: x)
    }

    /// LLaVA's image features: the output of layer `selectLayer` (negative counts from the end,
    /// -1 being the last; LLaVA uses -2), without the class token unless `keepClassToken`.
    public func features(_ pixels: Tensor, selectLayer: Int = -2, keepClassToken: Bool = false) -> Tensor {
        let layer = selectLayer < 0 ? layers.count + 1 + selectLayer : selectLayer
        let states = hiddenStates(pixels, layers: layer)
        if keepClassToken { return states }
        let width = configuration.hiddenSize
        return Tensor(shape: [states.shape[0] - 1, width], scalars: Array(states.scalars[width...]))
    }

    /// Class token, then one token per patch in row-major order, plus position embeddings.
    private func embed(_ pixels: Tensor) -> [Float] {
        let c = configuration
        let (grid, patch, size) = (c.gridSize, c.patchSize, c.imageSize)
        let patchValues = 3 * patch * patch
        var patches = [Float](repeating: 0, count: grid * grid * patchValues)
        for gy in 0..<grid { for gx in 0..<grid {
            let row = (gy * grid + gx) * patchValues
            for channel in 0..<3 { for y in 0..<patch { for x in 0..<patch {
                patches[row + (channel * patch + y) * patch + x] =
                    pixels.scalars[(channel * size + gy * patch + y) * size + gx * patch + x]
            } } }
        } }
        var tokens = [Float](repeating: 0, count: c.tokenCount * c.hiddenSize)
        for i in 0..<c.hiddenSize { tokens[i] = classEmbedding[i] }
        patches.withUnsafeBufferPointer { a in
            patchEmbedding.withUnsafeBufferPointer { w in
                tokens.withUnsafeMutableBufferPointer { out in
                    MatrixMultiply.gemm(m: grid * grid, n: c.hiddenSize, k: patchValues, a: a.baseAddress!,
                                        b: w.baseAddress!, transposeB: true, c: out.baseAddress! + c.hiddenSize)
                }
            }
        }
        for i in tokens.indices { tokens[i] += positionEmbedding[i] }
        return tokens
    }

    /// Pre-norm attention and MLP blocks, each with its residual connection.
    private func run(_ layer: EncoderLayer, _ x: [Float]) -> [Float] {
        let c = configuration
        let tokens = c.tokenCount
        let normed = layer.norm1(x)
        let attended = layer.output(attention(q: layer.query(normed, rows: tokens), k: layer.key(normed, rows: tokens),
                                              v: layer.value(normed, rows: tokens)), rows: tokens)
        var h = zip(x, attended).map(+)
        var hidden = layer.fc1(layer.norm2(h), rows: tokens)
        activation.apply(&hidden)
        let mlp = layer.fc2(hidden, rows: tokens)
        for i in h.indices { h[i] += mlp[i] }
        return h
    }

    /// Full (non-causal) multi-head attention over all tokens.
    private func attention(q: [Float], k: [Float], v: [Float]) -> [Float] {
        let c = configuration
        let (tokens, width) = (c.tokenCount, c.hiddenSize)
        let d = width / c.headCount
        let scale = 1 / Float(d).squareRoot()
        var out = [Float](repeating: 0, count: tokens * width)
        var scores = [Float](repeating: 0, count: tokens * tokens)
        var qh = [Float](repeating: 0, count: tokens * d), kh = qh, vh = qh, oh = qh
        for h in 0..<c.headCount {
            for t in 0..<tokens { for j in 0..<d {
                qh[t * d + j] = q[t * width + h * d + j] * scale
                kh[t * d + j] = k[t * width + h * d + j]
                vh[t * d + j] = v[t * width + h * d + j]
            } }
            MatrixMultiply.gemm(m: tokens, n: tokens, k: d, a: qh, b: kh, transposeB: true, c: &scores)
            for t in 0..<tokens {
                let row = t * tokens
                var maximum = -Float.infinity
                for s in 0..<tokens { maximum = max(maximum, scores[row + s]) }
                var sum: Float = 0
                for s in 0..<tokens { scores[row + s] = expf(scores[row + s] - maximum); sum += scores[row + s] }
                for s in 0..<tokens { scores[row + s] /= sum }
            }
            MatrixMultiply.gemm(m: tokens, n: d, k: tokens, a: scores, b: vh, c: &oh)
            for t in 0..<tokens { for j in 0..<d { out[t * width + h * d + j] = oh[t * d + j] } }
        }
        return out
    }
}
