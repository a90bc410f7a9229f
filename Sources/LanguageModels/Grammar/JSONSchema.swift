import Foundation
import ModelFormats

/// The subset of JSON Schema that constrained decoding understands, as a value.
///
/// Build one directly (property order is then exactly as given) or parse a schema document
/// with ``init(jsonObject:)`` / ``init(parsing:)``. What is supported:
///
/// - `object`: `properties`, `required`. Extra properties are never generated
///   (`additionalProperties` must be absent or `false`). Properties are generated in a **fixed
///   order**: the array order when built in Swift; when parsed from a document (whose objects
///   have no order once parsed) the order of `required`, then the optional ones by name. A fixed
///   order keeps the grammar small and deterministic; any JSON parser accepts it.
/// - `array`: `items`, `minItems`, `maxItems`.
/// - `string`: `minLength`, `maxLength` (in Unicode scalars, as JSON Schema counts), JSON
///   escapes including `\uXXXX` (lone surrogates excluded so that the output stays valid UTF-8).
/// - `integer`: `minimum`, `maximum`, enforced while the digits are generated (a prefix that can
///   no longer reach the range is rejected, so the model never runs into a dead end).
/// - `number`: without bounds, any JSON number; with `minimum`/`maximum` (or exclusive ones), a
///   decimal without exponent and with at most 6 fraction digits inside the bounds, enforced
///   while it is generated like an integer's (bounds are rounded inwards to 6 digits).
/// - `boolean`, `null`, `enum` and `const` of scalars (strings, numbers, booleans, null).
/// - `anyOf` and `oneOf` (treated alike: exclusivity is not checked) of any supported schemas;
///   the recogniser follows every alternative still possible, so alternatives may share prefixes
///   (objects discriminated by a `const` property, as tool calls are).
/// - `{}` or a schema without `type`: any JSON value (keys unconstrained).
///
/// `exclusiveMinimum`/`exclusiveMaximum` become inclusive bounds (the next integer, or the next
/// value of 6 fraction digits).
/// Annotations (`description`, `title`, `default`, `examples`, `$schema`, `$comment`) are ignored.
///
/// Not supported (``JSONSchemaError/unsupported(_:)``): `$ref`, `allOf`, `not`, `if`,
/// `patternProperties`, `dependentRequired`, `additionalProperties` other than `false`, type
/// arrays other than `[T, "null"]`, `enum`/`const` of arrays or objects. Keywords that constrain
/// values in ways the grammar does not enforce (`pattern`, `format`, `uniqueItems`,
/// `multipleOf`) are rejected when parsing with `strict: true` (the
/// default) and ignored with `strict: false`; then, as for `number` bounds, validate the parsed
/// output (the skill registry's validator does).
public indirect enum JSONSchema: Sendable, Equatable {
    /// Any JSON value.
    case any
    case object([Property])
    case array(items: JSONSchema, minItems: Int = 0, maxItems: Int? = nil)
    case string(minLength: Int = 0, maxLength: Int? = nil)
    case integer(minimum: Int? = nil, maximum: Int? = nil)
    case number
    /// A number within the (inclusive) bounds, written as a decimal (see `number` above).
    case decimal(minimum: Double?, maximum: Double?)
    case boolean
    case null
    /// One of these exact values (`enum`; `const` is a one-element list).
    case oneOfValues([JSONScalar])
    /// Any of these schemas (`anyOf`, `oneOf`).
    case anyOf([JSONSchema])

    /// One property of an object schema.
    public struct Property: Sendable, Equatable {
        public var name: String
        public var schema: JSONSchema
        public var isRequired: Bool
        public init(_ name: String, _ schema: JSONSchema, required: Bool = true) {
            self.name = name
            self.schema = schema
            isRequired = required
        }
    }

    /// A string schema with no bounds.
    public static let string = JSONSchema.string()
    /// A string that must be exactly one of `values`.
    public static func stringEnum(_ values: [String]) -> JSONSchema { .oneOfValues(values.map { .string($0) }) }
    /// Exactly `value`.
    public static func const(_ value: JSONScalar) -> JSONSchema { .oneOfValues([value]) }
}

