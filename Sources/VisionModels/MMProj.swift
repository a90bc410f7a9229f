// llama.cpp's `mmproj` GGUF files for LLaVA-style models: the CLIP tower under `v.*`, the
// projector under `mm.*`, the shape under `clip.vision.*`.

import Foundation
import ModelFormats
import Tensors

/// An mmproj file seen through the Hugging Face tensor names our CLIP tower and projector ask for.
public struct MMProjFile: WeightSource {
    public let file: GGUFFile
    public let configuration: CLIPVisionConfiguration
    /// The projector's layer count (`clip.projector_type` `mlp`: 2).
    public let projectorDepth: Int

    public init(url: URL) throws {
        file = try GGUFFile(url: url)
        let m = file.metadata
        guard file.architecture == "clip", m["clip.has_vision_encoder"]?.bool ?? false else {
            throw WeightError.unsupported("\(file.name): not a CLIP mmproj file")
        }
        let projector = m["clip.projector_type"]?.string ?? "mlp"
        guard projector == "mlp" else { throw WeightError.unsupported("\(file.name): projector type '\(projector)'") }
        projectorDepth = 2
        // clip.cpp's convention: neither flag set means quick GELU.
        let activation = (m["clip.use_gelu"]?.bool ?? false) ? "gelu" : "quick_gelu"
        configuration = CLIPVisionConfiguration(
            hiddenSize: try m.requireInt("clip.vision.embedding_length"),
            intermediateSize: try m.requireInt("clip.vision.feed_forward_length"),
            layerCount: try m.requireInt("clip.vision.block_count"),
            headCount: try m.requireInt("clip.vision.attention.head_count"),
            imageSize: try m.requireInt("clip.vision.image_size"),
            patchSize: try m.requireInt("clip.vision.patch_size"),
            layerNormEpsilon: try m.requireFloat("clip.vision.attention.layer_norm_epsilon"),
            activation: activation)
    }

    /// The tower, using every stored layer: LLaVA-1.5 mmproj files already end at the layer
    /// LLaVA selects (the converter drops the last one). It runs on `pool`'s threads.
    public func visionEncoder(pool: ThreadPool) throws -> CLIPVisionEncoder {
        CLIPVisionEncoder(tower: try CLIPVisionTransformer(configuration: configuration, weights: self, prefix: ""),
                          selectLayer: -1, keepClassToken: false, pool: pool)
    }

    /// The projector from `mm.0` and `mm.2` to the language model's width.
    public func projector(outputs: Int) throws -> Projector {
        try Projector(kind: .mlp(depth: projectorDepth), weights: self, inputs: configuration.hiddenSize, outputs: outputs) {
            "mm_projector.\($0)"
        }
    }

    public func tensor(_ name: String) throws -> Tensor {
        try file.tensor(try ggufName(for: name))
    }

    /// Hugging Face name (as asked for by the tower with an empty prefix, or `mm_projector.i`) to mmproj name.
    private func ggufName(for name: String) throws -> String {
        let fixed = ["embeddings.class_embedding": "v.class_embd", "embeddings.patch_embedding.weight": "v.patch_embd.weight",
                     "embeddings.position_embedding.weight": "v.position_embd.weight",
                     "pre_layrnorm.weight": "v.pre_ln.weight", "pre_layrnorm.bias": "v.pre_ln.bias"]
        if let mapped = fixed[name] { return mapped }
        let parts = name.split(separator: ".").map(String.init)
        if parts.count == 3, parts[0] == "mm_projector", let i = Int(parts[1]) {
            return "mm.\(2 * i).\(parts[2])"  // mm.1 is the activation in LLaVA's nn.Sequential
        }
        guard parts.count >= 5, parts[0] == "encoder", parts[1] == "layers", let layer = Int(parts[2]) else {
            throw WeightError.missing(name)
        }
        let module = parts[3..<(parts.count - 1)].joined(separator: ".")
        let kind = parts.last!
        let simple = ["self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
                      "self_attn.out_proj": "attn_out", "layer_norm1": "ln1", "layer_norm2": "ln2"]
        if let mapped = simple[module] { return "v.blk.\(layer).\(mapped).\(kind)" }
        guard module == "mlp.fc1" || module == "mlp.fc2" else { throw WeightError.missing(name) }
        // The legacy converter stored fc1 as ffn_down and fc2 as ffn_up, newer ones do not:
        // pick by shape, as clip.cpp does. fc1 maps hidden -> intermediate.
        let up = "v.blk.\(layer).ffn_up.\(kind)", down = "v.blk.\(layer).ffn_down.\(kind)"
        let upIsFc1 = file.tensorInfo("v.blk.\(layer).ffn_up.weight")?.shape == [configuration.intermediateSize, configuration.hiddenSize]
        return (module == "mlp.fc1") == upIsFc1 ? up : down
    }
}
