// The BERT encoder (Devlin et al. 2019) as Hugging Face `BertModel` computes it: word, position
// and token-type embeddings, then post-norm transformer layers (attention and MLP each added to
// the residual stream, then LayerNorm). Weight names are Hugging Face's (`embeddings.*`,
// `encoder.layer.N.*`); sentence-transformers' MiniLM checkpoints store them without a prefix.
//
// Sequences run packed back to back without padding: every dense layer treats rows (tokens)
// independently, and attention runs per sequence over its own rows, so a batch of short texts
// costs what its tokens cost — the same result as padding plus an attention mask, minus the
// padding's work. Products are OpenBLAS sgemms (single-threaded: callers parallelise over batches).

import CBLAS
import Foundation
import ModelFormats
import Tensors

/// The shape of a BERT encoder (Hugging Face `BertConfig`, `config.json`).
public struct BertConfiguration: Sendable, Equatable, Decodable {
    public var vocabularySize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layerCount: Int
    public var headCount: Int
    public var maxPositions: Int
    public var typeVocabularySize: Int
    public var layerNormEpsilon: Float
    public var activation: String
    public var positionEmbeddingType: String

    enum CodingKeys: String, CodingKey {
        case vocabularySize = "vocab_size", hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
        case layerCount = "num_hidden_layers", headCount = "num_attention_heads", maxPositions = "max_position_embeddings"
        case typeVocabularySize = "type_vocab_size", layerNormEpsilon = "layer_norm_eps", activation = "hidden_act"
        case positionEmbeddingType = "position_embedding_type"
    }

    /// Omitted optional keys take `BertConfig`'s defaults.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        vocabularySize = try c.decode(Int.self, forKey: .vocabularySize)
        hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
        intermediateSize = try c.decode(Int.self, forKey: .intermediateSize)
        layerCount = try c.decode(Int.self, forKey: .layerCount)
        headCount = try c.decode(Int.self, forKey: .headCount)
        maxPositions = try c.decodeIfPresent(Int.self, forKey: .maxPositions) ?? 512
        typeVocabularySize = try c.decodeIfPresent(Int.self, forKey: .typeVocabularySize) ?? 2
        layerNormEpsilon = try c.decodeIfPresent(Float.self, forKey: .layerNormEpsilon) ?? 1e-12
        activation = try c.decodeIfPresent(String.self, forKey: .activation) ?? "gelu"
        positionEmbeddingType = try c.decodeIfPresent(String.self, forKey: .positionEmbeddingType) ?? "absolute"
    }
}

/// Why a text encoder cannot be loaded.
public enum TextEncoderError: Error, CustomStringConvertible, Equatable {
    /// A file the model needs is not in its folder.
    case missingFile(String)
    /// A file is there but unusable: which file, and why.
    case invalidFile(String, String)
    /// A tensor's shape differs from what the configuration implies.
    case shapeMismatch(file: String, tensor: String, expected: [Int], found: [Int])

    public var description: String {
        switch self {
        case .missingFile(let path): "\(path): file is missing"
        case .invalidFile(let path, let why): "\(path): \(why)"
        case .shapeMismatch(let file, let tensor, let expected, let found):
            "\(file): tensor '\(tensor)' has shape \(found), expected \(expected)"
        }
    }
}

/// A BERT encoder with its weights, computing last hidden states and mean-pooled embeddings.
public struct BertModel: Sendable {
    public let configuration: BertConfiguration
    /// `[vocabulary, hidden]`, `[positions, hidden]`, and token type 0's row (single sequences only).
    let wordEmbeddings: [Float]
    let positionEmbeddings: [Float]
    let tokenTypeEmbedding: [Float]
    let embeddingNorm: LayerNorm
    let layers: [Layer]

    struct Layer: Sendable {
        /// Query, key and value projections stacked: one product gives all three.
        let queryKeyValue: Dense
        let attentionOutput: Dense
        let attentionNorm: LayerNorm
        let intermediate: Dense
        let output: Dense
        let outputNorm: LayerNorm
    }

