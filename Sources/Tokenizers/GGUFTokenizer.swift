import Foundation
import ModelFormats

/// The tokenizer a GGUF file's `tokenizer.ggml.model` names: `gpt2` gives a byte-level
/// ``BPETokenizer``, `llama` a ``SentencePieceTokenizer``.
public func makeTokenizer(gguf: GGUFFile) throws -> any Tokenizer {
    let model = try gguf.metadata.requireString("tokenizer.ggml.model")
    switch model {
    case "gpt2": return try BPETokenizer(ggufMetadata: gguf.metadata)
    case "llama": return try SentencePieceTokenizer(ggufMetadata: gguf.metadata)
    default: throw TokenizerError.unsupported("GGUF tokenizer model '\(model)' (known: gpt2, llama)")
    }
}

extension BPETokenizer {
    /// The tokenizer described by a GGUF file's `tokenizer.ggml.*` metadata.
    ///
    /// Reads `model` (must be `gpt2`, byte-level BPE), `pre` (the pre-tokenizer: `smollm`,
    /// `gpt-2` or `llama-bpe`), `tokens`, `token_type` (control tokens become special added
    /// tokens, user-defined ones plain added tokens), `merges`, `bos_token_id`, `eos_token_id`,
    /// `unknown_token_id`, `add_bos_token` and `add_eos_token` (absent means false).
    public convenience init(gguf: GGUFFile) throws {
        try self.init(ggufMetadata: gguf.metadata)
    }

    /// The tokenizer of the GGUF file at `url` (mapped, not read whole).
    public convenience init(ggufAt url: URL) throws {
        try self.init(gguf: GGUFFile(url: url))
    }

    /// The tokenizer described by GGUF metadata.
    public convenience init(ggufMetadata metadata: GGUFMetadata) throws {
        let model = try metadata.requireString("tokenizer.ggml.model")
        guard model == "gpt2" else {
            throw TokenizerError.unsupported("GGUF tokenizer model '\(model)' (only byte-level BPE, 'gpt2')")
        }
        let pre = metadata["tokenizer.ggml.pre"]?.string ?? "(none)"
        guard let preTokenizer = Self.ggufPreTokenizers[pre] else {
            throw TokenizerError.unsupported("GGUF pre-tokenizer '\(pre)' (known: \(Self.ggufPreTokenizers.keys.sorted().joined(separator: ", ")))")
        }
        let tokens = try metadata.requireStrings("tokenizer.ggml.tokens")
        let types: [TokenType]
        if metadata["tokenizer.ggml.token_type"] != nil {
            types = try metadata.requireInts("tokenizer.ggml.token_type").map { TokenType(rawValue: Int32(clamping: $0)) ?? .normal }
        } else {
            types = Array(repeating: .normal, count: tokens.count)
        }
        try self.init(tokens: tokens, tokenTypes: types, merges: try metadata.requireStrings("tokenizer.ggml.merges"),
                      preTokenizer: preTokenizer,
                      bosTokenId: metadata["tokenizer.ggml.bos_token_id"]?.int,
                      eosTokenId: metadata["tokenizer.ggml.eos_token_id"]?.int,
                      unknownTokenId: nil,
                      addBOS: metadata["tokenizer.ggml.add_bos_token"]?.bool ?? false,
                      addEOS: metadata["tokenizer.ggml.add_eos_token"]?.bool ?? false)
    }

    /// GGUF `tokenizer.ggml.pre` names and the pre-tokenizers they stand for.
    public static let ggufPreTokenizers: [String: PreTokenizer] = [
        "smollm": .smolLM, "gpt-2": .gpt2, "llama-bpe": .llama3,
    ]
}

extension SentencePieceTokenizer {
    /// The tokenizer described by GGUF metadata whose `tokenizer.ggml.model` is `llama`, as
    /// llama.cpp's converter writes it: `tokens`, `scores`, `token_type`, `bos_token_id`,
    /// `eos_token_id`, `unknown_token_id` (else the piece of type unknown), `add_bos_token`
    /// (absent: true), `add_eos_token` (absent: false) and `add_space_prefix` (absent: true).
    /// Byte fallback is on when the vocabulary has byte pieces, as in llama.cpp.
    public convenience init(ggufMetadata metadata: GGUFMetadata) throws {
        let model = try metadata.requireString("tokenizer.ggml.model")
        guard model == "llama" else {
            throw TokenizerError.unsupported("GGUF tokenizer model '\(model)' for SentencePiece (expected 'llama')")
        }
        let tokens = try metadata.requireStrings("tokenizer.ggml.tokens")
        let scores = try metadata.requireFloats("tokenizer.ggml.scores")
        let rawTypes = try metadata.requireInts("tokenizer.ggml.token_type")
        guard scores.count == tokens.count, rawTypes.count == tokens.count else {
            throw TokenizerError.invalidVocabulary(
                "\(tokens.count) tokens but \(scores.count) scores and \(rawTypes.count) token types")
        }
        var pieces: [SentencePieceModel.Piece] = []
        pieces.reserveCapacity(tokens.count)
        for (id, raw) in rawTypes.enumerated() {
            guard let type = TokenType(rawValue: Int32(clamping: raw)) else {
                throw TokenizerError.invalidVocabulary("tokenizer.ggml.token_type[\(id)] is \(raw) (expected 0...6)")
            }
            pieces.append(.init(piece: tokens[id], score: scores[id], type: type))
        }
        try self.init(pieces: pieces,
                      bosTokenId: metadata["tokenizer.ggml.bos_token_id"]?.int,
                      eosTokenId: metadata["tokenizer.ggml.eos_token_id"]?.int,
                      unknownTokenId: metadata["tokenizer.ggml.unknown_token_id"]?.int,
                      addBOS: metadata["tokenizer.ggml.add_bos_token"]?.bool ?? true,
                      addEOS: metadata["tokenizer.ggml.add_eos_token"]?.bool ?? false,
                      addDummyPrefix: metadata["tokenizer.ggml.add_space_prefix"]?.bool ?? true,
                      byteFallback: pieces.contains { $0.type == .byte })
    }

    /// The tokenizer of a GGUF file whose `tokenizer.ggml.model` is `llama`.
    public convenience init(gguf: GGUFFile) throws {
        try self.init(ggufMetadata: gguf.metadata)
    }
}

extension ChatTemplate {
    /// The chat template a GGUF file's `tokenizer.chat_template` most likely is (see
    /// ``detect(fromJinja:)``); nil if the file has none or it is not recognised.
    public init?(gguf: GGUFFile) {
        guard let source = gguf.metadata["tokenizer.chat_template"]?.string,
              let template = ChatTemplate.detect(fromJinja: source) else { return nil }
        self = template
    }
}
