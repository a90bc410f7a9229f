/// WordPiece (BERT): turns one pre-tokenized word into token ids by greedy longest match.
///
/// From the start of the word, the longest vocabulary entry that is a prefix of what remains is
/// taken; pieces after the first are looked up with the continuation prefix (`##ing`). A word
/// with a stretch that no entry matches, or longer than ``maxInputCharactersPerWord`` scalars,
/// becomes the single unknown token, as in Hugging Face `tokenizers`.
///
/// Vocabulary entries are compared as UTF-8 bytes, like the reference's Rust strings, not as
/// Swift `String`s, whose equality is canonical equivalence (`é` would equal `e` + U+0301).
struct WordPieceModel: Sendable {
    /// Vocabulary entries, indexed by id.
    let tokens: [String]
    let tokenIds: [[UInt8]: Int]
    let unknownTokenId: Int
    let continuationPrefix: [UInt8]
    let maxInputCharactersPerWord: Int
    /// The most scalars any entry holds: no longer piece can match, so the search starts there.
    private let longestEntry: Int

    init(tokens: [String], unknownTokenId: Int, continuationPrefix: String = "##", maxInputCharactersPerWord: Int = 100) {
        self.tokens = tokens
        var ids: [[UInt8]: Int] = [:]
        ids.reserveCapacity(tokens.count)
        for (id, token) in tokens.enumerated() where ids[Array(token.utf8)] == nil { ids[Array(token.utf8)] = id }
        tokenIds = ids
        self.unknownTokenId = unknownTokenId
        self.continuationPrefix = Array(continuationPrefix.utf8)
        self.maxInputCharactersPerWord = maxInputCharactersPerWord
        longestEntry = tokens.map(\.unicodeScalars.count).max() ?? 0
    }

    /// Appends the ids of `word` (normalized scalars) to `ids`.
    func encode(_ word: ArraySlice<Unicode.Scalar>, into ids: inout [Int]) {
        guard word.count <= maxInputCharactersPerWord else {
            ids.append(unknownTokenId)
            return
        }
        let mark = ids.count
        var key: [UInt8] = []
        key.reserveCapacity(4 * min(word.count, longestEntry) + continuationPrefix.count)
        var start = word.startIndex
        while start < word.endIndex {
            var end = min(word.endIndex, start + longestEntry)
            var found: Int?
            while start < end {
                key.removeAll(keepingCapacity: true)
                if start > word.startIndex { key += continuationPrefix }
                for scalar in word[start..<end] { key += UTF8.encode(scalar)! }
                if let id = tokenIds[key] {
                    found = id
                    break
                }
                end -= 1
            }
            guard let id = found else {
                ids.removeSubrange(mark...)
                ids.append(unknownTokenId)
                return
            }
            ids.append(id)
            start = end
        }
    }
}
