import ArgumentParser
import Foundation
import Imaging
import ModelStore
import Tensors
import VisionModels

struct ClassifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "classify",
        abstract: "Name what is in an image with EfficientNet-Lite0's ImageNet classes (the default vision encoder).")

    @Option(name: .shortAndLong, help: "Number of classes to show.")
    var top = 5

    @Argument(help: "Image files (PNG, JPEG, PPM/PGM, BMP, GIF).")
    var images: [String]

    func run() throws {
        let store = try ModelStore.locate()
        var clock = ContinuousClock.now
        let model = try EfficientNetLite(contentsOf: try store.url(of: "efficientnet-lite0"))
        let names = try JSONDecoder().decode([String].self, from: Data(contentsOf: try store.url(of: "imagenet-classes")))
        FileHandle.standardError.write(Data("[loaded EfficientNet-Lite0 in \(milliseconds(since: clock)) ms]\n".utf8))
        for path in images {
            let image = try RGBImage(contentsOf: URL(fileURLWithPath: path))
            clock = ContinuousClock.now
            var probabilities = model.classify(features: model.features(EfficientNetLite.preprocess(image)))
            let elapsed = milliseconds(since: clock)
            VectorMath.softmax(&probabilities, count: probabilities.count)
            print("\(path) (\(image.width)x\(image.height), \(elapsed) ms):")
            for index in probabilities.indices.sorted(by: { probabilities[$0] > probabilities[$1] }).prefix(self.top) {
                print(String(format: "  %5.1f%%  %@", 100 * probabilities[index], names[index]))
            }
        }
    }

    private func milliseconds(since start: ContinuousClock.Instant) -> Int {
        let elapsed = ContinuousClock.now - start
        return Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
    }
}