    /// Loads a Hugging Face BERT checkpoint: `config.json` and `model.safetensors` in `directory`.
    public init(directory: URL) throws {
        let configURL = directory.appendingPathComponent("config.json")
        let weightsURL = directory.appendingPathComponent("model.safetensors")
        for url in [configURL, weightsURL] where !FileManager.default.fileExists(atPath: url.path) {
            throw TextEncoderError.missingFile(url.path)
        }
        let configuration: BertConfiguration
        do {
            configuration = try JSONDecoder().decode(BertConfiguration.self, from: Data(contentsOf: configURL))
        } catch {
            throw TextEncoderError.invalidFile(configURL.path, "not a BERT configuration: \(error)")
        }
        try self.init(configuration: configuration, weights: try SafeTensorsFile(url: weightsURL))
    }

    /// Builds the encoder from a checkpoint's tensors (names with or without a `bert.` prefix).
    public init(configuration c: BertConfiguration, weights file: SafeTensorsFile) throws {
        guard c.activation == "gelu" else { throw TextEncoderError.invalidFile(file.name, "hidden_act \(c.activation) (gelu only)") }
        guard c.positionEmbeddingType == "absolute" else {
            throw TextEncoderError.invalidFile(file.name, "position_embedding_type \(c.positionEmbeddingType) (absolute only)")
        }
        guard c.hiddenSize % c.headCount == 0 else {
            throw TextEncoderError.invalidFile(file.name, "hidden size \(c.hiddenSize) is not a multiple of \(c.headCount) heads")
        }
        configuration = c
        let prefix = file.tensorInfo("embeddings.word_embeddings.weight") == nil && file.tensorInfo("bert.embeddings.word_embeddings.weight") != nil
            ? "bert." : ""
        func tensor(_ name: String, _ shape: [Int]) throws -> [Float] {
            let t = try file.tensor(prefix + name)
            guard t.shape == shape else {
                throw TextEncoderError.shapeMismatch(file: file.name, tensor: prefix + name, expected: shape, found: t.shape)
            }
            return t.scalars
        }
        func dense(_ name: String, _ inputs: Int, _ outputs: Int) throws -> Dense {
            Dense(inputs: inputs, outputs: outputs, weight: try tensor(name + ".weight", [outputs, inputs]),
                  bias: try tensor(name + ".bias", [outputs]))
        }
        func norm(_ name: String) throws -> LayerNorm {
            LayerNorm(weight: try tensor(name + ".weight", [c.hiddenSize]), bias: try tensor(name + ".bias", [c.hiddenSize]),
                      epsilon: c.layerNormEpsilon)
        }
        let (h, m) = (c.hiddenSize, c.intermediateSize)
        wordEmbeddings = try tensor("embeddings.word_embeddings.weight", [c.vocabularySize, h])
        positionEmbeddings = try tensor("embeddings.position_embeddings.weight", [c.maxPositions, h])
        tokenTypeEmbedding = Array(try tensor("embeddings.token_type_embeddings.weight", [c.typeVocabularySize, h]).prefix(h))
        embeddingNorm = try norm("embeddings.LayerNorm")
        layers = try (0..<c.layerCount).map { i in
            let l = "encoder.layer.\(i)."
            return Layer(
                queryKeyValue: Dense(stacking: try ["query", "key", "value"].map { try dense(l + "attention.self." + $0, h, h) }),
                attentionOutput: try dense(l + "attention.output.dense", h, h),
                attentionNorm: try norm(l + "attention.output.LayerNorm"),
                intermediate: try dense(l + "intermediate.dense", h, m),
                output: try dense(l + "output.dense", m, h),
                outputNorm: try norm(l + "output.LayerNorm"))
        }
    }

