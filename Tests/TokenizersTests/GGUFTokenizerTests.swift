import Foundation
import ModelFormats
import ModelStore
import Testing
@testable import Tokenizers

/// The checkout this file lives in (`Tests/TokenizersTests/` is two levels down).
private let checkout = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

/// The tokenizer built from the real SmolLM2 GGUF in the model store. These fail (never skip)
/// when the store is missing: run scripts/setup.sh.
@Suite struct GGUFTokenizerTests {
    private static let loaded: Result<(BPETokenizer, ChatTemplate?, String), any Error> = Result {
        let store = try ModelStore.locate(searchFrom: [checkout])
        let url = try store.url(of: "smollm2-135m-instruct")
        let file = try GGUFFile(url: url)
        let sha256 = try store.asset("smollm2-135m-instruct").files.first?.sha256 ?? ""
        return (try BPETokenizer(gguf: file), ChatTemplate(gguf: file), sha256)
    }

    private func installed() throws -> (BPETokenizer, ChatTemplate?, String) {
        do {
            return try Self.loaded.get()
        } catch {
            Issue.record("the SmolLM2 GGUF is not usable (\(error)); run scripts/setup.sh")
            throw error
        }
    }

    @Test func matchesReferenceOnEveryString() throws {
        let (tokenizer, _, sha256) = try installed()
        #expect(sha256 == Fixtures.smolLM2Encodings.gguf_sha256, "the fixtures were made from another GGUF")
        expectSameIds({ tokenizer.encode($0, addSpecialTokens: true) }, Fixtures.smolLM2Encodings.ids,
                      texts: Fixtures.corpus, "SmolLM2 from GGUF")
    }

    @Test func metadata() throws {
        let (tokenizer, template, _) = try installed()
        #expect(tokenizer.vocabularySize == 49_152)
        #expect(tokenizer.bosTokenId == 1 && tokenizer.eosTokenId == 2)
        #expect(tokenizer.prefixTokenIds.isEmpty)
        #expect(tokenizer.idToToken(1) == "<|im_start|>" && tokenizer.isSpecialToken(16) && !tokenizer.isSpecialToken(17))
        #expect(tokenizer.addedTokens.count == 17)
        #expect(template == .smolLM2)
    }

    @Test func chatPromptRoundTrips() throws {
        let (tokenizer, template, _) = try installed()
        let messages: [ChatMessage] = [.user("What is the capital of France?")]
        let ids = tokenizer.encode(messages, template: try #require(template))
        #expect(ids.first == 1)
        #expect(Array(ids.suffix(4)) == tokenizer.encode("<|im_start|>assistant\n", addSpecialTokens: false))
        #expect(tokenizer.decode(ids) == ChatTemplate.smolLM2.render(messages))
    }

    @Test func unsupportedModelsAreRejected() {
        var metadata = GGUFMetadata()
        metadata["tokenizer.ggml.model"] = .string("llama")
        #expect(throws: TokenizerError.self) { try BPETokenizer(ggufMetadata: metadata) }
        metadata["tokenizer.ggml.model"] = .string("gpt2")
        metadata["tokenizer.ggml.pre"] = .string("deepseek-coder")
        #expect(throws: TokenizerError.self) { try BPETokenizer(ggufMetadata: metadata) }
    }

    /// `makeTokenizer(gguf:)` gives the byte-level BPE for SmolLM2's `gpt2` tokenizer model.
    @Test func factoryChoosesByteLevelBPEForGPT2() throws {
        let (reference, _, _) = try installed()
        let url = try ModelStore.locate(searchFrom: [checkout]).url(of: "smollm2-135m-instruct")
        let tokenizer = try makeTokenizer(gguf: GGUFFile(url: url))
        #expect(tokenizer is BPETokenizer)
        let text = "<|im_start|>user\nWhat is in the picture? 🤔<|im_end|>"
        #expect(tokenizer.encode(text) == reference.encode(text))
    }
}
