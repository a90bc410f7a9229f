import Foundation
import Imaging
import ModelFormats
import ModelStore
import Tensors
import Testing
@testable import VisionModels

/// The numpy reference's outputs (scripts/fixtures/efficientnet_reference.py) for six photos.
private struct Reference: Decodable {
    struct Photo: Decodable {
        let top5: [Int]
        let logits: [Float]
        let features_sample: [Float]
        let features_sum: Double
    }
    let feature_sample_stride: Int
    let photos: [String: Photo]

    static func load() throws -> Reference {
        let url = Bundle.module.url(forResource: "Fixtures/efficientnet_lite0", withExtension: "json")!
        return try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
    }
}

private let checkout = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

@Suite(.serialized) struct EfficientNetLiteTests {
    static let model = Result { () throws -> EfficientNetLite in
        let store = try ModelStore.locate(searchFrom: [checkout])
        return try EfficientNetLite(contentsOf: try store.url(of: "efficientnet-lite0"))
    }
    static let photos = Result { try ModelStore.locate(searchFrom: [checkout]).url(of: "skimage-data") }

    @Test(arguments: ["chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png", "astronaut.png", "horse.png"])
    func matchesTheNumpyReference(photo: String) throws {
        let reference = try #require(try Reference.load().photos[photo])
        let model = try Self.model.get()
        let image = try RGBImage(contentsOf: try Self.photos.get().appendingPathComponent(photo))
        let features = model.features(EfficientNetLite.preprocess(image))
        #expect(features.shape == [49, 1280])

        let logits = model.classify(features: features)
        let top5 = logits.indices.sorted { logits[$0] > logits[$1] }.prefix(5)
        #expect(Array(top5) == reference.top5)
        // JPEG pixels differ by up to 3 levels between stb and Pillow's libjpeg (different IDCT
        // rounding), so only the classes are compared for rocket.jpg.
        guard photo.hasSuffix(".png") else { return }

        // The reference runs in float64 and without folding batch norm into the weights; our
        // float32 activations pass 18 layers, and ReLU6-bounded values stay within 1e-4.
        let stride = try Reference.load().feature_sample_stride
        var worst: Float = 0
        for (i, expected) in reference.features_sample.enumerated() {
            worst = max(worst, abs(features.scalars[i * stride] - expected))
        }
        #expect(worst <= 1e-4, "features differ by up to \(worst)")
        let sum = features.scalars.reduce(0.0) { $0 + Double($1) }
        #expect(abs(sum - reference.features_sum) / max(1, abs(reference.features_sum)) < 1e-5)

        let logitError = zip(logits, reference.logits).map { abs($0 - $1) }.max()!
        #expect(logitError <= 2e-4, "logits differ by up to \(logitError)")
    }

    @Test func missingAndMisshapenTensorsAreNamed() throws {
        let empty: [String: Tensor] = [:]
        #expect(throws: WeightError.missing("_conv_stem.weight")) { try EfficientNetLite(weights: empty) }
        let wrong = ["_conv_stem.weight": Tensor(repeating: 0, shape: [32, 3, 5, 5])]
        #expect(throws: WeightError.shapeMismatch(name: "_conv_stem.weight", expected: [32, 3, 3, 3], found: [32, 3, 5, 5])) {
            try EfficientNetLite(weights: wrong)
        }
    }
}

/// The converted checkpoint (scripts/convert_efficientnet.py) holds exactly the released 296
/// tensors: the loader asks for every weight by name with its exact shape, and what it does not
/// ask for is batch norm's `num_batches_tracked` counter.
@Suite struct EfficientNetCheckpointTests {
    private final class RecordingSource: WeightSource {
        let file: SafeTensorsFile
        var requested: Set<String> = []
        init(_ file: SafeTensorsFile) { self.file = file }
        func tensor(_ name: String) throws -> Tensor {
            requested.insert(name)
            return try file.tensor(name)
        }
    }

    @Test func holdsThe296ReleasedTensors() throws {
        let url = try ModelStore.locate(searchFrom: [checkout]).url(of: "efficientnet-lite0")
        let file = try SafeTensorsFile(url: url)
        #expect(file.tensors.count == 296)
        let source = RecordingSource(file)
        _ = try EfficientNetLite(weights: source)
        let unused = Set(file.tensorNames).subtracting(source.requested)
        #expect(source.requested.count + unused.count == 296)
        for name in unused {
            #expect(name.hasSuffix(".num_batches_tracked"), "\(name) is not used by the model")
            #expect(file.tensorInfo(name)?.shape == [1] && file.tensorInfo(name)?.dtype == .i64)
        }
        #expect(unused.count == 49)  // one per batch norm: stem, head, and 47 in the blocks
    }
}
