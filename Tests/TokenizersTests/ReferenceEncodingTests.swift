import Foundation
import Testing
@testable import Tokenizers

/// Token ids against Hugging Face `tokenizers` on the whole corpus (2,000+ strings).
@Suite struct ReferenceEncodingTests {
    @Test func smolLM2MatchesReferenceOnEveryString() {
        let reference = Fixtures.smolLM2Encodings
        let tokenizer = Fixtures.smolLM2
        expectSameIds({ tokenizer.encode($0, addSpecialTokens: true) }, reference.ids, texts: Fixtures.corpus, "SmolLM2")
    }

    @Test func smolLM2RoundTripsEveryString() {
        let reference = Fixtures.smolLM2Encodings
        let tokenizer = Fixtures.smolLM2
        var failures: [String] = []
        for (index, (text, ids)) in zip(Fixtures.corpus, reference.ids).enumerated() {
            // A few strings hold bytes whose symbols SmolLM2's vocabulary lacks: the reference
            // drops them too, so those decode to what the reference decodes them to.
            let expected = reference.decoded_differently[String(index)] ?? text
            if tokenizer.decode(ids) != expected { failures.append(text.debugDescription) }
        }
        #expect(failures.isEmpty, "\(failures.count) strings do not round-trip, e.g. \(failures.prefix(5))")
        #expect(reference.decoded_differently.count <= 2)
    }

    @Test func specialTokensCanBeEncodedAsPlainText() {
        let reference = Fixtures.smolLM2Encodings.special_tokens_as_text
        #expect(reference.count > 100)
        let tokenizer = Fixtures.smolLM2
        expectSameIds({ tokenizer.encode($0, addSpecialTokens: true, parseSpecialTokens: false) }, reference.map(\.ids),
                      texts: reference.map { Fixtures.corpus[$0.index] }, "SmolLM2, special tokens as text")
        #expect(tokenizer.encode("<|im_end|>", addSpecialTokens: false, parseSpecialTokens: false).count > 1)
        #expect(tokenizer.encode("<|im_end|>", addSpecialTokens: false) == [2])
    }

    @Test func smolLM2Vocabulary() {
        let tokenizer = Fixtures.smolLM2
        #expect(tokenizer.vocabularySize == 49_152)
        #expect(tokenizer.bosTokenId == 1 && tokenizer.eosTokenId == 2)
        #expect(tokenizer.prefixTokenIds.isEmpty && tokenizer.suffixTokenIds.isEmpty)
        #expect(tokenizer.tokenToId("<|im_start|>") == 1)
        #expect(tokenizer.idToToken(2) == "<|im_end|>")
        #expect(tokenizer.tokenToId("Ġthe") != nil)
        #expect(tokenizer.idToToken(tokenizer.tokenToId("Ġthe")!) == "Ġthe")
        #expect((0...16).allSatisfy(tokenizer.isSpecialToken) && !tokenizer.isSpecialToken(17))
        #expect(tokenizer.decode([1, 2], skipSpecialTokens: true).isEmpty)
        #expect(tokenizer.decode([-5, 1_000_000]).isEmpty)
        let ids = tokenizer.encode("Hello world", addSpecialTokens: false)
        #expect(ids.map { tokenizer.idToToken($0)! } == ["Hello", "Ġworld"])
    }

    /// A LLaMA-3-style tokenizer trained by the fixture script: the LLaMA-3 split regex,
    /// `ignore_merges`, a BOS template, and added tokens with `lstrip` / `rstrip`.
    @Test func llama3StyleToyMatchesReference() throws {
        try checkToy("toy_llama3")
    }

    /// A GPT-2-style tokenizer trained by the fixture script, with `add_prefix_space`.
    @Test func gpt2StyleToyMatchesReference() throws {
        try checkToy("toy_gpt2")
    }

    private func checkToy(_ name: String) throws {
        let reference = Fixtures.decode(Fixtures.ToyEncodings.self, "\(name)/encodings.json")
        let tokenizer = try BPETokenizer(tokenizerJSONAt: Fixtures.url("\(name)/tokenizer.json"))
        let texts = Array(Fixtures.corpus.prefix(reference.corpus_prefix)) + reference.extra_texts
        expectSameIds({ tokenizer.encode($0, addSpecialTokens: true) }, reference.ids, texts: texts, name)
        expectSameIds({ tokenizer.encode($0, addSpecialTokens: false) }, reference.ids_without_special_tokens,
                      texts: Array(Fixtures.corpus.prefix(reference.ids_without_special_tokens.count)), "\(name) without special tokens")
    }

    @Test func longTextEncodesQuicklyAndMatchesPieceByPiece() {
        let tokenizer = Fixtures.smolLM2
        var text = ""
        var expected: [Int] = []
        // Joining corpus strings with a special token between them keeps pieces independent,
        // so the reference ids of the whole are the concatenation.
        for (piece, ids) in zip(Fixtures.corpus, Fixtures.smolLM2Encodings.ids) where text.utf8.count < 100_000 {
            text += piece + "<|endoftext|>"
            expected += ids + [0]
        }
        let clock = ContinuousClock()
        var ids: [Int] = []
        let elapsed = clock.measure { ids = tokenizer.encode(text, addSpecialTokens: false) }
        let firstDifference = (0..<max(ids.count, expected.count)).first { i in
            i >= ids.count || i >= expected.count || ids[i] != expected[i]
        }
        #expect(firstDifference == nil, "\(ids.count) ids, \(expected.count) expected; first difference at \(firstDifference ?? -1)")
        // Well under a second in release; the debug build used by `swift test` is slower.
        #expect(elapsed < .seconds(5), "encoding \(text.utf8.count) bytes took \(elapsed)")
    }

    @Test func pathologicalPiecesStayFast() {
        let tokenizer = Fixtures.smolLM2
        let clock = ContinuousClock()
        for text in [String(repeating: " ", count: 100_000), String(repeating: "a", count: 100_000),
                     String(repeating: "=", count: 100_000), String(repeating: "ab", count: 50_000)] {
            var ids: [Int] = []
            let elapsed = clock.measure { ids = tokenizer.encode(text, addSpecialTokens: false) }
            #expect(tokenizer.decode(ids) == text)
            #expect(elapsed < .seconds(5), "\(text.prefix(2))... took \(elapsed)")
        }
    }
}
