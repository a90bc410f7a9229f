import Foundation
import Imaging
import Tensors
import VisionModels

/// EfficientNet-Lite0 as a region scorer: how much of its ImageNet probability a region puts on
/// a set of classes. Two ways to ask: all regions of a coarse grid at once (one forward pass on
/// a larger image; the classifier is linear, so a region's logits are the mean of its cells'),
/// and one crop at a time (a forward pass on the crop, which is what the class head was
/// trained on and so the score to trust).
struct RegionClassifier: Sendable {
    let network: EfficientNetLite

    /// The longer side, in pixels, of the image the grid is read from (16 cells).
    static let gridSide = 512

    /// The per-cell logits of `image` on a grid of 32-pixel cells.
    struct Grid {
        let rows: Int, columns: Int
        /// `[rows * columns, 1000]`, row-major cells.
        let logits: [Float]

        /// The cell rectangle `[c0, c1) x [r0, r1)` as a normalised box.
        func box(r0: Int, c0: Int, r1: Int, c1: Int) -> Box {
            Box(x0: Float(c0) / Float(columns), y0: Float(r0) / Float(rows),
                x1: Float(c1) / Float(columns), y1: Float(r1) / Float(rows))
        }
    }

    func grid(_ image: RGBImage) -> Grid {
        let scale = Float(Self.gridSide) / Float(max(image.width, image.height))
        let side = { (pixels: Int) in max(64, Int((Float(pixels) * scale / 32).rounded()) * 32) }
        let input = image.resized(width: side(image.width), height: side(image.height), filter: .bilinear)
            .normalized(mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5])
        let (rows, columns, features) = network.featureGrid(input)
        return Grid(rows: rows, columns: columns, logits: network.cellLogits(features: features).scalars)
    }

    /// The probability that the crop `box` of `image` shows one of `classes`.
    func cropScore(_ image: RGBImage, box: Box, classes: [Int]) -> Float {
        let x = Int(box.x0 * Float(image.width)), y = Int(box.y0 * Float(image.height))
        let width = max(1, min(image.width - x, Int((box.width * Float(image.width)).rounded())))
        let height = max(1, min(image.height - y, Int((box.height * Float(image.height)).rounded())))
        guard let crop = try? image.cropped(x: x, y: y, width: width, height: height) else { return 0 }
        // Squashed rather than centre-cropped: the whole region must be seen, not its middle.
        let input = crop.resized(width: EfficientNetLite.inputSize, height: EfficientNetLite.inputSize, filter: .bilinear)
            .normalized(mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5])
        let logits = network.classify(features: network.features(input))
        return logits.withUnsafeBufferPointer { probabilityMass($0, classes: classes) }
    }

}

/// The softmax probability of `logits` summed over `classes`.
func probabilityMass(_ logits: UnsafeBufferPointer<Float>, classes: [Int]) -> Float {
    var probabilities = Array(logits)
    VectorMath.softmax(&probabilities, count: probabilities.count)
    return classes.reduce(0) { $0 + probabilities[$1] }
}
