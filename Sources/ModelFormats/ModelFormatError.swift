/// Why a model file could not be opened, parsed or written.
///
/// Every error names the file (its path, or the name given to an in-memory buffer) and the
/// field that was wrong, so that a message read in a log is enough to find the problem:
/// `model.gguf: tensor 'blk.0.attn_q.weight' offset: 1234 is not a multiple of the alignment 32`.
/// Tests and callers branch on ``code``; people read ``description``.
public struct ModelFormatError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The kind of problem, stable for programs to branch on.
    public enum Code: String, Sendable, CaseIterable {
        // Opening the file.
        case fileMissing, fileUnreadable, fileEmpty, isDirectory, notRegularFile
        // Structure shared by both formats.
        case truncated, countTooLarge, invalidUTF8, duplicateKey, duplicateTensorName
        case badDimensions, sizeOverflow, misalignedOffset, outOfBounds, overlappingTensors
        // GGUF.
        case badMagic, unsupportedVersion, unknownValueType, unknownTensorType, nestingTooDeep
        case invalidValue, badAlignment, notBlockMultiple
        // safetensors.
        case headerTooLarge, invalidJSON, missingField, wrongFieldType, unknownDType, sizeMismatch
        case uncoveredBytes
        // Access after parsing.
        case tensorNotFound, notConvertible, metadataMissing, metadataType
        // Writers.
        case invalidArgument, writeFailed
    }

    /// The kind of problem.
    public let code: Code
    /// The file's path, or the name of an in-memory buffer.
    public let file: String
    /// The part of the file at fault, e.g. `header`, `metadata 'general.alignment'`, `tensor 'x' offset`.
    public let field: String
    /// What was wrong, with the offending values.
    public let message: String

    /// An error of kind `code` in `file`, at `field`, explained by `message`.
    public init(_ code: Code, file: String, field: String, _ message: String) {
        (self.code, self.file, self.field, self.message) = (code, file, field, message)
    }

    /// `file: field: message`.
    public var description: String { "\(file): \(field): \(message)" }
}