    /// The mean over each sequence's tokens of its last hidden states, L2-normalised
    /// (sentence-transformers' mean pooling + `Normalize`), one `hidden`-wide vector per
    /// sequence. Token ids must be in the vocabulary and sequences at most `maxPositions` long.
    /// Runs on the calling thread: parallelise by calling it on several batches at once.
    public func pooledEmbeddings(_ sequences: [[Int]]) -> [[Float]] {
        let width = configuration.hiddenSize
        let states = lastHiddenStates(sequences)
        var start = 0
        return sequences.map { ids in
            var pooled = [Float](repeating: 0, count: width)
            for row in start..<(start + ids.count) {
                for i in 0..<width { pooled[i] += states[row * width + i] }
            }
            start += ids.count
            let scale = 1 / Float(max(ids.count, 1))
            var norm: Float = 0
            for i in 0..<width { pooled[i] *= scale; norm += pooled[i] * pooled[i] }
            // sentence-transformers' Normalize divides by max(‖v‖, 1e-12).
            let inverse = 1 / max(norm.squareRoot(), 1e-12)
            for i in 0..<width { pooled[i] *= inverse }
            return pooled
        }
    }

    /// The last hidden states of the sequences, packed: `[Σ lengths, hidden]`, row-major.
    public func lastHiddenStates(_ sequences: [[Int]]) -> [Float] {
        let c = configuration
        let rows = sequences.reduce(0) { $0 + $1.count }
        for ids in sequences {
            precondition(ids.count <= c.maxPositions, "a sequence of \(ids.count) tokens exceeds \(c.maxPositions) positions")
            precondition(ids.allSatisfy { (0..<c.vocabularySize).contains($0) }, "token id outside the vocabulary")
        }
        var states = [Float](repeating: 0, count: rows * c.hiddenSize)
        guard rows > 0 else { return states }
        Self.useSingleThreadedBLAS()
        let scratch = Scratch(rows: rows, width: c.hiddenSize, intermediate: c.intermediateSize,
                              longest: sequences.map(\.count).max() ?? 0)
        defer { scratch.deallocate() }
        let lengths = sequences.map(\.count)
        states.withUnsafeMutableBufferPointer { x in
            let x = x.baseAddress!
            embed(sequences, into: x)
            embeddingNorm.apply(x, rows: rows, into: x)
            for layer in layers { run(layer, x, rows: rows, lengths: lengths, scratch) }
        }
        return states
    }

    /// Single-threaded products: parallelism comes from batches run side by side, and
    /// OpenBLAS's own threads would compete with them (`LlamaSession` and CLIP do the same).
    static func useSingleThreadedBLAS() {
        if openblas_get_num_threads() != 1 { openblas_set_num_threads(1) }
    }

    /// Word + position + token type 0, per token.
    private func embed(_ sequences: [[Int]], into x: UnsafeMutablePointer<Float>) {
        let width = configuration.hiddenSize
        var row = 0
        wordEmbeddings.withUnsafeBufferPointer { words in
            positionEmbeddings.withUnsafeBufferPointer { positions in
                for ids in sequences {
                    for (position, id) in ids.enumerated() {
                        let out = x + row * width
                        let (word, place) = (words.baseAddress! + id * width, positions.baseAddress! + position * width)
                        for i in 0..<width { out[i] = word[i] + place[i] + tokenTypeEmbedding[i] }
                        row += 1
                    }
                }
            }
        }
    }

    /// Post-norm attention then MLP: `x = LN(x + attention(x))`, `x = LN(x + mlp(x))`.
    private func run(_ layer: Layer, _ x: UnsafeMutablePointer<Float>, rows: Int, lengths: [Int], _ s: Scratch) {
        layer.queryKeyValue.apply(x, rows: rows, into: s.queryKeyValue)
        attention(s, lengths: lengths)
        layer.attentionOutput.apply(s.context, rows: rows, into: s.projected)
        layer.attentionNorm.apply(residual: x, s.projected, rows: rows, into: x)
        layer.intermediate.apply(x, rows: rows, into: s.hidden)
        Activation.gelu(s.hidden, count: rows * configuration.intermediateSize)
        layer.output.apply(s.hidden, rows: rows, into: s.projected)
        layer.outputNorm.apply(residual: x, s.projected, rows: rows, into: x)
    }

