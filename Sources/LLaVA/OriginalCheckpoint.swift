// The original LLaVA checkpoint layout (haotian-liu/LLaVA's `LlavaLlamaForCausalLM`): one
// `config.json` holding LLaMA's keys plus LLaVA's `mm_*` ones, the decoder under Hugging Face
// LLaMA names (`model.layers.*`, `model.embed_tokens`, `model.norm`, `lm_head`), the projector
// as `model.mm_projector.0`/`.2` (`model.mm_projector` when linear), and the CLIP tower either
// in its own `CLIPVisionModel` checkpoint named by `mm_vision_tower` or embedded as
// `model.vision_tower.vision_tower.vision_model.*`.

import Foundation
import LanguageModels
import ModelFormats
import Tensors
import VisionModels

/// The keys LLaVA adds to a LLaMA `config.json`, with the defaults LLaVA's builder uses.
struct OriginalLLaVAConfiguration: Decodable {
    /// A hub id such as `openai/clip-vit-large-patch14-336`, or a local directory.
    var visionTower: String
    var projectorType: String
    var selectLayer: Int
    /// `patch` drops the class token, `cls_patch` keeps it.
    var selectFeature: String
    var hiddenSize: Int?
    /// `pad` pads images to a square with the mean colour; `square` (the default) does not.
    var imageAspectRatio: String
    var useImageStartEnd: Bool

    enum CodingKeys: String, CodingKey {
        case visionTower = "mm_vision_tower", projectorType = "mm_projector_type", selectLayer = "mm_vision_select_layer"
        case selectFeature = "mm_vision_select_feature", hiddenSize = "mm_hidden_size"
        case imageAspectRatio = "image_aspect_ratio", useImageStartEnd = "mm_use_im_start_end"
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        visionTower = try c.decode(String.self, forKey: .visionTower)
        projectorType = try c.decodeIfPresent(String.self, forKey: .projectorType) ?? "linear"
        selectLayer = try c.decode(Int.self, forKey: .selectLayer)
        selectFeature = try c.decodeIfPresent(String.self, forKey: .selectFeature) ?? "patch"
        hiddenSize = try c.decodeIfPresent(Int.self, forKey: .hiddenSize)
        imageAspectRatio = try c.decodeIfPresent(String.self, forKey: .imageAspectRatio) ?? "square"
        useImageStartEnd = try c.decodeIfPresent(Bool.self, forKey: .useImageStartEnd) ?? false
    }
}

extension LLaVAModel {
    /// The weight-name prefix of a CLIP tower saved inside an original LLaVA checkpoint.
    static let embeddedTowerPrefix = "model.vision_tower.vision_tower.vision_model."

