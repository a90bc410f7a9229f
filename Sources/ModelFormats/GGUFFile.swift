import Foundation
import Tensors

/// A GGUF model file (llama.cpp's format, versions 2 and 3), memory-mapped and fully validated
/// when opened.
///
/// Layout: `"GGUF"`, u32 version, u64 tensor count, u64 metadata count, the metadata key-value
/// pairs, one info record per tensor (name, dimension count, u64 extents `ne0` first, u32 type
/// id, u64 offset), padding to the alignment (`general.alignment`, default 32), then the data
/// section. All integers are little-endian.
///
/// Opening checks everything a later read relies on: every length and count against the bytes
/// that remain before anything is allocated, every size computation for overflow, each tensor's
/// extents, type and block multiple, that its data is aligned, inside the file, and overlaps no
/// other tensor, and that names and keys are unique. Afterwards ``rawBytes(_:)`` and
/// ``tensor(_:)`` cannot read outside the file. Failures throw ``ModelFormatError``s that name
/// the file and the field.
///
/// Tensor bytes are not copied: they point into the mapping, which lives as long as this object.
public final class GGUFFile: Sendable {
    /// The mapped bytes.
    public let mapping: MappedFile
    /// Format version (2 or 3; they share a layout).
    public let version: UInt32
    /// Key-value metadata, in file order.
    public let metadata: GGUFMetadata
    /// Tensor descriptions, in file order.
    public let tensors: [GGUFTensorInfo]
    /// Alignment of the data section and of every tensor's offset.
    public let alignment: Int
    /// Absolute byte offset of the data section.
    public let dataOffset: Int
    private let indexByName: [String: Int]

    /// The alignment when `general.alignment` is absent.
    public static let defaultAlignment = 32
    /// Most dimensions a ggml tensor can have (`GGML_MAX_DIMS`).
    public static let maximumRank = 4
    /// How deeply metadata arrays may nest. Real files nest at most once; the limit keeps a
    /// hostile file from exhausting the stack with a few bytes per level.
    public static let maximumNesting = 16

    /// Maps and validates the file at `url`.
    public convenience init(url: URL) throws {
        try self.init(mapping: MappedFile(url: url))
    }

    /// Validates an already mapped file (or an in-memory buffer).
    public init(mapping: MappedFile) throws {
        self.mapping = mapping
        var parser = GGUFHeaderParser(file: mapping)
        let header = try parser.parse()
        (version, metadata, tensors, alignment, dataOffset) =
            (header.version, header.metadata, header.tensors, header.alignment, header.dataOffset)
        indexByName = header.indexByName
    }

    /// The file's path (or the in-memory buffer's name).
    public var name: String { mapping.name }

    /// `general.architecture`, e.g. `llama`.
    public var architecture: String? { metadata["general.architecture"]?.string }

    /// The description of the tensor called `name`, if there is one.
    public func tensorInfo(_ name: String) -> GGUFTensorInfo? {
        indexByName[name].map { tensors[$0] }
    }

    /// The description of the tensor called `name`, or a `tensorNotFound` error.
    public func requireTensorInfo(_ name: String) throws -> GGUFTensorInfo {
        guard let info = tensorInfo(name) else {
            throw ModelFormatError(.tensorNotFound, file: self.name, field: "tensor '\(name)'",
                                   "is not in the file (\(tensors.count) tensors)")
        }
        return info
    }

    /// The stored bytes of the tensor called `name`, pointing into the mapping (no copy).
    ///
    /// Valid while this `GGUFFile` is alive: keep a reference to it (or to ``mapping``) for as
    /// long as the pointer is used.
    public func rawBytes(_ name: String) throws -> UnsafeRawBufferPointer {
        let info = try requireTensorInfo(name)
        // In bounds and free of overflow: checked when the file was opened.
        let start = dataOffset + info.offset
        return UnsafeRawBufferPointer(rebasing: mapping.bytes[start..<start + info.byteCount])
    }

    /// The tensor called `name` as f32 values, shaped outermost first (``GGUFTensorInfo/shape``).
    ///
    /// Converts F32, F16, BF16 and F64, and dequantises the block types that `Tensors` decodes
    /// (Q4_0, Q4_1, Q8_0, Q4_K, Q5_K, Q6_K); other types throw `notConvertible`.
    public func tensor(_ name: String) throws -> Tensor {
        let info = try requireTensorInfo(name)
        let decoding: FloatDecoding
        switch info.type {
        case .f32: decoding = .f32
        case .f16: decoding = .f16
        case .bf16: decoding = .bf16
        case .f64: decoding = .f64
        default:
            guard let format = info.type.blockFormat else {
                throw ModelFormatError(.notConvertible, file: self.name, field: "tensor '\(name)'",
                                       "has type \(info.type), which cannot be converted to f32")
            }
            decoding = .blocks(format)
        }
        return Tensor(shape: info.shape, scalars: decoding.decode(try rawBytes(name), count: info.elementCount))
    }
}
