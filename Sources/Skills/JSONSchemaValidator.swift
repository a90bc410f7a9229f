import Foundation
import ModelFormats

/// One way an instance fails its schema, at a JSON pointer into the instance:
/// `/actions/0/API_params/box_threshold: 1.5 is above the maximum 1`.
public struct SchemaViolation: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// RFC 6901 pointer into the validated instance (empty for the instance itself).
    public var pointer: String
    public var message: String

    public init(pointer: String, message: String) {
        self.pointer = pointer
        self.message = message
    }

    public var description: String { "\(pointer.isEmpty ? "(root)" : pointer): \(message)" }
}

/// A `default` the validator filled in for a missing property. Reported to the caller (and
/// from there to the user and the transcript), never applied silently.
public struct AppliedDefault: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var pointer: String
    public var value: JSONValue

    public init(pointer: String, value: JSONValue) {
        self.pointer = pointer
        self.value = value
    }

    public var description: String { "\(pointer) = \(value.compactJSON) (default)" }
}

/// The outcome of validating one instance.
public struct SchemaValidationResult: Sendable, Equatable {
    /// The instance with defaults filled in.
    public var value: JSONValue
    /// Every default filled in, in the order validation reached them (members by name).
    public var appliedDefaults: [AppliedDefault]
    /// Every violation found (validation does not stop at the first), in the same order.
    public var violations: [SchemaViolation]

    public var isValid: Bool { violations.isEmpty }
}

/// Validates JSON values against the JSON Schema subset that skill manifests use:
///
/// - `type` (a name or an array of names: object, array, string, number, integer, boolean, null)
/// - objects: `properties`, `required`, `additionalProperties` (boolean or schema)
/// - any value: `enum`, `const`
/// - numbers: `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum` (numbers, as in
///   draft 2020-12, not draft-4 booleans)
/// - strings: `minLength`, `maxLength` (counted in Unicode code points, as the spec says),
///   `pattern`, `format` (`image-artifact` is recognised; checking that it names a stored
///   artifact belongs to the artifact store, later)
/// - arrays: `items` (one schema for every element), `minItems`, `maxItems`
/// - `default`: filled in for missing properties and reported in `appliedDefaults`
///
/// Annotations (`description`, `title`) are ignored. `SchemaChecker` rejects any other
/// keyword when a manifest loads, so a keyword here is never silently ignored.
///
/// `pattern` uses Foundation's `NSRegularExpression` (ICU syntax, which agrees with the
/// ECMA-262 dialect JSON Schema names for what schemas use in practice: classes, anchors,
/// groups, quantifiers, alternation) and, as the spec says, is not anchored: `^…$` must be
/// written. `SchemaChecker` compiles every pattern when a manifest loads, so a bad pattern is
/// a load error, not a surprise at call time. Patterns are recompiled per validation; a cache
/// can come when profiles say so.
public struct JSONSchemaValidator: Sendable {
    public let schema: JSONValue

    public init(schema: JSONValue) { self.schema = schema }

    /// Validates `instance`; `pointer` prefixes every reported path (for example
    /// `/actions/0/API_params` when validating one call of a model's output).
    public func validate(_ instance: JSONValue, at pointer: String = "") -> SchemaValidationResult {
        var state = State()
        let value = Self.check(instance, against: schema, at: pointer, &state)
        return SchemaValidationResult(value: value, appliedDefaults: state.defaults, violations: state.violations)
    }

    struct State {
        var defaults: [AppliedDefault] = []
        var violations: [SchemaViolation] = []
        mutating func fail(_ pointer: String, _ message: String) {
            violations.append(SchemaViolation(pointer: pointer, message: message))
        }
    }

    /// Validates one value and returns it with defaults filled in.
    static func check(_ value: JSONValue, against schema: JSONValue, at pointer: String, _ state: inout State) -> JSONValue {
        // Boolean schemas (only used for `additionalProperties` here): true accepts anything.
        if case .bool(let accepts) = schema {
            if !accepts { state.fail(pointer, "no value is allowed here") }
            return value
        }
        guard case .object(let s) = schema else { return value }

        if let type = s["type"] {
            // YAML reads a bare `null` in `type: [string, null]` as null, not "null".
            let allowed = (type.arrayValue ?? [type]).compactMap { $0 == .null ? "null" : $0.stringValue }
            if !allowed.isEmpty, !allowed.contains(where: { matches(value, type: $0) }) {
                let expected = allowed.count == 1 ? allowed[0] : "one of " + allowed.joined(separator: ", ")
                state.fail(pointer, "expected \(expected), found \(describeType(value))")
                // Keyword checks on a value of the wrong type would only repeat the mistake.
                return value
            }
        }
        if let options = s["enum"]?.arrayValue, !options.contains(where: { equal($0, value) }) {
            state.fail(pointer, "\(value.compactJSON) is not one of \(options.map(\.compactJSON).joined(separator: ", "))")
        }
        if let constant = s["const"], !equal(constant, value) {
            state.fail(pointer, "\(value.compactJSON) is not the constant \(constant.compactJSON)")
        }

        switch value {
        case .number(let n):
            checkNumber(n, s, pointer, &state)
            return value
        case .string(let string):
            checkString(string, s, pointer, &state)
            return value
        case .array(let elements):
            if let min = s["minItems"]?.numberValue, Double(elements.count) < min {
                state.fail(pointer, "has \(elements.count) item\(elements.count == 1 ? "" : "s"), fewer than the minimum \(JSONValue.format(min))")
            }
            if let max = s["maxItems"]?.numberValue, Double(elements.count) > max {
                state.fail(pointer, "has \(elements.count) items, more than the maximum \(JSONValue.format(max))")
            }
            guard let items = s["items"] else { return value }
            return .array(elements.enumerated().map { index, element in
                check(element, against: items, at: JSONPointer.appending(pointer, String(index)), &state)
            })
        case .object(let members):
            return .object(checkObject(members, s, pointer, &state))
        case .null, .bool:
            return value
        }
    }

