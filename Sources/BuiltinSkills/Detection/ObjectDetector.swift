import Foundation
import Imaging
import ModelStore
import TextEncoders
import VisionModels

/// Open-vocabulary-ish detection from parts that run here (the `detect` skill, Grounding DINO's
/// job): each phrase of the caption is matched to ImageNet classes by MiniLM embeddings; regions
/// are proposed from EfficientNet-Lite0's class map on a grid (connected areas where the classes
/// are likely, and the best-scoring grid windows) and each proposal is scored by classifying
/// its crop; non-maximum suppression keeps the best.
public final class ObjectDetector: Sendable {
    let regions: RegionClassifier
    public let vocabulary: ClassVocabulary
    let encoder: SentenceEncoder

    /// Fractions of the class map's peak at which connected areas become proposals.
    static let mapThresholds: [Float] = [0.15, 0.3, 0.5]
    /// How many of the best grid windows become proposals.
    static let windowProposals = 4
    /// Boxes scoring below this fraction of the phrase's best box are dropped.
    static let relativeScore: Float = 0.5
    /// Crops are taken this much larger than the proposal: a little context helps the classifier.
    static let cropMargin: Float = 0.05

    public init(store: ModelStore) throws {
        regions = RegionClassifier(network: try EfficientNetLite(contentsOf: try store.url(of: "efficientnet-lite0")))
        encoder = try SentenceEncoder(directory: store.folder(of: "all-minilm-l6-v2"))
        vocabulary = try ClassVocabulary(store: store, encoder: encoder)
    }

