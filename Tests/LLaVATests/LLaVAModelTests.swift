import Foundation
import LanguageModels
import Tensors
import Testing
@testable import LLaVA

/// The tiny random LLaVA's reference (scripts/fixtures/make_tiny_llava.py): a prompt with 16
/// image tokens, the image, and `transformers`' logits at every position.
struct TinyLLaVAReference: Decodable {
    let tokens: [Int]
    let image_token: Int
    let pixels: [Float]
    let logits: [[Float]]

    static let fixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!

    static func load() throws -> TinyLLaVAReference {
        try JSONDecoder().decode(Self.self, from: Data(contentsOf: fixtures.appendingPathComponent("tiny-llava/reference.json")))
    }

    var image: Tensor { Tensor(shape: [3, 32, 32], scalars: pixels) }

    /// The largest difference from the reference logits over every position, with the image
    /// tokens written as `imageToken`.
    func worstLogitDifference(_ model: LLaVAModel, imageToken: Int) throws -> Float {
        let session = LlamaSession(model: model.language, capacity: 64, cachePrecision: .f32)
        let prompt = tokens.map { $0 == image_token ? imageToken : $0 }
        var worst: Float = 0
        _ = try session.evaluateAll(try model.inputs(tokens: prompt, images: [image])) { p, logits in
            for (a, b) in zip(logits, self.logits[p]) { worst = max(worst, abs(a - b)) }
        }
        return worst
    }
}

/// A random LlavaForConditionalGeneration (CLIP ViT + mlp2x_gelu + LLaMA) against `transformers`
/// (scripts/fixtures/make_tiny_llava.py): logits at every position of a prompt with an image.
@Suite struct LLaVAModelTests {
    private static let directory = TinyLLaVAReference.fixtures.appendingPathComponent("tiny-llava")

    private func load() throws -> (LLaVAModel, TinyLLaVAReference) {
        (try LLaVAModel(huggingFace: Self.directory, threads: 2), try TinyLLaVAReference.load())
    }

    @Test func logitsWithAnImageMatchTransformers() throws {
        let (model, reference) = try load()
        #expect(model.imageTokenCount == 16)
        let worst = try reference.worstLogitDifference(model, imageToken: reference.image_token)
        #expect(worst <= 1e-4, "largest logit difference \(worst)")
    }

    /// `LLaVAModel(directory:)` recognises the llava-hf layout by its `vision_config`.
    @Test func theDirectoryLoaderDetectsTheLlavaHFLayout() throws {
        let reference = try TinyLLaVAReference.load()
        let model = try LLaVAModel(directory: Self.directory, threads: 2)
        #expect(model.imageToken == reference.image_token)
        #expect(try reference.worstLogitDifference(model, imageToken: reference.image_token) <= 1e-4)
    }

    /// One `<image>` placeholder token expands to the image's 16 features: same final logits.
    @Test func aSinglePlaceholderExpandsToAllFeatures() throws {
        let (model, reference) = try load()
        let compact = reference.tokens.enumerated().filter { i, t in t != reference.image_token || reference.tokens[i - 1] != t }.map(\.1)
        #expect(compact.count == reference.tokens.count - 15)
        let session = LlamaSession(model: model.language, capacity: 64, cachePrecision: .f32)
        let logits = try session.evaluate(try model.inputs(tokens: compact, images: [reference.image]))
        let worst = zip(logits, reference.logits.last!).map { abs($0 - $1) }.max()!
        #expect(worst <= 1e-4)
    }

    @Test func placeholderAndImageCountsMustAgree() throws {
        let (model, reference) = try load()
        let image = reference.image
        #expect(throws: LLaVAError.imageCountMismatch(placeholders: 1, images: 2)) {
            try model.inputs(tokens: [1, 255, 3], images: [image, image])
        }
        #expect(throws: LLaVAError.imageCountMismatch(placeholders: 2, images: 1)) {
            try model.inputs(tokens: [1, 255, 3, 255], images: [image])
        }
        #expect(throws: LLaVAError.imageCountMismatch(placeholders: 0, images: 1)) {
            try model.inputs(tokens: [1, 3], images: [image])
        }
        #expect(throws: LLaVAError.placeholderLength(run: 3, expected: 16)) {
            try model.inputs(tokens: [1, 255, 255, 255], images: [image])
        }
    }
}

/// The same tiny LLaVA converted to llama.cpp's files (scripts/fixtures/make_tiny_llava_gguf.py:
/// LLaMA GGUF with permuted Q/K, mmproj with `v.*`/`mm.*` names and only the used layers).
@Suite struct LLaVAGGUFTests {
    @Test func ggufAndMMProjGiveTheSameLogits() throws {
        let directory = TinyLLaVAReference.fixtures.appendingPathComponent("tiny-llava")
        let reference = try TinyLLaVAReference.load()
        let model = try LLaVAModel(gguf: directory.appendingPathComponent("language-model.gguf"),
                                   mmproj: directory.appendingPathComponent("mmproj.gguf"), threads: 2)
        #expect(model.imageTokenCount == 16)
        let worst = try reference.worstLogitDifference(model, imageToken: LLaVAModel.placeholderToken)
        #expect(worst <= 1e-4, "largest logit difference \(worst)")
    }
}
