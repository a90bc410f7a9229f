/// Text to token ids and back.
///
/// `encode(_:addSpecialTokens:)` finds added tokens such as `<|im_start|>` in the text first
/// (they always become their single id unless `parseSpecialTokens` is false), pre-tokenizes the
/// rest, and runs the model on each piece; `addSpecialTokens` adds what the tokenizer puts
/// around every sequence (``prefixTokenIds``, ``suffixTokenIds``: a BOS for LLaMA-3, nothing for
/// SmolLM2). `decode` joins the tokens' bytes and reads them as UTF-8, replacing invalid bytes
/// with U+FFFD; use ``StreamingDecoder`` to decode while tokens arrive.
public protocol Tokenizer: Sendable {
    /// The token ids of `text`. With `parseSpecialTokens` false, special tokens written in the
    /// text are encoded as ordinary text (use this for untrusted input such as tool output).
    func encode(_ text: String, addSpecialTokens: Bool, parseSpecialTokens: Bool) -> [Int]
    /// The text of `ids`; ids outside the vocabulary are ignored.
    func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String
    /// The bytes token `id` stands for in decoded text (empty for an unknown id).
    func bytes(forToken id: Int) -> [UInt8]
    /// The bytes of token `id` where it may be the first text token of the decoded text (only
    /// special tokens before it): SentencePiece tokenizers drop the space their encoder put before
    /// the text there. Others return ``bytes(forToken:)``.
    func bytes(forToken id: Int, atTextStart: Bool) -> [UInt8]
    /// The id of a vocabulary entry, written as the vocabulary stores it (`Ġthe` for " the").
    func tokenToId(_ token: String) -> Int?
    /// The vocabulary entry of an id, as stored (byte-level text for byte-level BPE).
    func idToToken(_ id: Int) -> String?
    /// Whether `id` is a special (control) token such as `<|im_end|>`.
    func isSpecialToken(_ id: Int) -> Bool
    /// Beginning-of-sequence token, if the model has one.
    var bosTokenId: Int? { get }
    /// End-of-sequence token, if the model has one (generation stops on it).
    var eosTokenId: Int? { get }
    /// Number of token ids (one more than the largest id).
    var vocabularySize: Int { get }
    /// Ids that `encode(_:addSpecialTokens: true)` puts before the text.
    var prefixTokenIds: [Int] { get }
    /// Ids that `encode(_:addSpecialTokens: true)` puts after the text.
    var suffixTokenIds: [Int] { get }
}

extension Tokenizer {
    public func bytes(forToken id: Int, atTextStart: Bool) -> [UInt8] {
        bytes(forToken: id)
    }

    /// The token ids of `text`, with special tokens in the text parsed.
    public func encode(_ text: String, addSpecialTokens: Bool = true) -> [Int] {
        encode(text, addSpecialTokens: addSpecialTokens, parseSpecialTokens: true)
    }

    /// The text of `ids`, special tokens included.
    public func decode(_ ids: [Int]) -> String {
        decode(ids, skipSpecialTokens: false)
    }

    /// The token ids of a prompt holding image placeholders, LLaVA style: the text between
    /// placeholders is encoded on its own and each `placeholder` (`"<image>"`) becomes
    /// `imageTokenId` (LLaVA uses -200), which the model replaces with the image's embeddings.
    public func encode(_ text: String, addSpecialTokens: Bool = true, imagePlaceholder placeholder: String, imageTokenId: Int) -> [Int] {
        var ids = addSpecialTokens ? prefixTokenIds : []
        var first = true
        for chunk in text.split(separator: placeholder, omittingEmptySubsequences: false) {
            if !first { ids.append(imageTokenId) }
            first = false
            ids += encode(String(chunk), addSpecialTokens: false, parseSpecialTokens: true)
        }
        return ids + (addSpecialTokens ? suffixTokenIds : [])
    }

    /// The token ids of a conversation rendered with `template`, ready for the model.
    public func encode(_ messages: [ChatMessage], template: ChatTemplate, addGenerationPrompt: Bool = true) -> [Int] {
        encode(template.render(messages, addGenerationPrompt: addGenerationPrompt), addSpecialTokens: true)
    }
}

/// Why a tokenizer cannot be built.
public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    /// The vocabulary or its metadata is malformed.
    case invalidVocabulary(String)
    /// A merge names tokens that are not in the vocabulary.
    case invalidMerge(rank: Int, String, String)
    /// A configuration this implementation does not support (named in the message).
    case unsupported(String)
    /// The tokenizer file could not be parsed.
    case invalidFile(String)

    public var description: String {
        switch self {
        case .invalidVocabulary(let why): "invalid tokenizer vocabulary: \(why)"
        case .invalidMerge(let rank, let merge, let why): "invalid merge #\(rank) '\(merge)': \(why)"
        case .unsupported(let what): "unsupported tokenizer configuration: \(what)"
        case .invalidFile(let why): "invalid tokenizer file: \(why)"
        }
    }
}
