// LLaVA (Liu et al. 2023): a CLIP vision tower, a projector, and a LLaMA-family decoder that
// reads the projected image features in place of the `<image>` placeholder tokens.
// Loads Hugging Face `LlavaForConditionalGeneration` checkpoints (llava-hf layout) here, the
// original LLaVA layout in OriginalCheckpoint.swift, llama.cpp's GGUF + mmproj pair below.

import Foundation
import LanguageModels
import ModelFormats
import Tensors
import VisionModels

/// What `config.json` of a Hugging Face LLaVA checkpoint says.
public struct LLaVAConfiguration: Decodable, Sendable {
    public var vision: CLIPVisionConfiguration
    public var text: HuggingFaceLlamaConfig
    /// The token id that stands for image positions in the prompt.
    public var imageTokenIndex: Int
    public var projectorActivation: String
    /// The vision layer whose output becomes the image features (LLaVA: -2).
    public var visionFeatureLayer: Int
    /// `default` drops the class token, `full` keeps it.
    public var visionFeatureSelectStrategy: String

    enum CodingKeys: String, CodingKey {
        case vision = "vision_config", text = "text_config", imageTokenIndex = "image_token_index"
        case projectorActivation = "projector_hidden_act", visionFeatureLayer = "vision_feature_layer"
        case visionFeatureSelectStrategy = "vision_feature_select_strategy"
    }
}

/// Why a LLaVA model cannot be loaded or run on the given input.
public enum LLaVAError: Error, CustomStringConvertible, Equatable {
    case invalid(String)
    case imageCountMismatch(placeholders: Int, images: Int)
    case placeholderLength(run: Int, expected: Int)

    public var description: String {
        switch self {
        case .invalid(let why): why
        case .imageCountMismatch(let placeholders, let images):
            "the prompt has \(placeholders) image placeholder\(placeholders == 1 ? "" : "s") but \(images) image\(images == 1 ? " was" : "s were") given"
        case .placeholderLength(let run, let expected):
            "a run of \(run) image tokens in the prompt; expected 1 (a placeholder) or \(expected) (one per image feature)"
        }
    }
}

/// A loaded LLaVA model: any ``VisionEncoder``, a projector, and the LLaMA decoder.
public final class LLaVAModel: @unchecked Sendable {
    public let vision: any VisionEncoder
    public let projector: Projector
    public let language: Llama
    /// The token id that stands for image positions in a prompt.
    public let imageToken: Int

    public init(vision: any VisionEncoder, projector: Projector, language: Llama, imageToken: Int) {
        (self.vision, self.projector, self.language, self.imageToken) = (vision, projector, language, imageToken)
    }

    /// Loads a checkpoint directory in either layout, told apart by `config.json`: llava-hf's
    /// (`vision_config`) or the original LLaVA's (`mm_vision_tower`). `visionTower` overrides the
    /// CLIP tower directory an original checkpoint names.
    public convenience init(directory: URL, visionTower: URL? = nil, threads: Int) throws {
        let configURL = directory.appendingPathComponent("config.json")
        let keys = try Self.jsonObject(try Self.readData(configURL), source: configURL.path).keys
        if keys.contains("vision_config") {
            try self.init(huggingFace: directory, threads: threads)
        } else if keys.contains("mm_vision_tower") {
            try self.init(original: directory, visionTower: visionTower, threads: threads)
        } else {
            throw LLaVAError.invalid("\(configURL.path): neither a llava-hf checkpoint (no vision_config) nor an original LLaVA one (no mm_vision_tower)")
        }
    }

    /// Loads a llava-hf directory (`config.json`, `model.safetensors`).
    public convenience init(huggingFace directory: URL, threads: Int) throws {
        let configURL = directory.appendingPathComponent("config.json")
        let configuration: LLaVAConfiguration
        do {
            configuration = try JSONDecoder().decode(LLaVAConfiguration.self, from: try Self.readData(configURL))
        } catch let error as LLaVAError {
            throw error
        } catch {
            throw LLaVAError.invalid("\(configURL.path): \(error)")
        }
        guard configuration.projectorActivation == "gelu" else {
            throw LLaVAError.invalid("\(configURL.path): projector_hidden_act '\(configuration.projectorActivation)' (only gelu)")
        }
        let weights = try SafeTensorsFile(url: directory.appendingPathComponent("model.safetensors"))
        let languagePrefix = weights.tensorInfo("language_model.model.embed_tokens.weight") != nil ? "language_model." : ""
        let language = try Llama(huggingFace: configuration.text, weights: weights, prefix: languagePrefix,
                                 source: configURL.path, threads: threads)
        // transformers 5 saves the tower as `vision_tower.*`; llava-hf checkpoints on the hub
        // as `vision_tower.vision_model.*`.
        let towerPrefix = weights.tensorInfo("vision_tower.vision_model.embeddings.class_embedding") != nil
            ? "vision_tower.vision_model." : "vision_tower."
        let tower = try CLIPVisionTransformer(configuration: configuration.vision, weights: weights, prefix: towerPrefix)
        let projector = try Projector(kind: .mlp(depth: 2), weights: weights, inputs: configuration.vision.hiddenSize,
                                      outputs: language.configuration.hiddenSize) { "multi_modal_projector.linear_\($0 + 1)" }
        let vision = CLIPVisionEncoder(tower: tower, selectLayer: configuration.visionFeatureLayer,
                                       keepClassToken: configuration.visionFeatureSelectStrategy == "full", pool: language.pool)
        self.init(vision: vision, projector: projector, language: language, imageToken: configuration.imageTokenIndex)
    }

