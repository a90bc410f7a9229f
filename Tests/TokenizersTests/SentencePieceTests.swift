import Foundation
import ModelFormats
import Tensors
import Testing
@testable import Tokenizers

/// Reference data made by `scripts/fixtures/make_sentencepiece_fixtures.py`: a SentencePiece BPE
/// model trained like LLaMA's (byte fallback), the same vocabulary as a GGUF, and the ids that
/// `sentencepiece` and transformers' legacy Llama tokenizer give for 2,400+ strings.
private enum SentencePieceFixtures {
    struct Encodings: Decodable {
        var vocab_size: Int
        var corpus_count: Int
        var extra_texts: [String]
        var bos_token_id: Int
        var sentencepiece_ids: [[Int]]
        /// Index (as a string) to what `sentencepiece` decodes its ids to, where that is not the text.
        var sentencepiece_decoded: [String: String]
        /// Index to transformers' ids, where they are not BOS + `sentencepiece_ids` (special tokens in the text).
        var transformers_ids_where_different: [String: [Int]]
        var transformers_decoded: [String: String]
    }

    static let encodings = Fixtures.decode(Encodings.self, "sentencepiece/encodings.json")
    static let texts = Array(Fixtures.corpus.prefix(encodings.corpus_count)) + encodings.extra_texts
    static let modelBytes = (try? Data(contentsOf: Fixtures.url("sentencepiece/tokenizer.model"))).map { Array($0) } ?? []

    /// transformers' ids for every text: BOS first, `<s>`, `</s>`, `<unk>` in the text parsed.
    static let transformersIds: [[Int]] = encodings.sentencepiece_ids.enumerated().map { index, ids in
        encodings.transformers_ids_where_different[String(index)] ?? [encodings.bos_token_id] + ids
    }

    static let fromModel: SentencePieceTokenizer = {
        do {
            return try SentencePieceTokenizer(model: SentencePieceModel(bytes: modelBytes))
        } catch {
            fatalError("sentencepiece/tokenizer.model: \(error)")
        }
    }()
}

@Suite struct SentencePieceTests {
    private typealias F = SentencePieceFixtures

    @Test func modelFileMatchesSentencePieceOnEveryString() {
        #expect(F.texts.count >= 2_000)
        let tokenizer = F.fromModel
        expectSameIds({ tokenizer.encode($0, addSpecialTokens: false, parseSpecialTokens: false) },
                      F.encodings.sentencepiece_ids, texts: F.texts, "tokenizer.model vs sentencepiece")
    }

    @Test func modelFileMatchesTransformersOnEveryString() {
        let tokenizer = F.fromModel
        expectSameIds({ tokenizer.encode($0) }, F.transformersIds, texts: F.texts, "tokenizer.model vs transformers")
        #expect(F.encodings.transformers_ids_where_different.count >= 8, "the corpus writes special tokens in some strings")
    }

    @Test func ggufMatchesBothReferencesOnEveryString() throws {
        let tokenizer = try makeTokenizer(gguf: GGUFFile(url: Fixtures.url("sentencepiece/tokenizer.gguf")))
        #expect(tokenizer is SentencePieceTokenizer)
        expectSameIds({ tokenizer.encode($0, addSpecialTokens: false, parseSpecialTokens: false) },
                      F.encodings.sentencepiece_ids, texts: F.texts, "GGUF vs sentencepiece")
        expectSameIds({ tokenizer.encode($0) }, F.transformersIds, texts: F.texts, "GGUF vs transformers")
    }

