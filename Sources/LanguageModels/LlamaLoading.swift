import Foundation
import ModelFormats
import Tensors

// MARK: - Tensor names

/// Where each tensor of layer `i` lives in a checkpoint layout.
struct LayerTensorNames: Sendable {
    /// Followed by the layer index and a dot.
    let prefix: String
    let attentionNorm, query, key, value, attentionOutput, feedForwardNorm, gate, up, down: String

    /// llama.cpp's GGUF names.
    static let gguf = LayerTensorNames(
        prefix: "blk.", attentionNorm: "attn_norm.weight", query: "attn_q.weight", key: "attn_k.weight",
        value: "attn_v.weight", attentionOutput: "attn_output.weight", feedForwardNorm: "ffn_norm.weight",
        gate: "ffn_gate.weight", up: "ffn_up.weight", down: "ffn_down.weight")

    /// Hugging Face `LlamaForCausalLM` names.
    static let huggingFace = LayerTensorNames(
        prefix: "model.layers.", attentionNorm: "input_layernorm.weight", query: "self_attn.q_proj.weight",
        key: "self_attn.k_proj.weight", value: "self_attn.v_proj.weight", attentionOutput: "self_attn.o_proj.weight",
        feedForwardNorm: "post_attention_layernorm.weight", gate: "mlp.gate_proj.weight", up: "mlp.up_proj.weight",
        down: "mlp.down_proj.weight")

    /// The same names under an outer prefix (a model nested in a larger checkpoint).
    func prefixed(by outer: String) -> LayerTensorNames {
        LayerTensorNames(prefix: outer + prefix, attentionNorm: attentionNorm, query: query, key: key, value: value,
                         attentionOutput: attentionOutput, feedForwardNorm: feedForwardNorm, gate: gate, up: up, down: down)
    }
}

extension Llama.Layer {
    /// Layer `index`, its tensors fetched by their names in `names`.
    init(index: Int, names: LayerTensorNames, matrix: (String) throws -> WeightMatrix,
         vector: (String) throws -> [Float]) throws {
        let p = "\(names.prefix)\(index)."
        self.init(attentionNorm: try vector(p + names.attentionNorm),
                  query: try matrix(p + names.query), key: try matrix(p + names.key), value: try matrix(p + names.value),
                  attentionOutput: try matrix(p + names.attentionOutput),
                  feedForwardNorm: try vector(p + names.feedForwardNorm),
                  gate: try matrix(p + names.gate), up: try matrix(p + names.up), down: try matrix(p + names.down))
    }
}

// MARK: - GGUF (llama.cpp layout)

extension LlamaConfiguration {
    /// The configuration in a GGUF file's `llama.*` metadata.
    public init(gguf: GGUFFile) throws {
        let architecture = gguf.architecture ?? "(none)"
        guard architecture == "llama" else {
            throw ModelError.unsupported("\(gguf.name): architecture '\(architecture)'; this decoder runs 'llama' GGUF files")
        }
        let m = gguf.metadata
        let heads = try m.requireInt("llama.attention.head_count")
        let hidden = try m.requireInt("llama.embedding_length")
        self.init(
            vocabularySize: try gguf.requireTensorInfo("token_embd.weight").rowCount,
            hiddenSize: hidden,
            intermediateSize: try m.requireInt("llama.feed_forward_length"),
            layerCount: try m.requireInt("llama.block_count"),
            headCount: heads,
            keyValueHeadCount: m["llama.attention.head_count_kv"]?.int ?? heads,
            headDimension: m["llama.rope.dimension_count"]?.int ?? hidden / heads,
            ropeTheta: m["llama.rope.freq_base"]?.float ?? 10_000,
            ropeStyle: .interleaved,
            ropeScaling: try Self.ropeScaling(gguf: gguf),
            ropeAngles: .ggml,
            rmsNormEpsilon: try m.requireFloat("llama.attention.layer_norm_rms_epsilon"),
            contextLength: try m.requireInt("llama.context_length"))
    }

