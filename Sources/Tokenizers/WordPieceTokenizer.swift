import Foundation
import ModelFormats

/// A WordPiece tokenizer (BERT family: MiniLM, sentence-transformers encoders).
///
/// The pipeline, one stage per file: ``AddedToken``s such as `[CLS]` are taken out of the raw
/// text, the ``BertNormalizer`` cleans, lowercases and strips accents from the rest,
/// ``BertPreTokenizer`` cuts it into words at whitespace and punctuation, `WordPieceModel` splits
/// each word into vocabulary entries (`playing` → `play ##ing`), and the ``PostProcessor`` wraps
/// the sequence in `[CLS] … [SEP]`. It gives the same ids as Hugging Face `tokenizers`.
///
/// Build one from a Hugging Face `tokenizer.json` (``init(tokenizerJSON:)``) or from its parts.
/// Instances are immutable and safe to share between tasks.
public final class WordPieceTokenizer: Tokenizer {
    private let model: WordPieceModel
    public let normalizer: BertNormalizer?
    public let postProcessor: PostProcessor
    public let addedTokens: [AddedToken]
    /// Added tokens matched in the raw text (`normalized: false`, BERT's special tokens), then
    /// those matched in the normalized text.
    private let rawMatcher: AddedTokenMatcher
    private let normalizedMatcher: AddedTokenMatcher
    public let vocabularySize: Int
    /// The id used to pad a batch (`[PAD]`, 0 in BERT vocabularies).
    public let paddingTokenId: Int
    private let specialIds: Set<Int>
    private let addedContent: [Int: String]

    /// A tokenizer from its parts.
    ///
    /// - Parameters:
    ///   - tokens: vocabulary entries, the index is the id; continuation pieces carry `continuationPrefix`.
    ///   - unknownTokenId: the id of `[UNK]`, for words the vocabulary cannot spell.
    ///   - maxInputCharactersPerWord: longer words (in Unicode scalars) become `[UNK]` whole.
    ///   - normalizer: `nil` leaves the text as it is.
    ///   - addedTokens: tokens matched in the text before the rest is tokenized; ids may lie beyond `tokens`.
    public init(tokens: [String], unknownTokenId: Int, continuationPrefix: String = "##", maxInputCharactersPerWord: Int = 100,
                normalizer: BertNormalizer? = BertNormalizer(), addedTokens: [AddedToken] = [],
                postProcessor: PostProcessor = .none, paddingTokenId: Int = 0) throws(TokenizerError) {
        let size = max(tokens.count, (addedTokens.map(\.id).max() ?? -1) + 1)
        for id in [unknownTokenId, paddingTokenId] + postProcessor.prefix + postProcessor.suffix where !(0..<size).contains(id) {
            throw .invalidVocabulary("token id \(id) is outside the vocabulary of \(size)")
        }
        guard !continuationPrefix.isEmpty else { throw .unsupported("an empty continuing_subword_prefix") }
        model = WordPieceModel(tokens: tokens, unknownTokenId: unknownTokenId, continuationPrefix: continuationPrefix,
                               maxInputCharactersPerWord: maxInputCharactersPerWord)
        self.normalizer = normalizer
        self.postProcessor = postProcessor
        self.addedTokens = addedTokens
        rawMatcher = AddedTokenMatcher(addedTokens.filter { !$0.normalized })
        normalizedMatcher = AddedTokenMatcher(addedTokens.filter { $0.normalized })
        vocabularySize = size
        self.paddingTokenId = paddingTokenId
        specialIds = Set(addedTokens.filter(\.special).map(\.id))
        addedContent = Dictionary(addedTokens.map { ($0.id, $0.content) }, uniquingKeysWith: { first, _ in first })
    }

    // MARK: Encoding

    public func encode(_ text: String, addSpecialTokens: Bool, parseSpecialTokens: Bool) -> [Int] {
        let bytes = Array(text.utf8)
        var segments: [TextSegment] = bytes.isEmpty ? [] : [.text(0..<bytes.count)]
        segments = rawMatcher.split(bytes, segments, parseSpecial: parseSpecialTokens)
        var ids: [Int] = []
        ids.reserveCapacity(bytes.count / 4 + 4)
        for segment in segments {
            switch segment {
            case .token(let id):
                ids.append(id)
            case .text(let range):
                let raw = String(decoding: bytes[range], as: UTF8.self)
                let normalized = normalizer?.normalize(raw) ?? Array(raw.unicodeScalars)
                if normalizedMatcher.isEmpty {
                    encodeWords(normalized, into: &ids)
                    continue
                }
                var view = String.UnicodeScalarView()
                view.append(contentsOf: normalized)
                let normalizedBytes = Array(String(view).utf8)
                for piece in normalizedMatcher.split(normalizedBytes, [.text(0..<normalizedBytes.count)], parseSpecial: parseSpecialTokens) {
                    switch piece {
                    case .token(let id): ids.append(id)
                    case .text(let range):
                        encodeWords(Array(String(decoding: normalizedBytes[range], as: UTF8.self).unicodeScalars), into: &ids)
                    }
                }
            }
        }
        return addSpecialTokens ? postProcessor.apply(ids) : ids
    }

