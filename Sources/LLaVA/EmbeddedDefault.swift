import Foundation
import LanguageModels
import ModelFormats
import Tensors
import VisionModels

extension LLaVAModel {
    /// The id standing for `<image>` in prompts of models without their own image token
    /// (LLaVA's `IMAGE_TOKEN_INDEX`); it never reaches the embedding table.
    public static let placeholderToken = -200

    /// `llava-plus-tiny`, the embedded default: SmolLM2-135M-Instruct reading EfficientNet-Lite0's
    /// 49 visual tokens through an mlp2x_gelu projector (1280 -> 576 -> 576).
    ///
    /// The projector is UNTRAINED until the training issue lands: its weights are PyTorch's
    /// default initialisation drawn from a fixed seed, so the model sees the image as noise.
    public static func tiny(languageModel: URL, visionWeights: URL, threads: Int) throws -> LLaVAModel {
        let language = try Llama(gguf: languageModel, threads: threads)
        let vision = try EfficientNetLite(contentsOf: visionWeights)
        let width = language.configuration.hiddenSize
        let projector = try Projector(kind: .mlp(depth: 2), weights: untrainedProjector(inputs: vision.featureWidth, outputs: width),
                                      inputs: vision.featureWidth, outputs: width) { "mm_projector.\($0)" }
        return LLaVAModel(vision: vision, projector: projector, language: language, imageToken: placeholderToken)
    }

    /// Whether ``tiny(languageModel:visionWeights:threads:)``'s projector is trained yet.
    public static let tinyProjectorIsTrained = false

    /// `nn.Linear`'s default initialisation, uniform in ±1/√fan_in, from a fixed seed.
    static func untrainedProjector(inputs: Int, outputs: Int) -> [String: Tensor] {
        var state: UInt64 = 0x11A7A_0001
        func uniform(_ count: Int, bound: Float) -> [Float] {
            (0..<count).map { _ in
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return (Float(state >> 40) / Float(1 << 24) * 2 - 1) * bound
            }
        }
        var weights: [String: Tensor] = [:]
        for (i, fanIn) in [inputs, outputs].enumerated() {
            let bound = 1 / Float(fanIn).squareRoot()
            weights["mm_projector.\(i).weight"] = Tensor(shape: [outputs, fanIn], scalars: uniform(outputs * fanIn, bound: bound))
            weights["mm_projector.\(i).bias"] = Tensor(shape: [outputs], scalars: uniform(outputs, bound: bound))
        }
        return weights
    }
}
