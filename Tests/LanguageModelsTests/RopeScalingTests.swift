import Foundation
import ModelFormats
import Tensors
import Testing
@testable import LanguageModels

/// The tiny random LLaMA of `HuggingFaceLlamaTests` run by `transformers` with LLaMA-3's llama3
/// RoPE scaling and with linear scaling on 56 tokens, past the original context of 32
/// (scripts/fixtures/make_rope_scaling_reference.py), and the same weights as llama.cpp's
/// converter writes a LLaMA-3 GGUF (`rope_freqs.weight`).
@Suite struct RopeScalingTests {
    private struct Reference: Decodable {
        struct Variant: Decodable {
            let name: String
            let inv_freq: [Float]
            let gguf_rope_freqs: [Float]?
            let logits: [[Float]]
        }
        let tokens: [Int]
        let positions: [Int]
        let variants: [Variant]

        func variant(_ name: String) throws -> Variant { try #require(variants.first { $0.name == name }) }
    }

    private static let directory = Bundle.module.url(forResource: "Fixtures/tiny-llama", withExtension: nil)!
    private static let referenceData = Result { try Data(contentsOf: directory.appendingPathComponent("rope_scaling.json")) }
    private static let reference = Result { try JSONDecoder().decode(Reference.self, from: referenceData.get()) }

    /// A variant's `rope_parameters`, as transformers wrote them in `config.json`.
    private func ropeParameters(_ name: String) throws -> [String: Any] {
        let root = try JSONSerialization.jsonObject(with: Self.referenceData.get()) as! [String: Any]
        let variant = try #require((root["variants"] as! [[String: Any]]).first { $0["name"] as? String == name })
        return variant["rope_parameters"] as! [String: Any]
    }

    /// The largest difference between the model's logits and the reference's at its positions.
    private func worstDifference(_ model: Llama, _ variant: Reference.Variant) throws -> Float {
        let reference = try Self.reference.get()
        let session = LlamaSession(model: model, capacity: 64, cachePrecision: .f32)
        var worst: Float = 0
        _ = try session.evaluateAll(reference.tokens) { position, logits in
            if let row = reference.positions.firstIndex(of: position) {
                for (a, b) in zip(logits, variant.logits[row]) { worst = max(worst, abs(a - b)) }
            }
        }
        return worst
    }

    /// The tiny checkpoint with its `config.json` edited by `edit`, in a scratch directory.
    private func checkpoint(_ edit: (inout [String: Any]) -> Void, body: (URL) throws -> Void) throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("rope-\(UUID())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        var config = try JSONSerialization.jsonObject(
            with: Data(contentsOf: Self.directory.appendingPathComponent("config.json"))) as! [String: Any]
        edit(&config)
        try JSONSerialization.data(withJSONObject: config).write(to: scratch.appendingPathComponent("config.json"))
        try FileManager.default.createSymbolicLink(at: scratch.appendingPathComponent("model.safetensors"),
                                                   withDestinationURL: Self.directory.appendingPathComponent("model.safetensors"))
        try body(scratch)
    }

