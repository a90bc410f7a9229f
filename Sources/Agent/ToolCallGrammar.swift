import LanguageModels
import Skills
import Tokenizers

/// Generation of one tool-call turn under the grammar built from the tools' schemas: what the
/// local backend does for the registry's skills and the server does for a request's `tools`.
///
/// The grammar is the JSON tool-call format (`{"thoughts", "actions", "value"}`) with the tool
/// names as an enum and each tool's parameters, every string bounded (``maxTextLength``,
/// ``maxParameterLength``) and at most ``maxActions`` actions, so that every turn parses, names
/// a real tool and closes within its token budget. A turn that still runs out of tokens is
/// continued under a bias toward closing quotes and brackets. Not thread-safe: one generator,
/// one caller at a time.
public final class ToolCallGrammar {
    public let generator: TextGenerator

    /// Longest `thoughts` and `value` the grammar allows, in characters.
    public static let maxTextLength = 160
    /// Longest string parameter the grammar allows where the tool's schema sets no maxLength.
    public static let maxParameterLength = 200
    /// Most actions in one turn (the loop runs them in parallel; small models tend to repeat
    /// one call, which the loop runs once).
    public static let maxActions = 2
    /// Extra tokens a turn that ran out of budget gets to close its JSON.
    static let closingTokens = 64

    private var compiled: (tools: [ToolSpec], requireCall: Bool, grammar: JSONGrammar)?
    private var trie: TokenTrie?
    /// Tokens that start with a quote or closing bracket, found on first need.
    private var closers: ClosingConstraint.Closers?

    public init(generator: TextGenerator) {
        self.generator = generator
    }

    /// The grammar constraint for `tools`, compiled once per tool list (fresh state each call).
    /// With `requireCall`, a turn must call at least one tool (OpenAI's `tool_choice: "required"`).
    public func constraint(for tools: [ToolSpec], requireCall: Bool = false) throws -> JSONConstraint {
        if compiled?.tools != tools || compiled?.requireCall != requireCall {
            let skills = try tools.map { tool in
                (name: tool.name, parameters: try JSONSchema(parsing: Self.bounded(tool.parameters).compactJSON, strict: false))
            }
            var schema = JSONSchema.toolCall(skills: skills, textLength: Self.maxTextLength, maxActions: Self.maxActions)
            if requireCall, !tools.isEmpty, case .object(var properties) = schema,
               let index = properties.firstIndex(where: { $0.name == "actions" }),
               case .array(let items, _, let maxItems) = properties[index].schema {
                properties[index].schema = .array(items: items, minItems: 1, maxItems: maxItems)
                schema = .object(properties)
            }
            compiled = (tools, requireCall, JSONGrammar(schema: schema))
        }
        if trie == nil { trie = TokenTrie(tokenizer: generator.tokenizer) }
        return JSONConstraint(grammar: compiled!.grammar, trie: trie!, endTokens: generator.stopTokens)
    }

    /// Generates one turn for `inputs` under the grammar for `tools`; `onText` sees the text as
    /// it is written (including a closing continuation).
    public func generate(inputs: [LlamaInput], tools: [ToolSpec], requireCall: Bool = false, parameters: SamplingParameters,
                         maxTokens: Int, onText: (String) -> Void = { _ in }) throws -> (text: String, statistics: TextGenerator.Statistics) {
        let constraint = try constraint(for: tools, requireCall: requireCall)
        var (output, statistics) = try generator.generate(inputs: inputs, parameters: parameters, maxTokens: maxTokens,
                                                          constraint: constraint, onText: onText)
        if !constraint.isComplete, statistics.finishReason == "length" {
            // Out of tokens mid-JSON: continue under a bias toward quotes, then closing brackets,
            // so that the turn is still a valid call rather than lost.
            let written = generator.tokenizer.encode(output, addSpecialTokens: false, parseSpecialTokens: false)
            let closing = ClosingConstraint(constraint, closers: closers ?? ClosingConstraint.Closers(of: generator.tokenizer))
            closers = closing.closers
            let (tail, more) = try generator.generate(inputs: inputs + written.map(LlamaInput.token), parameters: .greedy,
                                                      maxTokens: Self.closingTokens, constraint: closing, onText: onText)
            output += tail
            statistics.generatedTokens += more.generatedTokens
            statistics.generateSeconds += more.generateSeconds
        }
        return (output, statistics)
    }

    /// `schema` with a maxLength on every string that has none, so that a turn always fits in
    /// the token budget (the runner still validates against the manifest's own schema).
    static func bounded(_ schema: JSONValue) -> JSONValue {
        switch schema {
        case .object(var members):
            for (key, value) in members where key == "properties" || key == "items" {
                if case .object(let properties) = value, key == "properties" {
                    members[key] = .object(properties.mapValues(bounded))
                } else {
                    members[key] = bounded(value)
                }
            }
            if members["type"] == "string" && members["maxLength"] == nil && members["enum"] == nil {
                members["maxLength"] = .number(Double(maxParameterLength))
            }
            return .object(members)
        default:
            return schema
        }
    }
}

extension ToolSpec {
    /// A tool given by name, description and parameter schema (an OpenAI function tool, say).
    public init(name: String, description: String, parameters: JSONValue) {
        self.name = name
        self.description = description
        self.parameters = parameters
    }
}
