import Foundation
import Yams

/// Reads a composed YAML node tree field by field, collecting every problem with its
/// `file:line:column` instead of stopping at the first: a person fixing a manifest wants the
/// whole list at once.
///
/// Yams' `Node` API is used rather than `Codable` because decoding stops at the first error
/// and loses the marks of fields that are well-typed but wrong (a bad name, an empty command).
struct YAMLReader {
    /// The file as it appears in messages.
    let file: String
    private(set) var problems: [ManifestProblem] = []

    init(file: String) { self.file = file }

    /// Composes `text`; a syntax error or a duplicate key becomes the one problem of the file
    /// (nothing after a syntax error can be trusted).
    static func compose(_ text: String, file: String) -> Result<Node?, ManifestProblem> {
        do {
            return .success(try Yams.compose(yaml: text))
        } catch let error as YamlError {
            return .failure(problem(from: error, file: file))
        } catch {
            return .failure(ManifestProblem(SourceLocation(file: file, line: 1, column: 1), "", "cannot read YAML: \(error)"))
        }
    }

    static func problem(from error: YamlError, file: String) -> ManifestProblem {
        func at(_ mark: Mark, _ message: String) -> ManifestProblem {
            at(mark.line, mark.column, message)
        }
        func at(_ line: Int, _ column: Int, _ message: String) -> ManifestProblem {
            ManifestProblem(SourceLocation(file: file, line: line, column: column), "", message)
        }
        switch error {
        case let .scanner(_, problem, mark, _), let .parser(_, problem, mark, _), let .composer(_, problem, mark, _):
            return at(mark, "invalid YAML: \(problem)")
        case let .duplicatedKeysInMapping(duplicates, context):
            // Yams marks the first occurrence; the mistake is usually the later one, so point
            // at the next line that writes the same key at the same indentation (block style).
            let keys = duplicates.sorted().map { "'\($0)'" }.joined(separator: ", ")
            let first = context.mark
            if let key = duplicates.sorted().first, let line = repeatedKeyLine(key, after: first, in: context.text) {
                return at(line, first.column, "duplicate key \(keys), first written at line \(first.line) (each key may appear once in a mapping)")
            }
            return at(first, "duplicate key \(keys) (each key may appear once in a mapping)")
        case let .reader(problem, offset, _, text):
            // libyaml reports reader errors (bad encoding, control characters) by offset.
            var line = 1, column = 1
            if let offset {
                for scalar in text.unicodeScalars.prefix(offset) {
                    if scalar == "\n" { line += 1; column = 1 } else { column += 1 }
                }
            }
            return at(line, column, "invalid YAML: \(problem)")
        default:
            return at(1, 1, "invalid YAML: \(error)")
        }
    }

