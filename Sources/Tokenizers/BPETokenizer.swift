/// A byte-level BPE tokenizer (GPT-2 family: SmolLM2, LLaMA-3, Qwen, StarCoder, ...).
///
/// The pipeline, one stage per file: ``AddedToken``s are taken out of the raw text, the
/// ``PreTokenizer`` cuts the rest into pieces, ``BPEModel`` merges each piece's bytes
/// (``ByteEncoder`` names them) into tokens, and the ``PostProcessor`` adds BOS/EOS. Decoding
/// maps tokens back to their bytes.
///
/// Build one from plain arrays (below), from a Hugging Face `tokenizer.json`
/// (``init(tokenizerJSON:bosToken:eosToken:)``) or from a GGUF file's metadata.
/// Instances are immutable and safe to share between tasks; the word cache is internally locked.
public final class BPETokenizer: Tokenizer {
    private let model: BPEModel
    /// Added tokens matched in the raw text (`normalized: false`), then those matched after
    /// normalization (there is no normalizer, so only the order differs).
    private let rawMatcher: AddedTokenMatcher
    private let normalizedMatcher: AddedTokenMatcher
    public let preTokenizer: PreTokenizer
    public let postProcessor: PostProcessor
    public let addedTokens: [AddedToken]
    public let bosTokenId: Int?
    public let eosTokenId: Int?
    public let vocabularySize: Int
    private let specialIds: Set<Int>
    private let addedContent: [Int: String]
    /// Every token's bytes, back to back, and where each starts (`count + 1` offsets).
    private let decodedBytes: [UInt8]
    private let decodedOffsets: [Int32]

    /// A tokenizer from its parts.
    ///
    /// - Parameters:
    ///   - tokens: byte-level vocabulary strings, the index is the id (added tokens may be in it).
    ///   - merges: merge pairs, highest priority first.
    ///   - addedTokens: tokens matched in raw text before pre-tokenization; ids may lie beyond `tokens`.
    ///   - preTokenizer: must contain a byte-level stage (``PreTokenizer/byteLevel(addPrefixSpace:useRegex:)``).
    ///   - unknownTokenId: emitted for bytes whose symbol the vocabulary lacks (else they are dropped).
    ///   - ignoreMerges: take a piece's whole token when the vocabulary has it (LLaMA-3).
    public init(tokens: [String], merges: [(String, String)], addedTokens: [AddedToken] = [],
                preTokenizer: PreTokenizer, postProcessor: PostProcessor = .none,
                bosTokenId: Int? = nil, eosTokenId: Int? = nil, unknownTokenId: Int? = nil,
                fuseUnknown: Bool = false, ignoreMerges: Bool = false) throws(TokenizerError) {
        guard preTokenizer.hasByteLevelStage else {
            throw .unsupported("a byte-level BPE needs a ByteLevel pre-tokenizer stage")
        }
        model = try BPEModel(tokens: tokens, merges: merges, unknownTokenId: unknownTokenId,
                             fuseUnknown: fuseUnknown, ignoreMerges: ignoreMerges)
        self.preTokenizer = preTokenizer
        self.postProcessor = postProcessor
        self.addedTokens = addedTokens
        rawMatcher = AddedTokenMatcher(addedTokens.filter { !$0.normalized })
        normalizedMatcher = AddedTokenMatcher(addedTokens.filter { $0.normalized })
        let size = max(tokens.count, (addedTokens.map(\.id).max() ?? -1) + 1)
        vocabularySize = size
        for id in [bosTokenId, eosTokenId, unknownTokenId].compactMap({ $0 }) + postProcessor.prefix + postProcessor.suffix
        where !(0..<size).contains(id) {
            throw .invalidVocabulary("token id \(id) is outside the vocabulary of \(size)")
        }
        self.bosTokenId = bosTokenId
        self.eosTokenId = eosTokenId
        specialIds = Set(addedTokens.filter(\.special).map(\.id))
        addedContent = Dictionary(addedTokens.map { ($0.id, $0.content) }, uniquingKeysWith: { first, _ in first })

        var bytes: [UInt8] = []
        var offsets: [Int32] = [0]
        offsets.reserveCapacity(size + 1)
        for id in 0..<size {
            if let content = addedContent[id] {
                bytes += content.utf8
            } else if id < tokens.count {
                // A token with a scalar outside the byte map decodes to its own UTF-8 (as Hugging Face does).
                bytes += ByteEncoder.decode(tokens[id]) ?? Array(tokens[id].utf8)
            }
            offsets.append(Int32(bytes.count))
        }
        decodedBytes = bytes
        decodedOffsets = offsets
    }