    /// User-defined pieces are matched whole inside the text and never merged across.
    @Test func userDefinedPiecesMatchSentencePiece() throws {
        struct Reference: Decodable {
            var symbols: [String]
            var texts: [String]
            var sentencepiece_ids: [[Int]]
            /// Index to sentencepiece's decoding, where that is not the text (a literal `▁` in it).
            var sentencepiece_decoded: [String: String]
        }
        let reference = Fixtures.decode(Reference.self, "sentencepiece/user_defined.json")
        let tokenizer = try SentencePieceTokenizer(modelAt: Fixtures.url("sentencepiece/user_defined.model"))
        #expect(reference.texts.count >= 400)
        let symbolIds = reference.symbols.compactMap(tokenizer.tokenToId)
        #expect(symbolIds.count == reference.symbols.count && symbolIds.allSatisfy { tokenizer.types[$0] == .userDefined })
        expectSameIds({ tokenizer.encode($0, addSpecialTokens: false, parseSpecialTokens: false) }, reference.sentencepiece_ids,
                      texts: reference.texts, "user-defined pieces vs sentencepiece")
        let decodedAsReference = reference.texts.indices.filter { index in
            tokenizer.decode(reference.sentencepiece_ids[index]) == reference.sentencepiece_decoded[String(index)] ?? reference.texts[index]
        }
        #expect(decodedAsReference.count == reference.texts.count)
    }

    @Test func decodesEveryStringLikeTheReferences() {
        let tokenizer = F.fromModel
        var failures: [String] = []
        for (index, text) in F.texts.enumerated() {
            let key = String(index)
            if tokenizer.decode(F.encodings.sentencepiece_ids[index]) != F.encodings.sentencepiece_decoded[key] ?? text {
                failures.append("sentencepiece ids of \(text.debugDescription)")
            }
            if tokenizer.decode(F.transformersIds[index], skipSpecialTokens: true) != F.encodings.transformers_decoded[key] ?? text {
                failures.append("transformers ids of \(text.debugDescription)")
            }
        }
        #expect(failures.isEmpty, "\(failures.count) decodes differ, e.g. \(failures.prefix(5))")
        // Only texts holding a literal `▁` or special tokens decode to something else.
        #expect(F.encodings.sentencepiece_decoded.keys.allSatisfy { F.texts[Int($0)!].contains("\u{2581}") })
    }

    @Test func streamingDecoderJoinsToTheWholeDecode() {
        let tokenizer = F.fromModel
        for ids in F.transformersIds {
            for skip in [true, false] {
                var stream = StreamingDecoder(tokenizer: tokenizer, skipSpecialTokens: skip)
                let streamed = stream.append(contentsOf: ids) + stream.finish()
                #expect(streamed == tokenizer.decode(ids, skipSpecialTokens: skip))
            }
        }
        // The dummy prefix's space goes from the first text token only, even after BOS.
        let ids = tokenizer.encode("Hi there")
        var stream = StreamingDecoder(tokenizer: tokenizer, skipSpecialTokens: true)
        #expect(stream.append(contentsOf: ids) + stream.finish() == "Hi there")
    }

    @Test func vocabularyAndSpecialTokens() throws {
        let tokenizer = F.fromModel
        #expect(tokenizer.vocabularySize == F.encodings.vocab_size)
        #expect(tokenizer.bosTokenId == 1 && tokenizer.eosTokenId == 2 && tokenizer.unknownTokenId == 0)
        #expect(tokenizer.prefixTokenIds == [1] && tokenizer.suffixTokenIds.isEmpty)
        #expect((0...2).allSatisfy(tokenizer.isSpecialToken) && !tokenizer.isSpecialToken(3))
        #expect(tokenizer.byteFallback && tokenizer.addDummyPrefix)
        let newline = try #require(tokenizer.tokenToId("<0x0A>"))
        #expect(tokenizer.idToToken(newline) == "<0x0A>" && tokenizer.bytes(forToken: newline) == [0x0A])
        #expect(tokenizer.encode("\n", addSpecialTokens: false) == [tokenizer.tokenToId("\u{2581}")!, newline])
        #expect(tokenizer.decode([1, 2], skipSpecialTokens: true).isEmpty)
        #expect(tokenizer.decode([1, 2]) == "<s></s>")
        #expect(tokenizer.decode([-1, 1_000_000]).isEmpty)
        #expect(tokenizer.encode("", addSpecialTokens: true) == [1])
        // An emoji the vocabulary lacks falls back to its four UTF-8 bytes.
        let brain = tokenizer.encode("\u{1F9E0}", addSpecialTokens: false).compactMap(tokenizer.idToToken)
        #expect(brain == ["\u{2581}", "<0xF0>", "<0x9F>", "<0xA7>", "<0xA0>"])
        // `é` and `e` + U+0301 are equal Swift strings but different pieces.
        #expect(tokenizer.tokenToId("e\u{301}") != tokenizer.tokenToId("é"))
    }

