import Testing
@testable import Tokenizers

@Suite struct StreamingDecoderTests {
    @Test func holdsBackIncompleteCharacters() {
        let tokenizer = Fixtures.smolLM2
        let ids = tokenizer.encode("👨‍👩‍👧‍👦 ok", addSpecialTokens: false)
        var stream = StreamingDecoder(tokenizer: tokenizer)
        var pieces: [String] = []
        for id in ids {
            let piece = stream.append(id)
            // Never a replacement character: incomplete bytes wait for the rest.
            #expect(!piece.unicodeScalars.contains("\u{FFFD}"))
            pieces.append(piece)
        }
        pieces.append(stream.finish())
        #expect(pieces.joined() == "👨‍👩‍👧‍👦 ok")
        #expect(pieces.contains(""), "the emoji spans several tokens, so some append yields nothing")
    }

    @Test func joinsToTheWholeDecodeOnTheCorpus() {
        let tokenizer = Fixtures.smolLM2
        for (text, ids) in zip(Fixtures.corpus, Fixtures.smolLM2Encodings.ids) {
            var stream = StreamingDecoder(tokenizer: tokenizer)
            let streamed = stream.append(contentsOf: ids) + stream.finish()
            #expect(streamed == tokenizer.decode(ids), "\(text.debugDescription)")
        }
    }

    @Test func finishReplacesATruncatedCharacter() {
        let tokenizer = Fixtures.smolLM2
        let euroBytes = Array("€".utf8)
        // The byte symbols of the first two bytes of "€".
        let partial = euroBytes.prefix(2).map { tokenizer.tokenToId(String(ByteEncoder.byteToScalar[Int($0)]))! }
        var stream = StreamingDecoder(tokenizer: tokenizer)
        #expect(stream.append(contentsOf: partial) == "")
        #expect(stream.pendingBytes == Array(euroBytes.prefix(2)))
        #expect(stream.finish() == "\u{FFFD}")
        #expect(stream.pendingBytes.isEmpty)
    }

    @Test func skipsSpecialTokensWhenAsked() {
        let tokenizer = Fixtures.smolLM2
        var stream = StreamingDecoder(tokenizer: tokenizer, skipSpecialTokens: true)
        let ids = tokenizer.encode("Hi<|im_end|>", addSpecialTokens: false)
        #expect(stream.append(contentsOf: ids) + stream.finish() == "Hi")
    }

    @Test func completePrefixLength() {
        #expect(StreamingDecoder.completePrefixLength([0x41, 0xE2, 0x82]) == 1)
        #expect(StreamingDecoder.completePrefixLength([0xE2, 0x82, 0xAC]) == 3)
        #expect(StreamingDecoder.completePrefixLength([0xF0, 0x9F, 0x98]) == 0)
        #expect(StreamingDecoder.completePrefixLength([0xF0, 0x9F, 0x98, 0x80]) == 4)
        #expect(StreamingDecoder.completePrefixLength([0x41, 0x80, 0x80]) == 3)
        #expect(StreamingDecoder.completePrefixLength([0xFF]) == 1)
        #expect(StreamingDecoder.completePrefixLength([]) == 0)
    }
}
