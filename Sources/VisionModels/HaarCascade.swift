// A port of OpenCV's Haar cascade detector (`cv::CascadeClassifier::detectMultiScale`,
// modules/objdetect/src/cascadedetect.cpp, 4.x) for the cascades it ships in
// data/haarcascades: the same pyramid (bit-exact bilinear resize of the grey image), the same
// integral images, window normalisation, stage sums and `cv::groupRectangles`, so the boxes
// agree with OpenCV's (see Tests/VisionModelsTests/HaarCascadeTests.swift for how closely).

import Foundation
import Imaging
import Synchronization
import Tensors

/// An object found by a ``HaarCascade``: a rectangle in the image's pixels and how many raw
/// window detections were merged into it.
public struct DetectedBox: Sendable, Equatable, CustomStringConvertible {
    /// Left column and top row (inclusive) of the rectangle.
    public var x: Int, y: Int
    public var width: Int, height: Int
    /// Raw detections (windows at neighbouring positions and scales) grouped into this box:
    /// OpenCV's `numDetections`. More neighbours means a more certain detection.
    public var neighbors: Int

    public init(x: Int, y: Int, width: Int, height: Int, neighbors: Int) {
        (self.x, self.y, self.width, self.height, self.neighbors) = (x, y, width, height, neighbors)
    }

    /// Intersection over union of the two rectangles; 0 when either is empty.
    public func iou(_ other: DetectedBox) -> Double {
        let w = min(x + width, other.x + other.width) - max(x, other.x)
        let h = min(y + height, other.y + other.height) - max(y, other.y)
        guard w > 0, h > 0 else { return 0 }
        let intersection = Double(w * h)
        return intersection / (Double(width * height + other.width * other.height) - intersection)
    }

    public var description: String { "[\(x), \(y), \(width)x\(height), n=\(neighbors)]" }
}

/// Why a cascade file could not be loaded: the file and what is wrong with it.
public struct HaarCascadeError: Error, CustomStringConvertible {
    public let file: String
    public let problem: String
    public var description: String { "\(file): \(problem)" }
}

/// A boosted cascade of Haar-like features in OpenCV's XML format (`opencv-cascade-classifier`,
/// the format of everything in OpenCV's data/haarcascades): stages of decision stumps or
/// small trees over upright and 45-degree tilted rectangle features.
public struct HaarCascade: Sendable {
    /// The detection window the cascade was trained on, in pixels (24x24 for frontal faces).
    public let windowWidth: Int, windowHeight: Int
    /// Stages in evaluation order; a window is an object if it passes all of them.
    let stages: [Stage]
    /// Every tree's nodes, stage after stage (a stump is a tree of one node).
    let nodes: [Node]
    /// Every tree's leaves, `nodes + 1` per tree.
    let leaves: [Float]
    /// Nodes per tree in `stages[i]`-order, and where each tree's nodes and leaves start.
    let trees: [Tree]
    let features: [Feature]
    /// Whether every tree is a single stump: the common case, with a faster loop.
    let stumpsOnly: Bool
    let hasTiltedFeatures: Bool

    struct Stage {
        var firstTree: Int
        var treeCount: Int
        /// The file's threshold less 1e-5, as OpenCV reads it, so round-off never fails a stage
        /// that sums exactly to its threshold.
        var threshold: Float
    }
    struct Tree {
        var firstNode: Int
        var firstLeaf: Int
    }
    /// `left`/`right`: a node index within the tree if positive, else the leaf `-index`.
    struct Node {
        var left: Int32, right: Int32
        var feature: Int32
        var threshold: Float
    }
    /// Up to three weighted rectangles `(x, y, width, height)` within the window.
    struct Feature {
        var rects: [(x: Int, y: Int, width: Int, height: Int, weight: Float)]
        var tilted: Bool
    }

