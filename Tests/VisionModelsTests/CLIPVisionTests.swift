import Foundation
import ModelFormats
import Tensors
import Testing
@testable import VisionModels

/// A random CLIP vision tower and mlp2x_gelu projector against `transformers`
/// (scripts/fixtures/make_tiny_clip.py): every layer's hidden states and LLaVA's projected features.
@Suite struct CLIPVisionTests {
    private struct Reference: Decodable {
        let pixels: [Float]
        let hidden_states: [[[Float]]]
        let projected: [[Float]]
    }

    private static let directory = Bundle.module.url(forResource: "Fixtures/tiny-clip", withExtension: nil)!
    /// Two threads, so that the split of every product and of the attention heads is exercised;
    /// one pool per test, as the tests run concurrently and a pool runs one job at a time.
    private let pool = ThreadPool(threads: 2)

    private func load() throws -> (CLIPVisionTransformer, SafeTensorsFile, Reference) {
        let configuration = try JSONDecoder().decode(CLIPVisionConfiguration.self,
                                                     from: Data(contentsOf: Self.directory.appendingPathComponent("config.json")))
        let weights = try SafeTensorsFile(url: Self.directory.appendingPathComponent("model.safetensors"))
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: Self.directory.appendingPathComponent("reference.json")))
        return (try CLIPVisionTransformer(configuration: configuration, weights: weights), weights, reference)
    }

    @Test func everyLayerMatchesTransformers() throws {
        let (tower, _, reference) = try load()
        let pixels = Tensor(shape: [3, 32, 32], scalars: reference.pixels)
        for layer in 0...tower.configuration.layerCount {
            let states = tower.hiddenStates(pixels, layers: layer, pool: pool)
            let expected = reference.hidden_states[layer].flatMap { $0 }
            let worst = zip(states.scalars, expected).map { abs($0 - $1) }.max()!
            #expect(worst <= 1e-4, "layer \(layer): \(worst)")
        }
    }

    @Test func llavaFeaturesThroughTheProjectorMatch() throws {
        let (tower, weights, reference) = try load()
        let features = tower.features(Tensor(shape: [3, 32, 32], scalars: reference.pixels), pool: pool)
        #expect(features.shape == [16, 64])
        let projector = try Projector(kind: try #require(Projector.Kind(llavaName: "mlp2x_gelu")), weights: weights,
                                      inputs: 64, outputs: 96) { "multi_modal_projector.linear_\($0 + 1)" }
        let projected = projector(features, pool: pool)
        #expect(projected.shape == [16, 96])
        let worst = zip(projected.scalars, reference.projected.flatMap { $0 }).map { abs($0 - $1) }.max()!
        #expect(worst <= 1e-4, "projected features differ by \(worst)")
    }

    @Test func projectorNamesAndMismatchesAreChecked() throws {
        #expect(Projector.Kind(llavaName: "linear") == .mlp(depth: 1))
        #expect(Projector.Kind(llavaName: "mlp3x_gelu") == .mlp(depth: 3))
        #expect(Projector.Kind(llavaName: "identity") == .identity)
        #expect(Projector.Kind(llavaName: "qformer") == nil)
        let (_, weights, _) = try load()
        #expect(throws: WeightError.shapeMismatch(name: "multi_modal_projector.linear_1.weight", expected: [96, 128], found: [96, 64])) {
            try Projector(kind: .mlp(depth: 2), weights: weights, inputs: 128, outputs: 96) { "multi_modal_projector.linear_\($0 + 1)" }
        }
    }
}
