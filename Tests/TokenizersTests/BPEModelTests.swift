import Testing
@testable import Tokenizers

/// Merge semantics on small hand-made vocabularies.
@Suite struct BPEModelTests {
    /// A byte-level vocabulary of all 256 byte symbols plus `extra`, and merges between them.
    private func tokenizer(extra: [String], merges: [(String, String)], ignoreMerges: Bool = false,
                           added: [AddedToken] = []) throws -> BPETokenizer {
        try BPETokenizer(tokens: ByteEncoder.byteToScalar.map { String($0) } + extra, merges: merges, addedTokens: added,
                         preTokenizer: .gpt2, ignoreMerges: ignoreMerges)
    }

    private func tokens(_ tokenizer: BPETokenizer, _ text: String) -> [String] {
        tokenizer.encode(text, addSpecialTokens: false).map { tokenizer.idToToken($0)! }
    }

    @Test func lowestRankMergesFirst() throws {
        let t = try tokenizer(extra: ["bc", "ab", "abc"], merges: [("b", "c"), ("a", "b"), ("a", "bc")])
        #expect(tokens(t, "abc") == ["abc"])
        #expect(tokens(t, "ab") == ["ab"])
        #expect(tokens(t, "cab") == ["c", "ab"])
    }

    @Test func equalRanksMergeLeftmostFirst() throws {
        let t = try tokenizer(extra: ["aa"], merges: [("a", "a")])
        #expect(tokens(t, "aaa") == ["aa", "a"])
        #expect(tokens(t, "aaaa") == ["aa", "aa"])
        #expect(tokens(t, "aaaaa") == ["aa", "aa", "a"])
    }

    @Test func mergedTokensMergeAgain() throws {
        let t = try tokenizer(extra: ["aa", "aaaa"], merges: [("a", "a"), ("aa", "aa")])
        #expect(tokens(t, String(repeating: "a", count: 9)) == ["aaaa", "aaaa", "a"])
    }

    @Test func ignoreMergesUsesWholeWords() throws {
        // "abc" is in the vocabulary but no merge path leads to it.
        let plain = try tokenizer(extra: ["ab", "abc"], merges: [("a", "b")])
        #expect(tokens(plain, "abc") == ["ab", "c"])
        let whole = try tokenizer(extra: ["ab", "abc"], merges: [("a", "b")], ignoreMerges: true)
        #expect(tokens(whole, "abc") == ["abc"])
        #expect(tokens(whole, "abcd") == ["ab", "c", "d"])
    }

    @Test func bytesMissingFromTheVocabularyAreDropped() throws {
        var symbols = ByteEncoder.byteToScalar.map { String($0) }
        symbols[0x1D] = "<unused>"
        let t = try BPETokenizer(tokens: symbols, merges: [], preTokenizer: .gpt2)
        #expect(t.decode(t.encode("a\u{1D}b", addSpecialTokens: false)) == "ab")
    }

    @Test func invalidMergesAreRejected() {
        #expect(throws: TokenizerError.self) { try tokenizer(extra: [], merges: [("a", "b")]) }
        #expect(throws: TokenizerError.self) { try tokenizer(extra: ["ab"], merges: [("a", "zz")]) }
        #expect(throws: TokenizerError.self) {
            try BPETokenizer(tokens: ["a"], merges: [], preTokenizer: .digits(individual: true))
        }
    }

    @Test func addedTokensAreMatchedLongestFirst() throws {
        let added = [AddedToken(id: 256, content: "<a>", special: true), AddedToken(id: 257, content: "<a><b>", special: false)]
        let t = try tokenizer(extra: ["<a>", "<a><b>"], merges: [], added: added)
        #expect(t.encode("x<a><b>y<a>", addSpecialTokens: false) == [Int(Character("x").asciiValue!), 257,
                                                                      Int(Character("y").asciiValue!), 256])
        #expect(!t.encode("<a>", addSpecialTokens: false, parseSpecialTokens: false).contains(256))
    }

    @Test func ggufStyleConstruction() throws {
        let symbols = ByteEncoder.byteToScalar.map { String($0) }
        let tokens = ["<s>", "</s>"] + symbols + ["Ġt", "Ġth"]
        var types = [TokenType](repeating: .normal, count: tokens.count)
        types[0] = .control
        types[1] = .control
        let t = try BPETokenizer(tokens: tokens, tokenTypes: types, merges: ["Ġ t", "Ġt h"], preTokenizer: .gpt2,
                                 bosTokenId: 0, eosTokenId: 1, addBOS: true)
        #expect(t.encode(" th</s>").map { t.idToToken($0)! } == ["<s>", "Ġth", "</s>"])
        #expect(t.isSpecialToken(1) && !t.isSpecialToken(2))
        #expect(t.decode(t.encode(" th</s>"), skipSpecialTokens: true) == " th")
        #expect(throws: TokenizerError.self) {
            try BPETokenizer(tokens: tokens, tokenTypes: types, merges: ["Ġt"], preTokenizer: .gpt2, bosTokenId: 0, eosTokenId: 1)
        }
    }

    /// Swift's `String` equality is canonical equivalence; the word cache must compare bytes.
    @Test func canonicallyEquivalentPiecesKeepTheirOwnTokens() {
        let tokenizer = Fixtures.smolLM2
        for _ in 0..<2 {
            #expect(tokenizer.encode("\u{387}", addSpecialTokens: false) == [153, 225])
            #expect(tokenizer.encode("\u{B7}", addSpecialTokens: false) == [8547])
            #expect(tokenizer.decode(tokenizer.encode("e\u{301}x")).unicodeScalars.elementsEqual("e\u{301}x".unicodeScalars))
            #expect(tokenizer.decode(tokenizer.encode("\u{E9}x")).unicodeScalars.elementsEqual("\u{E9}x".unicodeScalars))
        }
    }

    @Test func sharedAcrossTasks() async {
        let tokenizer = Fixtures.smolLM2
        let texts = Array(Fixtures.corpus.prefix(200))
        let expected = Array(Fixtures.smolLM2Encodings.ids.prefix(200))
        let results = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<4 {
                group.addTask { zip(texts, expected).allSatisfy { tokenizer.encode($0.0, addSpecialTokens: true) == $0.1 } }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results == [true, true, true, true])
    }
}
