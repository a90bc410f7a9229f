import Foundation
import Imaging
import ModelStore
import Skills
import Tensors
import VisionModels

/// The `tag` skill (RAM's job): the ImageNet classes EfficientNet-Lite0 sees in the whole
/// image, best first, with their probabilities.
public struct TagSkill: WorkerSkill {
    let network: EfficientNetLite
    let names: [String]

    public init(store: ModelStore) throws {
        network = try EfficientNetLite(contentsOf: try store.url(of: "efficientnet-lite0"))
        names = try JSONDecoder().decode([String].self, from: Data(contentsOf: try store.url(of: "imagenet-classes")))
    }

    /// The `k` most probable classes with at least `minScore`, best first.
    public func tags(_ image: RGBImage, k: Int, minScore: Float) -> [(tag: String, score: Float)] {
        var probabilities = network.classify(features: network.features(EfficientNetLite.preprocess(image)))
        VectorMath.softmax(&probabilities, count: probabilities.count)
        return probabilities.indices.sorted { probabilities[$0] > probabilities[$1] }.prefix(k)
            .filter { probabilities[$0] >= minScore }.map { (names[$0], probabilities[$0]) }
    }

    public func callAsFunction(_ values: [String: JSONValue], outputDirectory: URL) throws -> JSONValue {
        let params = Parameters(values)
        let image = try params.image()
        let found = tags(image, k: try params.integer("k", in: 1...20, default: 5),
                         minScore: Float(try params.number("min_score", in: 0...1, default: 0.05)))
        return .object([
            "tags": .array(found.map { .string($0.tag) }),
            "scores": .array(found.map { rounded2($0.score) }),
        ])
    }
}
