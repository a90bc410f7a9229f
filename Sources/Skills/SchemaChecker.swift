import Foundation
import Yams

/// Checks that a manifest's `input_schema` / `output_schema` is a JSON Schema of the subset
/// `JSONSchemaValidator` implements, reporting each mistake at its line and column.
///
/// Unsupported keywords are errors rather than being ignored: a schema that says
/// `maxium: 1` or `oneOf: [...]` and is silently not enforced is worse than one rejected at
/// load time.
enum SchemaChecker {
    static let keywords = [
        "type", "properties", "required", "additionalProperties", "enum", "const",
        "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength",
        "pattern", "items", "minItems", "maxItems", "default", "format", "description", "title",
    ]
    static let types = ["object", "array", "string", "number", "integer", "boolean", "null"]
    /// Formats whose values are artifact ids of the conversation (see `SkillRunner.artifactParameters`).
    static let formats = ["image-artifact", "mask-artifact", "artifact"]

    /// Checks `node` and returns it as JSON if it has no problems. `topLevel` demands
    /// `type: object`, since a call's parameters are always an object.
    static func check(_ node: Node, _ field: String, topLevel: Bool, _ reader: inout YAMLReader) -> JSONValue? {
        let before = reader.problems.count
        checkSchema(node, field, &reader)
        if topLevel, case .mapping(let mapping) = node {
            if let type = mapping["type"] {
                if type.string != "object" || !isScalar(type) {
                    reader.fail(type, field + ".type", "the top-level type must be object (a call's parameters are named), found \(describe(type))")
                }
            } else {
                reader.fail(node, field + ".type", "required field is missing (the top-level type must be object)")
            }
        }
        guard reader.problems.count == before else { return nil }
        return reader.json(node, field)
    }

    private static func isScalar(_ node: Node) -> Bool { if case .scalar = node { true } else { false } }

    private static func describe(_ node: Node) -> String {
        if case .scalar(let scalar) = node, scalar.tagName == .str { return "'\(scalar.string)'" }
        return YAMLReader.kind(of: node)
    }

    private static func checkSchema(_ node: Node, _ field: String, _ reader: inout YAMLReader) {
        guard let members = reader.mapping(node, field, allowed: keywords, what: "a schema (a mapping)") else { return }
        let before = reader.problems.count
        for (key, value) in members.sorted(by: { ($0.value.mark?.line ?? 0, $0.value.mark?.column ?? 0) < ($1.value.mark?.line ?? 0, $1.value.mark?.column ?? 0) }) {
            let path = field + "." + key
            switch key {
            case "type": checkType(value, path, &reader)
            case "properties":
                guard case .mapping(let properties) = value else {
                    reader.fail(value, path, "expected a mapping of property names to schemas, found \(YAMLReader.kind(of: value))")
                    continue
                }
                for (name, schema) in properties {
                    checkSchema(schema, path + "." + (name.string ?? "?"), &reader)
                }
            case "required":
                guard let names = reader.strings(value, path, what: "a sequence of property names") else { continue }
                let declared = Set(members["properties"].flatMap { node -> [String]? in
                    guard case .mapping(let m) = node else { return nil }
                    return m.keys.compactMap(\.string)
                } ?? [])
                guard case .sequence(let sequence) = value else { continue }
                var seen = Set<String>()
                for (index, name) in names.enumerated() {
                    if !seen.insert(name).inserted {
                        reader.fail(sequence[index], "\(path)[\(index)]", "'\(name)' is listed twice")
                    } else if !declared.contains(name) {
                        reader.fail(sequence[index], "\(path)[\(index)]",
                                    "'\(name)' is not in properties\(Suggestions.hint(for: name, in: declared.sorted()))")
                    }
                }
            case "additionalProperties":
                if case .scalar(let scalar) = value, scalar.tagName == .bool { continue }
                if case .mapping = value { checkSchema(value, path, &reader) } else {
                    reader.fail(value, path, "expected true, false or a schema, found \(YAMLReader.kind(of: value))")
                }
            case "items":
                checkSchema(value, path, &reader)
            case "enum":
                guard case .sequence(let options) = value else {
                    reader.fail(value, path, "expected a sequence of allowed values, found \(YAMLReader.kind(of: value))")
                    continue
                }
                if options.isEmpty { reader.fail(value, path, "must not be empty (no value could match)") }
            case "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum":
                guard case .scalar(let scalar) = value, scalar.tagName == .int || scalar.tagName == .float else {
                    reader.fail(value, path, "expected a number, found \(YAMLReader.kind(of: value))")
                    continue
                }
            case "minLength", "maxLength", "minItems", "maxItems":
                _ = reader.integer(value, path, atLeast: 0)
            case "pattern":
                guard let pattern = reader.string(value, path, nonEmpty: false) else { continue }
                if (try? NSRegularExpression(pattern: pattern)) == nil {
                    reader.fail(value, path, "'\(pattern)' is not a valid regular expression")
                }
            case "format":
                guard let format = reader.string(value, path) else { continue }
                if !formats.contains(format) {
                    reader.fail(value, path, "unsupported format '\(format)' (supported: \(formats.joined(separator: ", ")))")
                }
            case "description", "title":
                _ = reader.string(value, path, nonEmpty: false)
            default:
                break  // `const` and `default` may be any value; `default` is checked below.
            }
        }
        // A default that its own schema rejects would turn a valid call into an invalid one.
        if reader.problems.count == before, let defaultNode = members["default"] {
            let schema = reader.json(node, field)
            let value = reader.json(defaultNode, field + ".default")
            var withoutDefault = schema.objectValue ?? [:]
            withoutDefault["default"] = nil
            let result = JSONSchemaValidator(schema: .object(withoutDefault)).validate(value)
            for violation in result.violations {
                let at = YAMLReader.node(at: violation.pointer, in: defaultNode)
                reader.fail(at, YAMLReader.field(field + ".default", pointer: violation.pointer),
                            "the default does not satisfy its schema: \(violation.message)")
            }
        }
    }

    private static func checkType(_ node: Node, _ field: String, _ reader: inout YAMLReader) {
        func one(_ node: Node, _ field: String) -> String? {
            // A bare `null` is YAML's null, but in `type: [string, null]` it names the type.
            if case .scalar(let scalar) = node, scalar.tagName == .null, scalar.string == "null" { return "null" }
            guard let name = reader.string(node, field) else { return nil }
            if !types.contains(name) {
                let hint = Suggestions.hint(for: name, in: types)
                reader.fail(node, field, "'\(name)' is not a JSON Schema type" + (hint.isEmpty ? " (expected one of: \(types.joined(separator: ", ")))" : hint))
                return nil
            }
            return name
        }
        switch node {
        case .sequence(let sequence):
            if sequence.isEmpty { reader.fail(node, field, "must not be empty") }
            var seen = Set<String>()
            for (index, element) in sequence.enumerated() {
                if let name = one(element, "\(field)[\(index)]"), !seen.insert(name).inserted {
                    reader.fail(element, "\(field)[\(index)]", "'\(name)' is listed twice")
                }
            }
        default:
            _ = one(node, field)
        }
    }
}
