import ModelFormats

/// The schema compiled into a small grammar: the rules the byte-level recogniser
/// (``JSONGrammar``) interprets.
///
/// Rules refer to each other by index, so recursive schemas (`{}` = any value, which nests)
/// are finite tables. Every rule that can repeat starts by consuming a byte, so the recogniser's
/// expansion of a state always terminates.
enum GrammarRule: Sendable {
    /// These exact bytes (punctuation, `true`, an enum value, `"key":`).
    case literal([UInt8])
    /// The rules one after the other.
    case sequence([Int32])
    /// Any one of the rules (the recogniser follows all that still match).
    case choice([Int32])
    /// Matches nothing: the end of an object's property list.
    case empty
    /// A JSON string literal, quotes included; lengths in Unicode scalars.
    case string(minLength: Int, maxLength: Int?)
    /// A JSON integer within the (inclusive) bounds.
    case integer(minimum: Int?, maximum: Int?)
    /// Any JSON number (length-capped, see ``NumberLexer``).
    case number
    /// A decimal within the (inclusive) bounds (see ``DecimalLexer``).
    case decimal(minimum: Double?, maximum: Double?)
    /// `item (separator item)*` between `minimum` and `maximum` times (possibly zero).
    case repetition(item: Int32, separator: Int32, minimum: Int, maximum: Int?)
    /// One optional space or newline. The grammar offers at most one at each place JSON allows
    /// layout and only where models habitually write it (after `:` and `,`), so a model cannot
    /// spend its tokens on whitespace.
    case whitespace
}

/// Builds the rule table for a schema.
struct GrammarCompiler {
    private(set) var rules: [GrammarRule] = []
    private var literals: [[UInt8]: Int32] = [:]
    private var whitespaceRule: Int32?
    private var anyValueRule: Int32?

    /// Compiles `schema`, returning its rule index.
    mutating func compile(_ schema: JSONSchema) -> Int32 {
        switch schema {
        case .any: return anyValue()
        case .object(let properties): return object(properties)
        case .array(let items, let minItems, let maxItems):
            let item = compile(items)
            return add(.sequence([literal("["), add(.repetition(item: item, separator: separator(), minimum: minItems, maximum: maxItems)), literal("]")]))
        case .string(let minLength, let maxLength): return add(.string(minLength: minLength, maxLength: maxLength))
        case .integer(let minimum, let maximum): return add(.integer(minimum: minimum, maximum: maximum))
        case .number: return add(.number)
        case .decimal(let minimum, let maximum): return add(.decimal(minimum: minimum, maximum: maximum))
        case .boolean: return add(.choice([literal("true"), literal("false")]))
        case .null: return literal("null")
        case .oneOfValues(let values):
            var seen = Set<String>()
            let texts = values.map(\.jsonText).filter { seen.insert($0).inserted }
            if texts.count == 1 { return literal(texts[0]) }
            var ids: [Int32] = []
            for text in texts { ids.append(literal(text)) }
            return add(.choice(ids))
        case .anyOf(let alternatives):
            let ids = alternatives.map { compile($0) }
            return ids.count == 1 ? ids[0] : add(.choice(ids))
        }
    }

    /// `{` properties `}` with the properties in their fixed order; optional ones may be skipped.
    /// `tail(i, first)` is the rest of the list from property `i`, `first` telling whether a comma
    /// is needed; memoising it keeps the table linear in the number of properties.
    private mutating func object(_ properties: [JSONSchema.Property]) -> Int32 {
        let values = properties.map { compile($0.schema) }
        var memo: [Int: Int32] = [:]
        func tail(_ i: Int, _ first: Bool) -> Int32 {
            let key = i * 2 + (first ? 1 : 0)
            if let known = memo[key] { return known }
            let result: Int32
            if i == properties.count {
                result = add(.empty)
            } else {
                var parts: [Int32] = first ? [] : [separator()]
                parts += [literal(JSONText.quoted(properties[i].name) + ":"), whitespace(), values[i], tail(i + 1, false)]
                let present = add(.sequence(parts))
                result = properties[i].isRequired ? present : add(.choice([present, tail(i + 1, first)]))
            }
            memo[key] = result
            return result
        }
        return add(.sequence([literal("{"), tail(0, true), literal("}")]))
    }

    /// Any JSON value: a recursive rule, so it is created once and patched after its parts exist.
    private mutating func anyValue() -> Int32 {
        if let known = anyValueRule { return known }
        let value = add(.empty)  // placeholder, replaced below
        anyValueRule = value
        let key = add(.string(minLength: 0, maxLength: nil))
        let pair = add(.sequence([key, literal(":"), whitespace(), value]))
        let object = add(.sequence([literal("{"), add(.repetition(item: pair, separator: separator(), minimum: 0, maximum: nil)), literal("}")]))
        let array = add(.sequence([literal("["), add(.repetition(item: value, separator: separator(), minimum: 0, maximum: nil)), literal("]")]))
        rules[Int(value)] = .choice([key, add(.number), literal("true"), literal("false"), literal("null"), object, array])
        return value
    }

    /// `,` and an optional space or newline.
    private mutating func separator() -> Int32 {
        add(.sequence([literal(","), whitespace()]))
    }

    private mutating func whitespace() -> Int32 {
        if let known = whitespaceRule { return known }
        let id = add(.whitespace)
        whitespaceRule = id
        return id
    }

    private mutating func literal(_ text: String) -> Int32 {
        let bytes = Array(text.utf8)
        if let known = literals[bytes] { return known }
        let id = add(.literal(bytes))
        literals[bytes] = id
        return id
    }

    private mutating func add(_ rule: GrammarRule) -> Int32 {
        rules.append(rule)
        return Int32(rules.count - 1)
    }
}

extension JSONSchema {
    /// The schema without the parts no value can satisfy (an empty `enum` or `anyOf`, crossed
    /// bounds), or nil if nothing satisfies it. The grammar is compiled from this so that every
    /// prefix it accepts can be completed: an unsatisfiable alternative or optional property is
    /// dropped, rather than discovered by the model after it has started writing it.
    func satisfiable() -> JSONSchema? {
        switch self {
        case .any, .number, .boolean, .null: return self
        case .string(let minLength, let maxLength): return minLength <= (maxLength ?? .max) ? self : nil
        case .integer(let minimum, let maximum): return (minimum ?? .min) <= (maximum ?? .max) ? self : nil
        case .decimal(let minimum, let maximum): return (minimum ?? -.infinity) <= (maximum ?? .infinity) ? self : nil
        case .oneOfValues(let values): return values.isEmpty ? nil : self
        case .anyOf(let alternatives):
            let kept = alternatives.compactMap { $0.satisfiable() }
            return kept.isEmpty ? nil : .anyOf(kept)
        case .array(let items, let minItems, let maxItems):
            guard minItems <= (maxItems ?? .max) else { return nil }
            if let items = items.satisfiable() { return .array(items: items, minItems: minItems, maxItems: maxItems) }
            return minItems == 0 ? .array(items: .any, minItems: 0, maxItems: 0) : nil
        case .object(let properties):
            var kept: [Property] = []
            for property in properties {
                if let schema = property.schema.satisfiable() {
                    kept.append(Property(property.name, schema, required: property.isRequired))
                } else if property.isRequired {
                    return nil
                }
            }
            return .object(kept)
        }
    }
}
