import Foundation

/// A box in normalised image coordinates (0...1, x right, y down), LLaVA-Plus's convention.
public struct Box: Sendable, Equatable, CustomStringConvertible {
    public var x0: Float, y0: Float, x1: Float, y1: Float

    public init(x0: Float, y0: Float, x1: Float, y1: Float) {
        (self.x0, self.y0, self.x1, self.y1) = (x0, y0, x1, y1)
    }

    /// The box of pixel rectangle `[x0, x1) x [y0, y1)` in an image of `width` x `height`.
    public init(pixels x0: Float, _ y0: Float, _ x1: Float, _ y1: Float, width: Int, height: Int) {
        self.init(x0: x0 / Float(width), y0: y0 / Float(height), x1: x1 / Float(width), y1: y1 / Float(height))
    }

    public var width: Float { max(0, x1 - x0) }
    public var height: Float { max(0, y1 - y0) }
    public var area: Float { width * height }

    /// Intersection over union; 0 for disjoint or empty boxes.
    public func iou(_ other: Box) -> Float {
        let w = max(0, min(x1, other.x1) - max(x0, other.x0))
        let h = max(0, min(y1, other.y1) - max(y0, other.y0))
        let intersection = w * h
        let union = area + other.area - intersection
        return union > 0 ? intersection / union : 0
    }

    /// The box grown by `fraction` of its size on every side, kept inside the image.
    public func expanded(by fraction: Float) -> Box {
        let dx = width * fraction, dy = height * fraction
        return Box(x0: max(0, x0 - dx), y0: max(0, y0 - dy), x1: min(1, x1 + dx), y1: min(1, y1 + dy))
    }

    public var description: String {
        "[" + [x0, y0, x1, y1].map { String(format: "%.2f", $0) }.joined(separator: ", ") + "]"
    }
}

/// A found object: where, how sure, and which phrase of the caption it answers.
public struct Detection: Sendable, Equatable {
    public var box: Box
    public var score: Float
    public var phrase: String

    public init(box: Box, score: Float, phrase: String) {
        (self.box, self.score, self.phrase) = (box, score, phrase)
    }
}

/// Greedy non-maximum suppression: the best-scoring detections, none overlapping a better
/// one by more than `iou`.
public func nonMaximumSuppression(_ detections: [Detection], iou threshold: Float = 0.5) -> [Detection] {
    var kept: [Detection] = []
    for candidate in detections.sorted(by: { $0.score > $1.score })
    where !kept.contains(where: { $0.box.iou(candidate.box) > threshold }) {
        kept.append(candidate)
    }
    return kept
}
