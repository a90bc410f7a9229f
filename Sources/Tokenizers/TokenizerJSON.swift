import Foundation

extension BPETokenizer {
    /// A tokenizer from a Hugging Face `tokenizer.json` holding a byte-level BPE model.
    ///
    /// Supported: no normalizer; pre-tokenizers `ByteLevel`, `Digits`, `Split` with GPT-2's or
    /// LLaMA-3's regex (``SplitPattern``), and `Sequence`s of them; a `BPE` model (merges as
    /// `"a b"` strings or pairs, `unk_token`, `fuse_unk`, `ignore_merges`); added tokens with
    /// `lstrip`/`rstrip`; post-processors `ByteLevel`, `TemplateProcessing` (single sequence)
    /// and `Sequence`s of them; the `ByteLevel` decoder. Anything else throws
    /// ``TokenizerError/unsupported(_:)`` naming it, rather than tokenizing differently.
    ///
    /// `tokenizer.json` does not say which tokens are BOS and EOS (`tokenizer_config.json` does):
    /// pass them by content. Without `bosToken`, the first token the post-processor prepends is used.
    public convenience init(tokenizerJSON data: Data, bosToken: String? = nil, eosToken: String? = nil) throws(TokenizerError) {
        let file: TokenizerFile
        do {
            file = try JSONDecoder().decode(TokenizerFile.self, from: data)
        } catch {
            throw .invalidFile("\(error)")
        }
        guard file.normalizer == nil else { throw .unsupported("normalizer \(file.normalizer!.type)") }
        guard let preConfig = file.pre_tokenizer else { throw .unsupported("no pre_tokenizer (byte-level BPE needs ByteLevel)") }
        let preTokenizer = try preConfig.preTokenizer()
        if let decoder = file.decoder, decoder.type != "ByteLevel" { throw .unsupported("decoder \(decoder.type)") }

        let model = file.model
        guard model.type == nil || model.type == "BPE" else { throw .unsupported("model \(model.type!)") }
        guard model.dropout == nil || model.dropout == 0 else { throw .unsupported("BPE dropout") }
        guard (model.continuing_subword_prefix ?? "").isEmpty, (model.end_of_word_suffix ?? "").isEmpty else {
            throw .unsupported("continuing_subword_prefix / end_of_word_suffix")
        }
        guard model.byte_fallback != true else { throw .unsupported("byte_fallback") }

        var tokens = [String](repeating: "", count: (model.vocab.values.max() ?? -1) + 1)
        for (token, id) in model.vocab {
            guard id >= 0 else { throw .invalidVocabulary("negative id \(id) for \(token)") }
            tokens[id] = token
        }
        let added = file.added_tokens.map {
            AddedToken(id: $0.id, content: $0.content, special: $0.special ?? false,
                       lstrip: $0.lstrip ?? false, rstrip: $0.rstrip ?? false, normalized: $0.normalized ?? false)
        }
        if file.added_tokens.contains(where: { $0.single_word == true }) { throw .unsupported("added token with single_word") }
        func id(of content: String) -> Int? {
            added.first(where: { $0.content == content })?.id ?? model.vocab[content]
        }
        let unknown: Int?
        if let unk = model.unk_token {
            guard let unkId = id(of: unk) else { throw .invalidVocabulary("unk_token \(unk) is not in the vocabulary") }
            unknown = unkId
        } else {
            unknown = nil
        }
        let post = try file.post_processor?.postProcessor() ?? PostProcessor()
        func lookUp(_ name: String?) throws(TokenizerError) -> Int? {
            guard let name else { return nil }
            guard let id = id(of: name) else { throw .invalidVocabulary("\(name) is not in the vocabulary") }
            return id
        }
        try self.init(tokens: tokens, merges: model.merges.pairs, addedTokens: added, preTokenizer: preTokenizer,
                      postProcessor: post, bosTokenId: try lookUp(bosToken) ?? post.prefix.first,
                      eosTokenId: try lookUp(eosToken), unknownTokenId: unknown,
                      fuseUnknown: model.fuse_unk ?? false, ignoreMerges: model.ignore_merges ?? false)
    }

    /// A tokenizer from a `tokenizer.json` file.
    public convenience init(tokenizerJSONAt url: URL, bosToken: String? = nil, eosToken: String? = nil) throws {
        try self.init(tokenizerJSON: try Data(contentsOf: url), bosToken: bosToken, eosToken: eosToken)
    }
}

// MARK: - The file's shape (only what byte-level BPE needs)

/// One entry of a `tokenizer.json`'s `added_tokens` (any model type). Property names follow
/// the file's keys.
struct TokenizerFileAddedToken: Decodable {
    var id: Int
    var content: String
    var special: Bool?
    var lstrip: Bool?
    var rstrip: Bool?
    var normalized: Bool?
    var single_word: Bool?
}

/// A `tokenizer.json` component named only by its `type`.
struct TokenizerFileComponent: Decodable {
    var type: String
}

// Property names follow the file's keys.
private struct TokenizerFile: Decodable {
    typealias Added = TokenizerFileAddedToken
    typealias Typed = TokenizerFileComponent

