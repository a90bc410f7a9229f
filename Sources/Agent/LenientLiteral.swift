import Foundation
import Skills

/// Reads the action lists models actually write: JSON, and the Python-literal spellings that
/// LLaVA-Plus checkpoints learned from their training data (`'single quotes'`, `True`,
/// `False`, `None`, tuples, trailing commas).
///
/// It is a parser, never an evaluator: anything beyond literals (names, calls, operators,
/// comprehensions) is a syntax error. Nesting is bounded so adversarial input cannot exhaust
/// the stack.
struct LenientLiteral {
    static let maximumDepth = 32

    struct SyntaxError: Error, Equatable {
        /// Character offset in the parsed text.
        var offset: Int
        var message: String
    }

    private let scalars: [Unicode.Scalar]
    private var position = 0

    /// Parses `text`, which must hold one literal (surrounding whitespace allowed). On success
    /// also returns where the literal ended, so callers can tolerate trailing prose.
    static func parse(_ text: Substring, allowTrailing: Bool = false) throws(SyntaxError) -> (JSONValue, end: Int) {
        var parser = LenientLiteral(scalars: Array(text.unicodeScalars))
        parser.skipSpace()
        let value = try parser.value(depth: 0)
        let end = parser.position
        parser.skipSpace()
        if !allowTrailing && parser.position < parser.scalars.count {
            throw SyntaxError(offset: parser.position, message: "unexpected text after the value")
        }
        return (value, end)
    }

    private init(scalars: [Unicode.Scalar]) {
        self.scalars = scalars
    }

    private var current: Unicode.Scalar? { position < scalars.count ? scalars[position] : nil }

    private mutating func skipSpace() {
        while let c = current, c.properties.isWhitespace { position += 1 }
    }

    private func error(_ message: String) -> SyntaxError { SyntaxError(offset: position, message: message) }

    private mutating func value(depth: Int) throws(SyntaxError) -> JSONValue {
        guard depth < Self.maximumDepth else { throw error("nested deeper than \(Self.maximumDepth) levels") }
        guard let c = current else { throw error("the text ends where a value was expected") }
        switch c {
        case "{": return try object(depth: depth)
        case "[": return try sequence(close: "]", depth: depth)
        case "(": return try sequence(close: ")", depth: depth)
        case "\"", "'": return .string(try string())
        case "-", "+", "0"..."9", ".": return try number()
        default:
            let word = identifier()
            switch word {
            case "true", "True": return .bool(true)
            case "false", "False": return .bool(false)
            case "null", "None": return .null
            case "": throw error("unexpected character '\(c.escaped(asASCII: true))'")
            default: throw SyntaxError(offset: position - word.unicodeScalars.count, message: "'\(word.prefix(40))' is not a literal")
            }
        }
    }

    private mutating func identifier() -> String {
        var word = ""
        while let c = current, c.properties.isAlphabetic || c == "_" || ("0"..."9").contains(c) {
            word.unicodeScalars.append(c)
            position += 1
        }
        return word
    }

    private mutating func object(depth: Int) throws(SyntaxError) -> JSONValue {
        position += 1
        var members: [String: JSONValue] = [:]
        while true {
            skipSpace()
            if current == "}" { position += 1; return .object(members) }
            guard current == "\"" || current == "'" else { throw error("expected a quoted key or '}'") }
            let key = try string()
            skipSpace()
            guard current == ":" else { throw error("expected ':' after the key") }
            position += 1
            skipSpace()
            let member = try value(depth: depth + 1)
            guard members[key] == nil else { throw error("duplicate key '\(key.prefix(40))'") }
            members[key] = member
            skipSpace()
            if current == "," { position += 1; continue }
            guard current == "}" else { throw error("expected ',' or '}'") }
        }
    }

    private mutating func sequence(close: Unicode.Scalar, depth: Int) throws(SyntaxError) -> JSONValue {
        position += 1
        var items: [JSONValue] = []
        while true {
            skipSpace()
            if current == close { position += 1; return .array(items) }
            items.append(try value(depth: depth + 1))
            skipSpace()
            if current == "," { position += 1; continue }
            guard current == close else { throw error("expected ',' or '\(close)'") }
        }
    }

    private mutating func string() throws(SyntaxError) -> String {
        let quote = current!
        position += 1
        var text = String.UnicodeScalarView()
        while let c = current {
            position += 1
            if c == quote { return String(text) }
            guard c == "\\" else { text.append(c); continue }
            guard let escaped = current else { break }
            position += 1
            switch escaped {
            case "n": text.append("\n")
            case "t": text.append("\t")
            case "r": text.append("\r")
            case "b": text.append("\u{8}")
            case "f": text.append("\u{C}")
            case "0": text.append("\0")
            case "u": text.append(try hexScalar(digits: 4))
            case "x": text.append(try hexScalar(digits: 2))
            default: text.append(escaped) // \" \' \\ \/ and unknown escapes keep the character
            }
        }
        throw error("a string is not closed")
    }

    /// `\uXXXX` or `\xXX`; a UTF-16 surrogate pair written as two `\u` escapes is joined.
    private mutating func hexScalar(digits: Int) throws(SyntaxError) -> Unicode.Scalar {
        let unit = try hexDigits(digits)
        if (0xD800..<0xDC00).contains(unit), current == "\\", position + 1 < scalars.count, scalars[position + 1] == "u" {
            position += 2
            let low = try hexDigits(4)
            if (0xDC00..<0xE000).contains(low), let joined = Unicode.Scalar(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)) {
                return joined
            }
            throw error("an unpaired UTF-16 surrogate")
        }
        guard let scalar = Unicode.Scalar(unit) else { throw error("an unpaired UTF-16 surrogate") }
        return scalar
    }

    private mutating func hexDigits(_ count: Int) throws(SyntaxError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<count {
            guard let c = current, c.isASCII, let digit = UInt32(String(c), radix: 16) else {
                throw error("expected \(count) hex digits in an escape")
            }
            value = value * 16 + digit
            position += 1
        }
        return value
    }

    private mutating func number() throws(SyntaxError) -> JSONValue {
        let start = position
        while let c = current, ("0"..."9").contains(c) || "+-.eE_".unicodeScalars.contains(c) { position += 1 }
        let text = String(String.UnicodeScalarView(scalars[start..<position])).replacingOccurrences(of: "_", with: "")
        guard let value = Double(text.hasPrefix("+") ? String(text.dropFirst()) : text), value.isFinite else {
            throw SyntaxError(offset: start, message: "'\(text.prefix(40))' is not a number")
        }
        return .number(value)
    }
}