    /// Loads a cascade XML file as written by `opencv_traincascade` (and shipped by OpenCV).
    /// Throws ``HaarCascadeError`` naming the file and the problem: unreadable, not XML, the
    /// old `opencv-haar-classifier` layout, LBP or HOG features, or indices and rectangles
    /// that point outside the cascade or its window.
    public init(contentsOf url: URL) throws {
        let file = url.path
        func problem(_ text: String) -> HaarCascadeError { HaarCascadeError(file: file, problem: text) }
        let bytes: [UInt8]
        do { bytes = [UInt8](try Data(contentsOf: url)) } catch { throw problem("cannot read: \(error.localizedDescription)") }
        let document: CascadeXMLElement
        do { document = try CascadeXMLElement.parse(bytes) } catch {
            throw problem("not well-formed XML at line \(error.line): \(error.message)")
        }
        guard document.name == "opencv_storage", let cascade = document.children.first else {
            throw problem("not an OpenCV storage file (the root element is <\(document.name)>, not <opencv_storage>)")
        }
        guard cascade.child("stages") != nil, cascade.child("features") != nil, cascade.child("featureType") != nil else {
            if cascade.child("size") != nil {
                throw problem("an old-style (opencv-haar-classifier) cascade; only the opencv-cascade-classifier format is supported")
            }
            throw problem("<\(cascade.name)> (line \(cascade.line)) lacks <stages>, <features> or <featureType>")
        }
        func integer(_ element: CascadeXMLElement, _ name: String) throws -> Int {
            guard let child = element.child(name) else { throw problem("<\(element.name)> (line \(element.line)) has no <\(name)>") }
            guard let value = Int(child.text) else { throw problem("<\(name)> (line \(child.line)) is not an integer: '\(child.text.prefix(40))'") }
            return value
        }
        func numbers(_ element: CascadeXMLElement) throws -> [Double] {
            try element.text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }).map {
                guard let value = Double($0) else { throw problem("<\(element.name)> (line \(element.line)) holds '\($0)', not a number") }
                return value
            }
        }

        let stageType = cascade.child("stageType")?.text ?? "BOOST"
        guard stageType == "BOOST" else { throw problem("stage type \(stageType); only BOOST is supported") }
        let featureType = cascade.child("featureType")!.text
        guard featureType == "HAAR" else { throw problem("\(featureType) features; only HAAR cascades are supported") }
        windowWidth = try integer(cascade, "width")
        windowHeight = try integer(cascade, "height")
        guard (3...1024).contains(windowWidth), (3...1024).contains(windowHeight) else {
            throw problem("window \(windowWidth)x\(windowHeight) is not a plausible detection window")
        }
        if let categories = cascade.child("featureParams")?.child("maxCatCount"), categories.text != "0" {
            throw problem("categorical features (maxCatCount \(categories.text)); HAAR cascades have none")
        }

        // Features first, so the trees' feature indices can be checked.
        var features: [Feature] = []
        for element in cascade.child("features")!.children {
            guard let rectsElement = element.child("rects") else { throw problem("feature at line \(element.line) has no <rects>") }
            let tilted = (element.child("tilted")?.text ?? "0") != "0"
            var rects: [(x: Int, y: Int, width: Int, height: Int, weight: Float)] = []
            for rect in rectsElement.children {
                let v = try numbers(rect)
                guard v.count == 5, v[0...3].allSatisfy({ $0 == $0.rounded() && abs($0) < 10_000 }) else {
                    throw problem("rectangle at line \(rect.line) is not 'x y width height weight'")
                }
                let (x, y, w, h) = (Int(v[0]), Int(v[1]), Int(v[2]), Int(v[3]))
                // Upright: the rectangle; tilted: its corners (x, y), (x+w, y+w), (x-h, y+h), (x+w-h, y+w+h).
                let inside = tilted
                    ? w > 0 && h > 0 && x - h >= 0 && x + w <= windowWidth && y >= 0 && y + w + h <= windowHeight
                    : w > 0 && h > 0 && x >= 0 && y >= 0 && x + w <= windowWidth && y + h <= windowHeight
                guard inside else {
                    throw problem("rectangle at line \(rect.line) (\(x) \(y) \(w) \(h)\(tilted ? ", tilted" : "")) leaves the \(windowWidth)x\(windowHeight) window")
                }
                rects.append((x, y, w, h, Float(v[4])))
            }
            guard (1...3).contains(rects.count) else { throw problem("feature at line \(element.line) has \(rects.count) rectangles, not 1 to 3") }
            features.append(Feature(rects: rects, tilted: tilted))
        }
        guard !features.isEmpty else { throw problem("no features") }

        var stages: [Stage] = [], trees: [Tree] = [], nodes: [Node] = [], leaves: [Float] = []
        for stageElement in cascade.child("stages")!.children {
            guard let thresholdElement = stageElement.child("stageThreshold"), let threshold = Double(thresholdElement.text),
                  let weak = stageElement.child("weakClassifiers") else {
                throw problem("stage at line \(stageElement.line) lacks a numeric <stageThreshold> or <weakClassifiers>")
            }
            let firstTree = trees.count
            for treeElement in weak.children {
                guard let nodeElement = treeElement.child("internalNodes"), let leafElement = treeElement.child("leafValues") else {
                    throw problem("weak classifier at line \(treeElement.line) lacks <internalNodes> or <leafValues>")
                }
                let raw = try numbers(nodeElement), leafValues = try numbers(leafElement)
                let nodeCount = raw.count / 4
                guard nodeCount > 0, raw.count == nodeCount * 4, leafValues.count == nodeCount + 1 else {
                    throw problem("weak classifier at line \(treeElement.line): \(raw.count) node numbers and \(leafValues.count) leaves (want 4 per node and one leaf more than nodes)")
                }
                trees.append(Tree(firstNode: nodes.count, firstLeaf: leaves.count))
                for k in 0..<nodeCount {
                    let left = raw[4 * k], right = raw[4 * k + 1], feature = raw[4 * k + 2]
                    // Children must lie further down the tree (so evaluation ends) or be leaves.
                    func valid(_ child: Double) -> Bool {
                        child == child.rounded() && (child > 0 ? child > Double(k) && child < Double(nodeCount) : -child < Double(leafValues.count))
                    }
                    guard valid(left), valid(right), feature == feature.rounded(), feature >= 0, feature < Double(features.count) else {
                        throw problem("weak classifier at line \(nodeElement.line), node \(k): children \(left), \(right) or feature \(feature) out of range (\(features.count) features)")
                    }
                    nodes.append(Node(left: Int32(left), right: Int32(right), feature: Int32(feature), threshold: Float(raw[4 * k + 3])))
                }
                leaves += leafValues.map { Float($0) }
            }
            guard trees.count > firstTree else { throw problem("stage at line \(stageElement.line) has no weak classifiers") }
            stages.append(Stage(firstTree: firstTree, treeCount: trees.count - firstTree, threshold: Float(threshold) - 1e-5))
        }
        guard !stages.isEmpty else { throw problem("no stages") }
        self.stages = stages
        self.trees = trees
        self.nodes = nodes
        self.leaves = leaves
        self.features = features
        stumpsOnly = nodes.count == trees.count && nodes.allSatisfy { $0.left == 0 && $0.right == -1 }
        hasTiltedFeatures = features.contains { $0.tilted }
    }

    // MARK: Detection

    /// Finds objects in a colour image, converted to grey as OpenCV's `cvtColor` does.
    /// See ``detect(gray:width:height:scaleFactor:minNeighbors:minSize:maxSize:threads:)``.
    public func detect(_ image: RGBImage, scaleFactor: Double = 1.1, minNeighbors: Int = 3,
                       minSize: Int = 0, maxSize: Int? = nil, threads: Int? = nil) -> [DetectedBox] {
        detect(gray: Self.grayscale(image), width: image.width, height: image.height, scaleFactor: scaleFactor,
               minNeighbors: minNeighbors, minSize: minSize, maxSize: maxSize, threads: threads)
    }

    /// Finds objects in an 8-bit grey image (`width * height` samples, row-major), as
    /// `cv::CascadeClassifier::detectMultiScale` does: windows of the cascade's size slide over
    /// the image shrunk by `scaleFactor` again and again (a 2-pixel step while the shrink is under
    /// 2, else 1), and the windows that pass every stage are grouped (`cv::groupRectangles`,
    /// eps 0.2): a group needs more than `minNeighbors` members, and is dropped when it lies
    /// inside a stronger one. Objects smaller than `minSize` or larger than `maxSize` pixels
    /// (either side) are not looked for. Scales run one after another, each split by rows over
    /// `threads` threads (default: every core). Boxes come strongest (most neighbours) first;
    /// `minNeighbors` 0 returns every raw window, ungrouped.
    public func detect(gray: [UInt8], width: Int, height: Int, scaleFactor: Double = 1.1, minNeighbors: Int = 3,
                       minSize: Int = 0, maxSize: Int? = nil, threads: Int? = nil) -> [DetectedBox] {
        precondition(width > 0 && height > 0 && gray.count == width * height, "grey image must be width*height samples")
        precondition(scaleFactor > 1, "scaleFactor must exceed 1")
        let maxW = maxSize ?? width, maxH = maxSize ?? height

        // The scales, exactly as OpenCV enumerates them: the factor in double, kept as float.
        var scales: [Float] = []
        var factor = 1.0
        while true {
            let windowW = cvRound(Double(windowWidth) * factor), windowH = cvRound(Double(windowHeight) * factor)
            if windowW > maxW || windowH > maxH || windowW > width || windowH > height { break }
            if windowW >= minSize && windowH >= minSize { scales.append(Float(factor)) }
            factor *= scaleFactor
        }
        guard !scales.isEmpty else { return [] }

        let scanner = Scanner(cascade: self, width: width, height: height)
        let raw = Self.withPool(threads) { pool in scales.flatMap { scanner.scan(gray, scale: $0, pool: pool) } }
        let grouped = minNeighbors > 0 ? groupRectangles(raw, threshold: minNeighbors, eps: 0.2) : raw
        return grouped.sorted { ($0.neighbors, $1.y, $1.x) > ($1.neighbors, $0.y, $0.x) }
    }

    /// OpenCV's `COLOR_RGB2GRAY` for 8-bit images: 14-bit fixed-point BT.601 weights.
    public static func grayscale(_ image: RGBImage) -> [UInt8] {
        var gray = [UInt8](repeating: 0, count: image.width * image.height)
        image.pixels.withUnsafeBufferPointer { rgb in
            for i in 0..<gray.count {
                let r = UInt32(rgb[3 * i]), g = UInt32(rgb[3 * i + 1]), b = UInt32(rgb[3 * i + 2])
                gray[i] = UInt8((r * 4899 + g * 9617 + b * 1868 + 8192) >> 14)
            }
        }
        return gray
    }

    /// Idle thread pools, kept for the process: starting threads per call would cost more
    /// than a small image's scan. A `ThreadPool` runs one job at a time, so each detection
    /// takes a pool for itself and gives it back; concurrent detections get pools of their own.
    private static let idlePools = Mutex<[Int: [ThreadPool]]>([:])
    private static func withPool<T>(_ threads: Int?, _ body: (ThreadPool) -> T) -> T {
        let count = max(1, threads ?? ProcessInfo.processInfo.activeProcessorCount)
        let pool = idlePools.withLock { $0[count]?.popLast() } ?? ThreadPool(threads: count)
        defer { idlePools.withLock { $0[count, default: []].append(pool) } }
        return body(pool)
    }
}

