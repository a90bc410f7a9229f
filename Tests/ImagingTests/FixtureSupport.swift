import Foundation
import Testing
import Imaging

/// The fixtures made by scripts/fixtures/make_imaging_fixtures.py, and what it recorded about them.
enum Fixtures {
    static let directory: URL = {
        guard let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
            fatalError("ImagingTests fixtures are missing from the test bundle")
        }
        return url
    }()

    static func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

    static func data(_ name: String) -> Data {
        do { return try Data(contentsOf: url(name)) } catch { fatalError("cannot read fixture \(name): \(error)") }
    }

    static func image(_ name: String) throws -> RGBImage { try RGBImage(contentsOf: url(name)) }

    /// Raw samples written by numpy: RGB, or grey that is replicated into RGB.
    static func raw(_ name: String, channels: Int) -> [UInt8] {
        let bytes = [UInt8](data(name))
        return channels == 3 ? bytes : bytes.flatMap { [$0, $0, $0] }
    }

    static let manifest: Manifest = {
        do {
            return try JSONDecoder().decode(Manifest.self, from: data("manifest.json"))
        } catch {
            fatalError("cannot decode Fixtures/manifest.json: \(error)")
        }
    }()
}

/// Largest absolute difference between two equally long sample arrays.
func maxDifference(_ a: [UInt8], _ b: [UInt8]) -> Int {
    precondition(a.count == b.count)
    return zip(a, b).reduce(0) { max($0, abs(Int($1.0) - Int($1.1))) }
}

struct Manifest: Decodable, Sendable {
    struct Decode: Decodable, Sendable, CustomTestStringConvertible {
        let file: String
        let expected: String
        let expected_channels: Int
        let tolerance: Int
        var testDescription: String { file }
    }
    struct Resize: Decodable, Sendable, CustomTestStringConvertible {
        let source: String
        let filter: String
        let width: Int
        let height: Int
        let expected: String
        var testDescription: String { "\(source) \(filter) \(width)x\(height)" }
    }
    struct ShortestSide: Decodable, Sendable, CustomTestStringConvertible {
        let source: String
        let size: Int
        let filter: String
        let width: Int
        let height: Int
        let expected: String
        var testDescription: String { "\(source) \(filter) shortest side \(size)" }
    }
    struct CentreCrop: Decodable, Sendable, CustomTestStringConvertible {
        let source: String
        let width: Int
        let height: Int
        let expected: String
        var testDescription: String { "\(source) \(width)x\(height)" }
    }
    struct ClipPipeline: Decodable, Sendable, CustomTestStringConvertible {
        let source: String
        let size: Int
        let filter: String
        let expected: String
        var testDescription: String { "\(source) \(filter) \(size)" }
    }
    struct PadToSquare: Decodable, Sendable, CustomTestStringConvertible {
        let source: String
        let fill: [UInt8]
        let expected: String
        var testDescription: String { source }
    }
    struct Crop: Decodable, Sendable, CustomTestStringConvertible {
        let source: String
        let x: Int
        let y: Int
        let width: Int
        let height: Int
        let expected: String
        var testDescription: String { "\(width)x\(height) at (\(x), \(y))" }
    }

    let pillow: String
    let decode: [Decode]
    let resize: [Resize]
    let shortest_side: [ShortestSide]
    let centre_crop: [CentreCrop]
    let clip_pipeline: [ClipPipeline]
    let pad_to_square: [PadToSquare]
    let crop: [Crop]
}

extension ResampleFilter {
    init(fixtureName: String) {
        switch fixtureName {
        case "bilinear": self = .bilinear
        case "bicubic": self = .bicubic
        default: fatalError("unknown filter \(fixtureName) in the manifest")
        }
    }
}

/// Compares two images and, on a mismatch, reports sizes or the number of differing samples
/// and the largest difference instead of dumping every pixel.
func expectEqualImages(_ actual: RGBImage, _ expected: RGBImage, tolerance: Int = 0,
                       _ context: String = "", sourceLocation: SourceLocation = #_sourceLocation) {
    guard (actual.width, actual.height) == (expected.width, expected.height) else {
        Issue.record("\(context) size \(actual.width)x\(actual.height), expected \(expected.width)x\(expected.height)",
                     sourceLocation: sourceLocation)
        return
    }
    let differing = zip(actual.pixels, expected.pixels).filter { $0 != $1 }.count
    let largest = maxDifference(actual.pixels, expected.pixels)
    if largest > tolerance {
        Issue.record("\(context) \(differing) of \(actual.pixels.count) samples differ, max |difference| \(largest) > \(tolerance)",
                     sourceLocation: sourceLocation)
    }
}
