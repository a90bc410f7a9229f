import Foundation
import Skills

/// One action of an assistant turn: a skill and its parameters, as the model wrote them
/// (not yet validated: the registry does that).
public struct ToolCall: Sendable, Hashable {
    public var name: String
    public var params: JSONValue

    public init(name: String, params: JSONValue) {
        (self.name, self.params) = (name, params)
    }
}

/// An assistant turn of the tool-use format: why, which skills to call, what to say.
/// `actions` is empty when the model answers without tools.
public struct AssistantTurn: Sendable, Equatable {
    public var thoughts: String
    public var actions: [ToolCall]
    public var value: String

    public init(thoughts: String = "", actions: [ToolCall] = [], value: String) {
        (self.thoughts, self.actions, self.value) = (thoughts, actions, value)
    }
}

/// The two ways a model writes tool calls (design.md, "Tool-call formats").
public enum ToolCallFormat: String, Sendable, CaseIterable {
    /// `"thoughts🤔" ...` / `"actions🚀" [...]` / `"value👉" ...`, as released LLaVA-Plus
    /// checkpoints write it.
    case llavaPlus = "llava-plus"
    /// `{"thoughts": "...", "actions": [...], "value": "..."}`, generated under a grammar.
    case json
}

/// Why model output is not a usable turn; shown to the model as its next input so it can
/// correct itself.
public struct ToolCallError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Where the problem is: `actions🚀`, `/actions/1/API_name`, ...
    public var field: String
    public var message: String

    public var description: String { "\(field): \(message)" }
    public var json: JSONValue { ["error": "malformed_turn", "message": .string(description)] }
}

/// Parses and renders assistant turns. Model output is untrusted: parsing reads literals only
/// and never evaluates anything.
public enum ToolCallCodec {
    public static func parse(_ text: String, format: ToolCallFormat) -> Result<AssistantTurn, ToolCallError> {
        switch format {
        case .llavaPlus: parseLLaVAPlus(text)
        case .json: parseJSON(text)
        }
    }

    public static func render(_ turn: AssistantTurn, format: ToolCallFormat) -> String {
        let actions = "[" + turn.actions.map { action in
            "{\"API_name\": \(JSONValue.string(action.name).spacedJSON), \"API_params\": \(action.params.spacedJSON)}"
        }.joined(separator: ", ") + "]"
        switch format {
        case .llavaPlus:
            return "\"thoughts🤔\" \(turn.thoughts)\n\"actions🚀\" \(actions)\n\"value👉\" \(turn.value)"
        case .json:
            // Field order as the grammar generates it: thoughts, actions, value.
            return "{\"thoughts\": \(JSONValue.string(turn.thoughts).spacedJSON), \"actions\": \(actions), "
                + "\"value\": \(JSONValue.string(turn.value).spacedJSON)}"
        }
    }

    // MARK: - LLaVA-Plus

    private enum Field: String, CaseIterable {
        case thoughts, actions, value
        var label: String {
            switch self {
            case .thoughts: "thoughts🤔"
            case .actions: "actions🚀"
            case .value: "value👉"
            }
        }
    }