/// `cvRound`: to nearest, ties to even (the FPU's default mode, which OpenCV relies on).
@inline(__always) func cvRound(_ value: Double) -> Int { Int(value.rounded(.toNearestOrEven)) }
@inline(__always) func cvRound(_ value: Float) -> Int { Int(value.rounded(.toNearestOrEven)) }

// MARK: Scanning one scale

/// The buffers and precomputed offsets for scanning: every scale's integral images share one
/// row stride (the full image's width + 1), as OpenCV's do, so each feature's corner offsets
/// are computed once per detection rather than per scale.
private final class Scanner: @unchecked Sendable {
    let cascade: HaarCascade
    let width: Int, height: Int
    /// Row stride of the integral images.
    let stride: Int
    /// Where the tilted integral starts in `sums`.
    let tiltedOffset: Int
    /// The upright integral image, then (if the cascade has tilted features) the tilted one.
    var sums: [Int32]
    /// The integral of squares, wrapping: only differences over a window (< 2^32) are used.
    var squares: [UInt32]
    /// Feature corners as offsets from the window's top-left in `sums`, 12 per feature
    /// (4 per rectangle; unused rectangles point at 0 with weight 0), and the weights, 3 per
    /// feature. The cascade's tables are copied to raw memory too, so the per-window loop
    /// touches no reference counts or bounds checks.
    let offsets: UnsafeMutablePointer<Int32>
    let weights: UnsafeMutablePointer<Float>
    let stages: UnsafeMutablePointer<HaarCascade.Stage>
    let stageCount: Int
    let trees: UnsafeMutablePointer<HaarCascade.Tree>
    let nodes: UnsafeMutablePointer<HaarCascade.Node>
    let leaves: UnsafeMutablePointer<Float>
    let stumpsOnly: Bool
    /// Corners of the variance rectangle (the window less a 1-pixel border, as OpenCV).
    let normOffsets: (Int, Int, Int, Int)
    let normArea: Double

