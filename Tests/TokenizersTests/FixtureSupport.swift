import Foundation
import Testing
@testable import Tokenizers

/// Reference data made by `scripts/fixtures/make_tokenizer_fixtures.py` with Hugging Face
/// `tokenizers` from the real SmolLM2 GGUF (see that script for what each file holds).
enum Fixtures {
    static func url(_ name: String) -> URL {
        guard let url = Bundle.module.url(forResource: "Fixtures/" + name, withExtension: nil) else {
            fatalError("missing fixture \(name): run scripts/fixtures/make_tokenizer_fixtures.py")
        }
        return url
    }

    static func decode<T: Decodable>(_ type: T.Type, _ name: String) -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(contentsOf: url(name)))
        } catch {
            fatalError("fixture \(name): \(error)")
        }
    }

    struct Corpus: Decodable {
        var seed: Int
        var texts: [String]
    }

    struct SmolLM2Encodings: Decodable {
        struct Literal: Decodable {
            var index: Int
            var ids: [Int]
        }
        var gguf_sha256: String
        var bos_token_id: Int
        var eos_token_id: Int
        var ids: [[Int]]
        /// Corpus index (as a string) to what the reference decodes its ids to, where that is not the text.
        var decoded_differently: [String: String]
        var special_tokens_as_text: [Literal]
    }

    struct ToyEncodings: Decodable {
        var corpus_prefix: Int
        var extra_texts: [String]
        var ids: [[Int]]
        var ids_without_special_tokens: [[Int]]
    }

    struct Splits: Decodable {
        var patterns: [String: String]
        var gpt2: [[Int]]
        var llama3: [[Int]]
        var smollm: [[Int]]
    }

    struct Chat: Decodable {
        struct Render: Decodable {
            var messages: [ChatMessage]
            var add_generation_prompt: Bool
            var text: String
        }
        var template: String
        var renders: [Render]
    }

    static let corpus = decode(Corpus.self, "corpus.json").texts
    static let smolLM2Encodings = decode(SmolLM2Encodings.self, "smollm2/encodings.json")

    /// SmolLM2's tokenizer from the `tokenizer.json` the reference wrote (built once, shared).
    static let smolLM2: BPETokenizer = {
        do {
            return try BPETokenizer(tokenizerJSONAt: url("smollm2/tokenizer.json"), bosToken: "<|im_start|>", eosToken: "<|im_end|>")
        } catch {
            fatalError("smollm2/tokenizer.json: \(error)")
        }
    }()
}

/// Compares token id lists for many texts and reports the first few differences readably.
func expectSameIds(_ actual: (String) -> [Int], _ expected: [[Int]], texts: [String], _ label: String,
                   sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(texts.count == expected.count, "\(label): \(texts.count) texts, \(expected.count) references", sourceLocation: sourceLocation)
    var mismatches: [String] = []
    for (text, ids) in zip(texts, expected) {
        let got = actual(text)
        if got != ids {
            mismatches.append("\(text.debugDescription.prefix(120)): expected \(ids.prefix(40)), got \(got.prefix(40))")
        }
    }
    #expect(mismatches.isEmpty, "\(label): \(mismatches.count) of \(texts.count) differ, e.g.\n\(mismatches.prefix(5).joined(separator: "\n"))",
            sourceLocation: sourceLocation)
}
