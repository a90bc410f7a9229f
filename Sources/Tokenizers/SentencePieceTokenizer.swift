import Foundation

/// A SentencePiece BPE tokenizer, as LLaMA-1/2, Vicuna and LLaVA-1.5 use it.
///
/// Encoding follows `sentencepiece` itself: the control tokens written in the text (`<s>`,
/// `</s>`, `<unk>`) are taken out first (as Hugging Face's legacy `LlamaTokenizer` does; off
/// with `parseSpecialTokens: false`), then each remaining stretch of text is normalized (a `▁`
/// put before it, the dummy prefix, and every space replaced by `▁`) and split into characters,
/// user-defined pieces kept whole. Adjacent symbols are merged while the vocabulary holds their
/// concatenation, the pair whose merged piece scores highest first (the leftmost among equals).
/// A symbol left without a piece becomes the `<0xXX>` pieces of its UTF-8 bytes (byte fallback)
/// or `<unk>`. `addSpecialTokens` puts BOS before the text (and EOS after it where configured).
///
/// Decoding turns `▁` back into spaces, byte pieces into their bytes, and drops the dummy
/// prefix's space from the first text token (control tokens before it do not count).
///
/// Build one from a SentencePiece `tokenizer.model` (``init(model:)``), from a GGUF file whose
/// `tokenizer.ggml.model` is `llama` (see `GGUFTokenizer.swift`), or from its parts.
public final class SentencePieceTokenizer: Tokenizer {
    /// The vocabulary, indexed by id, as stored (`▁` for a space, `<0x0A>` for a byte).
    public let pieces: [String]
    /// Each piece's score: merges that make higher-scoring pieces go first.
    public let scores: [Float]
    /// Each piece's type; control and unknown pieces are the special tokens.
    public let types: [TokenType]
    public let bosTokenId: Int?
    public let eosTokenId: Int?
    /// The `<unk>` piece: what a character without a piece becomes when there is no byte fallback.
    public let unknownTokenId: Int
    /// A `▁` is put before each stretch of text (`add_dummy_prefix` / `add_space_prefix`).
    public let addDummyPrefix: Bool
    /// Characters without a piece become byte pieces rather than `<unk>`.
    public let byteFallback: Bool
    public let prefixTokenIds: [Int]
    public let suffixTokenIds: [Int]

    /// Every piece's id by its UTF-8 bytes (`String` equality would merge canonically equivalent pieces).
    private let pieceIds: [ArraySlice<UInt8>: Int32]
    /// The pieces that merging may produce: normal and user-defined ones.
    private let mergeable: [ArraySlice<UInt8>: Int32]
    /// The id of each byte's `<0xXX>` piece (empty without byte fallback).
    private let byteTokens: [Int32]
    /// User-defined pieces: matched in the normalized text, never merged further.
    private let userDefined: AddedTokenMatcher
    /// Control and unknown pieces: matched in the raw text when special tokens are parsed.
    private let specialMatcher: AddedTokenMatcher
    private let specialIds: Set<Int>
    /// Every token's decoded bytes, back to back, and where each starts (`count + 1` offsets).
    private let decodedBytes: [UInt8]
    private let decodedOffsets: [Int32]

    /// `▁` (U+2581), SentencePiece's visible space, in UTF-8.
    static let spaceSymbol: [UInt8] = [0xE2, 0x96, 0x81]

