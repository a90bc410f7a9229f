/// A token matched in raw text before pre-tokenization, such as `<|im_start|>`.
///
/// Mirrors an entry of `added_tokens` in a Hugging Face `tokenizer.json`. Special tokens are
/// control tokens (they can be skipped when decoding and left unparsed when encoding untrusted
/// text); other added tokens are ordinary vocabulary that must never be split.
public struct AddedToken: Sendable, Hashable, Codable {
    public var id: Int
    public var content: String
    public var special: Bool
    /// Also takes the whitespace before the token (that whitespace is not encoded).
    public var lstrip: Bool
    /// Also takes the whitespace after the token.
    public var rstrip: Bool
    /// Matched after normalization rather than in the raw text (the order of matching only).
    public var normalized: Bool

    public init(id: Int, content: String, special: Bool, lstrip: Bool = false, rstrip: Bool = false, normalized: Bool = false) {
        self.id = id
        self.content = content
        self.special = special
        self.lstrip = lstrip
        self.rstrip = rstrip
        self.normalized = normalized
    }
}

/// One stretch of input after added tokens are taken out: an added token or plain text
/// (a range of the input's UTF-8 bytes).
enum TextSegment: Equatable {
    case token(Int)
    case text(Range<Int>)
}

/// Finds added tokens in UTF-8 text, leftmost first and longest at each position.
struct AddedTokenMatcher: Sendable {
    private let tokens: [AddedToken]
    private let contents: [[UInt8]]
    /// For each first byte, the indices of the tokens starting with it, longest first.
    private let byFirstByte: [[Int]]

    init(_ tokens: [AddedToken]) {
        self.tokens = tokens
        let contents = tokens.map { Array($0.content.utf8) }
        self.contents = contents
        var table = [[Int]](repeating: [], count: 256)
        for index in tokens.indices.sorted(by: { contents[$0].count > contents[$1].count }) where !contents[index].isEmpty {
            table[Int(contents[index][0])].append(index)
        }
        byFirstByte = table
    }

    var isEmpty: Bool { tokens.isEmpty }

    /// Splits each `.text` segment of `segments` at the added tokens found in it.
    /// With `parseSpecial` false, special tokens are left as text.
    func split(_ bytes: [UInt8], _ segments: [TextSegment], parseSpecial: Bool) -> [TextSegment] {
        guard !tokens.isEmpty else { return segments }
        var out: [TextSegment] = []
        for segment in segments {
            guard case .text(let range) = segment else {
                out.append(segment)
                continue
            }
            var copied = range.lowerBound
            var position = range.lowerBound
            while position < range.upperBound {
                guard let index = longestMatch(bytes, at: position, before: range.upperBound) else {
                    position += 1
                    continue
                }
                let token = tokens[index]
                var end = position + contents[index].count
                if token.special && !parseSpecial {
                    position = end
                    continue
                }
                var start = position
                if token.lstrip {
                    start = Self.whitespaceStart(bytes, before: position, notBefore: copied)
                }
                if token.rstrip {
                    end = Self.whitespaceEnd(bytes, from: end, before: range.upperBound)
                }
                if copied < start { out.append(.text(copied..<start)) }
                out.append(.token(token.id))
                copied = end
                position = end
            }
            if copied < range.upperBound { out.append(.text(copied..<range.upperBound)) }
        }
        return out
    }

    /// The longest token at `position` that ends by `end`: its id and length in bytes.
    func match(_ bytes: [UInt8], at position: Int, before end: Int) -> (id: Int, length: Int)? {
        longestMatch(bytes, at: position, before: end).map { (tokens[$0].id, contents[$0].count) }
    }

    private func longestMatch(_ bytes: [UInt8], at position: Int, before end: Int) -> Int? {
        for index in byFirstByte[Int(bytes[position])] {
            let content = contents[index]
            if content.count <= end - position, bytes[position..<(position + content.count)].elementsEqual(content) {
                return index
            }
        }
        return nil
    }

    /// Where the whitespace (Unicode `White_Space`) that ends at `position` begins.
    private static func whitespaceStart(_ bytes: [UInt8], before position: Int, notBefore floor: Int) -> Int {
        var start = position
        while start > floor {
            var lead = start - 1
            while lead > floor, bytes[lead] & 0xC0 == 0x80 { lead -= 1 }
            guard let scalar = scalar(bytes, at: lead, before: start), scalar.properties.isWhitespace else { break }
            start = lead
        }
        return start
    }

    /// Where the whitespace that starts at `position` ends.
    private static func whitespaceEnd(_ bytes: [UInt8], from position: Int, before end: Int) -> Int {
        var position = position
        while position < end {
            var next = position + 1
            while next < end, bytes[next] & 0xC0 == 0x80 { next += 1 }
            guard let scalar = scalar(bytes, at: position, before: next), scalar.properties.isWhitespace else { break }
            position = next
        }
        return position
    }

    private static func scalar(_ bytes: [UInt8], at start: Int, before end: Int) -> Unicode.Scalar? {
        var decoder = UTF8()
        var iterator = bytes[start..<end].makeIterator()
        if case .scalarValue(let scalar) = decoder.decode(&iterator) { return scalar }
        return nil
    }
}
