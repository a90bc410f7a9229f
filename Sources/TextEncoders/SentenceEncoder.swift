// A sentence-transformers encoder (all-MiniLM-L6-v2 and its BERT relatives): WordPiece tokens
// → BERT → mean pooling over the tokens → L2 normalisation, so that a dot product of two
// embeddings is their cosine similarity.

import Foundation
import Tensors
import Tokenizers

/// Sentence embeddings from a sentence-transformers BERT model folder.
///
/// ```swift
/// let encoder = try SentenceEncoder(directory: store.folder(of: "all-minilm-l6-v2"))
/// let vectors = encoder.embed(["a photo of a cat", "kitty"])   // 2 × 384, unit length
/// ```
///
/// Immutable and safe to share between tasks; ``embed(_:)`` may be called concurrently.
public final class SentenceEncoder: Sendable {
    public let tokenizer: WordPieceTokenizer
    public let model: BertModel
    /// Longest sequence, `[CLS]` and `[SEP]` included; longer texts are truncated
    /// (sentence_bert_config.json's `max_seq_length`, 256 for all-MiniLM-L6-v2).
    public let maxSequenceLength: Int

    /// Tokens per batch: enough rows for sgemm to run near its peak, few enough that a
    /// class-name list still splits into a batch per thread several times over.
    static let batchTokens = 512

    /// Loads `config.json`, `model.safetensors`, `tokenizer.json` and (if present)
    /// `sentence_bert_config.json` from `directory` (e.g. the store's `all-minilm-l6-v2` folder).
    /// Throws ``TextEncoderError`` naming the missing or unusable file, or the safetensors
    /// reader's error naming the missing tensor.
    ///
    /// The pooling is taken to be the mean (all-MiniLM-L6-v2's `1_Pooling`); a folder whose
    /// `1_Pooling/config.json` asks for another is refused.
    public init(directory: URL) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw TextEncoderError.missingFile(directory.path)
        }
        let tokenizerURL = directory.appendingPathComponent("tokenizer.json")
        guard FileManager.default.fileExists(atPath: tokenizerURL.path) else { throw TextEncoderError.missingFile(tokenizerURL.path) }
        do {
            tokenizer = try WordPieceTokenizer(tokenizerJSON: try Data(contentsOf: tokenizerURL))
        } catch {
            throw TextEncoderError.invalidFile(tokenizerURL.path, "\(error)")
        }
        model = try BertModel(directory: directory)

        var maxLength = model.configuration.maxPositions
        let sentenceConfigURL = directory.appendingPathComponent("sentence_bert_config.json")
        if FileManager.default.fileExists(atPath: sentenceConfigURL.path) {
            struct SentenceConfig: Decodable { var max_seq_length: Int? }
            do {
                let config = try JSONDecoder().decode(SentenceConfig.self, from: Data(contentsOf: sentenceConfigURL))
                maxLength = min(maxLength, config.max_seq_length ?? maxLength)
            } catch {
                throw TextEncoderError.invalidFile(sentenceConfigURL.path, "\(error)")
            }
        }
        maxSequenceLength = maxLength
        let poolingURL = directory.appendingPathComponent("1_Pooling/config.json")
        if FileManager.default.fileExists(atPath: poolingURL.path) {
            struct Pooling: Decodable { var pooling_mode_mean_tokens: Bool? }
            let pooling = try? JSONDecoder().decode(Pooling.self, from: Data(contentsOf: poolingURL))
            guard pooling?.pooling_mode_mean_tokens == true else {
                throw TextEncoderError.invalidFile(poolingURL.path, "only mean pooling (pooling_mode_mean_tokens) is supported")
            }
        }
        guard tokenizer.vocabularySize <= model.configuration.vocabularySize else {
            throw TextEncoderError.invalidFile(tokenizerURL.path,
                "\(tokenizer.vocabularySize) tokens but the model embeds \(model.configuration.vocabularySize)")
        }
    }

    /// Width of an embedding (384 for all-MiniLM-L6-v2).
    public var dimension: Int { model.configuration.hiddenSize }

    /// L2-normalised mean-pooled embeddings, one per text, in order.
    ///
    /// Texts are tokenized, sorted by length and packed into batches of about
    /// 512 tokens (back to back, with no padding to compute: the same result as
    /// padding plus an attention mask); the batches run in parallel on all cores. An empty text
    /// embeds `[CLS] [SEP]`, as the reference does.
    public func embed(_ texts: [String]) -> [[Float]] {
        guard !texts.isEmpty else { return [] }
        let sequences = texts.map { tokenizer.encode($0, truncatingTo: maxSequenceLength) }
        // Longest first, so the last batches to start are the shortest (better balanced threads).
        let order = sequences.indices.sorted { sequences[$0].count > sequences[$1].count }
        var packed: [[Int]] = []
        var current: [Int] = []
        var tokens = 0
        for index in order {
            if !current.isEmpty && tokens + sequences[index].count > Self.batchTokens {
                packed.append(current)
                (current, tokens) = ([], 0)
            }
            current.append(index)
            tokens += sequences[index].count
        }
        packed.append(current)
        let batches = packed

        let results = UnsafeMutableBufferPointer<[Float]>.allocate(capacity: texts.count)
        results.initialize(repeating: [])
        defer { results.deinitialize().deallocate() }
        let model = model
        MatrixMultiply.useSingleThreadedBLAS()  // before the threads start, not racing inside them
        // Each batch writes only its own texts' slots.
        nonisolated(unsafe) let output = results
        DispatchQueue.concurrentPerform(iterations: batches.count) { b in
            let embeddings = model.pooledEmbeddings(batches[b].map { sequences[$0] })
            for (index, embedding) in zip(batches[b], embeddings) { output[index] = embedding }
        }
        return Array(results)
    }
}