    @Test func imagePlaceholdersSplitTheTextLikeLLaVA() {
        let tokenizer = F.fromModel
        let ids = tokenizer.encode("USER: <image>\nWhat is it?", imagePlaceholder: "<image>", imageTokenId: -200)
        // Each chunk is encoded on its own (with its dummy prefix), as LLaVA's tokenizer_image_token does.
        let expected = [1] + tokenizer.encode("USER: ", addSpecialTokens: false) + [-200]
            + tokenizer.encode("\nWhat is it?", addSpecialTokens: false)
        #expect(ids == expected)
    }

    @Test func longTextEncodesQuicklyAndMatchesPieceByPiece() {
        let tokenizer = F.fromModel
        var text = ""
        var expected: [Int] = []
        // `</s>` between the strings starts a new stretch of text, so the ids of the whole are
        // the strings' own ids joined by EOS.
        for (piece, ids) in zip(F.texts, F.encodings.sentencepiece_ids) where !piece.contains("<") && text.utf8.count < 150_000 {
            text += piece + "</s>"
            expected += ids + [2]
        }
        let start = ContinuousClock.now
        let ids = tokenizer.encode(text, addSpecialTokens: false)
        let elapsed = ContinuousClock.now - start
        #expect(ids == expected)
        #expect(elapsed < .seconds(10), "encoding \(text.utf8.count) bytes took \(elapsed)")
        // One long stretch without separators: thousands of symbols in a single merge queue.
        let long = String(repeating: "the picture shows a dog 🐕 and 12 cats; ", count: 2_000)
        let roundTrips = tokenizer.decode(tokenizer.encode(long), skipSpecialTokens: true) == long
        #expect(roundTrips)
    }

    // MARK: Malformed files

    @Test func truncatedModelFilesGiveErrorsNamingTheField() throws {
        let bytes = F.modelBytes
        #expect(bytes.count > 10_000)
        var messages: Set<String> = []
        // Cut at many places, including inside the trainer and normalizer specs at the end.
        for cut in stride(from: 1, to: bytes.count, by: 97) + Array((bytes.count - 300)..<bytes.count) {
            do {
                _ = try SentencePieceModel(bytes: Array(bytes.prefix(cut)))
                // A cut between two fields is a valid, shorter message; it must still lack pieces or specs.
            } catch {
                guard case .invalidFile(let message) = error else {
                    Issue.record("cut at \(cut): \(error)")
                    continue
                }
                #expect(message.hasPrefix("SentencePiece model: ModelProto"))
                #expect(message.contains(" at byte "))
                messages.insert(String(message.split(separator: " at byte ")[0]))
            }
        }
        #expect(messages.contains { $0.hasPrefix("SentencePiece model: ModelProto.pieces[") })
        #expect(messages.contains { $0.contains("trainer_spec") || $0.contains("normalizer_spec") })
    }