    /// A tokenizer from its vocabulary.
    ///
    /// - Parameters:
    ///   - pieces: the vocabulary, the index is the id; types as in GGUF (control pieces are special).
    ///   - unknownTokenId: the `<unk>` piece (nil: the piece of type ``TokenType/unknown``).
    ///   - addBOS, addEOS: what `encode(_:addSpecialTokens: true)` puts around the text.
    ///   - byteFallback: requires the 256 byte pieces `<0x00>`...`<0xFF>`.
    public init(pieces: [SentencePieceModel.Piece], bosTokenId: Int?, eosTokenId: Int?, unknownTokenId: Int? = nil,
                addBOS: Bool = true, addEOS: Bool = false, addDummyPrefix: Bool = true,
                byteFallback: Bool) throws(TokenizerError) {
        let count = pieces.count
        guard let unknown = unknownTokenId ?? pieces.firstIndex(where: { $0.type == .unknown }) else {
            throw .invalidVocabulary("no unknown piece: give unknownTokenId or a piece of type unknown (2)")
        }
        for (name, id) in [("bos", bosTokenId), ("eos", eosTokenId), ("unknown", unknown)] {
            if let id, !(0..<count).contains(id) {
                throw .invalidVocabulary("\(name) token id \(id) is outside the vocabulary of \(count)")
            }
        }
        if addBOS && bosTokenId == nil { throw .invalidVocabulary("add BOS is set but there is no BOS token") }
        if addEOS && eosTokenId == nil { throw .invalidVocabulary("add EOS is set but there is no EOS token") }

        var ids: [ArraySlice<UInt8>: Int32] = [:]
        var mergeable: [ArraySlice<UInt8>: Int32] = [:]
        var userDefined: [AddedToken] = []
        var specials: [AddedToken] = []
        for (id, piece) in pieces.enumerated() {
            let bytes = Array(piece.piece.utf8)[...]
            guard !bytes.isEmpty else { throw .invalidVocabulary("piece \(id) is empty") }
            if let first = ids.updateValue(Int32(id), forKey: bytes) {
                throw .invalidVocabulary("piece '\(piece.piece)' appears twice (ids \(first) and \(id))")
            }
            switch piece.type {
            case .normal: mergeable[bytes] = Int32(id)
            case .userDefined:
                mergeable[bytes] = Int32(id)
                userDefined.append(AddedToken(id: id, content: piece.piece, special: false))
            case .control, .unknown: specials.append(AddedToken(id: id, content: piece.piece, special: true))
            case .byte, .unused, .undefined: break
            }
        }

        var byteTokens: [Int32] = []
        if byteFallback {
            for byte in 0...255 {
                let name = Self.bytePieceName(UInt8(byte))
                guard let id = ids[Array(name.utf8)[...]], pieces[Int(id)].type == .byte else {
                    throw .invalidVocabulary("byte fallback needs the byte piece \(name) (of type byte, 6)")
                }
                byteTokens.append(id)
            }
        }

        self.pieces = pieces.map(\.piece)
        scores = pieces.map(\.score)
        types = pieces.map(\.type)
        self.bosTokenId = bosTokenId
        self.eosTokenId = eosTokenId
        self.unknownTokenId = unknown
        self.addDummyPrefix = addDummyPrefix
        self.byteFallback = byteFallback
        prefixTokenIds = addBOS ? [bosTokenId!] : []
        suffixTokenIds = addEOS ? [eosTokenId!] : []
        pieceIds = ids
        self.mergeable = mergeable
        self.byteTokens = byteTokens
        self.userDefined = AddedTokenMatcher(userDefined)
        specialMatcher = AddedTokenMatcher(specials)
        specialIds = Set(specials.map(\.id))

        var decoded: [UInt8] = []
        var offsets: [Int32] = [0]
        offsets.reserveCapacity(count + 1)
        for (id, piece) in pieces.enumerated() {
            if piece.type == .byte, let byte = Self.byte(ofPieceName: piece.piece) {
                decoded.append(byte)
            } else if specialIds.contains(id) {
                decoded += piece.piece.utf8
            } else {
                for scalar in piece.piece.unicodeScalars {
                    if scalar == "\u{2581}" { decoded.append(0x20) } else { decoded += UTF8.encode(scalar)! }
                }
            }
            offsets.append(Int32(decoded.count))
        }
        decodedBytes = decoded
        decodedOffsets = offsets
    }

