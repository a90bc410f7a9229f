import Foundation
import ModelStore
import TextEncoders

/// MiniLM (`TextEncoders.SentenceEncoder`) already has the shape the index needs.
extension SentenceEncoder: TextEmbedder {}

extension RetrieveSkill {
    /// The text encoder for text queries: the store's `all-minilm-l6-v2` (sentence-transformers'
    /// all-MiniLM-L6-v2, 384-d, mean pooled, L2-normalised).
    public static func sentenceEncoder(_ store: ModelStore) throws -> (any TextEmbedder)? {
        _ = try store.asset("all-minilm-l6-v2")
        return try SentenceEncoder(directory: store.folder(of: "all-minilm-l6-v2"))
    }
}
