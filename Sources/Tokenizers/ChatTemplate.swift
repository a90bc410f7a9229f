/// One turn of a conversation.
public struct ChatMessage: Sendable, Hashable, Codable {
    /// Who speaks: `system`, `user`, `assistant`, or any other role a template accepts.
    public struct Role: RawRepresentable, Sendable, Hashable, Codable, ExpressibleByStringLiteral, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public init(stringLiteral value: String) { rawValue = value }
        public var description: String { rawValue }

        public static let system = Role(rawValue: "system")
        public static let user = Role(rawValue: "user")
        public static let assistant = Role(rawValue: "assistant")
    }

    public var role: Role
    public var content: String

    public init(role: Role, content: String) {
        self.role = role
        self.content = content
    }

    public static func system(_ content: String) -> ChatMessage { ChatMessage(role: .system, content: content) }
    public static func user(_ content: String) -> ChatMessage { ChatMessage(role: .user, content: content) }
    public static func assistant(_ content: String) -> ChatMessage { ChatMessage(role: .assistant, content: content) }
}

/// A chat prompt format, as data: how messages become the text a model was trained on.
///
/// Rendered text never starts with a BOS token's text: encode it with
/// `addSpecialTokens: true` and the tokenizer adds BOS where its model wants one (LLaMA-2/3
/// GGUFs set `add_bos_token`; SmolLM2 adds nothing and its prompt starts with `<|im_start|>`,
/// which is its BOS id anyway). Special-token texts inside the rendering (`<|im_start|>`, `</s>`)
/// become their ids when encoded.
///
/// Templates that keep the system prompt apart (Vicuna, `###`, LLaMA-2) take it from leading
/// `system` messages, else use ``defaultSystemPrompt``; they know two speakers, so any role other
/// than `assistant` (a tool's output, for instance) is written as the user.
public struct ChatTemplate: Sendable, Hashable {
    /// The layouts.
    public enum Format: String, Sendable, Hashable, CaseIterable {
        /// `<|im_start|>{role}\n{content}<|im_end|>\n` per message; the generation prompt is
        /// `<|im_start|>assistant\n` (SmolLM2, Qwen, MPT-style chats).
        case chatML
        /// LLaVA's `SeparatorStyle.TWO`: `{system} USER: {u} ASSISTANT: {a}</s>USER: ...`,
        /// generation prompt `ASSISTANT:` (Vicuna v1.1, `llava_v1`, LLaVA-Plus).
        case vicuna
        /// LLaVA's `SeparatorStyle.SINGLE`: `{system}###Human: {u}###Assistant: {a}###`,
        /// generation prompt `Assistant:` (`v0`).
        case hashSeparated
        /// LLaMA-2 chat: `[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{u} [/INST] {a} </s><s>[INST] ...`.
        case llama2
        /// LLaMA-3 instruct: `<|start_header_id|>{role}<|end_header_id|>\n\n{content}<|eot_id|>`
        /// (content trimmed), generation prompt `<|start_header_id|>assistant<|end_header_id|>\n\n`.
        case llama3
    }

    /// The template's name (`chatml`, `vicuna_v1`, `llava_v1`, `v0`, `llama_2`, ...).
    public var name: String
    public var format: Format
    /// Used when the conversation has no leading system message; nil means none.
    public var defaultSystemPrompt: String?
    /// Speaker names written for the user and the assistant (Vicuna and `###` formats).
    public var userName: String
    public var assistantName: String

    public init(name: String, format: Format, defaultSystemPrompt: String? = nil,
                userName: String = "USER", assistantName: String = "ASSISTANT") {
        self.name = name
        self.format = format
        self.defaultSystemPrompt = defaultSystemPrompt
        self.userName = userName
        self.assistantName = assistantName
    }

    // MARK: Presets

