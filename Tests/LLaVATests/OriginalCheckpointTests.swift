import Foundation
import ModelFormats
import Tensors
import Testing
@testable import LLaVA
@testable import VisionModels

/// The tiny LLaVA in the original LLaVA layout (scripts/fixtures/make_tiny_llava_original.py):
/// LLaVA's config keys, `model.*`/`lm_head` decoder, `model.mm_projector.*`, and the CLIP tower
/// in its own directory. Same weights as the llava-hf fixture, so the same reference logits.
@Suite struct OriginalCheckpointTests {
    private static let directory = TinyLLaVAReference.fixtures.appendingPathComponent("tiny-llava-original")
    private static let towerDirectory = directory.appendingPathComponent("clip-vision-tower")

    @Test func logitsMatchTheLlavaHFReference() throws {
        let reference = try TinyLLaVAReference.load()
        let model = try LLaVAModel(directory: Self.directory, threads: 2)
        #expect(model.imageToken == LLaVAModel.placeholderToken)
        #expect(model.imageTokenCount == 16)
        let vision = try #require(model.vision as? CLIPVisionEncoder)
        #expect(vision.padToSquare && !vision.keepClassToken && vision.selectLayer == -2)
        let worst = try reference.worstLogitDifference(model, imageToken: LLaVAModel.placeholderToken)
        #expect(worst <= 1e-4, "largest logit difference \(worst)")
    }

    /// A tower saved inside the checkpoint is used; only its configuration comes from the
    /// tower directory (here one without weights).
    @Test func anEmbeddedTowerIsRead() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let configOnly = scratch.url.appendingPathComponent("tower-config")
        try FileManager.default.createDirectory(at: configOnly, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Self.towerDirectory.appendingPathComponent("config.json"),
                                         to: configOnly.appendingPathComponent("config.json"))
        let tower = try SafeTensorsFile(url: Self.towerDirectory.appendingPathComponent("model.safetensors"))
        var tensors = try Self.checkpointTensors()
        for name in tower.tensorNames {
            tensors[LLaVAModel.embeddedTowerPrefix + name.dropFirst("vision_model.".count)] = try tower.tensor(name)
        }
        let model = try scratch.checkpoint(tensors, visionTower: "tower-config")
        let reference = try TinyLLaVAReference.load()
        #expect(try reference.worstLogitDifference(model, imageToken: LLaVAModel.placeholderToken) <= 1e-4)
    }

    @Test func aMisshapenTensorIsNamedWithBothShapes() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        var tensors = try Self.checkpointTensors()
        tensors["model.mm_projector.0.weight"] = Tensor(shape: [32, 64], scalars: [Float](repeating: 0, count: 32 * 64))
        #expect(throws: WeightError.shapeMismatch(name: "model.mm_projector.0.weight", expected: [64, 64], found: [32, 64])) {
            try scratch.checkpoint(tensors, visionTower: Self.towerDirectory.path)
        }
    }

    @Test func aMissingTensorIsNamed() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        for name in ["model.mm_projector.2.bias", "model.layers.1.mlp.up_proj.weight"] {
            var tensors = try Self.checkpointTensors()
            tensors[name] = nil
            let error = #expect(throws: (any Error).self) { try scratch.checkpoint(tensors, visionTower: Self.towerDirectory.path) }
            #expect("\(error!)".contains("'\(name)'"), "\(error!)")
        }
    }

    /// A hub id that is not a local directory, with no tower in the checkpoint, says what to do.
    @Test func aTowerThatCannotBeFoundIsAClearError() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let error = #expect(throws: LLaVAError.self) {
            try scratch.checkpoint(try Self.checkpointTensors(), visionTower: "openai/clip-vit-large-patch14-336")
        }
        #expect("\(error!)".contains("mm_vision_tower 'openai/clip-vit-large-patch14-336' is not a directory"))
    }

    @Test func unsupportedOptionsAreRefusedByName() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let tensors = try Self.checkpointTensors()
        for (key, value, expected) in [("mm_projector_type", "qformer" as Any, "mm_projector_type 'qformer'"),
                                       ("mm_vision_select_feature", "cls", "mm_vision_select_feature 'cls'"),
                                       ("image_aspect_ratio", "anyres", "image_aspect_ratio 'anyres'"),
                                       ("mm_use_im_start_end", true, "mm_use_im_start_end")] {
            let error = #expect(throws: LLaVAError.self) {
                try scratch.checkpoint(tensors, visionTower: Self.towerDirectory.path, changing: [key: value])
            }
            #expect("\(error!)".contains(expected), "\(error!)")
        }
    }

    /// The fixture checkpoint's decoder and projector tensors.
    private static func checkpointTensors() throws -> [String: Tensor] {
        let file = try SafeTensorsFile(url: directory.appendingPathComponent("model.safetensors"))
        return try Dictionary(uniqueKeysWithValues: file.tensorNames.map { ($0, try file.tensor($0)) })
    }

    /// A temporary directory for variants of the fixture checkpoint.
    private struct Scratch {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("llava-original-\(UUID().uuidString)")

        init() throws { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) }

        func remove() { try? FileManager.default.removeItem(at: url) }

        /// Writes the fixture's config (with `mm_vision_tower` and `changing` set) and `tensors`, then loads them.
        @discardableResult
        func checkpoint(_ tensors: [String: Tensor], visionTower: String, changing: [String: Any] = [:]) throws -> LLaVAModel {
            var config = try #require(try JSONSerialization.jsonObject(
                with: Data(contentsOf: directory.appendingPathComponent("config.json"))) as? [String: Any])
            config["mm_vision_tower"] = visionTower
            config.merge(changing) { $1 }
            try JSONSerialization.data(withJSONObject: config).write(to: url.appendingPathComponent("config.json"))
            var writer = SafeTensorsWriter()
            for (name, tensor) in tensors.sorted(by: { $0.key < $1.key }) { try writer.addTensor(name, tensor) }
            try writer.write(to: url.appendingPathComponent("model.safetensors"))
            return try LLaVAModel(directory: url, threads: 1)
        }
    }
}
