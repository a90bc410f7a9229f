import Foundation
import LanguageModels
import Tensors
import Testing
@testable import LLaVA

/// A random LlavaForConditionalGeneration (CLIP ViT + mlp2x_gelu + LLaMA) against `transformers`
/// (scripts/fixtures/make_tiny_llava.py): logits at every position of a prompt with an image.
@Suite struct LLaVAModelTests {
    private struct Reference: Decodable {
        let tokens: [Int]
        let image_token: Int
        let pixels: [Float]
        let logits: [[Float]]
    }

    private static let directory = Bundle.module.url(forResource: "Fixtures/tiny-llava", withExtension: nil)!

    private func load() throws -> (LLaVAModel, Reference, Tensor) {
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: Self.directory.appendingPathComponent("reference.json")))
        return (try LLaVAModel(huggingFace: Self.directory, threads: 2), reference, Tensor(shape: [3, 32, 32], scalars: reference.pixels))
    }

    @Test func logitsWithAnImageMatchTransformers() throws {
        let (model, reference, image) = try load()
        #expect(model.imageTokenCount == 16)
        let session = LlamaSession(model: model.language, capacity: 64, cachePrecision: .f32)
        let inputs = try model.inputs(tokens: reference.tokens, images: [image])
        #expect(inputs.count == reference.tokens.count)
        var worst: Float = 0
        _ = try session.evaluateAll(inputs) { p, logits in
            for (a, b) in zip(logits, reference.logits[p]) { worst = max(worst, abs(a - b)) }
        }
        #expect(worst <= 1e-4, "largest logit difference \(worst)")
    }

    /// One `<image>` placeholder token expands to the image's 16 features: same final logits.
    @Test func aSinglePlaceholderExpandsToAllFeatures() throws {
        let (model, reference, image) = try load()
        let compact = reference.tokens.enumerated().filter { i, t in t != reference.image_token || reference.tokens[i - 1] != t }.map(\.1)
        #expect(compact.count == reference.tokens.count - 15)
        let session = LlamaSession(model: model.language, capacity: 64, cachePrecision: .f32)
        let logits = try session.evaluate(try model.inputs(tokens: compact, images: [image]))
        let worst = zip(logits, reference.logits.last!).map { abs($0 - $1) }.max()!
        #expect(worst <= 1e-4)
    }

    @Test func placeholderAndImageCountsMustAgree() throws {
        let (model, _, image) = try load()
        #expect(throws: LLaVAError.imageCountMismatch(placeholders: 1, images: 2)) {
            try model.inputs(tokens: [1, 255, 3], images: [image, image])
        }
        #expect(throws: LLaVAError.imageCountMismatch(placeholders: 2, images: 1)) {
            try model.inputs(tokens: [1, 255, 3, 255], images: [image])
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
        let directory = Bundle.module.url(forResource: "Fixtures/tiny-llava", withExtension: nil)!
        struct Reference: Decodable { let tokens: [Int]; let image_token: Int; let pixels: [Float]; let logits: [[Float]] }
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: directory.appendingPathComponent("reference.json")))
        let model = try LLaVAModel(gguf: directory.appendingPathComponent("language-model.gguf"),
                                   mmproj: directory.appendingPathComponent("mmproj.gguf"), threads: 2)
        #expect(model.imageTokenCount == 16)
        let tokens = reference.tokens.map { $0 == reference.image_token ? LLaVAModel.placeholderToken : $0 }
        let session = LlamaSession(model: model.language, capacity: 64, cachePrecision: .f32)
        var worst: Float = 0
        _ = try session.evaluateAll(try model.inputs(tokens: tokens, images: [Tensor(shape: [3, 32, 32], scalars: reference.pixels)])) { p, logits in
            for (a, b) in zip(logits, reference.logits[p]) { worst = max(worst, abs(a - b)) }
        }
        #expect(worst <= 1e-4, "largest logit difference \(worst)")
    }
}
