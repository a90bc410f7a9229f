import Foundation
import ModelFormats
import Tokenizers

/// A loaded language model with its tokenizer and chat template, and one conversation's
/// session: the piece the CLI, the agent and the server generate text with.
public final class TextGenerator {
    public let model: Llama
    public let tokenizer: any Tokenizer
    public let template: ChatTemplate
    public let session: LlamaSession
    /// The inputs the session's cache holds, so that a longer prompt sharing a prefix with them
    /// (the next turn of a chat) only evaluates what is new.
    private var evaluated: [LlamaInput] = []
    /// Tokens that end generation: the end-of-sequence token and the template's stop tokens.
    public let stopTokens: Set<Int>

    /// What one call of ``generate(_:parameters:maxTokens:onText:)`` did.
    public struct Statistics: Sendable {
        /// Prompt tokens evaluated (those already cached are not counted) and their time.
        public var promptTokens = 0, promptSeconds = 0.0
        /// Tokens generated and their time.
        public var generatedTokens = 0, generateSeconds = 0.0
        /// Why generation stopped: `stop` (a stop token), `length` (`maxTokens` reached) or
        /// `constraint` (the constraint allowed no token).
        public var finishReason = "length"

        public var promptTokensPerSecond: Double { promptSeconds > 0 ? Double(promptTokens) / promptSeconds : 0 }
        public var generatedTokensPerSecond: Double { generateSeconds > 0 ? Double(generatedTokens) / generateSeconds : 0 }
    }

    public init(model: Llama, tokenizer: any Tokenizer, template: ChatTemplate, contextLength: Int = 4096,
                cachePrecision: KeyValueCache.Precision = .f16) {
        self.model = model
        self.tokenizer = tokenizer
        self.template = template
        session = LlamaSession(model: model, capacity: contextLength, cachePrecision: cachePrecision)
        var stops = Set(template.stopSequences.compactMap { tokenizer.tokenToId($0) })
        if let eos = tokenizer.eosTokenId { stops.insert(eos) }
        stopTokens = stops
    }

    /// Loads a GGUF file (weights, tokenizer and chat template from its metadata) or a Hugging
    /// Face directory (`config.json`, `model.safetensors`, `tokenizer.json`).
    public convenience init(contentsOf url: URL, threads: Int, contextLength: Int = 4096) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw ModelError.invalid("\(url.path): no such file or directory")
        }
        if isDirectory.boolValue {
            let tokenizer = try BPETokenizer(tokenizerJSONAt: url.appendingPathComponent("tokenizer.json"))
            try self.init(model: Llama(huggingFace: url, threads: threads), tokenizer: tokenizer,
                          template: .chatML, contextLength: contextLength)
        } else {
            let gguf = try GGUFFile(url: url)
            try self.init(model: Llama(gguf: gguf, threads: threads), tokenizer: makeTokenizer(gguf: gguf),
                          template: ChatTemplate(gguf: gguf) ?? .chatML, contextLength: contextLength)
        }
    }

    /// The tokens of a conversation rendered with the template, ending with the assistant's turn.
    public func promptTokens(for messages: [ChatMessage]) -> [Int] {
        tokenizer.encode(messages, template: template, addGenerationPrompt: true)
    }

    /// Evaluates `prompt` (reusing whatever prefix of it the session already holds), then samples
    /// up to `maxTokens` tokens, passing the text of each to `onText` as soon as it is complete
    /// UTF-8. Returns the generated text and timings.
    ///
    /// With a `constraint` (such as a ``JSONConstraint``), only the tokens it allows are sampled
    /// and a stop token only once it is complete; the finish reason is `constraint` if it allows
    /// nothing (it should not happen with ``JSONConstraint``). The constraint continues from its
    /// current state (reset it to reuse it for a new document).
    @discardableResult
    public func generate(_ prompt: [Int], parameters: SamplingParameters = .greedy, maxTokens: Int = 256,
                         constraint: (any TokenConstraint)? = nil,
                         onText: (String) -> Void = { _ in }) throws -> (text: String, statistics: Statistics) {
        try generate(inputs: prompt.map(LlamaInput.token), parameters: parameters, maxTokens: maxTokens,
                     constraint: constraint, onText: onText)
    }

    /// ``generate(_:parameters:maxTokens:constraint:onText:)`` for a prompt that may hold
    /// embeddings (LLaVA's images).
    @discardableResult
    public func generate(inputs prompt: [LlamaInput], parameters: SamplingParameters = .greedy, maxTokens: Int = 256,
                         constraint: (any TokenConstraint)? = nil,
                         onText: (String) -> Void = { _ in }) throws -> (text: String, statistics: Statistics) {
        var statistics = Statistics()
        let shared = zip(evaluated, prompt).prefix { $0 == $1 }.count
        // Keep at least one prompt input to evaluate: its logits choose the first new token.
        let reuse = min(shared, prompt.count - 1)
        session.truncate(to: reuse)
        evaluated = Array(prompt.prefix(reuse))
        guard prompt.count + maxTokens <= session.capacity else {
            throw ModelError.contextFull(needed: prompt.count + maxTokens, capacity: session.capacity)
        }

        var clock = ContinuousClock.now
        var logits = try session.evaluate(Array(prompt[reuse...]))
        evaluated = prompt
        statistics.promptTokens = prompt.count - reuse
        statistics.promptSeconds = seconds(since: clock)

        var sampler = Sampler(parameters)
        var decoder = StreamingDecoder(tokenizer: tokenizer, skipSpecialTokens: true)
        var history = prompt.compactMap { if case .token(let id) = $0 { id } else { nil } }
        var text = ""
        clock = ContinuousClock.now
        for _ in 0..<maxTokens {
            // Grammar constraint (see Grammar/): disallowed tokens get -infinity before sampling.
            constraint?.mask(&logits)
            let token = sampler.sample(&logits, history: history)
            if let constraint, !constraint.accept(token) { statistics.finishReason = "constraint"; break }
            if stopTokens.contains(token) { statistics.finishReason = "stop"; break }
            let piece = decoder.append(token)
            text += piece
            if !piece.isEmpty { onText(piece) }
            statistics.generatedTokens += 1
            logits = try session.evaluate([token])
            evaluated.append(.token(token))
            history.append(token)
        }
        let tail = decoder.finish()
        text += tail
        if !tail.isEmpty { onText(tail) }
        statistics.generateSeconds = seconds(since: clock)
        return (text, statistics)
    }

    private func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}
