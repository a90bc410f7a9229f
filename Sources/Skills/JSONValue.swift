import Foundation
import ModelFormats

/// A JSON document as a value tree: schemas, tool-call parameters and examples are all kept
/// in this form so that they can be validated, compared and printed without Foundation's
/// untyped `Any`.
///
/// Numbers are a single case holding a `Double`: JSON itself has one number type, and JSON
/// Schema's `integer` means "a number with no fractional part" (so `1.0` is an integer).
public enum JSONValue: Sendable, Equatable, Hashable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// The JSON Schema type name of this value (`integer` for integral numbers).
    public var schemaType: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number(let n): n.rounded() == n && n.isFinite ? "integer" : "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    public var stringValue: String? { if case .string(let s) = self { s } else { nil } }
    public var numberValue: Double? { if case .number(let n) = self { n } else { nil } }
    public var boolValue: Bool? { if case .bool(let b) = self { b } else { nil } }
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
    public var objectValue: [String: JSONValue]? { if case .object(let o) = self { o } else { nil } }

    /// The member `key` of an object, or nil.
    public subscript(key: String) -> JSONValue? { objectValue?[key] }

    /// Compact JSON with sorted keys, so that messages and tests are deterministic.
    public var compactJSON: String { serialized(comma: ",", colon: ":") }

    /// One-line JSON with sorted keys and a space after `,` and `:`, as Python's `json.dumps`
    /// writes it (and as LLaVA-Plus training data shows tool calls).
    public var spacedJSON: String { serialized(comma: ", ", colon: ": ") }

    private func serialized(comma: String, colon: String) -> String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let n): return Self.format(n)
        case .string(let s): return JSONText.quoted(s)
        case .array(let a): return "[" + a.map { $0.serialized(comma: comma, colon: colon) }.joined(separator: comma) + "]"
        case .object(let o):
            return "{" + o.keys.sorted().map { JSONText.quoted($0) + colon + o[$0]!.serialized(comma: comma, colon: colon) }
                .joined(separator: comma) + "}"
        }
    }

    /// Indented JSON with sorted keys, for people; short arrays of scalars stay on one line.
    public var prettyJSON: String { pretty(indent: "") }

    private func pretty(indent: String) -> String {
        let inner = indent + "  "
        switch self {
        case .array(let items) where !items.isEmpty:
            let scalars = items.allSatisfy { if case .array = $0 { false } else if case .object = $0 { false } else { true } }
            if scalars && compactJSON.count <= 80 { return compactJSON }
            return "[\n" + items.map { inner + $0.pretty(indent: inner) }.joined(separator: ",\n") + "\n\(indent)]"
        case .object(let members) where !members.isEmpty:
            return "{\n" + members.keys.sorted().map { inner + JSONText.quoted($0) + ": " + members[$0]!.pretty(indent: inner) }
                .joined(separator: ",\n") + "\n\(indent)}"
        default:
            return compactJSON
        }
    }

    /// Integral values print without a fraction (`1`, not `1.0`), as a person wrote them.
    static func format(_ n: Double) -> String {
        if n.isFinite, n.rounded() == n, abs(n) < 1e15 { return String(Int64(n)) }
        return String(n)
    }
}

extension JSONValue: CustomStringConvertible {
    public var description: String { compactJSON }
}

extension JSONValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral
{
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}

/// JSON pointers (RFC 6901) name a place inside a value: `/actions/0/API_params`.
public enum JSONPointer {
    /// `base` extended by one reference token, escaped (`~` → `~0`, `/` → `~1`).
    public static func appending(_ base: String, _ token: String) -> String {
        base + "/" + token.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
    }

    /// The unescaped reference tokens of a pointer.
    public static func tokens(_ pointer: String) -> [String] {
        guard !pointer.isEmpty else { return [] }
        return pointer.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map {
            $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
        }
    }
}