    /// `llama.rope.scaling.type` (`none`, or `linear` with `llama.rope.scaling.factor`) and the
    /// `rope_freqs.weight` tensor llama.cpp's converter stores for LLaMA-3's llama3 scaling.
    static func ropeScaling(gguf: GGUFFile) throws -> RopeScaling {
        let type = gguf.metadata["llama.rope.scaling.type"]?.string ?? "none"
        let divisors = gguf.tensorInfo("rope_freqs.weight") == nil ? nil : try gguf.tensor("rope_freqs.weight").scalars
        switch (type, divisors) {
        case ("none", nil): return .none
        case ("none", let divisors?):
            guard divisors.allSatisfy({ $0 > 0 && $0.isFinite }) else {
                throw ModelError.invalid("\(gguf.name): rope_freqs.weight holds a divisor that is not a positive number")
            }
            return .frequencyDivisors(divisors)
        case ("linear", nil):
            let factor = try gguf.metadata.requireFloat("llama.rope.scaling.factor")
            guard factor > 0, factor.isFinite else {
                throw ModelError.invalid("\(gguf.name): llama.rope.scaling.factor is \(factor), expected a positive number")
            }
            return .linear(factor: factor)
        default:
            throw ModelError.unsupported("\(gguf.name): llama.rope.scaling.type '\(type)'\(divisors == nil ? "" : " with rope_freqs.weight") (known: none, linear, and rope_freqs.weight alone)")
        }
    }
}

extension Llama {
    /// Loads a LLaMA GGUF file, memory-mapped: weights stay in their stored block format.
    public convenience init(gguf url: URL, threads: Int) throws {
        try self.init(gguf: try GGUFFile(url: url), threads: threads)
    }

    /// Builds the decoder over an open GGUF file, which the weights keep alive.
    public convenience init(gguf: GGUFFile, threads: Int) throws {
        let configuration = try LlamaConfiguration(gguf: gguf)
        func matrix(_ name: String) throws -> WeightMatrix {
            let info = try gguf.requireTensorInfo(name)
            guard let format = info.type.blockFormat else {
                throw ModelError.unsupported("\(gguf.name): tensor '\(name)' has type \(info.type)")
            }
            guard info.dimensions.count == 2 else {
                throw ModelError.shapeMismatch(tensor: name, expected: [0, 0], found: info.shape)
            }
            return WeightMatrix(format: format, rows: info.rowCount, columns: info.rowLength,
                                data: try gguf.rawBytes(name).baseAddress!, owner: gguf.mapping)
        }
        func vector(_ name: String) throws -> [Float] { try gguf.tensor(name).scalars }
        let layers = try (0..<configuration.layerCount).map { i in
            try Layer(index: i, names: .gguf, matrix: matrix, vector: vector)
        }
        try self.init(configuration: configuration, tokenEmbedding: try matrix("token_embd.weight"), layers: layers,
                      outputNorm: try vector("output_norm.weight"),
                      output: gguf.tensorInfo("output.weight") == nil ? nil : try matrix("output.weight"),
                      threads: threads)
    }
}

// MARK: - Hugging Face (config.json + model.safetensors)

/// The fields of a Hugging Face LLaMA `config.json` (or a LLaVA config's `text_config`) that
/// this decoder needs.
public struct HuggingFaceLlamaConfig: Decodable, Sendable {
    var vocab_size: Int
    var hidden_size: Int
    var intermediate_size: Int
    var num_hidden_layers: Int
    var num_attention_heads: Int
    var num_key_value_heads: Int?
    var head_dim: Int?
    var rms_norm_eps: Float
    var max_position_embeddings: Int
    var tie_word_embeddings: Bool?
    /// transformers 4.x keeps the RoPE base here and its scaling in `rope_scaling` ...
    var rope_theta: Float?
    var rope_scaling: RopeParameters?
    /// ... and 5.x both in `rope_parameters`.
    var rope_parameters: RopeParameters?
    var model_type: String?

    struct RopeParameters: Decodable, Sendable {
        var rope_theta: Float?
        var rope_type: String?
        /// The 4.x spelling of `rope_type`.
        var type: String?
        var factor: Float?
        var low_freq_factor: Float?
        var high_freq_factor: Float?
        var original_max_position_embeddings: Int?
    }