    init(cascade: HaarCascade, width: Int, height: Int) {
        self.cascade = cascade
        self.width = width
        self.height = height
        self.stride = width + 1
        let stride = width + 1, plane = stride * (height + 1)
        let tiltedOffset = cascade.hasTiltedFeatures ? plane : 0
        self.tiltedOffset = tiltedOffset
        sums = [Int32](repeating: 0, count: cascade.hasTiltedFeatures ? 2 * plane : plane)
        squares = [UInt32](repeating: 0, count: plane)
        var offsets = [Int32](repeating: 0, count: cascade.features.count * 12)
        var weights = [Float](repeating: 0, count: cascade.features.count * 3)
        for (f, feature) in cascade.features.enumerated() {
            for (r, rect) in feature.rects.enumerated() {
                let corners: [Int]
                if feature.tilted {
                    // OpenCV's CV_TILTED_OFS: (x, y), (x - h, y + h), (x + w, y + w), (x + w - h, y + w + h).
                    corners = [rect.x + stride * rect.y,
                               rect.x - rect.height + stride * (rect.y + rect.height),
                               rect.x + rect.width + stride * (rect.y + rect.width),
                               rect.x + rect.width - rect.height + stride * (rect.y + rect.width + rect.height)]
                        .map { $0 + tiltedOffset }
                } else {
                    corners = [rect.x + stride * rect.y, rect.x + rect.width + stride * rect.y,
                               rect.x + stride * (rect.y + rect.height), rect.x + rect.width + stride * (rect.y + rect.height)]
                }
                for k in 0..<4 { offsets[f * 12 + r * 4 + k] = Int32(corners[k]) }
                weights[f * 3 + r] = rect.weight
            }
        }
        func copy<T>(_ array: [T]) -> UnsafeMutablePointer<T> {
            let pointer = UnsafeMutablePointer<T>.allocate(capacity: max(1, array.count))
            _ = UnsafeMutableBufferPointer(start: pointer, count: array.count).initialize(from: array)
            return pointer
        }
        self.offsets = copy(offsets)
        self.weights = copy(weights)
        stages = copy(cascade.stages)
        stageCount = cascade.stages.count
        trees = copy(cascade.trees)
        nodes = copy(cascade.nodes)
        leaves = copy(cascade.leaves)
        stumpsOnly = cascade.stumpsOnly
        let nw = cascade.windowWidth - 2, nh = cascade.windowHeight - 2
        normOffsets = (1 + stride, 1 + nw + stride, 1 + stride * (1 + nh), 1 + nw + stride * (1 + nh))
        normArea = Double(nw * nh)
    }

