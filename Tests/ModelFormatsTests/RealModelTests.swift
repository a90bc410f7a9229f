import Foundation
import ModelStore
import Testing
@testable import ModelFormats

/// The real SmolLM2-135M-Instruct Q4_1 GGUF that `scripts/setup.sh` installs. Expected numbers
/// were read from the same file with gguf-py (see the report that introduced this test).
/// Without the file these tests fail, never skip: run `scripts/setup.sh`.
@Suite struct RealModelTests {
    static let relativePath = "smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf"

    /// `$LLAVA_PLUS_MODELS/<asset>/<file>`, else `<package root>/models/<asset>/<file>`.
    static func modelURL() throws -> URL {
        let environment = ProcessInfo.processInfo.environment[ModelStore.environmentVariable]
        let root = environment.flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
            ?? packageRoot.appendingPathComponent("models")
        let url = root.appendingPathComponent(relativePath)
        guard FileManager.default.fileExists(atPath: url.path) else { throw ModelMissing(path: url.path) }
        return url
    }

    /// Thrown (so the test fails, with this message) when the model store is not installed.
    struct ModelMissing: Error, CustomStringConvertible {
        let path: String
        var description: String { "\(path) is missing: run scripts/setup.sh to install the model store" }
    }

    @Test func smolLM2HeaderAndMetadata() throws {
        let file = try GGUFFile(url: Self.modelURL())
        #expect(file.mapping.count == 98_362_432)
        #expect(file.version == 3)
        #expect(file.alignment == 32)
        #expect(file.dataOffset == 1_785_664)
        #expect(file.architecture == "llama")
        let meta = file.metadata
        #expect(meta.count == 33)
        #expect(try meta.requireInt("llama.block_count") == 30)
        #expect(try meta.requireInt("llama.embedding_length") == 576)
        #expect(try meta.requireInt("llama.feed_forward_length") == 1536)
        #expect(try meta.requireInt("llama.attention.head_count") == 9)
        #expect(try meta.requireInt("llama.attention.head_count_kv") == 3)
        #expect(try meta.requireInt("llama.context_length") == 8192)
        #expect(try meta.requireInt("llama.vocab_size") == 49_152)
        #expect(try meta.requireFloat("llama.rope.freq_base") == 100_000)
        #expect(try meta.requireFloat("llama.attention.layer_norm_rms_epsilon") == Float(1e-5))
        #expect(try meta.requireString("tokenizer.ggml.model") == "gpt2")
        #expect(try meta.requireString("tokenizer.ggml.pre") == "smollm")
        #expect(try meta.requireBool("tokenizer.ggml.add_bos_token") == false)
        #expect(try meta.requireInt("tokenizer.ggml.eos_token_id") == 2)
        #expect(try meta.requireString("tokenizer.chat_template").contains("<|im_start|>"))

        let tokens = try meta.requireStrings("tokenizer.ggml.tokens")
        #expect(tokens.count == 49_152)
        #expect(Array(tokens.prefix(3)) == ["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
        #expect(tokens.last == "ectable")
        let merges = try meta.requireStrings("tokenizer.ggml.merges")
        #expect(merges.count == 48_900)
        #expect(Array(merges.prefix(3)) == ["Ġ t", "Ġ a", "i n"])
        let types = try meta.requireInts("tokenizer.ggml.token_type")
        #expect(types.count == 49_152)
        #expect(types.filter { $0 == 3 }.count == 17 && types.filter { $0 == 1 }.count == 49_135)
        #expect(meta["tokenizer.ggml.scores"] == nil)
    }

    @Test func smolLM2Tensors() throws {
        let file = try GGUFFile(url: Self.modelURL())
        #expect(file.tensors.count == 272)
        let byType = Dictionary(grouping: file.tensors, by: \.type).mapValues(\.count)
        #expect(byType == [.q4_1: 210, .f32: 61, .q8_0: 1])
        #expect(file.tensorInfo("output.weight") == nil, "tied embeddings: no output.weight")

        let embedding = try file.requireTensorInfo("token_embd.weight")
        #expect(embedding.type == .q8_0)
        #expect(embedding.dimensions == [576, 49_152])
        #expect(embedding.shape == [49_152, 576])
        #expect(embedding.offset == 0)
        #expect(embedding.byteCount == 30_081_024)
        #expect(SHA256.hexDigest(of: try file.rawBytes("token_embd.weight"))
                == "0d728edd2a012d1663a6069567240d124c752bab88b6fcbe1a985eae428193c3")

        let query = try file.requireTensorInfo("blk.0.attn_q.weight")
        #expect(query.type == .q4_1 && query.dimensions == [576, 576] && query.byteCount == 207_360)
        #expect(query.offset == 32_020_992)
        #expect(query.rowLength == 576 && query.rowCount == 576)

        let norm = try file.tensor("blk.0.attn_norm.weight")
        #expect(norm.shape == [576])
        #expect(Array(norm.scalars.prefix(4)) == [0.01397705078125, 0.0238037109375, -0.019775390625, -0.0302734375])
        #expect(abs(norm.scalars.reduce(0.0) { $0 + Double($1) } - 0.6129436492919922) < 1e-9)

        // The last tensor ends exactly at the end of the file.
        let last = try #require(file.tensors.last)
        #expect(last.name == "output_norm.weight")
        #expect(file.dataOffset + last.offset + last.byteCount == file.mapping.count)

        // Dequantising the Q8_0 embedding through Tensors matches gguf-py.
        let rows = try file.tensor("token_embd.weight")
        #expect(rows.shape == [49_152, 576])
        #expect(Array(rows.scalars[0..<4]) == [-0.10654449462890625, 0.032978057861328125, 0.048198699951171875, -0.022830963134765625])
        #expect(Array(rows.scalars[576..<580]) == [-0.0238037109375, -0.015869140625, -0.0396728515625, 0.015869140625])
    }
}