    struct Model: Decodable {
        var type: String?
        var dropout: Double?
        var unk_token: String?
        var continuing_subword_prefix: String?
        var end_of_word_suffix: String?
        var fuse_unk: Bool?
        var byte_fallback: Bool?
        var ignore_merges: Bool?
        var vocab: [String: Int]
        var merges: Merges
    }

    /// Merges as `["a b", ...]` (older files) or `[["a", "b"], ...]` (newer files).
    struct Merges: Decodable {
        var pairs: [(String, String)]

        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let lists = try? container.decode([[String]].self) {
                pairs = try lists.map { list in
                    guard list.count == 2 else {
                        throw DecodingError.dataCorruptedError(in: container, debugDescription: "merge \(list) is not a pair")
                    }
                    return (list[0], list[1])
                }
            } else {
                pairs = try container.decode([String].self).map { line in
                    let parts = line.split(separator: " ", omittingEmptySubsequences: false)
                    guard parts.count == 2 else {
                        throw DecodingError.dataCorruptedError(in: container, debugDescription: "merge '\(line)' is not a pair")
                    }
                    return (String(parts[0]), String(parts[1]))
                }
            }
        }
    }

    var added_tokens: [Added]
    var normalizer: Typed?
    var pre_tokenizer: PreTokenizerConfig?
    var post_processor: PostProcessorConfig?
    var decoder: Typed?
    var model: Model
}

private struct PreTokenizerConfig: Decodable {
    struct Pattern: Decodable {
        var regex: String?
        var string: String?
        enum CodingKeys: String, CodingKey {
            case regex = "Regex", string = "String"
        }
    }

    var type: String
    var pretokenizers: [PreTokenizerConfig]?
    var individual_digits: Bool?
    var add_prefix_space: Bool?
    var use_regex: Bool?
    var pattern: Pattern?
    var behavior: String?
    var invert: Bool?

    func preTokenizer() throws(TokenizerError) -> PreTokenizer {
        switch type {
        case "Sequence":
            var stages: [PreTokenizer] = []
            for stage in pretokenizers ?? [] { stages.append(try stage.preTokenizer()) }
            return .sequence(stages)
        case "Digits":
            return .digits(individual: individual_digits ?? false)
        case "ByteLevel":
            return .byteLevel(addPrefixSpace: add_prefix_space ?? true, useRegex: use_regex ?? true)
        case "Split":
            guard behavior == "Isolated", invert != true else {
                throw .unsupported("Split with behavior \(behavior ?? "?"), invert \(invert ?? false)")
            }
            guard let regex = pattern?.regex, let known = SplitPattern(regex: regex) else {
                throw .unsupported("Split pattern \(pattern?.regex ?? pattern?.string ?? "?") (known: GPT-2, LLaMA-3)")
            }
            return .split(known)
        default:
            throw .unsupported("pre_tokenizer \(type)")
        }
    }
}

/// A `tokenizer.json` `post_processor`: what `encode` adds around the tokens (BPE and WordPiece
/// files alike).
struct PostProcessorConfig: Decodable {
    struct Item: Decodable {
        struct Piece: Decodable { var id: String }
        var specialToken: Piece?
        var sequence: Piece?
        enum CodingKeys: String, CodingKey {
            case specialToken = "SpecialToken", sequence = "Sequence"
        }
    }

    struct SpecialTokenIds: Decodable {
        var ids: [Int]
    }

    /// `BertProcessing`'s `["[CLS]", 101]`.
    struct NamedId: Decodable {
        var id: Int
        init(from decoder: any Decoder) throws {
            var container = try decoder.unkeyedContainer()
            _ = try container.decode(String.self)
            id = try container.decode(Int.self)
        }
    }

    var type: String
    var processors: [PostProcessorConfig]?
    var single: [Item]?
    var special_tokens: [String: SpecialTokenIds]?
    var cls: NamedId?
    var sep: NamedId?

    func postProcessor() throws(TokenizerError) -> PostProcessor {
        switch type {
        case "ByteLevel":
            return PostProcessor()
        case "BertProcessing":
            guard let cls, let sep else { throw .invalidFile("BertProcessing without cls and sep") }
            return PostProcessor(prefix: [cls.id], suffix: [sep.id])
        case "Sequence":
            var combined = PostProcessor()
            for processor in processors ?? [] {
                let next = try processor.postProcessor()
                combined.prefix += next.prefix
                combined.suffix += next.suffix
            }
            return combined
        case "TemplateProcessing":
            var result = PostProcessor()
            var seenSequence = false
            for item in single ?? [] {
                if item.sequence != nil {
                    seenSequence = true
                } else if let special = item.specialToken {
                    guard let ids = special_tokens?[special.id]?.ids else {
                        throw .invalidFile("TemplateProcessing names \(special.id) without ids")
                    }
                    if seenSequence { result.suffix += ids } else { result.prefix += ids }
                }
            }
            return result
        default:
            throw .unsupported("post_processor \(type)")
        }
    }
}