    deinit {
        offsets.deallocate(); weights.deallocate(); stages.deallocate()
        trees.deallocate(); nodes.deallocate(); leaves.deallocate()
    }

    /// Raw detections at one scale: the image resized to `round(size / scale)`, integrated,
    /// and every window position tested.
    func scan(_ gray: [UInt8], scale: Float, pool: ThreadPool) -> [DetectedBox] {
        let scaledW = cvRound(Float(width) / scale), scaledH = cvRound(Float(height) / scale)
        let resized = bilinearResize(gray, width: width, height: height, toWidth: scaledW, toHeight: scaledH)
        integrate(resized, width: scaledW, height: scaledH)

        let windowW = cascade.windowWidth, windowH = cascade.windowHeight
        // Positions with the whole window inside the scaled image: OpenCV's working size.
        let columns = scaledW + 1 - windowW, rows = scaledH + 1 - windowH
        guard columns > 0, rows > 0 else { return [] }
        let step = scale >= 2 ? 1 : 2
        let boxW = cvRound(Float(windowW) * scale), boxH = cvRound(Float(windowH) * scale)
        let rowCount = (rows + step - 1) / step

        var found = [[DetectedBox]](repeating: [], count: pool.threadCount)
        found.withUnsafeMutableBufferPointer { found in
            sums.withUnsafeBufferPointer { sums in
                squares.withUnsafeBufferPointer { squares in
                    // Interleaved rows, so the object-rich middle of the image is shared out evenly.
                    pool.run { part in
                        var local: [DetectedBox] = []
                        var r = part
                        while r < rowCount {
                            let y = r * step
                            var x = 0
                            while x < columns {
                                let result = self.evaluate(at: y * self.stride + x, sums: sums.baseAddress!, squares: squares.baseAddress!)
                                if result > 0 {
                                    local.append(DetectedBox(x: cvRound(Float(x) * scale), y: cvRound(Float(y) * scale),
                                                             width: boxW, height: boxH, neighbors: 1))
                                }
                                // A window rejected by the first stage skips its neighbour too, as OpenCV does.
                                x += result == 0 ? 2 * step : step
                            }
                            r += pool.threadCount
                        }
                        found[part] = local
                    }
                }
            }
        }
        return found.flatMap { $0 }
    }