    /// SmolLM2-Instruct's ChatML, with the default system prompt its own template inserts when
    /// the first message is not a system message (read from the GGUF's `tokenizer.chat_template`).
    public static let smolLM2 = ChatTemplate(name: "smollm2", format: .chatML,
                                             defaultSystemPrompt: "You are a helpful AI assistant named SmolLM, trained by Hugging Face")
    /// Plain ChatML without a default system prompt.
    public static let chatML = ChatTemplate(name: "chatml", format: .chatML)
    /// Vicuna v1.1 (LLaVA's `vicuna_v1` / `v1`; the LLaVA-Plus default).
    public static let vicunaV1 = ChatTemplate(
        name: "vicuna_v1", format: .vicuna,
        defaultSystemPrompt: "A chat between a curious user and an artificial intelligence assistant. "
            + "The assistant gives helpful, detailed, and polite answers to the user's questions.")
    /// LLaVA v1 (`llava_v1`): Vicuna v1.1 with "human" in the system prompt.
    public static let llavaV1 = ChatTemplate(
        name: "llava_v1", format: .vicuna,
        defaultSystemPrompt: "A chat between a curious human and an artificial intelligence assistant. "
            + "The assistant gives helpful, detailed, and polite answers to the human's questions.")
    /// LLaVA v0 (`v0` / `llava_v0`): `###` separators, Human/Assistant (without the Vicuna v0
    /// few-shot example conversation).
    public static let llavaV0 = ChatTemplate(
        name: "v0", format: .hashSeparated,
        defaultSystemPrompt: "A chat between a curious human and an artificial intelligence assistant. "
            + "The assistant gives helpful, detailed, and polite answers to the human's questions.",
        userName: "Human", assistantName: "Assistant")
    /// LLaMA-2 chat with Meta's default system prompt (LLaVA's `llama_2`).
    public static let llama2 = ChatTemplate(
        name: "llama_2", format: .llama2,
        defaultSystemPrompt: """
            You are a helpful, respectful and honest assistant. Always answer as helpfully as possible, while being safe.  \
            Your answers should not include any harmful, unethical, racist, sexist, toxic, dangerous, or illegal content. \
            Please ensure that your responses are socially unbiased and positive in nature.

            If a question does not make any sense, or is not factually coherent, explain why instead of answering \
            something not correct. If you don't know the answer to a question, please don't share false information.
            """)
    /// LLaVA's LLaMA-2 variant (`llava_llama_2`).
    public static let llavaLlama2 = ChatTemplate(
        name: "llava_llama_2", format: .llama2,
        defaultSystemPrompt: "You are a helpful language and vision assistant. "
            + "You are able to understand the visual content that the user provides, "
            + "and assist the user with a variety of tasks using natural language.")
    /// LLaMA-3 instruct, no default system prompt.
    public static let llama3 = ChatTemplate(name: "llama_3", format: .llama3)

    /// Every preset.
    public static let presets: [ChatTemplate] = [smolLM2, chatML, vicunaV1, llavaV1, llavaV0, llama2, llavaLlama2, llama3]

    /// A preset by name; also accepts LLaVA's aliases (`v1`, `llava_v0`, `llama2`, `llama3`).
    public static func named(_ name: String) -> ChatTemplate? {
        let aliases = ["v1": "vicuna_v1", "llava_v0": "v0", "llama2": "llama_2", "llama3": "llama_3", "smollm": "smollm2"]
        let key = aliases[name.lowercased()] ?? name.lowercased()
        return presets.first { $0.name == key }
    }

    // MARK: Rendering