    /// The line (from 1) after `mark` that starts with `key:` at the mark's column, if any.
    private static func repeatedKeyLine(_ key: String, after mark: Mark, in text: String) -> Int? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let indent = String(repeating: " ", count: max(0, mark.column - 1))
        for index in mark.line..<lines.count {
            let line = lines[index]
            for form in [key, "\"\(key)\"", "'\(key)'"] where line.hasPrefix(indent + form) {
                let rest = line.dropFirst(indent.count + form.count).drop(while: { $0 == " " })
                if rest.hasPrefix(":") { return index + 1 }
            }
        }
        return nil
    }

    // MARK: - Problems and places

    func location(_ node: Node) -> SourceLocation {
        SourceLocation(file: file, line: node.mark?.line ?? 1, column: node.mark?.column ?? 1)
    }

    mutating func fail(_ node: Node, _ field: String, _ message: String) {
        problems.append(ManifestProblem(location(node), field, message))
    }

    mutating func fail(at location: SourceLocation, _ field: String, _ message: String) {
        problems.append(ManifestProblem(location, field, message))
    }

    mutating func absorb(_ more: [ManifestProblem]) { problems += more }

    /// "a mapping", "an integer", … for "expected X, found Y" messages.
    static func kind(of node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a sequence"
        case .alias: return "an alias"
        case .scalar(let scalar):
            switch scalar.tagName {
            case .null: return "null"
            case .bool: return "a boolean"
            case .int: return "an integer"
            case .float: return "a number"
            default: return "a string"
            }
        }
    }

    // MARK: - Typed fields

    /// The members of a mapping, after reporting a wrong type, unknown keys (with a "did you
    /// mean") and missing required keys (at the mapping itself, since they are not written).
    /// `explain` may say why a known-elsewhere key is wrong here (a `url` in a subprocess
    /// transport). A required key that an unknown key misspells is not reported again as
    /// missing: the "did you mean" already says what to do.
    mutating func mapping(_ node: Node, _ field: String, allowed: [String], required: [String] = [],
                          what: String = "a mapping", explain: (String) -> String? = { _ in nil }) -> [String: Node]? {
        guard case .mapping(let mapping) = node else {
            fail(node, field, "expected \(what), found \(Self.kind(of: node))")
            return nil
        }
        var members: [String: Node] = [:]
        var misspelt = Set<String>()
        for (key, value) in mapping {
            guard case .scalar(let scalar) = key else {
                fail(key, field, "keys must be plain strings, found \(Self.kind(of: key))")
                continue
            }
            let name = scalar.string
            if allowed.contains(name) {
                members[name] = value
            } else if let reason = explain(name) {
                fail(key, Self.join(field, name), reason + " (expected one of: \(allowed.joined(separator: ", ")))")
            } else if let suggestion = Suggestions.closest(to: name, in: allowed) {
                misspelt.insert(suggestion)
                fail(key, Self.join(field, name), "unknown key; did you mean '\(suggestion)'?")
            } else {
                fail(key, Self.join(field, name), "unknown key (expected one of: \(allowed.joined(separator: ", ")))")
            }
        }
        for name in required where members[name] == nil && !misspelt.contains(name) {
            fail(node, Self.join(field, name), "required field is missing")
        }
        return members
    }

    mutating func string(_ node: Node, _ field: String, nonEmpty: Bool = true) -> String? {
        guard case .scalar(let scalar) = node, scalar.tagName == .str else {
            fail(node, field, "expected a string, found \(Self.kind(of: node))")
            return nil
        }
        if nonEmpty && scalar.string.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            fail(node, field, "must not be empty")
            return nil
        }
        return scalar.string
    }

    /// The scalar's text whatever YAML made of it: `version: 1.0` is a float to YAML but a
    /// (bad) version to a person, and deserves "not a semantic version", not "not a string".
    mutating func text(_ node: Node, _ field: String) -> String? {
        guard case .scalar(let scalar) = node, scalar.tagName != .null else {
            fail(node, field, "expected a string, found \(Self.kind(of: node))")
            return nil
        }
        return scalar.string
    }

    mutating func bool(_ node: Node, _ field: String) -> Bool? {
        guard case .scalar(let scalar) = node, scalar.tagName == .bool, let value = node.bool else {
            fail(node, field, "expected true or false, found \(Self.kind(of: node))")
            return nil
        }
        return value
    }

    mutating func positiveNumber(_ node: Node, _ field: String) -> Double? {
        guard case .scalar(let scalar) = node, scalar.tagName == .int || scalar.tagName == .float,
              let value = Self.number(scalar) else {
            fail(node, field, "expected a positive number, found \(Self.kind(of: node))")
            return nil
        }
        guard value > 0, value.isFinite else {
            fail(node, field, "expected a positive number, found \(JSONValue.format(value))")
            return nil
        }
        return value
    }

    mutating func integer(_ node: Node, _ field: String, atLeast minimum: Int) -> Int? {
        let what = minimum == 1 ? "a positive integer" : "an integer of at least \(minimum)"
        guard case .scalar(let scalar) = node, scalar.tagName == .int, let value = Int(scalar.string) else {
            fail(node, field, "expected \(what), found \(Self.kind(of: node))")
            return nil
        }
        guard value >= minimum else {
            fail(node, field, "expected \(what), found \(value)")
            return nil
        }
        return value
    }

    /// A sequence of non-empty strings (commands, aliases).
    mutating func strings(_ node: Node, _ field: String, what: String = "a sequence of strings") -> [String]? {
        guard case .sequence(let sequence) = node else {
            fail(node, field, "expected \(what), found \(Self.kind(of: node))")
            return nil
        }
        var result: [String] = []
        var ok = true
        for (index, element) in sequence.enumerated() {
            if let value = string(element, "\(field)[\(index)]") { result.append(value) } else { ok = false }
        }
        return ok ? result : nil
    }

    // MARK: - Values

    static func number(_ scalar: Node.Scalar) -> Double? {
        if scalar.tagName == .int, let int = Int(scalar.string) { return Double(int) }
        return Node.scalar(scalar).float
    }

    /// The node as JSON; anchors/aliases and non-string keys are reported (JSON has neither).
    mutating func json(_ node: Node, _ field: String) -> JSONValue {
        switch node {
        case .scalar(let scalar):
            switch scalar.tagName {
            case .null: return .null
            case .bool: return .bool(node.bool ?? false)
            case .int, .float:
                if let n = Self.number(scalar) { return .number(n) }
                return .string(scalar.string)
            default: return .string(scalar.string)
            }
        case .sequence(let sequence):
            return .array(sequence.enumerated().map { json($1, "\(field)[\($0)]") })
        case .mapping(let mapping):
            var object: [String: JSONValue] = [:]
            for (key, value) in mapping {
                guard case .scalar(let scalar) = key else {
                    fail(key, field, "keys must be plain strings, found \(Self.kind(of: key))")
                    continue
                }
                object[scalar.string] = json(value, Self.join(field, scalar.string))
            }
            return .object(object)
        case .alias:
            fail(node, field, "YAML aliases are not supported here")
            return .null
        }
    }

    /// The node at a JSON pointer below `node`, or the deepest one that exists (a missing
    /// property is reported at the object that lacks it).
    static func node(at pointer: String, in node: Node) -> Node {
        var current = node
        for token in JSONPointer.tokens(pointer) {
            switch current {
            case .mapping(let mapping):
                guard let next = mapping.first(where: { $0.key.string == token })?.value else { return current }
                current = next
            case .sequence(let sequence):
                guard let index = Int(token), sequence.indices.contains(index) else { return current }
                current = sequence[index]
            default:
                return current
            }
        }
        return current
    }

    /// `field.key`, or `key` at the top.
    static func join(_ field: String, _ key: String) -> String { field.isEmpty ? key : field + "." + key }

    /// `examples[0].params` + `/box/0` → `examples[0].params.box[0]`.
    static func field(_ base: String, pointer: String) -> String {
        var field = base
        for token in JSONPointer.tokens(pointer) {
            if let index = Int(token), index >= 0, String(index) == token { field += "[\(index)]" } else { field = join(field, token) }
        }
        return field
    }
}

extension Node.Scalar {
    /// The scalar's resolved tag: `compose` leaves plain scalars `implicit` until asked, and
    /// marks quoted ones non-specific (`!`), which YAML defines as strings.
    var tagName: Tag.Name {
        let name = Resolver.default.resolveTag(of: Node.scalar(self))
        return name == .nonSpecific ? .str : name
    }
}
