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

    /// Serialises calls: the generator holds one KV cache.
    private let lock = Mutex(())
    private var embeddings: [String: [[Float]]] = [:]
    /// The tool-call grammar, shared in form with the server's `tools` (see ``ToolCallGrammar``).
    private let grammar: ToolCallGrammar

    public init(name: String, llava: LLaVAModel, generator: TextGenerator, format: ToolCallFormat = .json,
                sampling: SamplingParameters = .greedy, maxTokens: Int = 256) {
        self.name = name
        self.llava = llava
        self.generator = generator
        self.format = format
        self.sampling = sampling
        self.maxTokens = maxTokens
        grammar = ToolCallGrammar(generator: generator)
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
        let (output, statistics) = format == .json
            ? try grammar.generate(inputs: inputs, tools: tools, parameters: sampling, maxTokens: maxTokens)
            : try generator.generate(inputs: inputs, parameters: sampling, maxTokens: maxTokens)
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
}