    /// A field label: the word, optionally its emoji, optionally quoted, optionally a colon.
    /// Quotes or the emoji must be there, so the plain word "value" in prose is not a label.
    private static var marker: Regex<(Substring, open: Substring?, word: Substring, emoji: Substring?, close: Substring?)> { #/(?<open>")?(?i:(?<word>thoughts|actions|value))[ \t]*(?<emoji>🤔|🚀|👉)?(?<close>")?[ \t]*:?/# }

    private static func parseLLaVAPlus(_ text: String) -> Result<AssistantTurn, ToolCallError> {
        var found: [(field: Field, start: String.Index, end: String.Index)] = []
        for match in text.matches(of: marker) {
            let output = match.output
            guard output.emoji != nil || (output.open != nil && output.close != nil),
                  let field = Field(rawValue: output.word.lowercased()),
                  !found.contains(where: { $0.field == field })
            else { continue }
            found.append((field, match.range.lowerBound, match.range.upperBound))
        }
        // No labels: a plain answer (what a model without tool training says).
        guard !found.isEmpty else { return .success(AssistantTurn(value: text.trimmingCharacters(in: .whitespacesAndNewlines))) }
        var segments: [Field: Substring] = [:]
        for (index, entry) in found.enumerated() {
            let end = index + 1 < found.count ? found[index + 1].start : text.endIndex
            segments[entry.field] = text[entry.end..<end]
        }
        var actions: [ToolCall] = []
        if let segment = segments[.actions] {
            switch parseActions(segment, field: Field.actions.label) {
            case .success(let calls): actions = calls
            case .failure(let error): return .failure(error)
            }
        }
        return .success(AssistantTurn(thoughts: clean(segments[.thoughts]), actions: actions, value: clean(segments[.value])))
    }

    private static func clean(_ segment: Substring?) -> String {
        guard let segment else { return "" }
        return segment.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static func parseActions(_ segment: Substring, field: String) -> Result<[ToolCall], ToolCallError> {
        let trimmed = segment.drop { $0.isWhitespace }
        guard !trimmed.isEmpty else { return .success([]) }
        let list: JSONValue
        do {
            list = try LenientLiteral.parse(trimmed, allowTrailing: true).0
        } catch {
            return .failure(ToolCallError(field: field, message: "\(error.message) at character \(error.offset); expected a list like "
                + "[{\"API_name\": \"...\", \"API_params\": {...}}]"))
        }
        return actionList(list, pointer: "/actions")
    }

    /// Reads `[{API_name, API_params}]`; also accepts `name`/`arguments` (OpenAI's spelling,
    /// with arguments as an object or a JSON string) so that any chat model can drive skills.
    static func actionList(_ list: JSONValue, pointer: String) -> Result<[ToolCall], ToolCallError> {
        guard let items = list.arrayValue else {
            return .failure(ToolCallError(field: pointer, message: "expected a list of actions, found \(list.schemaType)"))
        }
        var calls: [ToolCall] = []
        for (index, item) in items.enumerated() {
            let at = "\(pointer)/\(index)"
            guard let object = item.objectValue else {
                return .failure(ToolCallError(field: at, message: "expected an object with API_name and API_params, found \(item.schemaType)"))
            }
            guard let name = (object["API_name"] ?? object["name"])?.stringValue, !name.isEmpty else {
                return .failure(ToolCallError(field: "\(at)/API_name", message: "expected the skill's name as a non-empty string"))
            }
            var params = object["API_params"] ?? object["arguments"] ?? .object([:])
            if let encoded = params.stringValue {
                guard let decoded = try? JSONValue(parsing: encoded) else {
                    return .failure(ToolCallError(field: "\(at)/API_params", message: "a string that is not a JSON object"))
                }
                params = decoded
            }
            guard params.objectValue != nil else {
                return .failure(ToolCallError(field: "\(at)/API_params", message: "expected an object, found \(params.schemaType)"))
            }
            calls.append(ToolCall(name: name, params: params))
        }
        return .success(calls)
    }

    // MARK: - JSON

    private static func parseJSON(_ text: String) -> Result<AssistantTurn, ToolCallError> {
        // Chat models often wrap JSON in a Markdown fence or a sentence: read from the first brace.
        guard let open = text.firstIndex(of: "{") else {
            return .success(AssistantTurn(value: text.trimmingCharacters(in: .whitespacesAndNewlines)))
        }
        let value: JSONValue
        do {
            value = try LenientLiteral.parse(text[open...], allowTrailing: true).0
        } catch {
            return .failure(ToolCallError(field: "/", message: "\(error.message) at character \(error.offset) of the JSON object"))
        }
        guard let object = value.objectValue else { return .failure(ToolCallError(field: "/", message: "expected an object")) }
        func field(_ key: String) -> Result<String, ToolCallError> {
            switch object[key] {
            case nil, .null?: .success("")
            case .string(let s)?: .success(s)
            case let other?: .failure(ToolCallError(field: "/\(key)", message: "expected a string, found \(other.schemaType)"))
            }
        }
        let thoughts: String, answer: String
        switch (field("thoughts"), field("value")) {
        case (.failure(let error), _), (_, .failure(let error)): return .failure(error)
        case (.success(let t), .success(let v)): (thoughts, answer) = (t, v)
        }
        switch actionList(object["actions"] ?? .array([]), pointer: "/actions") {
        case .failure(let error): return .failure(error)
        case .success(let actions): return .success(AssistantTurn(thoughts: thoughts, actions: actions, value: answer))
        }
    }
}