    /// The token ids of `text` cut to at most `maxLength` ids, special tokens included: the text's
    /// own tokens are truncated at the end to leave room for `[CLS]` and `[SEP]`, which are kept
    /// (Hugging Face's truncation of a single sequence).
    public func encode(_ text: String, truncatingTo maxLength: Int) -> [Int] {
        let room = max(0, maxLength - postProcessor.prefix.count - postProcessor.suffix.count)
        return postProcessor.prefix + encode(text, addSpecialTokens: false).prefix(room) + postProcessor.suffix
    }

    private func encodeWords(_ scalars: [Unicode.Scalar], into ids: inout [Int]) {
        for word in BertPreTokenizer.words(scalars) { model.encode(scalars[word], into: &ids) }
    }

    // MARK: Decoding

    /// Hugging Face's `WordPiece` decoder: tokens joined with spaces, continuation pieces glued
    /// to the one before, and its "cleanup" (`hello .` → `hello.`, `don ' t` → `don't`).
    public func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String {
        var text = ""
        var first = true
        for id in ids where id >= 0 && id < vocabularySize && !(skipSpecialTokens && specialIds.contains(id)) {
            text += piece(of: id, atTextStart: first)
            first = false
        }
        return text
    }

    public func bytes(forToken id: Int) -> [UInt8] { bytes(forToken: id, atTextStart: false) }

    /// A token's text as the decoder writes it: with a space before it unless it continues a
    /// word or starts the text.
    public func bytes(forToken id: Int, atTextStart: Bool) -> [UInt8] {
        guard id >= 0, id < vocabularySize else { return [] }
        return Array(piece(of: id, atTextStart: atTextStart).utf8)
    }

    private func piece(of id: Int, atTextStart: Bool) -> String {
        guard let token = idToToken(id) else { return "" }
        let prefix = String(decoding: model.continuationPrefix, as: UTF8.self)
        var piece: String
        if atTextStart {
            piece = token
        } else if token.utf8.starts(with: model.continuationPrefix) {
            piece = String(token.dropFirst(prefix.count))
        } else {
            piece = " " + token
        }
        for (dirty, clean) in Self.cleanup { piece = piece.replacingOccurrences(of: dirty, with: clean) }
        return piece
    }

