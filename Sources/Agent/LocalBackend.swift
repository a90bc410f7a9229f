import Foundation
import Imaging
import LanguageModels
import LLaVA
import Skills
import Synchronization
import Tensors
import Tokenizers

/// The local engine as an agent backend: any ``LLaVAModel`` with its chat template.
///
/// In the JSON format every turn is generated under a grammar built from the skills' schemas
/// (names as an enum, each skill's parameters), so every call parses and names a real skill;
/// the runner still validates what the grammar cannot express (patterns, number bounds).
/// Image embeddings are cached by artifact id, and the generator reuses the evaluated prefix
/// of the conversation, so a step costs only its new turns.
public final class LocalBackend: AgentBackend, @unchecked Sendable {
    public let name: String
    public let format: ToolCallFormat
    public let llava: LLaVAModel
    public let generator: TextGenerator
    public var sampling: SamplingParameters
    public var maxTokens: Int

    /// Longest `thoughts` and `value` the grammar allows, in characters.
    public static let maxTextLength = 160
    /// Longest string parameter the grammar allows where the skill's schema sets no maxLength.
    public static let maxParameterLength = 200
    /// Most actions in one turn (the loop runs them in parallel; small models tend to repeat
    /// one call, which the loop runs once).
    public static let maxActions = 2

    /// Extra tokens a turn that ran out of budget gets to close its JSON.
    static let closingTokens = 64

    /// Serialises calls: the generator holds one KV cache.
    private let lock = Mutex(())
    private var embeddings: [String: [[Float]]] = [:]
    private var grammar: (tools: [ToolSpec], grammar: JSONGrammar, trie: TokenTrie)?
    /// Tokens that start with a closing quote or bracket, found on first need.
    private var closers: [Int]?

    public init(name: String, llava: LLaVAModel, generator: TextGenerator, format: ToolCallFormat = .json,
                sampling: SamplingParameters = .greedy, maxTokens: Int = 256) {
        self.name = name
        self.llava = llava
        self.generator = generator
        self.format = format
        self.sampling = sampling
        self.maxTokens = maxTokens
    }

    public func complete(_ messages: [AgentMessage], tools: [ToolSpec]) async throws -> BackendReply {
        try lock.withLock { _ in try completeLocked(messages, tools: tools) }
    }

    private func completeLocked(_ messages: [AgentMessage], tools: [ToolSpec]) throws -> BackendReply {
        let start = ContinuousClock.now
        var images: [[[Float]]] = []
        let chat = try messages.map { message -> ChatMessage in
            for image in message.images { images.append(try embedding(of: image)) }
            let placeholders = String(repeating: "<image>\n", count: message.images.count)
            return ChatMessage(role: ChatMessage.Role(rawValue: message.role.rawValue), content: placeholders + message.text)
        }
        let text = generator.template.render(chat, addGenerationPrompt: true)
        let tokens = generator.tokenizer.encode(text, addSpecialTokens: true, imagePlaceholder: "<image>", imageTokenId: llava.imageToken)
        let inputs = try llava.inputs(tokens: tokens, imageEmbeddings: images)
        let constraint = format == .json ? try constraint(for: tools) : nil
        var (output, statistics) = try generator.generate(inputs: inputs, parameters: sampling, maxTokens: maxTokens, constraint: constraint)
        if let constraint, !constraint.isComplete, statistics.finishReason == "length" {
            // Out of tokens mid-JSON: continue under a bias toward closing quotes and brackets,
            // so that the turn is still a valid call rather than lost.
            let written = generator.tokenizer.encode(output, addSpecialTokens: false, parseSpecialTokens: false)
            let closing = ClosingConstraint(constraint, closers: closers ?? ClosingConstraint.closingTokens(of: generator.tokenizer))
            closers = closing.closers
            let (tail, more) = try generator.generate(inputs: inputs + written.map(LlamaInput.token), parameters: .greedy,
                                                      maxTokens: Self.closingTokens, constraint: closing)
            output += tail
            statistics.generatedTokens += more.generatedTokens
        }
        let elapsed = ContinuousClock.now - start
        return BackendReply(text: output, promptTokens: statistics.promptTokens, generatedTokens: statistics.generatedTokens,
                            seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }

    private func embedding(of image: Artifact) throws -> [[Float]] {
        if let cached = embeddings[image.id] { return cached }
        let decoded = try RGBImage(contentsOf: image.url)
        let computed = llava.imageEmbeddings(llava.vision.preprocess(decoded))
        embeddings[image.id] = computed
        return computed
    }

    /// The tool-call grammar for `tools`, compiled once per tool list.
    private func constraint(for tools: [ToolSpec]) throws -> JSONConstraint {
        if grammar?.tools != tools {
            let skills = try tools.map { tool in
                (name: tool.name, parameters: try JSONSchema(parsing: Self.bounded(tool.parameters).compactJSON, strict: false))
            }
            // Bounded text and action counts keep a rambling model inside its token budget, so
            // that the turn closes as valid JSON.
            let schema = JSONSchema.toolCall(skills: skills, textLength: Self.maxTextLength, maxActions: Self.maxActions)
            grammar = (tools, JSONGrammar(schema: schema), grammar?.trie ?? TokenTrie(tokenizer: generator.tokenizer))
        }
        return JSONConstraint(grammar: grammar!.grammar, trie: grammar!.trie, endTokens: generator.stopTokens)
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