    /// OpenCV's `runAt`: 1 if the window at `origin` passes every stage, `-stage` for the stage
    /// that rejected it (0 for the first), -1 for a window too flat to normalise.
    @inline(__always)
    private func evaluate(at origin: Int, sums: UnsafePointer<Int32>, squares: UnsafePointer<UInt32>) -> Int {
        let p = sums + origin, q = squares + origin
        let (n0, n1, n2, n3) = normOffsets
        let sum = p[n0] &- p[n1] &- p[n2] &+ p[n3]
        let squareSum = q[n0] &- q[n1] &- q[n2] &+ q[n3]
        let nf = normArea * Double(squareSum) - Double(sum) * Double(sum)
        guard nf > 0 else { return -1 }
        let norm = Float(1 / nf.squareRoot())
        // Windows whose standard deviation is under 10 grey levels are not objects (OpenCV).
        guard normArea * Double(norm) < 0.1 else { return -1 }
        return stumpsOnly ? runStumps(p, norm) : runTrees(p, norm)
    }

    /// The feature's weighted rectangle sums (not yet normalised), in float as OpenCV.
    @inline(__always)
    private func featureValue(_ index: Int, _ p: UnsafePointer<Int32>) -> Float {
        let o = offsets + index * 12, w = weights + index * 3
        let s0 = p[Int(o[0])] &- p[Int(o[1])] &- p[Int(o[2])] &+ p[Int(o[3])]
        let s1 = p[Int(o[4])] &- p[Int(o[5])] &- p[Int(o[6])] &+ p[Int(o[7])]
        var value = w[0] * Float(s0) + w[1] * Float(s1)
        if w[2] != 0 {
            let s2 = p[Int(o[8])] &- p[Int(o[9])] &- p[Int(o[10])] &+ p[Int(o[11])]
            value += w[2] * Float(s2)
        }
        return value
    }

    @inline(__always)
    private func runStumps(_ p: UnsafePointer<Int32>, _ norm: Float) -> Int {
        var node = 0
        for s in 0..<stageCount {
            let stage = stages[s]
            var total = 0.0
            for _ in 0..<stage.treeCount {
                let stump = nodes[node]
                let value = featureValue(Int(stump.feature), p) * norm
                // A stump's leaves are 2 * node (left) and 2 * node + 1 (right).
                total += Double(leaves[2 * node + (value < stump.threshold ? 0 : 1)])
                node += 1
            }
            if total < Double(stage.threshold) { return -s }
        }
        return 1
    }

