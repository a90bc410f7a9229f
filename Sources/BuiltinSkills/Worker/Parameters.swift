import Foundation
import Imaging
import Skills

/// Reading one call's parameters. The runner has validated them against the manifest's schema;
/// these checks repeat what a direct caller (a test, another host) could get wrong, and each
/// error names the parameter.
public struct Parameters {
    public let values: [String: JSONValue]

    public init(_ values: [String: JSONValue]) { self.values = values }

    /// The image whose path the parameter holds (the runner resolves artifact ids to paths).
    public func image(_ name: String = "image") throws -> RGBImage {
        guard let path = values[name]?.stringValue, !path.isEmpty else {
            throw SkillInputError("\(name): expected an image artifact")
        }
        guard FileManager.default.fileExists(atPath: path) else { throw SkillInputError("\(name): no file at \(path)") }
        do {
            let image = try RGBImage(contentsOf: URL(fileURLWithPath: path))
            guard image.width > 0, image.height > 0 else { throw SkillInputError("\(name): the image is empty") }
            return image
        } catch let error as SkillInputError {
            throw error
        } catch {
            throw SkillInputError("\(name): \(error)")
        }
    }

    /// A string with something other than whitespace in it.
    public func text(_ name: String) throws -> String {
        guard let value = values[name] else { throw SkillInputError("\(name): required") }
        guard let text = value.stringValue else { throw SkillInputError("\(name): expected a string, got \(value.compactJSON)") }
        guard !text.allSatisfy(\.isWhitespace) else { throw SkillInputError("\(name): expected some text, got an empty string") }
        return text
    }

    /// An optional number within `range` (the manifest's bounds), `fallback` when absent.
    public func number(_ name: String, in range: ClosedRange<Double>, default fallback: Double) throws -> Double {
        guard let value = values[name] else { return fallback }
        guard let number = value.numberValue, range.contains(number) else {
            throw SkillInputError("\(name): expected a number in \(range.lowerBound)...\(range.upperBound), got \(value.compactJSON)")
        }
        return number
    }

    /// An optional whole number within `range`, `fallback` when absent.
    public func integer(_ name: String, in range: ClosedRange<Int>, default fallback: Int) throws -> Int {
        guard let value = values[name] else { return fallback }
        guard let number = value.numberValue, number.rounded() == number, range.contains(Int(number)) else {
            throw SkillInputError("\(name): expected a whole number in \(range.lowerBound)...\(range.upperBound), got \(value.compactJSON)")
        }
        return Int(number)
    }
}

/// Rounds to 2 decimals, the LLaVA-Plus convention for boxes and scores in results.
func rounded2(_ x: Float) -> JSONValue { .number((Double(x) * 100).rounded() / 100) }
