import Testing
@testable import Tokenizers

/// The hand-written pattern scanners against Hugging Face's regex pre-tokenizers.
@Suite struct PreTokenizerTests {
    private static let splits = Fixtures.decode(Fixtures.Splits.self, "pretokenizer_splits.json")

    @Test func patternsAreTheDocumentedRegexes() {
        #expect(Self.splits.patterns["gpt2"] == SplitPattern.gpt2.regex)
        #expect(Self.splits.patterns["llama3"] == SplitPattern.llama3.regex)
        #expect(SplitPattern(regex: SplitPattern.llama3.regex) == .llama3)
    }

    @Test(arguments: ["gpt2", "llama3", "smollm"])
    func piecesMatchReference(_ name: String) {
        let preTokenizer: PreTokenizer = switch name {
        case "gpt2": .gpt2
        case "llama3": .split(.llama3)
        default: .smolLM
        }
        let expected = switch name {
        case "gpt2": Self.splits.gpt2
        case "llama3": Self.splits.llama3
        default: Self.splits.smollm
        }
        expectSameIds({ preTokenizer.pieces(of: $0).map { $0.unicodeScalars.count } }, expected,
                      texts: Fixtures.corpus, "\(name) piece lengths")
    }

    @Test func gpt2Examples() {
        let gpt2 = PreTokenizer.gpt2
        #expect(gpt2.pieces(of: "Hello world") == ["Hello", " world"])
        #expect(gpt2.pieces(of: "a   b") == ["a", "  ", " b"])
        #expect(gpt2.pieces(of: "a  ") == ["a", "  "])
        #expect(gpt2.pieces(of: "I'm don't DON'T") == ["I", "'m", " don", "'t", " DON", "'", "T"])
        #expect(gpt2.pieces(of: "x 123 y") == ["x", " 123", " y"])
        #expect(gpt2.pieces(of: "\n\nhi") == ["\n", "\n", "hi"])
        #expect(gpt2.pieces(of: "(ok)!!") == ["(", "ok", ")!!"])
    }

    @Test func smolLMSplitsEveryDigit() {
        #expect(PreTokenizer.smolLM.pieces(of: "x 123 y") == ["x", " ", "1", "2", "3", " y"])
        #expect(PreTokenizer.smolLM.pieces(of: "a  12") == ["a", "  ", "1", "2"])
        #expect(PreTokenizer.smolLM.pieces(of: "½²") == ["½", "²"])
    }

    @Test func llama3Examples() {
        let llama3 = PreTokenizer.split(.llama3)
        #expect(llama3.pieces(of: "12345") == ["123", "45"])
        #expect(llama3.pieces(of: "I'M (hello)") == ["I", "'M", " (", "hello", ")"])
        #expect(llama3.pieces(of: "x\n\n  y") == ["x", "\n\n", " ", " y"])
        #expect(llama3.pieces(of: "a.\n\nb") == ["a", ".\n\n", "b"])
    }

    @Test func whitespaceFollowsUnicodeWhiteSpace() {
        #expect(ScalarClass("\u{A0}") == .whitespace)
        #expect(ScalarClass("\u{3000}") == .whitespace)
        #expect(ScalarClass("\u{85}") == .whitespace)
        #expect(ScalarClass("\u{2028}") == .whitespace)
        #expect(ScalarClass("\u{200B}") == .other)
        #expect(ScalarClass("\u{1C}") == .other)
        #expect(ScalarClass("\u{180E}") == .other)
        #expect(ScalarClass("\u{301}") == .other)
        #expect(ScalarClass("ǅ") == .letter)
        #expect(ScalarClass("Ⅻ") == .number)
        #expect(ScalarClass("😀") == .other)
    }

    @Test func addPrefixSpaceStartsEveryPieceWithASpace() {
        let stage = PreTokenizer.byteLevel(addPrefixSpace: true, useRegex: true)
        #expect(stage.pieces(of: "hi there") == [" hi", " there"])
        #expect(stage.pieces(of: " hi") == [" hi"])
        #expect(stage.pieces(of: "").isEmpty)
    }
}