    private func runTrees(_ p: UnsafePointer<Int32>, _ norm: Float) -> Int {
        for s in 0..<stageCount {
            let stage = stages[s]
            var total = 0.0
            for t in stage.firstTree..<stage.firstTree + stage.treeCount {
                let tree = trees[t]
                var index: Int32 = 0
                repeat {
                    let node = nodes[tree.firstNode + Int(index)]
                    let value = featureValue(Int(node.feature), p) * norm
                    index = value < node.threshold ? node.left : node.right
                } while index > 0
                total += Double(leaves[tree.firstLeaf - Int(index)])
            }
            if total < Double(stage.threshold) { return -s }
        }
        return 1
    }

    /// The upright integral `S(X, Y) = sum of rows < Y, columns < X`, its squares, and the
    /// 45-degree integral `T(X, Y) = sum over rows y < Y of columns |x - X + 1| <= Y - 1 - y`
    /// (OpenCV's `cv::integral` with three outputs), into the shared-stride buffers.
    private func integrate(_ image: [UInt8], width w: Int, height h: Int) {
        let stride = stride
        sums.withUnsafeMutableBufferPointer { sums in
            squares.withUnsafeMutableBufferPointer { squares in
                for x in 0...w { sums[x] = 0; squares[x] = 0 }
                for y in 0..<h {
                    var rowSum: Int32 = 0, rowSquares: UInt32 = 0
                    let above = y * stride, here = (y + 1) * stride
                    sums[here] = 0; squares[here] = 0
                    for x in 0..<w {
                        let v = image[y * w + x]
                        rowSum &+= Int32(v)
                        rowSquares &+= UInt32(v) * UInt32(v)
                        sums[here + x + 1] = sums[above + x + 1] &+ rowSum
                        squares[here + x + 1] = squares[above + x + 1] &+ rowSquares
                    }
                }
            }
        }
        guard cascade.hasTiltedFeatures else { return }
        // T(X, Y) = T(X-1, Y-1) + T(X+1, Y-1) - T(X, Y-2) + I(X-1, Y-1) + I(X-1, Y-2), over
        // columns padded by h + 1 on both sides so the recurrence never reads past an edge it
        // has not computed (a triangle reaches at most h columns outside the image).
        let pad = h + 1, paddedW = w + 1 + 2 * pad
        var rows = [[Int32]](repeating: [Int32](repeating: 0, count: paddedW), count: 3)
        let tilted = tiltedOffset
        sums.withUnsafeMutableBufferPointer { sums in
            for x in 0...w { sums[tilted + x] = 0 }
            for y in 1...h {
                let current = y % 3, previous = (y + 2) % 3, older = (y + 1) % 3
                for px in 0..<paddedW {
                    let X = px - pad
                    var value: Int32 = 0
                    if px > 0 { value &+= rows[previous][px - 1] }
                    if px + 1 < paddedW { value &+= rows[previous][px + 1] }
                    if y >= 2 { value &-= rows[older][px] }
                    if X >= 1 && X <= w {
                        value &+= Int32(image[(y - 1) * w + X - 1])
                        if y >= 2 { value &+= Int32(image[(y - 2) * w + X - 1]) }
                    }
                    rows[current][px] = value
                }
                for x in 0...w { sums[tilted + y * stride + x] = rows[current][x + pad] }
            }
        }
    }
}

