import Foundation
import Imaging
import ModelStore
import Testing
@testable import VisionModels

/// LLaVA-1.5's preprocessing of a real photo against Hugging Face's CLIPImageProcessor after
/// LLaVA's expand2square (scripts/fixtures/make_clip_preprocessing.py).
@Suite struct CLIPPreprocessingTests {
    private struct Reference: Decodable {
        let shape: [Int]
        let stride: Int
        let sample: [Float]
        let sum: Double
        let background: [Int]
    }

    @Test func chelseaMatchesTheReferenceProcessor() throws {
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: Bundle.module.url(
            forResource: "Fixtures/clip_preprocessing", withExtension: "json")!))
        #expect(reference.background == [122, 116, 104])
        let checkout = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let photo = try ModelStore.locate(searchFrom: [checkout]).url(of: "skimage-data").appendingPathComponent("chelsea.png")
        let pixels = CLIPPreprocessing.preprocess(try RGBImage(contentsOf: photo), size: 336)
        #expect(pixels.shape == reference.shape)
        // Same bytes after the Pillow-exact resize; only float rounding of the normalisation differs.
        var worst: Float = 0
        for (i, expected) in reference.sample.enumerated() { worst = max(worst, abs(pixels.scalars[i * reference.stride] - expected)) }
        #expect(worst <= 1e-5, "differs by \(worst)")
        let sum = pixels.scalars.reduce(0.0) { $0 + Double($1) }
        #expect(abs(sum - reference.sum) <= 1e-6 * Double(pixels.count))
    }
}
