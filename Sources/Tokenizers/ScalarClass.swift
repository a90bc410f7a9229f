/// The character classes that pre-tokenizer patterns are written in, for one Unicode scalar.
///
/// They follow the regex engine that Hugging Face `tokenizers` uses (Oniguruma):
/// `\p{L}` is the general categories Lu, Ll, Lt, Lm, Lo; `\p{N}` is Nd, Nl, No; `\s` is U+0009
/// to U+000D, U+0085 and the categories Zs, Zl, Zp, which is exactly the Unicode `White_Space`
/// property. So U+001C...U+001F, U+200B (zero width space) and U+180E are not whitespace, while
/// U+00A0, U+2028 and U+3000 are. Combining marks (M*) fall in `.other`.
enum ScalarClass: UInt8 {
    case letter, number, whitespace, other

    init(_ scalar: Unicode.Scalar) {
        let value = scalar.value
        if value < 128 {
            self = ScalarClass.ascii[Int(value)]
            return
        }
        if scalar.properties.isWhitespace {
            self = .whitespace
            return
        }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            self = .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            self = .number
        default:
            self = .other
        }
    }

    private static let ascii: [ScalarClass] = (0..<128).map { value in
        switch value {
        case 0x09...0x0D, 0x20: .whitespace
        case 0x30...0x39: .number
        case 0x41...0x5A, 0x61...0x7A: .letter
        default: .other
        }
    }
}