    /// The reference decoder's replacements, in its order.
    private static let cleanup = [(" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
                                  (" 'm", "'m"), (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")]

    // MARK: Vocabulary

    public func tokenToId(_ token: String) -> Int? {
        model.tokenIds[Array(token.utf8)] ?? addedTokens.first(where: { $0.content == token })?.id
    }

    public func idToToken(_ id: Int) -> String? {
        if let content = addedContent[id] { return content }
        return id >= 0 && id < model.tokens.count ? model.tokens[id] : nil
    }

    public func isSpecialToken(_ id: Int) -> Bool { specialIds.contains(id) }

    /// `[CLS]`, which BERT puts first.
    public var bosTokenId: Int? { postProcessor.prefix.first }
    /// `[SEP]`, which BERT puts last.
    public var eosTokenId: Int? { postProcessor.suffix.last }
    public var prefixTokenIds: [Int] { postProcessor.prefix }
    public var suffixTokenIds: [Int] { postProcessor.suffix }
}

// MARK: - tokenizer.json

extension WordPieceTokenizer {
    /// A tokenizer from a Hugging Face `tokenizer.json` holding a WordPiece model.
    ///
    /// Supported: the `BertNormalizer` (or none), the `BertPreTokenizer`, a `WordPiece` model,
    /// added tokens with `lstrip`/`rstrip`, post-processors `TemplateProcessing` (single
    /// sequence) and `BertProcessing`, the `WordPiece` decoder. Anything else throws
    /// ``TokenizerError/unsupported(_:)`` naming it, rather than tokenizing differently. The
    /// file's own `truncation` and `padding` are not applied: callers choose per call.
    public convenience init(tokenizerJSON data: Data) throws(TokenizerError) {
        let file: WordPieceFile
        do {
            file = try JSONDecoder().decode(WordPieceFile.self, from: data)
        } catch {
            throw .invalidFile("\(error)")
        }
        guard file.model.type == "WordPiece" else { throw .unsupported("model \(file.model.type ?? "?") (expected WordPiece)") }
        if let type = file.pre_tokenizer?.type, type != "BertPreTokenizer" { throw .unsupported("pre_tokenizer \(type)") }
        if let type = file.decoder?.type, type != "WordPiece" { throw .unsupported("decoder \(type)") }
        var normalizer: BertNormalizer?
        if let n = file.normalizer {
            guard n.type == "BertNormalizer" else { throw .unsupported("normalizer \(n.type)") }
            normalizer = BertNormalizer(cleanText: n.clean_text ?? true, handleChineseCharacters: n.handle_chinese_chars ?? true,
                                        stripAccents: n.strip_accents, lowercase: n.lowercase ?? true)
        }
        if file.added_tokens.contains(where: { $0.single_word == true }) { throw .unsupported("added token with single_word") }

        let vocabulary = try Self.vocabulary(in: data)
        var tokens = [String](repeating: "", count: (vocabulary.map(\.id).max() ?? -1) + 1)
        for (token, id) in vocabulary {
            guard id >= 0, id < 10_000_000 else { throw .invalidVocabulary("id \(id) for \(token)") }
            tokens[id] = token
        }
        let added = file.added_tokens.map {
            AddedToken(id: $0.id, content: $0.content, special: $0.special ?? false,
                       lstrip: $0.lstrip ?? false, rstrip: $0.rstrip ?? false, normalized: $0.normalized ?? false)
        }
        func id(of content: String) throws(TokenizerError) -> Int {
            if let id = added.first(where: { $0.content == content })?.id { return id }
            if let id = vocabulary.first(where: { $0.token.utf8.elementsEqual(content.utf8) })?.id { return id }
            throw .invalidVocabulary("\(content) is not in the vocabulary")
        }
        let unknown = try id(of: file.model.unk_token ?? "[UNK]")
        let padding = (try? id(of: file.padding?.pad_token ?? "[PAD]")) ?? 0
        let post = try file.post_processor?.postProcessor() ?? PostProcessor()
        try self.init(tokens: tokens, unknownTokenId: unknown, continuationPrefix: file.model.continuing_subword_prefix ?? "##",
                      maxInputCharactersPerWord: file.model.max_input_chars_per_word ?? 100, normalizer: normalizer,
                      addedTokens: added, postProcessor: post, paddingTokenId: padding)
    }

    /// A tokenizer from a `tokenizer.json` file.
    public convenience init(tokenizerJSONAt url: URL) throws {
        try self.init(tokenizerJSON: try Data(contentsOf: url))
    }

    /// `model.vocab`'s entries, read with the project's JSON parser: `JSONDecoder` would key them
    /// by `String`, merging canonically equivalent entries (`é` and `e` + U+0301) that the
    /// reference keeps apart.
    private static func vocabulary(in data: Data) throws(TokenizerError) -> [(token: String, id: Int)] {
        let tree: JSONTree
        do {
            tree = try data.withUnsafeBytes { bytes throws(JSONSyntaxError) in try JSONParser.parse(bytes) }
        } catch {
            throw .invalidFile("\(error)")
        }
        func member(_ key: String, of tree: JSONTree) -> JSONTree? {
            guard case .object(let members) = tree else { return nil }
            return members.first(where: { $0.key == key })?.value
        }
        guard let vocab = member("model", of: tree).flatMap({ member("vocab", of: $0) }), case .object(let entries) = vocab else {
            throw .invalidFile("model.vocab is not an object of token ids")
        }
        var result: [(token: String, id: Int)] = []
        result.reserveCapacity(entries.count)
        for (token, value) in entries {
            guard case .number(let text) = value, let id = Int(text) else {
                throw .invalidVocabulary("the id of \(token.debugDescription) is not an integer")
            }
            result.append((token, id))
        }
        return result
    }
}

// Property names follow the file's keys.
private struct WordPieceFile: Decodable {
    typealias Added = TokenizerFileAddedToken
    typealias Typed = TokenizerFileComponent

    struct Normalizer: Decodable {
        var type: String
        var clean_text: Bool?
        var handle_chinese_chars: Bool?
        var strip_accents: Bool?
        var lowercase: Bool?
    }

    struct Model: Decodable {
        var type: String?
        var unk_token: String?
        var continuing_subword_prefix: String?
        var max_input_chars_per_word: Int?
    }

    struct Padding: Decodable {
        var pad_token: String?
    }

    var added_tokens: [Added]
    var normalizer: Normalizer?
    var pre_tokenizer: Typed?
    var post_processor: PostProcessorConfig?
    var decoder: Typed?
    var padding: Padding?
    var model: Model
}