    /// Full multi-head attention within each sequence. Short sequences (most class names are
    /// 3-8 tokens) use plain loops, where an sgemm call would cost more than its work; longer
    /// ones gather each head into contiguous rows for two sgemms.
    private func attention(_ s: Scratch, lengths: [Int]) {
        let c = configuration
        let (width, heads) = (c.hiddenSize, c.headCount)
        let d = width / heads
        let stacked = 3 * width
        let scale = 1 / Float(d).squareRoot()
        var first = 0
        for length in lengths {
            let base = s.queryKeyValue + first * stacked
            let out = s.context + first * width
            if length <= 16 {
                for h in 0..<heads {
                    for i in 0..<length {
                        let query = base + i * stacked + h * d
                        for j in 0..<length {
                            s.scores[j] = Activation.dot(query, base + j * stacked + width + h * d, count: d) * scale
                        }
                        Activation.softmax(s.scores, count: length)
                        let context = out + i * width + h * d
                        for k in 0..<d { context[k] = 0 }
                        for j in 0..<length {
                            let (p, value) = (s.scores[j], base + j * stacked + 2 * width + h * d)
                            for k in 0..<d { context[k] += p * value[k] }
                        }
                    }
                }
            } else {
                let (t, dd) = (Int32(length), Int32(d))
                for h in 0..<heads {
                    // Query, key and value of head h as `[length, d]` each, back to back.
                    for i in 0..<length {
                        for part in 0..<3 {
                            let from = base + i * stacked + part * width + h * d
                            (s.head + (part * length + i) * d).update(from: from, count: d)
                        }
                    }
                    let (query, key, value) = (s.head, s.head + length * d, s.head + 2 * length * d)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, t, t, dd, scale, query, dd, key, dd, 0, s.scores, t)
                    for i in 0..<length { Activation.softmax(s.scores + i * length, count: length) }
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, t, dd, t, 1, s.scores, t, value, dd, 0,
                                out + h * d, Int32(width))
                }
            }
            first += length
        }
    }

    /// Every buffer of a forward pass, allocated once per batch.
    private struct Scratch {
        let queryKeyValue, context, projected, hidden, scores, head: UnsafeMutablePointer<Float>

        init(rows: Int, width: Int, intermediate: Int, longest: Int) {
            func buffer(_ count: Int) -> UnsafeMutablePointer<Float> { .allocate(capacity: max(count, 1)) }
            (queryKeyValue, context, projected) = (buffer(rows * 3 * width), buffer(rows * width), buffer(rows * width))
            hidden = buffer(rows * intermediate)
            scores = buffer(longest * longest)
            head = buffer(3 * longest * width)
        }

        func deallocate() {
            for buffer in [queryKeyValue, context, projected, hidden, scores, head] { buffer.deallocate() }
        }
    }
}

// MARK: - Layers

/// `y = x Wᵀ + b` for a batch of rows, weights in PyTorch `nn.Linear` layout (`[out, in]`).
struct Dense: Sendable {
    let inputs: Int, outputs: Int
    let weight: [Float]
    let bias: [Float]

    init(inputs: Int, outputs: Int, weight: [Float], bias: [Float]) {
        precondition(weight.count == inputs * outputs && bias.count == outputs)
        (self.inputs, self.outputs, self.weight, self.bias) = (inputs, outputs, weight, bias)
    }

    /// Layers reading the same input, stacked into one: their outputs side by side in each row.
    init(stacking parts: [Dense]) {
        self.init(inputs: parts[0].inputs, outputs: parts.map(\.outputs).reduce(0, +),
                  weight: parts.flatMap(\.weight), bias: parts.flatMap(\.bias))
    }

    func apply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        weight.withUnsafeBufferPointer { w in
            MatrixMultiply.gemm(m: rows, n: outputs, k: inputs, a: x, b: w.baseAddress!, transposeB: true, c: y)
        }
        bias.withUnsafeBufferPointer { b in
            for r in 0..<rows {
                let out = y + r * outputs
                for o in 0..<outputs { out[o] += b[o] }
            }
        }
    }
}

/// Layer normalisation over each row, with learned scale and shift.
struct LayerNorm: Sendable {
    let weight: [Float], bias: [Float]
    let epsilon: Float