    private func expectClose(_ a: [Float], _ b: [Float], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(a.count == b.count, sourceLocation: sourceLocation)
        for (x, y) in zip(a, b) { #expect(abs(x - y) <= 1e-6 * max(1, abs(y)), "\(a) vs \(b)", sourceLocation: sourceLocation) }
    }

    /// transformers 5.x writes the scaling into `rope_parameters`.
    @Test func llama3ScalingFromConfigMatchesTransformers() throws {
        let variant = try Self.reference.get().variant("llama3")
        let parameters = try ropeParameters("llama3")
        try checkpoint({ $0["rope_parameters"] = parameters }) { directory in
            let model = try Llama(huggingFace: directory, threads: 2)
            #expect(model.configuration.ropeScaling == .llama3(factor: 8, lowFrequencyFactor: 1, highFrequencyFactor: 4,
                                                                originalContextLength: 32))
            expectClose(model.configuration.ropeInverseFrequencies(), variant.inv_freq)
            let worst = try worstDifference(model, variant)
            #expect(worst <= 1e-4, "largest logit difference \(worst)")
        }
    }

    /// transformers 4.x wrote it as `rope_scaling` (with `type`), the base as `rope_theta`.
    @Test func linearScalingFromLegacyConfigMatchesTransformers() throws {
        let variant = try Self.reference.get().variant("linear")
        let parameters = try ropeParameters("linear")
        try checkpoint({ config in
            config["rope_parameters"] = nil
            config["rope_theta"] = parameters["rope_theta"]
            config["rope_scaling"] = ["type": "linear", "factor": parameters["factor"]!]
        }) { directory in
            let model = try Llama(huggingFace: directory, threads: 1)
            #expect(model.configuration.ropeScaling == .linear(factor: 4))
            expectClose(model.configuration.ropeInverseFrequencies(), variant.inv_freq)
            let worst = try worstDifference(model, variant)
            #expect(worst <= 1e-4, "largest logit difference \(worst)")
        }
    }

    /// Without the scaling the same weights give other logits: the references test the scaling.
    @Test func unscaledModelDiffers() throws {
        let model = try Llama(huggingFace: Self.directory, threads: 1)
        #expect(model.configuration.ropeScaling == .none)
        for name in ["llama3", "linear"] {
            #expect(try worstDifference(model, try Self.reference.get().variant(name)) > 0.1)
        }
    }

    /// llama.cpp's converter keeps llama3 scaling only as the `rope_freqs.weight` divisors.
    @Test func llama3ScalingFromGGUFMatchesTransformers() throws {
        let variant = try Self.reference.get().variant("llama3")
        let model = try Llama(gguf: Self.directory.appendingPathComponent("llama3-rope.gguf"), threads: 2)
        #expect(model.configuration.ropeStyle == .interleaved)
        #expect(model.configuration.ropeScaling == .frequencyDivisors(try #require(variant.gguf_rope_freqs)))
        expectClose(model.configuration.ropeInverseFrequencies(), variant.inv_freq)
        let worst = try worstDifference(model, variant)
        #expect(worst <= 1e-4, "largest logit difference \(worst)")
    }

    /// A GGUF holding only what `LlamaConfiguration(gguf:)` reads, plus `extra` metadata.
    private func ggufConfiguration(_ extra: [String: GGUFValue], ropeFrequencies: [Float]? = nil) throws -> LlamaConfiguration {
        var writer = GGUFWriter()
        writer.metadata["general.architecture"] = .string("llama")
        let keys: [String: GGUFValue] = [
            "llama.attention.head_count": .uint32(4), "llama.embedding_length": .uint32(64),
            "llama.feed_forward_length": .uint32(160), "llama.block_count": .uint32(2),
            "llama.attention.head_count_kv": .uint32(2), "llama.attention.layer_norm_rms_epsilon": .float32(1e-5),
            "llama.context_length": .uint32(128),
        ]
        for (key, value) in keys.merging(extra, uniquingKeysWith: { $1 }) { writer.metadata[key] = value }
        try writer.addTensor("token_embd.weight", Tensor(repeating: 0, shape: [8, 64]))
        if let ropeFrequencies { try writer.addTensor("rope_freqs.weight", Tensor(shape: [ropeFrequencies.count], scalars: ropeFrequencies)) }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("rope-\(UUID()).gguf")
        defer { try? FileManager.default.removeItem(at: url) }
        try writer.write(to: url)
        return try LlamaConfiguration(gguf: GGUFFile(url: url))
    }

    @Test func linearScalingFromGGUFMetadata() throws {
        let variant = try Self.reference.get().variant("linear")
        let configuration = try ggufConfiguration(["llama.rope.scaling.type": .string("linear"),
                                                   "llama.rope.scaling.factor": .float32(4)])
        #expect(configuration.ropeScaling == .linear(factor: 4))
        expectClose(configuration.ropeInverseFrequencies(), variant.inv_freq)
        #expect(try ggufConfiguration(["llama.rope.scaling.type": .string("none")]).ropeScaling == .none)
    }

    @Test func unsupportedOrBrokenScalingIsAnError() throws {
        #expect(throws: ModelError.self) { try ggufConfiguration(["llama.rope.scaling.type": .string("yarn")]) }
        #expect(throws: ModelFormatError.self) { try ggufConfiguration(["llama.rope.scaling.type": .string("linear")]) }
        #expect(throws: ModelError.self) {
            try ggufConfiguration(["llama.rope.scaling.type": .string("linear"), "llama.rope.scaling.factor": .float32(0)])
        }
        #expect(throws: ModelError.self) { try ggufConfiguration([:], ropeFrequencies: [1, 2, 0, 4, 5, 6, 7, 8]) }
        func rejected(_ parameters: [String: Any]) throws {
            try checkpoint({ $0["rope_parameters"] = parameters }) { directory in
                #expect(throws: ModelError.self) { try Llama(huggingFace: directory, threads: 1) }
            }
        }
        try rejected(["rope_type": "yarn", "rope_theta": 10_000.0, "factor": 4.0])
        try rejected(["rope_type": "linear", "rope_theta": 10_000.0, "factor": -1.0])
        try rejected(["rope_type": "llama3", "rope_theta": 10_000.0, "factor": 8.0, "low_freq_factor": 4.0,
                      "high_freq_factor": 1.0, "original_max_position_embeddings": 32])
        try checkpoint({ $0["rope_parameters"] = ["rope_type": "llama3", "rope_theta": 10_000.0, "factor": 8.0,
                                                  "low_freq_factor": 1.0, "high_freq_factor": 4.0] }) { directory in
            let error = #expect(throws: ModelError.self) { try Llama(huggingFace: directory, threads: 1) }
            #expect("\(error!)".contains("original_max_position_embeddings"))
        }
    }

    /// The llama3 GGUF with three divisors for its eight frequencies.
    @Test func ropeFrequencyCountIsChecked() throws {
        let source = try GGUFFile(url: Self.directory.appendingPathComponent("llama3-rope.gguf"))
        var writer = GGUFWriter()
        writer.metadata = source.metadata
        for info in source.tensors {
            if info.name == "rope_freqs.weight" {
                try writer.addTensor(info.name, Tensor(shape: [3], scalars: [1, 2, 3]))
            } else {
                try writer.addTensor(info.name, type: info.type, dimensions: info.dimensions, bytes: Array(try source.rawBytes(info.name)))
            }
        }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("rope-\(UUID()).gguf")
        defer { try? FileManager.default.removeItem(at: url) }
        try writer.write(to: url)
        #expect(throws: ModelError.shapeMismatch(tensor: "rope_freqs.weight", expected: [8], found: [3])) {
            try Llama(gguf: url, threads: 1)
        }
    }
}