/// OpenCV's `INTER_LINEAR_EXACT` resize of an 8-bit image: pixel centres aligned, 8-bit
/// fixed-point weights per axis, edges replicated, rounded once at the end. The pyramid must
/// match OpenCV's to the grey level for the same windows to pass.
func bilinearResize(_ source: [UInt8], width: Int, height: Int, toWidth: Int, toHeight: Int) -> [UInt8] {
    if width == toWidth && height == toHeight { return source }
    func table(_ from: Int, _ to: Int) -> (index: [Int], weight: [Int32]) {
        let scale = Double(from) / Double(to)
        var index = [Int](repeating: 0, count: to), weight = [Int32](repeating: 0, count: to)
        for d in 0..<to {
            let position = (Double(d) + 0.5) * scale - 0.5
            var i = Int(position.rounded(.down))
            var fraction = position - Double(i)
            if i < 0 { i = 0; fraction = 0 }
            if i >= from - 1 { i = from - 1; fraction = 0 }
            index[d] = i
            weight[d] = Int32((fraction * 256).rounded(.toNearestOrEven))
        }
        return (index, weight)
    }
    let (xi, xw) = table(width, toWidth), (yi, yw) = table(height, toHeight)
    var output = [UInt8](repeating: 0, count: toWidth * toHeight)
    var upper = [Int32](repeating: 0, count: toWidth), lower = upper
    var cachedUpper = -1, cachedLower = -1
    func horizontal(_ row: Int, into line: inout [Int32]) {
        let base = row * width
        for d in 0..<toWidth {
            let i = xi[d], f = xw[d]
            let a = Int32(source[base + i]), b = Int32(source[base + min(i + 1, width - 1)])
            line[d] = a * (256 - f) + b * f
        }
    }
    for d in 0..<toHeight {
        let i = yi[d], f = yw[d]
        let j = min(i + 1, height - 1)
        if cachedUpper != i {
            if cachedLower == i { swap(&upper, &lower); cachedUpper = i; cachedLower = -1 }
            else { horizontal(i, into: &upper); cachedUpper = i }
        }
        if cachedLower != j { horizontal(j, into: &lower); cachedLower = j }
        for x in 0..<toWidth {
            let value = upper[x] * (256 - f) + lower[x] * f
            output[d * toWidth + x] = UInt8((value + (1 << 15)) >> 16)
        }
    }
    return output
}

// MARK: Grouping

/// `cv::groupRectangles` without weights: rectangles within `eps` of each other (relative to
/// the smaller size) are joined, transitively; each group of more than `threshold` members
/// becomes its average rectangle, unless it lies inside a group that is larger (more than
/// max(3, own) members) or it has fewer than 3.
func groupRectangles(_ rects: [DetectedBox], threshold: Int, eps: Double) -> [DetectedBox] {
    guard threshold > 0, !rects.isEmpty else { return rects }
    func similar(_ a: DetectedBox, _ b: DetectedBox) -> Bool {
        let delta = eps * Double(min(a.width, b.width) + min(a.height, b.height)) * 0.5
        return Double(abs(a.x - b.x)) <= delta && Double(abs(a.y - b.y)) <= delta
            && Double(abs(a.x + a.width - b.x - b.width)) <= delta && Double(abs(a.y + a.height - b.y - b.height)) <= delta
    }
    // Union-find over the similarity graph (cv::partition).
    var parent = Array(rects.indices)
    func root(_ i: Int) -> Int {
        var i = i
        while parent[i] != i { parent[i] = parent[parent[i]]; i = parent[i] }
        return i
    }
    for i in rects.indices {
        for j in 0..<i where similar(rects[i], rects[j]) {
            let a = root(i), b = root(j)
            if a != b { parent[a] = b }
        }
    }
    var classOf: [Int: Int] = [:]
    var sums: [(x: Int, y: Int, w: Int, h: Int, n: Int)] = []
    for i in rects.indices {
        let r = root(i)
        let c = classOf[r] ?? { classOf[r] = sums.count; sums.append((0, 0, 0, 0, 0)); return sums.count - 1 }()
        sums[c].x += rects[i].x; sums[c].y += rects[i].y
        sums[c].w += rects[i].width; sums[c].h += rects[i].height; sums[c].n += 1
    }
    let averages = sums.map { s -> DetectedBox in
        let k = 1 / Float(s.n)
        return DetectedBox(x: cvRound(Float(s.x) * k), y: cvRound(Float(s.y) * k),
                           width: cvRound(Float(s.w) * k), height: cvRound(Float(s.h) * k), neighbors: s.n)
    }
    var kept: [DetectedBox] = []
    for (i, r1) in averages.enumerated() where r1.neighbors > threshold {
        let inside = averages.indices.contains { j in
            let r2 = averages[j], n2 = r2.neighbors
            guard j != i, n2 > threshold else { return false }
            let dx = cvRound(Double(r2.width) * eps), dy = cvRound(Double(r2.height) * eps)
            return r1.x >= r2.x - dx && r1.y >= r2.y - dy && r1.x + r1.width <= r2.x + r2.width + dx
                && r1.y + r1.height <= r2.y + r2.height + dy && (n2 > max(3, r1.neighbors) || r1.neighbors < 3)
        }
        if !inside { kept.append(r1) }
    }
    return kept
}
