import Synchronization

/// Byte-level BPE: turns one pre-tokenized piece (its UTF-8 bytes) into token ids.
///
/// A piece starts as one symbol per byte (the vocabulary entry of the byte's ``ByteEncoder``
/// scalar). Then, repeatedly, the adjacent pair with the lowest merge rank (its line number in
/// the merges list) is replaced by the merged token; among pairs of equal rank, the leftmost goes
/// first, so `a a a` with the merge `a a` becomes `aa a`. A priority queue keeps this
/// O(n log n) for long pieces (runs of spaces or symbols). Results for pieces up to
/// ``maxCachedBytes`` are cached, so repeated words cost one lookup.
final class BPEModel: Sendable {
    /// Token strings (byte-level), indexed by id.
    let tokens: [String]
    let tokenIds: [String: Int]
    /// Merge table: key `left << 32 | right`, value `rank << 32 | merged id`.
    private let merges: [UInt64: UInt64]
    /// The token id of each byte's symbol, or -1 where the vocabulary lacks it.
    private let byteTokens: [Int32]
    private let unknownTokenId: Int?
    private let fuseUnknown: Bool
    /// Use a piece's whole token when the vocabulary has it, without merging (LLaMA-3).
    private let ignoreMerges: Bool
    private let cache = Mutex(WordCache())

    static let maxCachedBytes = 256
    static let cacheCapacity = 50_000

    init(tokens: [String], merges: [(String, String)], unknownTokenId: Int? = nil, fuseUnknown: Bool = false,
         ignoreMerges: Bool = false) throws(TokenizerError) {
        self.tokens = tokens
        var ids: [String: Int] = [:]
        ids.reserveCapacity(tokens.count)
        for (id, token) in tokens.enumerated() where ids[token] == nil { ids[token] = id }
        tokenIds = ids
        var table: [UInt64: UInt64] = [:]
        table.reserveCapacity(merges.count)
        for (rank, (left, right)) in merges.enumerated() {
            guard let a = ids[left], let b = ids[right] else {
                throw .invalidMerge(rank: rank, "\(left) \(right)", "a side is not in the vocabulary")
            }
            guard let merged = ids[left + right] else {
                throw .invalidMerge(rank: rank, "\(left) \(right)", "the merged token is not in the vocabulary")
            }
            let key = UInt64(a) << 32 | UInt64(b)
            if table[key] == nil { table[key] = UInt64(rank) << 32 | UInt64(merged) }
        }
        self.merges = table
        byteTokens = ByteEncoder.byteToScalar.map { scalar in Int32(ids[String(scalar)] ?? -1) }
        self.unknownTokenId = unknownTokenId
        self.fuseUnknown = fuseUnknown
        self.ignoreMerges = ignoreMerges
    }

    /// Appends the tokens of one piece, given as UTF-8 bytes.
    func encode(_ piece: ArraySlice<UInt8>, into output: inout [Int]) {
        if piece.count == 1, byteTokens[Int(piece.first!)] >= 0 {
            output.append(Int(byteTokens[Int(piece.first!)]))
            return
        }
        let cacheable = piece.count <= Self.maxCachedBytes
        var key = WordKey(text: "")
        if cacheable {
            key = WordKey(text: String(decoding: piece, as: UTF8.self))
            if let cached = cache.withLock({ $0.words[key] }) {
                output.append(contentsOf: cached.lazy.map(Int.init))
                return
            }
        }
        let ids = merge(piece)
        output.append(contentsOf: ids.lazy.map(Int.init))
        if cacheable {
            cache.withLock { cache in
                if cache.words.count >= Self.cacheCapacity { cache.words.removeAll(keepingCapacity: true) }
                cache.words[key] = ids
            }
        }
    }

