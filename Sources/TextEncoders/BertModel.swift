// The BERT encoder (Devlin et al. 2019) as Hugging Face `BertModel` computes it: word, position
// and token-type embeddings, then post-norm transformer layers (attention and MLP each added to
// the residual stream, then LayerNorm). Weight names are Hugging Face's (`embeddings.*`,
// `encoder.layer.N.*`); sentence-transformers' MiniLM checkpoints store them without a prefix.
//
// Sequences run packed back to back without padding: every dense layer treats rows (tokens)
// independently, and attention runs per sequence over its own rows, so a batch of short texts
// costs what its tokens cost — the same result as padding plus an attention mask, minus the
// padding's work. The layers are `Tensors`' `Linear` and `LayerNorm`, run on the calling thread
// (single-threaded sgemms: callers parallelise over batches).

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
        let queryKeyValue: Linear
        let attentionOutput: Linear
        let attentionNorm: LayerNorm
        /// Followed by GELU.
        let intermediate: Linear
        let output: Linear
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
        func linear(_ name: String, _ inputs: Int, _ outputs: Int) throws -> Linear {
            Linear(inputs: inputs, outputs: outputs, weight: try tensor(name + ".weight", [outputs, inputs]),
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
                queryKeyValue: Linear(stacking: try ["query", "key", "value"].map { try linear(l + "attention.self." + $0, h, h) }),
                attentionOutput: try linear(l + "attention.output.dense", h, h),
                attentionNorm: try norm(l + "attention.output.LayerNorm"),
                intermediate: try linear(l + "intermediate.dense", h, m),
                output: try linear(l + "output.dense", m, h),
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
        MatrixMultiply.useSingleThreadedBLAS()
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
        layer.intermediate.apply(x, rows: rows, into: s.hidden, activation: .gelu)
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
                            s.scores[j] = VectorMath.dot(query, base + j * stacked + width + h * d, count: d) * scale
                        }
                        VectorMath.softmax(s.scores, count: length)
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
                    for i in 0..<length { VectorMath.softmax(s.scores + i * length, count: length) }
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