    /// The tokenizer of a SentencePiece model (`tokenizer.model`). Only BPE models with the
    /// identity normalizer are supported (LLaMA's); BOS is added, EOS is not, as LLaMA does.
    public convenience init(model: SentencePieceModel) throws(TokenizerError) {
        guard model.modelType == .bpe else {
            throw .unsupported("SentencePiece model type \(model.modelType) (only BPE, 2)")
        }
        guard model.precompiledCharsmapCount == 0 else {
            throw .unsupported("SentencePiece normalization rules '\(model.normalizerName)' (only the identity normalizer)")
        }
        guard !model.removeExtraWhitespaces else {
            throw .unsupported("normalizer_spec.remove_extra_whitespaces = true (LLaMA's models have false)")
        }
        guard model.escapeWhitespaces, !model.treatWhitespaceAsSuffix else {
            throw .unsupported("escape_whitespaces = false or treat_whitespace_as_suffix = true")
        }
        func id(_ value: Int) -> Int? { value >= 0 ? value : nil }
        try self.init(pieces: model.pieces, bosTokenId: id(model.bosId), eosTokenId: id(model.eosId),
                      unknownTokenId: id(model.unknownId), addBOS: model.bosId >= 0, addEOS: false,
                      addDummyPrefix: model.addDummyPrefix, byteFallback: model.byteFallback)
    }

    /// The tokenizer of the SentencePiece model file at `url`.
    public convenience init(modelAt url: URL) throws {
        try self.init(model: SentencePieceModel(contentsOf: url))
    }

    static func bytePieceName(_ byte: UInt8) -> String {
        let hex = String(byte, radix: 16, uppercase: true)
        return "<0x" + (hex.count == 1 ? "0" + hex : hex) + ">"
    }

    static func byte(ofPieceName name: String) -> UInt8? {
        let utf8 = Array(name.utf8)
        guard utf8.count == 6, name.hasPrefix("<0x"), name.hasSuffix(">") else { return nil }
        return UInt8(String(decoding: utf8[3..<5], as: UTF8.self), radix: 16)
    }

    // MARK: Encoding

    public func encode(_ text: String, addSpecialTokens: Bool, parseSpecialTokens: Bool) -> [Int] {
        let bytes = Array(text.utf8)
        var segments: [TextSegment] = bytes.isEmpty ? [] : [.text(0..<bytes.count)]
        segments = specialMatcher.split(bytes, segments, parseSpecial: parseSpecialTokens)
        var ids = addSpecialTokens ? prefixTokenIds : []
        ids.reserveCapacity(bytes.count / 3 + 4)
        for segment in segments {
            switch segment {
            case .token(let id): ids.append(id)
            case .text(let range): encodeText(bytes[range], into: &ids)
            }
        }
        return addSpecialTokens ? ids + suffixTokenIds : ids
    }

    /// One symbol of the text being merged: a byte range of the normalized text, linked to its
    /// neighbours; `start < 0` once merged into its left neighbour.
    private struct Symbol {
        var start: Int32, end: Int32, previous: Int32, next: Int32
        var frozen: Bool
    }