    @Test func corruptedBytesNeverCrash() {
        var generator = SplitMix64(seed: 7)
        var failures = 0
        for _ in 0..<300 {
            var bytes = F.modelBytes
            for _ in 0..<4 {
                bytes[Int(generator.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: generator.next())
            }
            do {
                let model = try SentencePieceModel(bytes: bytes)
                _ = try SentencePieceTokenizer(model: model).encode("A test of corrupted 🤔 models")
            } catch {
                // Typed throws: nothing but a TokenizerError can arrive here.
                failures += 1
            }
        }
        #expect(failures > 0, "some corruptions must be caught")
    }

    @Test func malformedMessagesAreRejectedPrecisely() {
        func message(_ bytes: [UInt8]) -> String? {
            do {
                _ = try SentencePieceModel(bytes: bytes)
                return nil
            } catch {
                return "\(error)"
            }
        }
        // pieces (field 1) with a length past the end.
        #expect(message([0x0A, 0x05, 0x0A]) == "invalid tokenizer file: SentencePiece model: ModelProto.pieces[0] at byte 0: length 5 runs past the end of the message (1 bytes left)")
        // The offset is the field's, inside nested messages too.
        #expect(message([0x0A, 0x02, 0x0A, 0x05])?.contains("ModelProto.pieces[0].piece at byte 2: length 5") == true)
        // pieces[0].piece that is not UTF-8.
        #expect(message([0x0A, 0x03, 0x0A, 0x01, 0xFF])?.contains("ModelProto.pieces[0].piece at byte 2: not valid UTF-8") == true)
        // pieces[0].score sent as a varint.
        #expect(message([0x0A, 0x02, 0x10, 0x01])?.contains("ModelProto.pieces[0].score at byte 2: wire type 0, expected 5") == true)
        // pieces[0].type 9.
        #expect(message([0x0A, 0x02, 0x18, 0x09])?.contains("ModelProto.pieces[0].type") == true)
        // trainer_spec.model_type 7, and byte_fallback 2 (not a bool).
        #expect(message([0x12, 0x02, 0x18, 0x07])?.contains("ModelProto.trainer_spec.model_type") == true)
        #expect(message([0x12, 0x03, 0x98, 0x02, 0x02])?.contains("ModelProto.trainer_spec.byte_fallback at byte 2: expected a bool") == true)
        // An eleven-byte varint, a group (wire type 3) and field number 0.
        #expect(message([0x30] + Array(repeating: 0xFF, count: 10) + [0x01])?.contains("ModelProto.field 6 at byte 0: varint longer than 64 bits") == true)
        #expect(message([0x0B])?.contains("wire type 3") == true)
        #expect(message([0x00, 0x00])?.contains("invalid field number 0") == true)
        // An unknown field is skipped; an empty message is an empty model.
        #expect(message([0x30, 0x01]) == nil && message([]) == nil)
    }

    @Test func unsupportedModelsAreRejected() throws {
        var model = try SentencePieceModel(bytes: F.modelBytes)
        #expect(model.modelType == .bpe && model.byteFallback && model.addDummyPrefix)
        #expect(!model.removeExtraWhitespaces && model.normalizerName == "identity")
        for change in [{ (m: inout SentencePieceModel) in m.modelType = .unigram },
                       { $0.removeExtraWhitespaces = true }, { $0.precompiledCharsmapCount = 10 }] {
            var changed = model
            change(&changed)
            #expect(throws: TokenizerError.self) { try SentencePieceTokenizer(model: changed) }
        }
        // Byte fallback without its byte pieces.
        model.pieces.removeAll { $0.piece == "<0x41>" }
        #expect(throws: TokenizerError.invalidVocabulary("byte fallback needs the byte piece <0x41> (of type byte, 6)")) {
            try SentencePieceTokenizer(model: model)
        }
        model.pieces.append(model.pieces[5])
        #expect(throws: TokenizerError.self) { try SentencePieceTokenizer(model: model) }
    }

    @Test func ggufTokenizerModelsAreChosenByName() throws {
        let file = try GGUFFile(url: Fixtures.url("sentencepiece/tokenizer.gguf"))
        var metadata = file.metadata
        metadata["tokenizer.ggml.model"] = .string("bert")
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sp-\(UUID().uuidString).gguf")
        defer { try? FileManager.default.removeItem(at: url) }
        var writer = GGUFWriter()
        writer.metadata = metadata
        try writer.write(to: url)
        #expect(throws: TokenizerError.unsupported("GGUF tokenizer model 'bert' (known: gpt2, llama)")) {
            try makeTokenizer(gguf: GGUFFile(url: url))
        }
        metadata["tokenizer.ggml.model"] = .string("llama")
        metadata["tokenizer.ggml.scores"] = .array(.float32([1, 2]))
        #expect(throws: TokenizerError.self) { try SentencePieceTokenizer(ggufMetadata: metadata) }
    }
}
