/// A set of token ids as a bitset: what a constraint allows next.
public struct TokenMask: Sendable, Equatable {
    private(set) var words: [UInt64]
    public let count: Int

    public init(count: Int) {
        self.count = count
        words = Array(repeating: 0, count: (count + 63) / 64)
    }

    public mutating func insert(_ id: Int) { words[id >> 6] |= 1 << UInt64(id & 63) }
    public mutating func remove(_ id: Int) { words[id >> 6] &= ~(1 << UInt64(id & 63)) }
    public func contains(_ id: Int) -> Bool { id >= 0 && id < count && words[id >> 6] & (1 << UInt64(id & 63)) != 0 }
    public var isEmpty: Bool { words.allSatisfy { $0 == 0 } }
    /// Number of allowed tokens.
    public var population: Int { words.reduce(0) { $0 + $1.nonzeroBitCount } }
    /// The allowed ids, ascending.
    public var ids: [Int] {
        var out: [Int] = []
        for (w, word) in words.enumerated() where word != 0 {
            for bit in 0..<64 where word & (1 << UInt64(bit)) != 0 { out.append(w * 64 + bit) }
        }
        return out
    }

    /// Sets the logit of every token not in the mask to -infinity (logits beyond `count` too).
    public func apply(to logits: inout [Float]) {
        logits.withUnsafeMutableBufferPointer { l in
            for i in 0..<l.count where i >= count || words[i >> 6] & (1 << UInt64(i & 63)) == 0 { l[i] = -.infinity }
        }
    }
}