    /// A tokenizer from a GGUF-style vocabulary: token types decide the added tokens
    /// (``TokenType/control`` ones are special, ``TokenType/userDefined`` ones are not).
    ///
    /// - Parameter merges: `"left right"` strings, as GGUF stores them.
    public convenience init(tokens: [String], tokenTypes: [TokenType], merges: [String], preTokenizer: PreTokenizer,
                            bosTokenId: Int?, eosTokenId: Int?, unknownTokenId: Int? = nil,
                            addBOS: Bool = false, addEOS: Bool = false) throws(TokenizerError) {
        guard tokenTypes.count == tokens.count else {
            throw .invalidVocabulary("\(tokens.count) tokens but \(tokenTypes.count) token types")
        }
        var pairs: [(String, String)] = []
        pairs.reserveCapacity(merges.count)
        for (rank, merge) in merges.enumerated() {
            // Split at the first space after the first character (a side is never empty).
            let scalars = merge.unicodeScalars
            guard let first = scalars.indices.dropFirst().first(where: { scalars[$0] == " " }) else {
                throw .invalidMerge(rank: rank, merge, "expected two tokens separated by a space")
            }
            pairs.append((String(scalars[..<first]), String(scalars[scalars.index(after: first)...])))
        }
        var added: [AddedToken] = []
        for (id, type) in tokenTypes.enumerated() where type == .control || type == .userDefined {
            added.append(AddedToken(id: id, content: tokens[id], special: type == .control))
        }
        var post = PostProcessor()
        if addBOS, let bos = bosTokenId { post.prefix = [bos] }
        if addEOS, let eos = eosTokenId { post.suffix = [eos] }
        try self.init(tokens: tokens, merges: pairs, addedTokens: added, preTokenizer: preTokenizer, postProcessor: post,
                      bosTokenId: bosTokenId, eosTokenId: eosTokenId, unknownTokenId: unknownTokenId)
    }

    // MARK: Encoding

    public func encode(_ text: String, addSpecialTokens: Bool, parseSpecialTokens: Bool) -> [Int] {
        let bytes = Array(text.utf8)
        var segments: [TextSegment] = bytes.isEmpty ? [] : [.text(0..<bytes.count)]
        segments = rawMatcher.split(bytes, segments, parseSpecial: parseSpecialTokens)
        segments = normalizedMatcher.split(bytes, segments, parseSpecial: parseSpecialTokens)
        var ids: [Int] = []
        ids.reserveCapacity(bytes.count / 3 + 4)
        var pieceBytes: [UInt8] = []
        for segment in segments {
            switch segment {
            case .token(let id):
                ids.append(id)
            case .text(let range):
                var text = ScalarText(String(decoding: bytes[range], as: UTF8.self).unicodeScalars)
                for piece in preTokenizer.apply(to: &text, pieces: [0..<text.count]) {
                    pieceBytes.removeAll(keepingCapacity: true)
                    for scalar in text.scalars[piece] { pieceBytes.append(contentsOf: UTF8.encode(scalar)!) }
                    model.encode(pieceBytes[...], into: &ids)
                }
            }
        }
        return addSpecialTokens ? postProcessor.apply(ids) : ids
    }

    // MARK: Decoding

    public func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 4)
        for id in ids where !(skipSpecialTokens && specialIds.contains(id)) { appendBytes(of: id, to: &bytes) }
        return String(decoding: bytes, as: UTF8.self)
    }

    public func bytes(forToken id: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        appendBytes(of: id, to: &bytes)
        return bytes
    }

    private func appendBytes(of id: Int, to bytes: inout [UInt8]) {
        guard id >= 0, id < vocabularySize else { return }
        bytes += decodedBytes[Int(decodedOffsets[id])..<Int(decodedOffsets[id + 1])]
    }

    // MARK: Vocabulary

    public func tokenToId(_ token: String) -> Int? {
        model.tokenIds[token] ?? addedTokens.first(where: { $0.content == token })?.id
    }

    public func idToToken(_ id: Int) -> String? {
        if let content = addedContent[id] { return content }
        return id >= 0 && id < model.tokens.count ? model.tokens[id] : nil
    }

    public func isSpecialToken(_ id: Int) -> Bool { specialIds.contains(id) }

    public var prefixTokenIds: [Int] { postProcessor.prefix }
    public var suffixTokenIds: [Int] { postProcessor.suffix }
}

/// GGUF's token types (`tokenizer.ggml.token_type`), in its numbering.
public enum TokenType: Int32, Sendable, Hashable {
    case undefined = 0, normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
}