    /// The phrases of a Grounding DINO caption: "cat . coffee cup" or "cat, cup".
    public static func phrases(in caption: String) -> [String] {
        var seen: Set<String> = []
        return caption.split(whereSeparator: { $0 == "." || $0 == "," || $0 == ";" || $0 == "\n" })
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && seen.insert($0.lowercased()).inserted }
    }

    /// The ImageNet classes each phrase means, best first with their similarity (empty for a
    /// phrase ImageNet has no class for).
    public func classes(for phrases: [String]) -> [[(classIndex: Int, similarity: Float)]] {
        zip(phrases, encoder.embed(phrases)).map { phrase, embedding in
            vocabulary.classes(for: embedding, phrase: phrase)
        }
    }

    /// Boxes for each phrase (with the classes it means), best first, at most `limit` per
    /// phrase, none below `threshold`. The image's class map is computed once for all phrases.
    public func detect(_ image: RGBImage, phrases: [(phrase: String, classes: [Int])], threshold: Float, limit: Int) -> [Detection] {
        let wanted = phrases.filter { !$0.classes.isEmpty }
        guard !wanted.isEmpty else { return [] }
        let grid = regions.grid(image)
        return wanted.flatMap { phrase, classes in
            let scored = proposals(grid, classes: classes).map { box in
                Detection(box: box, score: regions.cropScore(image, box: box.expanded(by: Self.cropMargin), classes: classes),
                          phrase: phrase)
            }
            let kept = nonMaximumSuppression(preferTight(scored), iou: 0.5)
            // Weaker boxes are parts or context of the best one far more often than a second
            // instance of the same thing (measured on the ground truth).
            let floor = max(threshold, (kept.first?.score ?? 0) * Self.relativeScore)
            return Array(kept.filter { $0.score >= floor }.prefix(limit))
        }
    }

    /// Candidate boxes: connected areas of the class map at several levels, the best grid
    /// windows, and the whole image.
    func proposals(_ grid: RegionClassifier.Grid, classes: [Int]) -> [Box] {
        let cells = grid.rows * grid.columns
        let mass = grid.logits.withUnsafeBufferPointer { logits in
            (0..<cells).map { probabilityMass(UnsafeBufferPointer(rebasing: logits[($0 * 1000)..<($0 * 1000 + 1000)]), classes: classes) }
        }
        var boxes = [Box(x0: 0, y0: 0, x1: 1, y1: 1)]
        let peak = mass.max() ?? 0
        for level in Self.mapThresholds {
            boxes += components(of: mass.map { $0 >= level * peak }, grid: grid)
        }
        boxes += bestWindows(grid, classes: classes)
        var unique: [Box] = []
        for box in boxes where !unique.contains(where: { $0.iou(box) > 0.95 }) { unique.append(box) }
        return unique
    }

    /// Bounding boxes of the 4-connected areas of `mask` on the grid.
    func components(of mask: [Bool], grid: RegionClassifier.Grid) -> [Box] {
        var seen = [Bool](repeating: false, count: mask.count)
        var boxes: [Box] = []
        for start in mask.indices where mask[start] && !seen[start] {
            var stack = [start]
            seen[start] = true
            var (r0, c0, r1, c1) = (Int.max, Int.max, 0, 0)
            while let cell = stack.popLast() {
                let (r, c) = (cell / grid.columns, cell % grid.columns)
                (r0, c0, r1, c1) = (min(r0, r), min(c0, c), max(r1, r + 1), max(c1, c + 1))
                for (nr, nc) in [(r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)]
                where nr >= 0 && nr < grid.rows && nc >= 0 && nc < grid.columns {
                    let next = nr * grid.columns + nc
                    if mask[next] && !seen[next] { seen[next] = true; stack.append(next) }
                }
            }
            boxes.append(grid.box(r0: r0, c0: c0, r1: r1, c1: c1))
        }
        return boxes
    }

    /// The grid windows (at least 2 x 2 cells) whose mean logits put the most probability on
    /// `classes`, after suppressing overlaps.
    func bestWindows(_ grid: RegionClassifier.Grid, classes: [Int]) -> [Box] {
        let (rows, columns) = (grid.rows, grid.columns)
        let rowStride = (columns + 1) * 1000
        // Prefix sums over cells: sums[(r * (columns + 1) + c) * 1000 + k] = sum of class k over cells above-left.
        var sums = [Float](repeating: 0, count: (rows + 1) * rowStride)
        for r in 0..<rows {
            for c in 0..<columns {
                let out = (r + 1) * rowStride + (c + 1) * 1000, up = r * rowStride + (c + 1) * 1000
                let left = (r + 1) * rowStride + c * 1000, diagonal = r * rowStride + c * 1000
                let cell = (r * columns + c) * 1000
                for k in 0..<1000 {
                    sums[out + k] = grid.logits[cell + k] + sums[up + k] + sums[left + k] - sums[diagonal + k]
                }
            }
        }
        var windows: [Detection] = []
        var mean = [Float](repeating: 0, count: 1000)
        let minimum = min(2, rows, columns)
        for r0 in 0..<rows { for r1 in stride(from: r0 + minimum, through: rows, by: 1) {
            for c0 in 0..<columns { for c1 in stride(from: c0 + minimum, through: columns, by: 1) {
                let scale = 1 / Float((r1 - r0) * (c1 - c0))
                let (a, b, c, d) = (r1 * rowStride + c1 * 1000, r0 * rowStride + c1 * 1000, r1 * rowStride + c0 * 1000, r0 * rowStride + c0 * 1000)
                for k in 0..<1000 { mean[k] = (sums[a + k] - sums[b + k] - sums[c + k] + sums[d + k]) * scale }
                let score = mean.withUnsafeBufferPointer { probabilityMass($0, classes: classes) }
                windows.append(Detection(box: grid.box(r0: r0, c0: c0, r1: r1, c1: c1), score: score, phrase: ""))
            } }
        } }
        return nonMaximumSuppression(windows, iou: 0.3).prefix(Self.windowProposals).map(\.box)
    }

    /// Replaces a box by a tighter one inside it that keeps nearly all of its score: crops
    /// with some background classify as well as tight ones, so the score alone favours boxes
    /// that are too large.
    func preferTight(_ detections: [Detection]) -> [Detection] {
        detections.map { outer in
            detections.filter { inner in
                inner.box.area < outer.box.area && inner.box.area >= 0.2 * outer.box.area
                    && containment(inner.box, in: outer.box) >= 0.9 && inner.score >= 0.9 * outer.score
            }.min(by: { $0.box.area < $1.box.area }).map { Detection(box: $0.box, score: max($0.score, outer.score), phrase: outer.phrase) } ?? outer
        }
    }

    private func containment(_ inner: Box, in outer: Box) -> Float {
        let w = max(0, min(inner.x1, outer.x1) - max(inner.x0, outer.x0))
        let h = max(0, min(inner.y1, outer.y1) - max(inner.y0, outer.y0))
        return inner.area > 0 ? w * h / inner.area : 0
    }
}
