/// Decodes tokens as a model generates them, yielding only complete UTF-8 text.
///
/// One token may end in the middle of a character (an emoji is often two or three byte-level
/// tokens), so the bytes of a trailing incomplete sequence are held back until the tokens that
/// complete it arrive. The pieces returned by ``append(_:)`` and ``finish()`` join to exactly
/// `tokenizer.decode(allIds, skipSpecialTokens:)`.
///
/// ```swift
/// var stream = StreamingDecoder(tokenizer: tokenizer)
/// for id in generatedIds { print(stream.append(id), terminator: "") }
/// print(stream.finish())
/// ```
public struct StreamingDecoder: Sendable {
    public let tokenizer: any Tokenizer
    public let skipSpecialTokens: Bool
    private var pending: [UInt8] = []
    /// No text token has arrived yet (a SentencePiece tokenizer drops the first one's leading space).
    private var atTextStart = true

    public init(tokenizer: any Tokenizer, skipSpecialTokens: Bool = false) {
        self.tokenizer = tokenizer
        self.skipSpecialTokens = skipSpecialTokens
    }

    /// Bytes held back because they do not yet form a complete character.
    public var pendingBytes: [UInt8] { pending }

    /// Adds a token; returns the text it completes (possibly empty).
    public mutating func append(_ id: Int) -> String {
        guard id >= 0, id < tokenizer.vocabularySize else { return "" }
        if tokenizer.isSpecialToken(id) {
            if skipSpecialTokens { return "" }
            pending += tokenizer.bytes(forToken: id)
        } else {
            pending += tokenizer.bytes(forToken: id, atTextStart: atTextStart)
            atTextStart = false
        }
        let cut = Self.completePrefixLength(pending)
        guard cut > 0 else { return "" }
        let text = String(decoding: pending[..<cut], as: UTF8.self)
        pending.removeFirst(cut)
        return text
    }

    /// Adds several tokens; returns the text they complete.
    public mutating func append<Ids: Sequence<Int>>(contentsOf ids: Ids) -> String {
        var text = ""
        for id in ids { text += append(id) }
        return text
    }

    /// Ends the stream: returns the held-back bytes, with U+FFFD for an incomplete character.
    public mutating func finish() -> String {
        defer {
            pending.removeAll()
            atTextStart = true
        }
        return String(decoding: pending, as: UTF8.self)
    }

    /// The length of `bytes` without a trailing sequence that more bytes could still complete:
    /// a lead byte within the last three bytes whose sequence is longer than what follows it.
    static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        let count = bytes.count
        var back = 1
        while back <= min(3, count) {
            let byte = bytes[count - back]
            if byte & 0xC0 == 0x80 {
                back += 1
                continue
            }
            let needed = switch byte {
            case 0xC2...0xDF: 2
            case 0xE0...0xEF: 3
            case 0xF0...0xF4: 4
            default: 1
            }
            return needed > back ? count - back : count
        }
        return count
    }
}
