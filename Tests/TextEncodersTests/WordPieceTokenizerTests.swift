import Foundation
import ModelStore
import Testing
@testable import Tokenizers

/// Token ids against Hugging Face `tokenizers` (Fixtures/make_minilm_reference.py).
@Suite struct WordPieceTokenizerTests {
    @Test func matchesTheReferenceOnEveryString() throws {
        let reference = try MiniLMFixtures.tokens()
        #expect(reference.texts.count >= 300)
        let tokenizer = try MiniLMFixtures.tokenizer()
        var failures: [String] = []
        for (text, ids) in zip(reference.texts, reference.ids) {
            let ours = tokenizer.encode(text)
            if ours != ids { failures.append("\(text.debugDescription): \(ours) != \(ids)") }
        }
        #expect(failures.isEmpty, "\(failures.count) of \(reference.texts.count) differ:\n\(failures.prefix(10).joined(separator: "\n"))")
    }

    @Test func truncatesLikeTheReference() throws {
        let reference = try MiniLMFixtures.tokens()
        let tokenizer = try MiniLMFixtures.tokenizer()
        #expect(!reference.truncated.isEmpty)
        for (index, ids) in reference.truncated {
            #expect(tokenizer.encode(reference.texts[Int(index)!], truncatingTo: reference.max_length) == ids)
        }
        #expect(tokenizer.encode("hello world", truncatingTo: 3) == [101, 7592, 102])
        #expect(tokenizer.encode("hello world", truncatingTo: 256) == tokenizer.encode("hello world"))
    }

    @Test func vocabularyAndDecoding() throws {
        let tokenizer = try MiniLMFixtures.tokenizer()
        #expect(tokenizer.vocabularySize == 30_522)
        #expect(tokenizer.prefixTokenIds == [101] && tokenizer.suffixTokenIds == [102])
        #expect(tokenizer.tokenToId("[UNK]") == 100 && tokenizer.paddingTokenId == 0)
        #expect(tokenizer.isSpecialToken(101) && !tokenizer.isSpecialToken(7592))
        let ids = tokenizer.encode("Unaffable, isn't it?", addSpecialTokens: false)
        #expect(ids.map { tokenizer.idToToken($0)! } == ["una", "##ffa", "##ble", ",", "isn", "'", "t", "it", "?"])
        #expect(tokenizer.decode(tokenizer.encode("Hello, World!"), skipSpecialTokens: true) == "hello, world!")
        #expect(tokenizer.decode([101, 7592, 102]) == "[CLS] hello [SEP]")
        // The reference's decoder glues only some punctuation back (its "cleanup").
        #expect(tokenizer.decode(tokenizer.encode("don't stop, it's mine. ok?")) == "[CLS] don ' t stop, it ' s mine. ok? [SEP]")
        // Words longer than 100 scalars are unknown whole; `[MASK]` in text is its special token.
        #expect(tokenizer.encode(String(repeating: "a", count: 101), addSpecialTokens: false) == [100])
        #expect(tokenizer.encode("a [MASK] b", addSpecialTokens: false) == [1037, 103, 1038])
        #expect(tokenizer.encode("a [MASK] b", addSpecialTokens: false, parseSpecialTokens: false).count == 5)
    }

    @Test func refusesOtherModels() {
        let json = #"{"added_tokens": [], "model": {"type": "BPE", "vocab": {}, "merges": []}}"#
        #expect(throws: TokenizerError.self) { try WordPieceTokenizer(tokenizerJSON: Data(json.utf8)) }
    }
}

/// The reference files and the installed model.
enum MiniLMFixtures {
    struct Tokens: Decodable {
        var max_length: Int
        var texts: [String]
        var ids: [[Int]]
        var truncated: [String: [Int]]
    }

    struct Embeddings: Decodable {
        var max_length: Int
        var sentences: [String]
        var embeddings: [[Float]]
    }

    static func url(_ name: String) throws -> URL {
        try #require(Bundle.module.url(forResource: "Fixtures/" + name, withExtension: nil),
                     "missing fixture \(name): run Tests/TextEncodersTests/Fixtures/make_minilm_reference.py")
    }

    static func tokens() throws -> Tokens {
        try JSONDecoder().decode(Tokens.self, from: Data(contentsOf: url("minilm_tokens.json")))
    }

    static func embeddings() throws -> Embeddings {
        try JSONDecoder().decode(Embeddings.self, from: Data(contentsOf: url("minilm_embeddings.json")))
    }

    static let checkout = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// The store's all-minilm-l6-v2 folder (scripts/setup.sh installs it).
    static func modelFolder() throws -> URL {
        let store = try ModelStore.locate(searchFrom: [checkout])
        _ = try store.url(of: "all-minilm-l6-v2")
        return store.folder(of: "all-minilm-l6-v2")
    }

    static let loadedTokenizer = Result { () throws -> WordPieceTokenizer in
        try WordPieceTokenizer(tokenizerJSONAt: try modelFolder().appendingPathComponent("tokenizer.json"))
    }

    static func tokenizer() throws -> WordPieceTokenizer { try loadedTokenizer.get() }
}
