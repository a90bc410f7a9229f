/// BERT's pre-tokenizer (Hugging Face `tokenizers`' `BertPreTokenizer`): words are separated by
/// whitespace (which is dropped), and every punctuation scalar is a word of its own.
///
/// Punctuation is ASCII punctuation (which includes symbols such as `$`, `+`, `^` and `|`) or
/// any scalar in a Unicode punctuation category (Pc, Pd, Ps, Pe, Pi, Pf, Po).
public enum BertPreTokenizer {
    /// The words of normalized text, as ranges of `scalars`.
    public static func words(_ scalars: [Unicode.Scalar]) -> [Range<Int>] {
        var words: [Range<Int>] = []
        var start = 0
        for (i, scalar) in scalars.enumerated() {
            if BertNormalizer.isWhitespace(scalar) {
                if start < i { words.append(start..<i) }
                start = i + 1
            } else if isPunctuation(scalar) {
                if start < i { words.append(start..<i) }
                words.append(i..<(i + 1))
                start = i + 1
            }
        }
        if start < scalars.count { words.append(start..<scalars.count) }
        return words
    }

    static func isPunctuation(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x21...0x2F, 0x3A...0x40, 0x5B...0x60, 0x7B...0x7E: return true
        case 0..<0x80: return false
        default:
            switch scalar.properties.generalCategory {
            case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
                 .initialPunctuation, .finalPunctuation, .otherPunctuation: return true
            default: return false
            }
        }
    }
}
