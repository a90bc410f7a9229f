// What the image index computes per image: an EfficientNet-Lite0 embedding with ImageNet tags,
// optional OCR text (the tesseract binary), and a sentence embedding of that text.

import Foundation
import Imaging
import ModelStore
import Tensors
import VisionModels

/// Turns texts into L2-normalised vectors of one fixed width. `TextEncoders.SentenceEncoder`
/// (MiniLM) is the implementation the index uses; the protocol keeps the index testable and
/// lets it run image-only search when no text encoder is installed.
public protocol TextEmbedder: Sendable {
    /// Width of every vector.
    var dimension: Int { get }
    /// One L2-normalised vector per text.
    func embed(_ texts: [String]) -> [[Float]]
}

/// An ImageNet class the classifier saw in an image, with its softmax probability.
public struct ImageTag: Sendable, Equatable, Codable {
    public let name: String
    public let probability: Float
}

/// EfficientNet-Lite0 as an image embedder: the globally pooled 1280-d features (L2-normalised)
/// and the top ImageNet classes. The pooled features are what the classifier itself reads, so
/// two views of one scene land close together while unrelated images do not.
public struct ImageEmbedder: Sendable {
    /// The network.
    public let model: EfficientNetLite
    /// ImageNet class names, index-aligned with the classifier's logits.
    public let classNames: [String]
    /// Width of the embedding.
    public static let dimension = EfficientNetLite.featureChannels
    /// What the embedding is: stored in the index so a different model forces a rebuild.
    public static let identifier = "efficientnet-lite0/pooled-1280/v1"

    /// Loads `efficientnet-lite0` and `imagenet-classes` from the model store.
    public init(store: ModelStore) throws {
        model = try EfficientNetLite(contentsOf: try store.url(of: "efficientnet-lite0"))
        classNames = try JSONDecoder().decode([String].self, from: Data(contentsOf: try store.url(of: "imagenet-classes")))
        guard classNames.count == 1000 else {
            throw RetrievalError.invalidInput("imagenet-classes has \(classNames.count) names, expected 1000")
        }
    }

    /// The image's embedding and its `tagCount` most probable ImageNet classes.
    public func describe(_ image: RGBImage, tagCount: Int = 5) -> (embedding: [Float], tags: [ImageTag]) {
        let features = model.features(EfficientNetLite.preprocess(image))
        let tokens = features.shape[0], width = features.shape[1]
        var pooled = [Float](repeating: 0, count: width)
        features.scalars.withUnsafeBufferPointer { f in
            for t in 0..<tokens { for c in 0..<width { pooled[c] += f[t * width + c] } }
        }
        let logits = model.classify(features: features)
        var probabilities = logits
        VectorMath.softmax(&probabilities, count: probabilities.count)
        let tags = logits.indices.sorted { logits[$0] > logits[$1] }.prefix(tagCount).map {
            ImageTag(name: classNames[$0], probability: probabilities[$0])
        }
        return (EmbeddingMath.normalized(pooled), tags)
    }
}

/// Small vector helpers shared by the index and its search.
enum EmbeddingMath {
    /// `v / |v|`, or `v` unchanged if it is all zeros.
    static func normalized(_ v: [Float]) -> [Float] {
        let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return norm > 0 ? v.map { $0 / norm } : v
    }

    static func dot(_ a: [Float], _ b: UnsafeBufferPointer<Float>) -> Float {
        var sum: Float = 0
        for i in 0..<a.count { sum += a[i] * b[i] }
        return sum
    }

    /// Float32 bytes as stored in the index (the machine's order: little-endian on every
    /// platform we build for).
    static func blob(_ v: [Float]) -> Data { v.withUnsafeBufferPointer { Data(buffer: $0) } }

    /// The vector in `data`, or nil if it is not `dimension` floats.
    static func vector(_ data: Data?, dimension: Int) -> [Float]? {
        guard let data, data.count == dimension * MemoryLayout<Float>.size else { return nil }
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }
}

/// Reads text in an image with the `tesseract` command-line program, when it is installed.
public struct TesseractOCR: Sendable {
    /// The tesseract executable.
    public let executable: URL
    /// A folder with `eng.traineddata` (the model store's `tesseract-eng`), or nil for
    /// tesseract's own default.
    public let dataDirectory: URL?
    /// Seconds before a run is abandoned (a huge or pathological image).
    public var timeout: Double = 60

