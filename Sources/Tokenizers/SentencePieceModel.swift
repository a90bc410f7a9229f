import Foundation

/// A SentencePiece model file (`tokenizer.model`): the `ModelProto` message of
/// `sentencepiece_model.proto`, reduced to the fields a tokenizer needs.
///
/// Parsing is strict: a truncated or malformed message, a field with the wrong wire type, a
/// piece that is not UTF-8 or an unknown piece type is an error naming the field and the byte
/// offset; fields this reader does not use are skipped.
public struct SentencePieceModel: Sendable, Equatable {
    /// One vocabulary entry (`ModelProto.SentencePiece`); its index is its id.
    public struct Piece: Sendable, Equatable {
        public var piece: String
        public var score: Float
        /// The piece's type, numbered as in GGUF (SentencePiece uses the same numbers).
        public var type: TokenType

        public init(piece: String, score: Float, type: TokenType) {
            self.piece = piece
            self.score = score
            self.type = type
        }
    }

    /// `TrainerSpec.model_type`.
    public enum ModelType: Int, Sendable {
        case unigram = 1, bpe = 2, word = 3, character = 4
    }

    public var pieces: [Piece] = []
    /// `trainer_spec.model_type` (default unigram).
    public var modelType: ModelType = .unigram
    /// `trainer_spec.byte_fallback`: unknown characters become their UTF-8 bytes' `<0xXX>` pieces.
    public var byteFallback = false
    /// `trainer_spec.treat_whitespace_as_suffix`: `▁` ends words instead of starting them.
    public var treatWhitespaceAsSuffix = false
    /// `trainer_spec.bos_id` / `eos_id` / `unk_id` (-1: none).
    public var bosId = 1, eosId = 2, unknownId = 0
    /// `normalizer_spec.name` (`identity` for LLaMA).
    public var normalizerName = ""
    /// Size of `normalizer_spec.precompiled_charsmap` (empty: no normalization rules).
    public var precompiledCharsmapCount = 0
    /// `normalizer_spec.add_dummy_prefix`: a `▁` is put before the text.
    public var addDummyPrefix = true
    /// `normalizer_spec.remove_extra_whitespaces`: spaces are trimmed and runs collapsed.
    public var removeExtraWhitespaces = true
    /// `normalizer_spec.escape_whitespaces`: spaces become `▁`.
    public var escapeWhitespaces = true

    /// Parses a serialized `ModelProto`.
    public init(bytes: [UInt8]) throws(TokenizerError) {
        var reader = ProtobufReader(bytes: bytes, range: 0..<bytes.count, message: "ModelProto")
        while let field = try reader.nextField() {
            switch field.number {
            case 1:
                var piece = try reader.message(field, "pieces[\(pieces.count)]")
                pieces.append(try Self.piece(&piece))
            case 2:
                var spec = try reader.message(field, "trainer_spec")
                try readTrainerSpec(&spec)
            case 3:
                var spec = try reader.message(field, "normalizer_spec")
                try readNormalizerSpec(&spec)
            default:
                try reader.skip(field)
            }
        }
    }

    /// Reads the model file at `url`.
    public init(contentsOf url: URL) throws {
        try self.init(bytes: Array(Data(contentsOf: url)))
    }

    private static func piece(_ reader: inout ProtobufReader) throws(TokenizerError) -> Piece {
        var result = Piece(piece: "", score: 0, type: .normal)
        while let field = try reader.nextField() {
            switch field.number {
            case 1: result.piece = try reader.string(field, "piece")
            case 2: result.score = Float(bitPattern: try reader.fixed32(field, "score"))
            case 3:
                let raw = try reader.varint(field, "type")
                // Type 0 is GGUF's "undefined", not a SentencePiece type.
                guard raw != 0, let type = TokenType(rawValue: Int32(clamping: raw)) else {
                    throw reader.error("type", "unknown piece type \(raw) (expected 1...6)", at: field.offset)
                }
                result.type = type
            default: try reader.skip(field)
            }
        }
        return result
    }

    private mutating func readTrainerSpec(_ reader: inout ProtobufReader) throws(TokenizerError) {
        while let field = try reader.nextField() {
            switch field.number {
            case 3:
                let raw = try reader.varint(field, "model_type")
                guard let type = ModelType(rawValue: Int(clamping: raw)) else {
                    throw reader.error("model_type", "unknown model type \(raw) (expected 1...4)", at: field.offset)
                }
                modelType = type
            case 24: treatWhitespaceAsSuffix = try reader.bool(field, "treat_whitespace_as_suffix")
            case 35: byteFallback = try reader.bool(field, "byte_fallback")
            case 40: unknownId = try reader.int32(field, "unk_id")
            case 41: bosId = try reader.int32(field, "bos_id")
            case 42: eosId = try reader.int32(field, "eos_id")
            default: try reader.skip(field)
            }
        }
    }

    private mutating func readNormalizerSpec(_ reader: inout ProtobufReader) throws(TokenizerError) {
        while let field = try reader.nextField() {
            switch field.number {
            case 1: normalizerName = try reader.string(field, "name")
            case 2: precompiledCharsmapCount = try reader.bytes(field, "precompiled_charsmap").count
            case 3: addDummyPrefix = try reader.bool(field, "add_dummy_prefix")
            case 4: removeExtraWhitespaces = try reader.bool(field, "remove_extra_whitespaces")
            case 5: escapeWhitespaces = try reader.bool(field, "escape_whitespaces")
            default: try reader.skip(field)
            }
        }
    }
}