    /// Loads an original LLaVA checkpoint directory (`config.json`, `model.safetensors`). The
    /// CLIP tower's weights come from the checkpoint when it embeds them, else from the tower's
    /// directory; its configuration always from that directory's `config.json`. The directory is
    /// `visionTower` when given, else `mm_vision_tower` as a path (absolute, relative to the model
    /// directory, or to the working directory). Prompts mark images with ``placeholderToken``.
    public convenience init(original directory: URL, visionTower: URL? = nil, threads: Int) throws {
        let configURL = directory.appendingPathComponent("config.json")
        let source = configURL.path
        let data = try Self.readData(configURL)
        let object = try Self.jsonObject(data, source: source)
        let llava: OriginalLLaVAConfiguration
        do {
            llava = try JSONDecoder().decode(OriginalLLaVAConfiguration.self, from: data)
        } catch {
            throw LLaVAError.invalid("\(source): \(error)")
        }
        guard let projectorKind = Projector.Kind(llavaName: llava.projectorType) else {
            throw LLaVAError.invalid("\(source): mm_projector_type '\(llava.projectorType)' (expected linear, mlpNx_gelu or identity)")
        }
        guard llava.selectFeature == "patch" || llava.selectFeature == "cls_patch" else {
            throw LLaVAError.invalid("\(source): mm_vision_select_feature '\(llava.selectFeature)' (expected patch or cls_patch)")
        }
        guard llava.imageAspectRatio == "pad" || llava.imageAspectRatio == "square" else {
            throw LLaVAError.invalid("\(source): image_aspect_ratio '\(llava.imageAspectRatio)' (expected pad or square)")
        }
        guard !llava.useImageStartEnd else {
            throw LLaVAError.invalid("\(source): mm_use_im_start_end true (image start/end tokens) is not supported")
        }

        let weights = try SafeTensorsFile(url: directory.appendingPathComponent("model.safetensors"))
        let language = try Llama(huggingFace: try Self.languageConfiguration(object, source: source), weights: weights,
                                 source: source, threads: threads)

        guard let towerDirectory = visionTower ?? Self.towerDirectory(llava.visionTower, modelDirectory: directory) else {
            throw LLaVAError.invalid("\(source): mm_vision_tower '\(llava.visionTower)' is not a directory with the tower's config.json; download the CLIP tower and pass its directory")
        }
        let towerConfiguration = try Self.towerConfiguration(towerDirectory.appendingPathComponent("config.json"))
        if let expected = llava.hiddenSize, expected != towerConfiguration.hiddenSize {
            throw LLaVAError.invalid("\(source): mm_hidden_size \(expected), but the tower in \(towerDirectory.path) has hidden_size \(towerConfiguration.hiddenSize)")
        }
        let tower: CLIPVisionTransformer
        if weights.tensorInfo(Self.embeddedTowerPrefix + "embeddings.class_embedding") != nil {
            tower = try CLIPVisionTransformer(configuration: towerConfiguration, weights: weights, prefix: Self.embeddedTowerPrefix)
        } else {
            let towerWeights = try SafeTensorsFile(url: towerDirectory.appendingPathComponent("model.safetensors"))
            tower = try CLIPVisionTransformer(configuration: towerConfiguration, weights: towerWeights, prefix: "vision_model.")
        }
        let projector = try Projector(kind: projectorKind, weights: weights, inputs: towerConfiguration.hiddenSize,
                                      outputs: language.configuration.hiddenSize) {
            // nn.Sequential numbers the GELUs too; a linear projector is a bare nn.Linear.
            projectorKind == .mlp(depth: 1) ? "model.mm_projector" : "model.mm_projector.\(2 * $0)"
        }
        let vision = CLIPVisionEncoder(tower: tower, selectLayer: llava.selectLayer, keepClassToken: llava.selectFeature == "cls_patch",
                                       padToSquare: llava.imageAspectRatio == "pad", pool: language.pool)
        self.init(vision: vision, projector: projector, language: language, imageToken: Self.placeholderToken)
    }

    /// The decoder's configuration: LLaVA's `config.json` is LLaMA's with `model_type`
    /// `llava_llama` (`llava` in early releases); other LLaVA variants keep their type and are
    /// refused by the decoder.
    private static func languageConfiguration(_ object: [String: Any], source: String) throws -> HuggingFaceLlamaConfig {
        var object = object
        if let type = object["model_type"] as? String, type == "llava_llama" || type == "llava" {
            object["model_type"] = "llama"
        }
        do {
            return try JSONDecoder().decode(HuggingFaceLlamaConfig.self, from: try JSONSerialization.data(withJSONObject: object))
        } catch {
            throw LLaVAError.invalid("\(source): \(error)")
        }
    }

    /// `mm_vision_tower` as an existing directory with a `config.json`, if it is one.
    private static func towerDirectory(_ reference: String, modelDirectory: URL) -> URL? {
        let candidates = reference.hasPrefix("/") ? [URL(fileURLWithPath: reference)]
            : [modelDirectory.appendingPathComponent(reference), URL(fileURLWithPath: reference)]
        return candidates.first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("config.json").path) }
    }

    /// A `CLIPVisionModel` configuration, or the `vision_config` of a whole `CLIPModel`'s.
    private static func towerConfiguration(_ url: URL) throws -> CLIPVisionConfiguration {
        struct WholeCLIP: Decodable { var vision_config: CLIPVisionConfiguration? }
        do {
            let data = try readData(url)
            if let nested = try JSONDecoder().decode(WholeCLIP.self, from: data).vision_config { return nested }
            return try JSONDecoder().decode(CLIPVisionConfiguration.self, from: data)
        } catch let error as LLaVAError {
            throw error
        } catch {
            throw LLaVAError.invalid("\(url.path): \(error)")
        }
    }
}