    private func encodeText(_ raw: ArraySlice<UInt8>, into ids: inout [Int]) {
        guard !raw.isEmpty else { return }
        var text: [UInt8] = addDummyPrefix ? Self.spaceSymbol : []
        text.reserveCapacity(raw.count + raw.count / 2 + 3)
        for byte in raw {
            if byte == 0x20 { text += Self.spaceSymbol } else { text.append(byte) }
        }

        var symbols: [Symbol] = []
        var position = 0
        while position < text.count {
            let match = userDefined.isEmpty ? nil : userDefined.match(text, at: position, before: text.count)
            let length = match?.length ?? Self.utf8Length(lead: text[position])
            let index = Int32(symbols.count)
            symbols.append(Symbol(start: Int32(position), end: Int32(position + length), previous: index - 1,
                                  next: index + 1, frozen: match != nil))
            position += length
        }
        symbols[symbols.count - 1].next = -1

        // The id of the piece `left` and its right neighbour would merge into, if any.
        func mergedPiece(_ left: Int) -> Int32? {
            let right = Int(symbols[left].next)
            guard right >= 0, !symbols[left].frozen, !symbols[right].frozen else { return nil }
            return mergeable[text[Int(symbols[left].start)..<Int(symbols[right].end)]]
        }
        var queue = MinHeap()
        func enqueue(_ left: Int) {
            if let id = mergedPiece(left) { queue.push(Self.priority(scores[Int(id)]) << 32 | UInt64(left)) }
        }
        for left in symbols.indices.dropLast() { enqueue(left) }
        while let top = queue.pop() {
            let left = Int(top & 0xFFFF_FFFF)
            // An entry is stale once its left symbol is gone or its pair no longer makes that piece.
            guard symbols[left].start >= 0, let id = mergedPiece(left),
                  Self.priority(scores[Int(id)]) == top >> 32 else { continue }
            let right = Int(symbols[left].next)
            symbols[left].end = symbols[right].end
            symbols[left].next = symbols[right].next
            if symbols[right].next >= 0 { symbols[Int(symbols[right].next)].previous = Int32(left) }
            symbols[right].start = -1
            if symbols[left].previous >= 0 { enqueue(Int(symbols[left].previous)) }
            enqueue(left)
        }

        var index = 0
        var previousUnknown = false
        while index >= 0 {
            let piece = text[Int(symbols[index].start)..<Int(symbols[index].end)]
            if let id = pieceIds[piece] {
                ids.append(Int(id))
                previousUnknown = false
            } else if byteFallback {
                ids += piece.map { Int(byteTokens[Int($0)]) }
            } else if !previousUnknown {
                // Without byte fallback, a run of unknown symbols is one `<unk>` (as SentencePiece does).
                ids.append(unknownTokenId)
                previousUnknown = true
            }
            index = Int(symbols[index].next)
        }
    }

    /// A heap key for a piece score: higher scores give smaller keys, so they pop first.
    private static func priority(_ score: Float) -> UInt64 {
        let bits = score.bitPattern
        let ascending = bits & 0x8000_0000 != 0 ? ~bits : bits | 0x8000_0000
        return UInt64(~ascending)
    }

    private static func utf8Length(lead: UInt8) -> Int {
        switch lead {
        case 0..<0xC0: 1
        case 0xC0..<0xE0: 2
        case 0xE0..<0xF0: 3
        default: 4
        }
    }

    // MARK: Decoding

    public func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(ids.count * 4)
        var atTextStart = true
        for id in ids where id >= 0 && id < vocabularySize {
            if specialIds.contains(id) {
                if !skipSpecialTokens { output += bytes(forToken: id) }
                continue
            }
            output += bytes(forToken: id, atTextStart: atTextStart)
            atTextStart = false
        }
        return String(decoding: output, as: UTF8.self)
    }

    public func bytes(forToken id: Int) -> [UInt8] {
        guard id >= 0, id < vocabularySize else { return [] }
        return Array(decodedBytes[Int(decodedOffsets[id])..<Int(decodedOffsets[id + 1])])
    }

    /// Drops the space of the dummy prefix from a first text token that starts with `▁`.
    public func bytes(forToken id: Int, atTextStart: Bool) -> [UInt8] {
        let bytes = bytes(forToken: id)
        guard atTextStart, addDummyPrefix, bytes.first == 0x20, types[id] != .byte, !specialIds.contains(id) else { return bytes }
        return Array(bytes.dropFirst())
    }

    // MARK: Vocabulary

    public var vocabularySize: Int { pieces.count }

    public func tokenToId(_ token: String) -> Int? {
        pieceIds[Array(token.utf8)[...]].map(Int.init)
    }

    public func idToToken(_ id: Int) -> String? {
        id >= 0 && id < pieces.count ? pieces[id] : nil
    }

    /// Control pieces (`<s>`, `</s>`) and the unknown piece.
    public func isSpecialToken(_ id: Int) -> Bool { specialIds.contains(id) }
}
