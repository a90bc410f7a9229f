import Foundation

/// BERT's text normalizer (Hugging Face `tokenizers`' `BertNormalizer`), one Unicode scalar at a
/// time, in the reference's order: clean the text, space out CJK ideographs, strip accents,
/// lowercase.
///
/// - `cleanText` drops U+0000, U+FFFD and control scalars (categories Cc, Cf, Cn, Co, Cs, except
///   tab, newline and carriage return) and turns every whitespace scalar into a space.
/// - `handleChineseCharacters` puts a space on each side of a CJK ideograph, so each becomes a word.
/// - `stripAccents` decomposes (NFD) and drops non-spacing marks (Mn): `é` becomes `e`, and
///   Hangul syllables become their jamo (as the reference does).
/// - `lowercase` uses each scalar's full lowercase mapping (`İ` becomes `i̇`, two scalars), not
///   the context-sensitive rules of a whole-string lowercase: the reference maps scalar by scalar.
public struct BertNormalizer: Sendable, Hashable {
    public var cleanText: Bool
    public var handleChineseCharacters: Bool
    public var stripAccents: Bool
    public var lowercase: Bool

    /// `stripAccents` follows `lowercase` when the file leaves it `null`, as in the reference.
    public init(cleanText: Bool = true, handleChineseCharacters: Bool = true, stripAccents: Bool? = nil, lowercase: Bool = true) {
        self.cleanText = cleanText
        self.handleChineseCharacters = handleChineseCharacters
        self.stripAccents = stripAccents ?? lowercase
        self.lowercase = lowercase
    }

    /// The normalized scalars of `text`.
    public func normalize(_ text: String) -> [Unicode.Scalar] {
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(text.unicodeScalars.count + 8)
        var allASCII = true
        for scalar in text.unicodeScalars {
            if cleanText {
                if scalar.value == 0 || scalar.value == 0xFFFD || Self.isControl(scalar) { continue }
                if Self.isWhitespace(scalar) { scalars.append(" "); continue }
            }
            if handleChineseCharacters && Self.isChineseCharacter(scalar) {
                scalars.append(" ")
                scalars.append(scalar)
                scalars.append(" ")
                allASCII = false
                continue
            }
            if !scalar.isASCII { allASCII = false }
            scalars.append(scalar)
        }
        // ASCII has nothing to decompose and only A-Z to lowercase: the fast path for most text.
        if allASCII {
            if lowercase {
                for i in scalars.indices where (0x41...0x5A).contains(scalars[i].value) {
                    scalars[i] = Unicode.Scalar(scalars[i].value + 0x20)!
                }
            }
            return scalars
        }
        if stripAccents {
            var view = String.UnicodeScalarView()
            view.append(contentsOf: scalars)
            scalars = String(view).decomposedStringWithCanonicalMapping.unicodeScalars
                .filter { $0.properties.generalCategory != .nonspacingMark }
        }
        if lowercase {
            var lowered: [Unicode.Scalar] = []
            lowered.reserveCapacity(scalars.count)
            for scalar in scalars {
                if scalar.isASCII {
                    lowered.append((0x41...0x5A).contains(scalar.value) ? Unicode.Scalar(scalar.value + 0x20)! : scalar)
                } else {
                    lowered.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
                }
            }
            scalars = lowered
        }
        return scalars
    }

    /// Tab, newline, carriage return and Unicode `White_Space` (Rust's `char::is_whitespace`).
    static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09, 0x0A, 0x0D, 0x20: true
        case 0..<0x80: false
        default: scalar.properties.isWhitespace
        }
    }

    /// The "other" categories (Cc, Cf, Cn, Co, Cs), except tab, newline and carriage return,
    /// which count as whitespace.
    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09, 0x0A, 0x0D: return false
        case 0..<0x20, 0x7F: return true
        case 0x20..<0x7F: return false
        default:
            switch scalar.properties.generalCategory {
            case .control, .format, .unassigned, .privateUse, .surrogate: return true
            default: return false
            }
        }
    }

    /// The CJK Unified Ideographs blocks (and their extensions and compatibility ideographs) that
    /// BERT's original code lists; Hiragana, Katakana and Hangul are not among them.
    static func isChineseCharacter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
             0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F: true
        default: false
        }
    }
}
