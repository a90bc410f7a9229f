import Foundation
import Testing
@testable import Tokenizers

/// A string as a JSON literal.
private func json(_ string: String) -> String {
    String(decoding: try! JSONEncoder().encode(string), as: UTF8.self)
}

/// What the `tokenizer.json` loader accepts and what it refuses (rather than tokenizing differently).
@Suite struct TokenizerJSONTests {
    /// A minimal byte-level BPE file with the given pieces replaced.
    private func file(preTokenizer: String = #"{"type": "ByteLevel", "add_prefix_space": false}"#,
                      normalizer: String = "null", model: String? = nil, decoder: String = #"{"type": "ByteLevel"}"#,
                      postProcessor: String = "null", merges: String = #"[["Ġ", "t"]]"#) -> Data {
        let vocab = (ByteEncoder.byteToScalar.map { String($0) } + ["Ġt", "<s>"]).enumerated()
            .map { "\(json($0.element)): \($0.offset)" }.joined(separator: ", ")
        let model = model ?? #"{"type": "BPE", "vocab": {\#(vocab)}, "merges": \#(merges)}"#
        return Data("""
            {"added_tokens": [{"id": 257, "content": "<s>", "special": true}], "normalizer": \(normalizer),
             "pre_tokenizer": \(preTokenizer), "post_processor": \(postProcessor), "decoder": \(decoder), "model": \(model)}
            """.utf8)
    }

    @Test func minimalFileLoads() throws {
        let tokenizer = try BPETokenizer(tokenizerJSON: file())
        #expect(tokenizer.encode(" t<s>").map { tokenizer.idToToken($0)! } == ["Ġt", "<s>"])
        #expect(tokenizer.bosTokenId == nil)
        let old = try BPETokenizer(tokenizerJSON: file(merges: #"["Ġ t"]"#))
        #expect(old.encode(" t") == tokenizer.encode(" t"))
    }

    @Test func templateProcessingAddsBOS() throws {
        let post = #"{"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}], "special_tokens": {"<s>": {"id": "<s>", "ids": [257], "tokens": ["<s>"]}}}"#
        let tokenizer = try BPETokenizer(tokenizerJSON: file(postProcessor: post))
        #expect(tokenizer.prefixTokenIds == [257] && tokenizer.bosTokenId == 257)
        #expect(tokenizer.encode(" t") == [257, 256])
        #expect(tokenizer.encode(" t", addSpecialTokens: false) == [256])
    }

    @Test func unsupportedConfigurationsAreRefused() {
        func refuses(_ data: Data, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(throws: TokenizerError.self, sourceLocation: sourceLocation) { try BPETokenizer(tokenizerJSON: data) }
        }
        refuses(file(normalizer: #"{"type": "NFC"}"#))
        refuses(file(preTokenizer: #"{"type": "Whitespace"}"#))
        refuses(file(preTokenizer: #"{"type": "Split", "pattern": {"Regex": "\\s+"}, "behavior": "Isolated", "invert": false}"#))
        refuses(file(preTokenizer: #"{"type": "Digits", "individual_digits": true}"#))
        refuses(file(decoder: #"{"type": "WordPiece"}"#))
        refuses(file(model: #"{"type": "WordPiece", "vocab": {}, "merges": []}"#))
        refuses(file(merges: #"[["Ġ", "x"]]"#))
        refuses(Data("not json".utf8))
    }

    @Test func splitPatternsAreRecognisedByTheirRegex() throws {
        let llama3 = #"{"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": \#(json(SplitPattern.llama3.regex))}, "behavior": "Isolated", "invert": false}, {"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}]}"#
        let tokenizer = try BPETokenizer(tokenizerJSON: file(preTokenizer: llama3))
        #expect(tokenizer.preTokenizer == .llama3)
    }

    @Test func contiguousDigits() {
        #expect(PreTokenizer.digits(individual: false).pieces(of: "ab12c345") == ["ab", "12", "c", "345"])
        #expect(PreTokenizer.digits(individual: true).pieces(of: "ab12") == ["ab", "1", "2"])
    }
}