    /// The bytes of a configuration file, or an error naming it.
    static func readData(_ url: URL) throws -> Data {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw LLaVAError.invalid("\(url.path): cannot read the model configuration")
        }
        return data
    }

    /// A configuration file's JSON object, or an error naming the file.
    static func jsonObject(_ data: Data, source: String) throws -> [String: Any] {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw LLaVAError.invalid("\(source): not a JSON object")
        }
        return object
    }

    /// Visual tokens per image, each one embedding in the language model's input.
    public var imageTokenCount: Int { vision.tokenCount }

    /// The projected features of one preprocessed image, one embedding per visual token.
    public func imageEmbeddings(_ pixels: Tensor) -> [[Float]] {
        let projected = projector(vision.encode(pixels), pool: language.pool)
        let width = projected.shape[1]
        return (0..<projected.shape[0]).map { Array(projected.scalars[$0 * width..<($0 + 1) * width]) }
    }

    /// The decoder's inputs for a prompt: each run of image tokens (a single placeholder, or as
    /// many tokens as an image has features) becomes the next image's embeddings. Images are
    /// encoded as their placeholders are reached, so a prompt with too few fails early.
    public func inputs(tokens: [Int], images: [Tensor]) throws -> [LlamaInput] {
        try splice(tokens: tokens, imageCount: images.count) { imageEmbeddings(images[$0]) }
    }

    /// ``inputs(tokens:images:)`` for images already through ``imageEmbeddings(_:)`` (a
    /// conversation encodes its images once for every turn).
    public func inputs(tokens: [Int], imageEmbeddings: [[[Float]]]) throws -> [LlamaInput] {
        try splice(tokens: tokens, imageCount: imageEmbeddings.count) { imageEmbeddings[$0] }
    }

    private func splice(tokens: [Int], imageCount: Int, embeddings: (Int) -> [[Float]]) throws -> [LlamaInput] {
        var inputs: [LlamaInput] = []
        var used = 0
        var i = 0
        while i < tokens.count {
            guard tokens[i] == imageToken else { inputs.append(.token(tokens[i])); i += 1; continue }
            var run = 0
            while i + run < tokens.count && tokens[i + run] == imageToken { run += 1 }
            guard run == 1 || run == imageTokenCount else {
                throw LLaVAError.placeholderLength(run: run, expected: imageTokenCount)
            }
            guard used < imageCount else {
                let placeholders = runs(of: imageToken, in: tokens)
                throw LLaVAError.imageCountMismatch(placeholders: placeholders, images: imageCount)
            }
            inputs += embeddings(used).map(LlamaInput.embedding)
            used += 1
            i += run
        }
        guard used == imageCount else {
            throw LLaVAError.imageCountMismatch(placeholders: used, images: imageCount)
        }
        return inputs
    }

    private func runs(of token: Int, in tokens: [Int]) -> Int {
        zip(tokens.indices, tokens).filter { i, t in t == token && (i == 0 || tokens[i - 1] != token) }.count
    }
}

extension LLaVAModel {
    /// Loads llama.cpp's pair of files: a LLaMA GGUF and its `mmproj` GGUF. Prompts mark image
    /// positions with ``placeholderToken``.
    public convenience init(gguf: URL, mmproj: URL, threads: Int) throws {
        let language = try Llama(gguf: gguf, threads: threads)
        let file = try MMProjFile(url: mmproj)
        self.init(vision: try file.visionEncoder(pool: language.pool), projector: try file.projector(outputs: language.configuration.hiddenSize),
                  language: language, imageToken: LLaVAModel.placeholderToken)
    }
}