    /// Normalises `rows` rows of `x` into `y` (which may be `x`).
    func apply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        let width = weight.count
        for r in 0..<rows { normalize(x + r * width, into: y + r * width, width: width) }
    }

    /// `y = LN(residual + x)` row by row; `y` may be `residual` (the residual stream, updated in place).
    func apply(residual: UnsafeMutablePointer<Float>, _ x: UnsafeMutablePointer<Float>, rows: Int,
               into y: UnsafeMutablePointer<Float>) {
        let width = weight.count
        for i in 0..<(rows * width) { x[i] += residual[i] }
        apply(x, rows: rows, into: y)
    }

    private func normalize(_ input: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>, width: Int) {
        var mean: Float = 0
        for i in 0..<width { mean += input[i] }
        mean /= Float(width)
        var variance: Float = 0
        for i in 0..<width { let d = input[i] - mean; variance += d * d }
        let scale = 1 / (variance / Float(width) + epsilon).squareRoot()
        weight.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { b in
                for i in 0..<width { output[i] = (input[i] - mean) * scale * w[i] + b[i] }
            }
        }
    }
}

/// Elementwise kernels of the encoder.
enum Activation {
    /// GELU with the exact erf, `0.5 x (1 + erf(x / √2))`, in place, eight lanes at a time.
    static func gelu(_ values: UnsafeMutablePointer<Float>, count: Int) {
        let raw = UnsafeMutableRawPointer(values)
        let vectorEnd = count / 8 * 8
        for i in stride(from: 0, to: vectorEnd, by: 8) {
            let x = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            raw.storeBytes(of: 0.5 * x * (1 + erf(x * 0.707_106_78)), toByteOffset: i * 4, as: SIMD8<Float>.self)
        }
        for i in vectorEnd..<count { values[i] = 0.5 * values[i] * (1 + erff(values[i] * 0.707_106_78)) }
    }

    /// `erf` per lane as a rational function of odd and even polynomials on [-4, 4] (beyond which
    /// erf is ±1 in single precision): Eigen's and XLA's `erf` for floats, within a few ulp.
    /// The libm call per element was most of the MLP's non-GEMM time.
    @inline(__always)
    static func erf(_ input: SIMD8<Float>) -> SIMD8<Float> {
        var x = input.replacing(with: 4, where: input .> 4)
        x.replace(with: -4, where: x .< -4)
        let x2 = x * x
        var p = x2 * -2.726_142_258_013_06e-10 + 2.770_681_424_959_02e-08
        p = x2 * p - 2.101_024_020_825_08e-06
        p = x2 * p - 5.692_506_394_623_46e-05
        p = x2 * p - 7.349_906_303_268_55e-04
        p = x2 * p - 2.954_599_808_540_25e-03
        p = x2 * p - 1.609_603_332_624_15e-02
        p = x * p
        var q = x2 * -1.456_607_184_649_96e-05 - 2.133_740_552_789_05e-04
        q = x2 * q - 1.682_826_974_382_03e-03
        q = x2 * q - 7.373_329_167_204_68e-03
        q = x2 * q - 1.426_473_905_141_89e-02
        return p / q
    }

    /// `a · b` over `count` floats, eight lanes at a time.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        let (ra, rb) = (UnsafeRawPointer(a), UnsafeRawPointer(b))
        var sums = SIMD8<Float>()
        let vectorEnd = count / 8 * 8
        for i in stride(from: 0, to: vectorEnd, by: 8) {
            sums += ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                * rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
        }
        var sum = sums.sum()
        for i in vectorEnd..<count { sum += a[i] * b[i] }
        return sum
    }

    /// In-place softmax of `count` values.
    static func softmax(_ values: UnsafeMutablePointer<Float>, count: Int) {
        var maximum = -Float.infinity
        for i in 0..<count { maximum = max(maximum, values[i]) }
        var sum: Float = 0
        for i in 0..<count { values[i] = expf(values[i] - maximum); sum += values[i] }
        let inverse = 1 / sum
        for i in 0..<count { values[i] *= inverse }
    }
}