    static func checkObject(_ members: [String: JSONValue], _ s: [String: JSONValue], _ pointer: String,
                            _ state: inout State) -> [String: JSONValue] {
        var members = members
        let properties = s["properties"]?.objectValue ?? [:]
        // Defaults first, so that a required property with a default is satisfied by it.
        for name in properties.keys.sorted() where members[name] == nil {
            if let value = properties[name]?["default"] {
                members[name] = value
                state.defaults.append(AppliedDefault(pointer: JSONPointer.appending(pointer, name), value: value))
            }
        }
        for name in (s["required"]?.arrayValue ?? []).compactMap(\.stringValue) where members[name] == nil {
            state.fail(JSONPointer.appending(pointer, name), "required property is missing")
        }
        var result: [String: JSONValue] = [:]
        for name in members.keys.sorted() {
            let child = JSONPointer.appending(pointer, name)
            let member = members[name]!
            if let propertySchema = properties[name] {
                result[name] = check(member, against: propertySchema, at: child, &state)
            } else if let additional = s["additionalProperties"] {
                if case .bool(false) = additional {
                    state.fail(child, "unknown property\(Suggestions.hint(for: name, in: properties.keys.sorted()))")
                    result[name] = member
                } else {
                    result[name] = check(member, against: additional, at: child, &state)
                }
            } else {
                result[name] = member
            }
        }
        return result
    }

    static func checkNumber(_ n: Double, _ s: [String: JSONValue], _ pointer: String, _ state: inout State) {
        let shown = JSONValue.format(n)
        if let min = s["minimum"]?.numberValue, n < min {
            state.fail(pointer, "\(shown) is below the minimum \(JSONValue.format(min))")
        }
        if let max = s["maximum"]?.numberValue, n > max {
            state.fail(pointer, "\(shown) is above the maximum \(JSONValue.format(max))")
        }
        if let min = s["exclusiveMinimum"]?.numberValue, n <= min {
            state.fail(pointer, "\(shown) is not above the exclusive minimum \(JSONValue.format(min))")
        }
        if let max = s["exclusiveMaximum"]?.numberValue, n >= max {
            state.fail(pointer, "\(shown) is not below the exclusive maximum \(JSONValue.format(max))")
        }
    }

    static func checkString(_ string: String, _ s: [String: JSONValue], _ pointer: String, _ state: inout State) {
        let length = string.unicodeScalars.count
        let shown = JSONText.quoted(string)
        if let min = s["minLength"]?.numberValue, Double(length) < min {
            state.fail(pointer, "\(shown) is shorter than the minimum length \(JSONValue.format(min))")
        }
        if let max = s["maxLength"]?.numberValue, Double(length) > max {
            state.fail(pointer, "\(shown) is longer than the maximum length \(JSONValue.format(max))")
        }
        if let pattern = s["pattern"]?.stringValue {
            if let regex = try? NSRegularExpression(pattern: pattern) {
                let range = NSRange(string.startIndex..., in: string)
                if regex.firstMatch(in: string, range: range) == nil {
                    state.fail(pointer, "\(shown) does not match the pattern \(pattern)")
                }
            } else {
                state.fail(pointer, "the schema's pattern \(pattern) is not a valid regular expression")
            }
        }
        // `format: image-artifact` is an annotation for now: the artifact store will resolve it.
    }

    static func matches(_ value: JSONValue, type: String) -> Bool {
        switch (type, value) {
        case ("null", .null), ("boolean", .bool), ("string", .string), ("array", .array), ("object", .object),
             ("number", .number):
            return true
        case ("integer", .number(let n)):
            return n.isFinite && n.rounded() == n
        default:
            return false
        }
    }

    /// "integer 3", "string", … — what a person would call the value they passed.
    static func describeType(_ value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool(let b): "boolean \(b)"
        case .number(let n): "\(value.schemaType) \(JSONValue.format(n))"
        case .string(let s): "string \(JSONText.quoted(s))"
        case .array: "array"
        case .object: "object"
        }
    }

    /// JSON equality (`1` equals `1.0`; object key order is irrelevant), which `==` on
    /// `JSONValue` already gives because numbers are one case and objects are dictionaries.
    static func equal(_ a: JSONValue, _ b: JSONValue) -> Bool { a == b }
}
