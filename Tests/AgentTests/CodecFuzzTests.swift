import Foundation
import Skills
import Tensors
import Testing
@testable import Agent

/// Adversarial and malformed model output: mutated renderings of valid turns, random bytes,
/// injection attempts. The codec must return a turn or a structured error for every one,
/// never crash, and never treat text as code (it has no evaluator to reach).
@Suite struct CodecFuzzTests {

    static let seeds: [AssistantTurn] = [
        ToolCallCodecTests.frisbee,
        AssistantTurn(thoughts: "No tool needed.", value: "A cat sits on a table."),
        AssistantTurn(thoughts: "Segment then edit.", actions: [
            ToolCall(name: "sam", params: ["boxes": [[0.1, 0.2, 0.5, 0.9]], "image": "image-3fa2"]),
            ToolCall(name: "edit", params: ["op": "blur", "radius": 3, "note": "quote \" and \\ and 🤔"]),
        ], value: "Working on it."),
    ]

    static let fragments = ["\"", "'", "[", "]", "{", "}", "(", ")", ",", ":", "\\", "\\u", "\\ud800", "True", "None",
                            "__import__('os')", "$(rm -rf /)", "`id`", "; ls", "eval(", "\u{0}", "\u{FEFF}", "🚀", "👉",
                            "\"actions🚀\"", "\"value👉\"", "1e999", "-", "0x1F", "NaN", "\n", "\u{202E}"]

    /// The `number`th mutated rendering of a seed turn: deletions, inserted fragments,
    /// truncations, random ASCII and duplicated runs (shared with the loop fuzz).
    static func mutated(number: Int, format: ToolCallFormat, using random: inout SplitMix64) -> String {
        var scalars = Array(ToolCallCodec.render(seeds[number % seeds.count], format: format).unicodeScalars)
        for _ in 0..<Int.random(in: 1...6, using: &random) {
            let at = Int.random(in: 0...scalars.count, using: &random)
            switch Int.random(in: 0..<5, using: &random) {
            case 0 where !scalars.isEmpty: scalars.remove(at: min(at, scalars.count - 1))
            case 1: scalars.insert(contentsOf: fragments.randomElement(using: &random)!.unicodeScalars, at: at)
            case 2: scalars.removeSubrange(min(at, scalars.count)...)
            case 3: scalars.insert(Unicode.Scalar(UInt8.random(in: 0...127, using: &random)), at: at)
            default:
                let end = min(scalars.count, at + Int.random(in: 0...20, using: &random))
                scalars.insert(contentsOf: scalars[min(at, scalars.count)..<end], at: min(at, scalars.count))
            }
        }
        return String(String.UnicodeScalarView(scalars))
    }

    @Test func tenThousandMutationsNeverCrash() {
        var random = SplitMix64(seed: 0x5EED)
        var parsed = 0, rejected = 0
        for number in 0..<10_000 {
            let format = number % 2 == 0 ? ToolCallFormat.llavaPlus : .json
            switch ToolCallCodec.parse(Self.mutated(number: number, format: format, using: &random), format: format) {
            case .success(let turn):
                parsed += 1
                // Whatever parsed must be well-formed: names are strings, params are objects.
                #expect(turn.actions.allSatisfy { !$0.name.isEmpty && $0.params.objectValue != nil }, "case \(number)")
            case .failure(let error):
                rejected += 1
                #expect(!error.description.isEmpty && error.json["error"] == "malformed_turn", "case \(number)")
            }
        }
        print("codec fuzz: 10000 mutated turns, \(parsed) parsed, \(rejected) rejected with a structured error")
        #expect(parsed > 1000 && rejected > 1000, "the mutations should exercise both outcomes")
    }

    @Test func randomBytesNeverCrash() {
        var random = SplitMix64(seed: 42)
        for number in 0..<2_000 {
            let bytes = (0..<Int.random(in: 0...300, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            let text = String(decoding: bytes, as: UTF8.self)
            for format in ToolCallFormat.allCases {
                if case .success(let turn) = ToolCallCodec.parse(text, format: format) {
                    #expect(turn.actions.allSatisfy { $0.params.objectValue != nil }, "case \(number)")
                }
            }
        }
    }
}