    /// The prompt text for `messages`; with `addGenerationPrompt`, it ends where the assistant's
    /// next reply begins.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool = true) -> String {
        switch format {
        case .chatML: renderChatML(messages, addGenerationPrompt)
        case .vicuna: renderSeparated(messages, addGenerationPrompt, userEnd: " ", assistantEnd: "</s>", afterSystem: " ")
        case .hashSeparated: renderSeparated(messages, addGenerationPrompt, userEnd: "###", assistantEnd: "###", afterSystem: "###")
        case .llama2: renderLlama2(messages)
        case .llama3: renderLlama3(messages, addGenerationPrompt)
        }
    }

    /// Texts that end the assistant's reply; generation should stop when one appears (the
    /// tokenizer's EOS id may be one of them).
    public var stopSequences: [String] {
        switch format {
        case .chatML: ["<|im_end|>", "<|endoftext|>"]
        case .vicuna, .llama2: ["</s>"]
        case .hashSeparated: ["###"]
        case .llama3: ["<|eot_id|>", "<|end_of_text|>"]
        }
    }

    private func renderChatML(_ messages: [ChatMessage], _ addGenerationPrompt: Bool) -> String {
        var text = ""
        if let first = messages.first, first.role != .system, let system = defaultSystemPrompt {
            text += "<|im_start|>system\n\(system)<|im_end|>\n"
        }
        for message in messages {
            text += "<|im_start|>\(message.role.rawValue)\n\(message.content)<|im_end|>\n"
        }
        if addGenerationPrompt { text += "<|im_start|>assistant\n" }
        return text
    }

    /// The system prompt (leading system messages, joined by blank lines, else the default) and the rest.
    private func splitSystem(_ messages: [ChatMessage]) -> (system: String, turns: ArraySlice<ChatMessage>) {
        let count = messages.prefix(while: { $0.role == .system }).count
        guard count > 0 else { return (defaultSystemPrompt ?? "", messages[...]) }
        return (messages.prefix(count).map(\.content).joined(separator: "\n\n"), messages.dropFirst(count))
    }

    private func renderSeparated(_ messages: [ChatMessage], _ addGenerationPrompt: Bool,
                                 userEnd: String, assistantEnd: String, afterSystem: String) -> String {
        let (system, turns) = splitSystem(messages)
        var text = system + afterSystem
        for message in turns {
            let isAssistant = message.role == .assistant
            let name = isAssistant ? assistantName : userName
            if message.content.isEmpty {
                text += name + ":"
            } else {
                text += name + ": " + message.content + (isAssistant ? assistantEnd : userEnd)
            }
        }
        if addGenerationPrompt { text += assistantName + ":" }
        return text
    }

    private func renderLlama2(_ messages: [ChatMessage]) -> String {
        let (system, turns) = splitSystem(messages)
        var text = ""
        var first = true
        for message in turns {
            if message.role == .assistant {
                text += " " + message.content + " </s>"
            } else {
                var content = message.content
                if first, !system.isEmpty { content = "<<SYS>>\n\(system)\n<</SYS>>\n\n" + content }
                text += (text.isEmpty ? "" : "<s>") + "[INST] " + content + " [/INST]"
            }
            first = false
        }
        return text
    }

    private func renderLlama3(_ messages: [ChatMessage], _ addGenerationPrompt: Bool) -> String {
        func block(_ role: String, _ content: String) -> String {
            "<|start_header_id|>\(role)<|end_header_id|>\n\n\(Self.trimmed(content))<|eot_id|>"
        }
        var text = ""
        if messages.first?.role != .system, let system = defaultSystemPrompt { text += block("system", system) }
        for message in messages { text += block(message.role.rawValue, message.content) }
        if addGenerationPrompt { text += "<|start_header_id|>assistant<|end_header_id|>\n\n" }
        return text
    }

    private static func trimmed(_ text: String) -> String {
        let scalars = text.unicodeScalars
        guard let start = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = scalars.lastIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        return String(scalars[start...last])
    }

    // MARK: Detection

    /// The template a Jinja chat template (GGUF `tokenizer.chat_template`) most likely is,
    /// judged by its markers: `<|im_start|>` (ChatML, taking the default system prompt written
    /// in it, if any), `<|start_header_id|>` (LLaMA-3), `[INST]` (LLaMA-2, no default system
    /// prompt), `USER:`/`ASSISTANT:` (Vicuna v1.1), `### Human` (`###` style). Nil if none match.
    public static func detect(fromJinja source: String) -> ChatTemplate? {
        if source.contains("<|im_start|>") {
            var template = ChatTemplate.chatML
            if let system = defaultChatMLSystemPrompt(in: source) {
                template.defaultSystemPrompt = system
                if system == smolLM2.defaultSystemPrompt { template.name = smolLM2.name }
            }
            return template
        }
        if source.contains("<|start_header_id|>") { return .llama3 }
        if source.contains("[INST]") {
            var template = ChatTemplate.llama2
            template.defaultSystemPrompt = nil
            return template
        }
        if source.contains("USER:") || source.contains("ASSISTANT:") { return .vicunaV1 }
        if source.contains("### Human") || (source.contains("###") && source.contains("Human")) { return .llavaV0 }
        return nil
    }

    /// The literal text between `<|im_start|>system` + newline and `<|im_end|>` in a Jinja source,
    /// if it is plain text (no expressions or string concatenation).
    private static func defaultChatMLSystemPrompt(in source: String) -> String? {
        for opener in ["<|im_start|>system\n", "<|im_start|>system\\n"] {
            var rest = source[...]
            while let open = rest.range(of: opener) {
                rest = rest[open.upperBound...]
                guard let close = rest.range(of: "<|im_end|>") else { break }
                let literal = rest[..<close.lowerBound]
                if !literal.isEmpty, !literal.contains(where: { "{}+'\"".contains($0) }) {
                    return String(literal.replacing("\\n", with: "\n"))
                }
            }
        }
        return nil
    }
}