    /// Reads `config.json`, naming the file in any error.
    public init(contentsOf url: URL) throws {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw ModelError.invalid("\(url.path): cannot read the model configuration")
        }
        do {
            self = try JSONDecoder().decode(Self.self, from: data)
        } catch {
            throw ModelError.invalid("\(url.path): \(error)")
        }
    }

    /// The decoder's configuration, refusing what this decoder does not implement.
    func configuration(source: String) throws -> LlamaConfiguration {
        if let type = model_type, type != "llama" {
            throw ModelError.unsupported("\(source): model_type '\(type)'; this decoder runs 'llama'")
        }
        return LlamaConfiguration(
            vocabularySize: vocab_size, hiddenSize: hidden_size, intermediateSize: intermediate_size,
            layerCount: num_hidden_layers, headCount: num_attention_heads,
            keyValueHeadCount: num_key_value_heads ?? num_attention_heads, headDimension: head_dim,
            ropeTheta: rope_parameters?.rope_theta ?? rope_theta ?? 10_000, ropeStyle: .halves,
            ropeScaling: try ropeScaling(source: source),
            rmsNormEpsilon: rms_norm_eps, contextLength: max_position_embeddings)
    }

    /// The scaling `rope_parameters` (5.x) or `rope_scaling` (4.x) names: `default`, `linear`
    /// (`factor`) or `llama3` (`factor`, `low_freq_factor`, `high_freq_factor`,
    /// `original_max_position_embeddings`).
    private func ropeScaling(source: String) throws -> LlamaConfiguration.RopeScaling {
        let parameters = rope_parameters ?? rope_scaling
        func positive<Value: Comparable & Numeric>(_ value: Value?, _ name: String) throws -> Value {
            guard let value, value > 0 else {
                throw ModelError.invalid("\(source): RoPE scaling needs \(name) > 0, found \(value.map { "\($0)" } ?? "none")")
            }
            return value
        }
        switch parameters?.rope_type ?? parameters?.type ?? "default" {
        case "default":
            return .none
        case "linear":
            return .linear(factor: try positive(parameters?.factor, "factor"))
        case "llama3":
            let low = try positive(parameters?.low_freq_factor, "low_freq_factor")
            let high = try positive(parameters?.high_freq_factor, "high_freq_factor")
            guard high > low else {
                throw ModelError.invalid("\(source): llama3 RoPE scaling needs high_freq_factor (\(high)) > low_freq_factor (\(low))")
            }
            return .llama3(factor: try positive(parameters?.factor, "factor"), lowFrequencyFactor: low, highFrequencyFactor: high,
                           originalContextLength: try positive(parameters?.original_max_position_embeddings,
                                                               "original_max_position_embeddings"))
        case let other:
            throw ModelError.unsupported("\(source): rope_type '\(other)' (known: default, linear, llama3)")
        }
    }
}

extension Llama {
    /// Loads a Hugging Face LLaMA checkpoint directory (`config.json`, `model.safetensors`)
    /// with F32, F16 or BF16 weights, memory-mapped.
    public convenience init(huggingFace directory: URL, threads: Int) throws {
        let configURL = directory.appendingPathComponent("config.json")
        try self.init(huggingFace: try HuggingFaceLlamaConfig(contentsOf: configURL),
                      weights: try SafeTensorsFile(url: directory.appendingPathComponent("model.safetensors")),
                      source: configURL.path, threads: threads)
    }

    /// The decoder inside a larger checkpoint: tensors named `<prefix>model.layers.N...`,
    /// `<prefix>model.embed_tokens.weight`, `<prefix>lm_head.weight` (LLaVA's `language_model.`).
    public convenience init(huggingFace hf: HuggingFaceLlamaConfig, weights file: SafeTensorsFile, prefix: String = "",
                            source: String, threads: Int) throws {
        let configuration = try hf.configuration(source: source)
        func matrix(_ name: String) throws -> WeightMatrix {
            let info = try file.requireTensorInfo(name)
            let format: BlockFormat
            switch info.dtype {
            case .f32: format = .f32
            case .f16: format = .f16
            case .bf16: format = .bf16
            default: throw ModelError.unsupported("\(file.name): tensor '\(name)' has dtype \(info.dtype)")
            }
            guard info.shape.count == 2 else {
                throw ModelError.shapeMismatch(tensor: name, expected: [0, 0], found: info.shape)
            }
            return WeightMatrix(format: format, rows: info.shape[0], columns: info.shape[1],
                                data: try file.rawBytes(name).baseAddress!, owner: file.mapping)
        }
        func vector(_ name: String) throws -> [Float] { try file.tensor(name).scalars }
        let names = LayerTensorNames.huggingFace.prefixed(by: prefix)
        let layers = try (0..<configuration.layerCount).map { i in
            try Layer(index: i, names: names, matrix: matrix, vector: vector)
        }
        let tied = hf.tie_word_embeddings ?? false
        try self.init(configuration: configuration, tokenEmbedding: try matrix(prefix + "model.embed_tokens.weight"),
                      layers: layers, outputNorm: try vector(prefix + "model.norm.weight"),
                      output: tied ? nil : try matrix(prefix + "lm_head.weight"), threads: threads)
    }
}