    private func merge(_ piece: ArraySlice<UInt8>) -> [Int32] {
        if ignoreMerges, let whole = tokenIds[ByteEncoder.encode(piece)] { return [Int32(whole)] }

        // One symbol per byte; bytes without a symbol become the unknown token or are dropped.
        var ids: [Int32] = []
        ids.reserveCapacity(piece.count)
        for byte in piece {
            let id = byteTokens[Int(byte)]
            if id >= 0 {
                ids.append(id)
            } else if let unknown = unknownTokenId {
                if !(fuseUnknown && ids.last == Int32(unknown)) { ids.append(Int32(unknown)) }
            }
        }
        let n = ids.count
        if n < 2 { return ids }

        var next = [Int32](unsafeUninitializedCapacity: n) { buffer, count in
            for i in 0..<n { buffer[i] = Int32(i + 1) }
            buffer[n - 1] = -1
            count = n
        }
        var previous = [Int32](unsafeUninitializedCapacity: n) { buffer, count in
            for i in 0..<n { buffer[i] = Int32(i - 1) }
            count = n
        }
        var queue = MinHeap()
        for i in 0..<(n - 1) {
            if let merge = merges[UInt64(UInt32(ids[i])) << 32 | UInt64(UInt32(ids[i + 1]))] {
                queue.push(merge & 0xFFFF_FFFF_0000_0000 | UInt64(i))
            }
        }
        while let top = queue.pop() {
            let rank = top >> 32
            let left = Int(top & 0xFFFF_FFFF)
            let right = Int(next[left])
            // Skip entries made stale by an earlier merge: the symbol is gone, or its pair changed.
            guard ids[left] >= 0, right >= 0,
                  let merge = merges[UInt64(UInt32(ids[left])) << 32 | UInt64(UInt32(ids[right]))],
                  merge >> 32 == rank else { continue }
            ids[left] = Int32(truncatingIfNeeded: merge & 0xFFFF_FFFF)
            ids[right] = -1
            let after = next[right]
            next[left] = after
            if after >= 0 { previous[Int(after)] = Int32(left) }
            let before = previous[left]
            if before >= 0, let merge = merges[UInt64(UInt32(ids[Int(before)])) << 32 | UInt64(UInt32(ids[left]))] {
                queue.push(merge & 0xFFFF_FFFF_0000_0000 | UInt64(before))
            }
            if after >= 0, let merge = merges[UInt64(UInt32(ids[left])) << 32 | UInt64(UInt32(ids[Int(after)]))] {
                queue.push(merge & 0xFFFF_FFFF_0000_0000 | UInt64(left))
            }
        }
        var result: [Int32] = []
        var i = 0
        while i >= 0 {
            result.append(ids[i])
            i = Int(next[i])
        }
        return result
    }
}

/// Merged words by their UTF-8 text.
private struct WordCache {
    var words: [WordKey: [Int32]] = [:]
}

/// A piece's text compared byte for byte. `String`'s own equality is canonical equivalence
/// (U+0387 equals U+00B7, `e` + U+0301 equals `é`), but such pieces have different bytes and
/// different tokens. Pieces of up to 15 bytes are stored inline, without allocating.
private struct WordKey: Hashable {
    let text: String

    static func == (a: WordKey, b: WordKey) -> Bool {
        a.text.utf8.elementsEqual(b.text.utf8)
    }

    func hash(into hasher: inout Hasher) {
        var text = text
        text.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}

/// A binary min-heap of packed `priority << 32 | position` keys: smallest priority value, then
/// leftmost (BPE merge ranks here, SentencePiece scores in ``SentencePieceTokenizer``).
struct MinHeap {
    private var items: [UInt64] = []

    mutating func push(_ item: UInt64) {
        items.append(item)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child] < items[parent] else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> UInt64? {
        guard let last = items.popLast() else { return nil }
        guard !items.isEmpty else { return last }
        let top = items[0]
        items[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1
            guard left < items.count else { break }
            var smallest = left
            if left + 1 < items.count, items[left + 1] < items[left] { smallest = left + 1 }
            guard items[smallest] < items[parent] else { break }
            items.swapAt(smallest, parent)
            parent = smallest
        }
        return top
    }
}