/// A scalar JSON value, for `enum` and `const`.
public enum JSONScalar: Sendable, Hashable {
    case string(String)
    case integer(Int)
    case number(Double)
    case bool(Bool)
    case null

    /// The compact JSON text of the value: what the grammar makes the model write.
    public var jsonText: String {
        switch self {
        case .string(let s): JSONText.quoted(s)
        case .integer(let i): String(i)
        case .number(let d): d.isFinite ? (d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : String(d)) : "null"
        case .bool(let b): b ? "true" : "false"
        case .null: "null"
        }
    }
}

/// Why a schema cannot be used for constrained decoding.
public enum JSONSchemaError: Error, Equatable, CustomStringConvertible {
    case unsupported(String)
    case invalid(String)

    public var description: String {
        switch self {
        case .unsupported(let what): "unsupported JSON Schema feature: \(what)"
        case .invalid(let why): "invalid JSON Schema: \(why)"
        }
    }
}

extension JSONSchema {
    /// Parses a schema document's text.
    public init(parsing text: String, strict: Bool = true) throws {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) }
        catch { throw JSONSchemaError.invalid("not JSON: \(error)") }
        try self.init(jsonObject: object, strict: strict)
    }

    /// Converts a schema as `JSONSerialization` returns it (dictionaries, arrays, NSNumber...).
    /// With `strict` false, keywords the grammar cannot enforce are ignored instead of rejected
    /// (see ``JSONSchema``).
    public init(jsonObject: Any, strict: Bool = true) throws {
        if let flag = jsonObject as? NSNumber, isBoolean(flag) {
            // `true` is the schema accepting anything; `false` accepts nothing, which cannot be generated.
            guard flag.boolValue else { throw JSONSchemaError.unsupported("the false schema") }
            self = .any
            return
        }
        guard let s = jsonObject as? [String: Any] else { throw JSONSchemaError.invalid("a schema must be an object") }
        for key in ["$ref", "allOf", "not", "patternProperties", "if", "dependentRequired", "dependentSchemas"] where s[key] != nil {
            throw JSONSchemaError.unsupported(key)
        }
        for key in ["pattern", "format", "uniqueItems", "multipleOf"] where s[key] != nil {
            if strict { throw JSONSchemaError.unsupported(key) }
        }
        func parse(_ sub: Any) throws -> JSONSchema { try JSONSchema(jsonObject: sub, strict: strict) }
        if let values = s["enum"] {
            guard let list = values as? [Any], !list.isEmpty else { throw JSONSchemaError.invalid("enum must be a non-empty array") }
            self = .oneOfValues(try list.map(scalar))
            return
        }
        if let value = s["const"] {
            self = .oneOfValues([try scalar(value)])
            return
        }
        if let alternatives = (s["anyOf"] ?? s["oneOf"]) {
            guard let list = alternatives as? [Any], !list.isEmpty else { throw JSONSchemaError.invalid("anyOf/oneOf must be a non-empty array") }
            self = .anyOf(try list.map(parse))
            return
        }
        var type = s["type"]
        var nullable = false
        if let types = type as? [String] {
            // Only the common "T or null" form.
            let nonNull = types.filter { $0 != "null" }
            guard nonNull.count == 1 else { throw JSONSchemaError.unsupported("type array \(types)") }
            nullable = types.count == 2
            type = nonNull[0]
        }
        let base: JSONSchema
        switch type as? String {
        case nil:
            guard type == nil else { throw JSONSchemaError.invalid("type must be a string") }
            // No type: an object if it lists properties, otherwise any value.
            base = s["properties"] != nil ? try Self.parseObject(s, parse) : .any
        case "object": base = try Self.parseObject(s, parse)
        case "array":
            let items = try s["items"].map(parse) ?? .any
            let minItems = try int(s["minItems"], "minItems") ?? 0
            let maxItems = try int(s["maxItems"], "maxItems")
            if let maxItems, maxItems < minItems { throw JSONSchemaError.invalid("maxItems < minItems") }
            base = .array(items: items, minItems: minItems, maxItems: maxItems)
        case "string":
            let minLength = try int(s["minLength"], "minLength") ?? 0
            let maxLength = try int(s["maxLength"], "maxLength")
            if let maxLength, maxLength < minLength { throw JSONSchemaError.invalid("maxLength < minLength") }
            base = .string(minLength: minLength, maxLength: maxLength)
        case "integer":
            // Bounds are rounded inwards to whole numbers; exclusive ones become inclusive.
            let bounds = [(s["minimum"] as? NSNumber).map { ceil($0.doubleValue) },
                          (s["exclusiveMinimum"] as? NSNumber).map { floor($0.doubleValue) + 1 }].compactMap { $0 }
            let upper = [(s["maximum"] as? NSNumber).map { floor($0.doubleValue) },
                         (s["exclusiveMaximum"] as? NSNumber).map { ceil($0.doubleValue) - 1 }].compactMap { $0 }
            let minimum = bounds.max().map { Int(max($0, -1e15)) }
            let maximum = upper.min().map { Int(min($0, 1e15)) }
            if let minimum, let maximum, maximum < minimum { throw JSONSchemaError.invalid("maximum < minimum") }
            base = .integer(minimum: minimum, maximum: maximum)
        case "number":
            let lower = [(s["minimum"] as? NSNumber).map { ceil($0.doubleValue * 1e6) / 1e6 },
                         (s["exclusiveMinimum"] as? NSNumber).map { (floor($0.doubleValue * 1e6) + 1) / 1e6 }].compactMap { $0 }
            let upper = [(s["maximum"] as? NSNumber).map { floor($0.doubleValue * 1e6) / 1e6 },
                         (s["exclusiveMaximum"] as? NSNumber).map { (ceil($0.doubleValue * 1e6) - 1) / 1e6 }].compactMap { $0 }
            if lower.isEmpty && upper.isEmpty {
                base = .number
            } else {
                let minimum = lower.max(), maximum = upper.min()
                if let minimum, let maximum, maximum < minimum { throw JSONSchemaError.invalid("maximum < minimum") }
                base = .decimal(minimum: minimum, maximum: maximum)
            }
        case "boolean": base = .boolean
        case "null": base = .null
        case let other?: throw JSONSchemaError.unsupported("type \(other)")
        }
        self = nullable ? .anyOf([base, .null]) : base
    }

    private static func parseObject(_ s: [String: Any], _ parse: (Any) throws -> JSONSchema) throws -> JSONSchema {
        if let extra = s["additionalProperties"] {
            guard let flag = extra as? NSNumber, isBoolean(flag), !flag.boolValue else {
                throw JSONSchemaError.unsupported("additionalProperties other than false")
            }
        }
        let properties = (s["properties"] as? [String: Any]) ?? [:]
        if s["properties"] != nil && s["properties"] as? [String: Any] == nil { throw JSONSchemaError.invalid("properties must be an object") }
        let required = (s["required"] as? [String]) ?? []
        for name in required where properties[name] == nil {
            throw JSONSchemaError.invalid("required property \(name) is not in properties")
        }
        // A parsed dictionary has no order: required properties in their listed order, then the rest by name.
        let optional = properties.keys.filter { !required.contains($0) }.sorted()
        var list: [Property] = []
        for name in required + optional {
            list.append(Property(name, try parse(properties[name]!), required: required.contains(name)))
        }
        return .object(list)
    }
}

/// Whether an NSNumber came from JSON `true`/`false` (swift-corelibs-foundation marks them with
/// the `c` Objective-C type; `as? Bool` would also accept the numbers 0 and 1).
private func isBoolean(_ n: NSNumber) -> Bool {
    String(cString: n.objCType) == "c"
}

private func scalar(_ value: Any) throws -> JSONScalar {
    if value is NSNull { return .null }
    if let s = value as? String { return .string(s) }
    if let n = value as? NSNumber {
        if isBoolean(n) { return .bool(n.boolValue) }
        let d = n.doubleValue
        return d == d.rounded() && abs(d) < 1e15 ? .integer(Int(d)) : .number(d)
    }
    throw JSONSchemaError.unsupported("enum/const values that are objects or arrays")
}

private func int(_ value: Any?, _ name: String) throws -> Int? {
    guard let value else { return nil }
    guard let n = value as? NSNumber, !isBoolean(n), n.doubleValue >= 0, n.doubleValue == n.doubleValue.rounded() else {
        throw JSONSchemaError.invalid("\(name) must be a non-negative integer")
    }
    return n.intValue
}