    /// Finds `tesseract` on `PATH`; nil if it is not installed (OCR is then skipped).
    public init?(store: ModelStore?, environment: [String: String] = ProcessInfo.processInfo.environment) {
        let directories = (environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":")
        guard let found = directories.map({ URL(fileURLWithPath: String($0)).appendingPathComponent("tesseract") })
            .first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else { return nil }
        executable = found
        let data = store?.folder(of: "tesseract-eng")
        dataDirectory = data.flatMap {
            FileManager.default.fileExists(atPath: $0.appendingPathComponent("eng.traineddata").path) ? $0 : nil
        }
    }

    /// The text tesseract reads in the image at `url`, whitespace collapsed; nil if it fails.
    /// The arguments go to the process as an array (no shell), so any file name is safe.
    public func read(_ url: URL) -> String? {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("llava-plus-ocr-\(UUID().uuidString).txt")
        defer { try? FileManager.default.removeItem(at: output) }
        guard FileManager.default.createFile(atPath: output.path, contents: nil),
              let sink = try? FileHandle(forWritingTo: output) else { return nil }
        defer { try? sink.close() }
        let process = Process()
        process.executableURL = executable
        var arguments = [url.path, "stdout", "-l", "eng"]
        if let dataDirectory { arguments += ["--tessdata-dir", dataDirectory.path] }
        process.arguments = arguments
        // To a file, not a pipe: nothing has to drain it while we wait, so a chatty run
        // cannot block on a full pipe.
        process.standardOutput = sink
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        // One thread is enough for a page, and the indexer already keeps the cores busy.
        var environment = ProcessInfo.processInfo.environment
        environment["OMP_THREAD_LIMIT"] = "1"
        process.environment = environment
        do { try process.run() } catch { return nil }
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() > deadline {
                process.terminate()
                process.waitUntilExit()
                return nil
            }
            usleep(5_000)
        }
        guard process.terminationStatus == 0, let data = try? Data(contentsOf: output) else { return nil }
        let text = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isWhitespace).joined(separator: " ")
        return text
    }
}

/// Names of the colours that cover an image, for the text side of the index: ImageNet tags
/// never say "red", so without this "a red shape" matches nothing.
public enum ColourNames {
    /// Up to three basic colour names, most covering first: a chromatic colour (red, orange,
    /// yellow, green, teal, blue, purple, pink, brown) when it covers at least 4% of the image
    /// (a small red shape on a white page counts), black, white or grey at 25%.
    public static func dominant(in image: RGBImage) -> [String] {
        // 32x32 is plenty for coverage and keeps this well under a millisecond.
        let small = image.resized(width: 32, height: 32, filter: .bilinear)
        let pixels = small.pixels
        var counts: [String: Int] = [:]
        for i in stride(from: 0, to: pixels.count, by: 3) {
            counts[name(pixels[i], pixels[i + 1], pixels[i + 2]), default: 0] += 1
        }
        let total = Float(small.width * small.height)
        return counts.filter { name, count in
            Float(count) / total >= (["black", "white", "grey"].contains(name) ? 0.25 : 0.04)
        }.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(3).map(\.key)
    }

    /// The basic colour name of one pixel (HSV thresholds).
    static func name(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> String {
        let red = Float(r) / 255, green = Float(g) / 255, blue = Float(b) / 255
        let high = max(red, green, blue), low = min(red, green, blue)
        let saturation = high > 0 ? (high - low) / high : 0
        if high < 0.2 { return "black" }
        if saturation < 0.25 { return high > 0.85 ? "white" : "grey" }
        var hue: Float
        if high == red { hue = 60 * (green - blue) / (high - low) } else if high == green {
            hue = 60 * (2 + (blue - red) / (high - low))
        } else {
            hue = 60 * (4 + (red - green) / (high - low))
        }
        if hue < 0 { hue += 360 }
        if hue >= 10 && hue < 45 && high < 0.65 { return "brown" }
        switch hue {
        case ..<15, 345...: return "red"
        case ..<40: return "orange"
        case ..<70: return "yellow"
        case ..<160: return "green"
        case ..<200: return "teal"
        case ..<260: return "blue"
        case ..<300: return "purple"
        default: return "pink"
        }
    }
}
