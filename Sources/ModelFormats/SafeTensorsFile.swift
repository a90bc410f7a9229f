import Foundation
import Tensors

/// A safetensors file (Hugging Face's format), memory-mapped and fully validated when opened.
///
/// Layout: a u64 little-endian header length `N`, `N` bytes of UTF-8 JSON (possibly padded with
/// spaces), then the data section. The JSON maps each tensor name to
/// `{"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}` (offsets relative to the
/// data section), plus an optional `"__metadata__"` map of strings to strings.
///
/// Opening checks what the specification requires: a header of at most 100 MB inside the file,
/// valid UTF-8 and JSON starting with `{`, every field present and well typed, known dtypes, a
/// byte span that matches shape × dtype size, offsets inside the data section, and tensors that
/// neither overlap nor leave bytes of the data section uncovered (the specification forbids
/// holes, which keeps a file from smuggling other content). Duplicate names and keys are errors.
///
/// Tensor bytes are not copied: they point into the mapping, which lives as long as this object.
public final class SafeTensorsFile: Sendable {
    /// The mapped bytes.
    public let mapping: MappedFile
    /// The `__metadata__` strings (empty when absent).
    public let metadata: [String: String]
    /// Tensor descriptions in data order (sorted by offset), which is file order.
    public let tensors: [SafeTensorsTensorInfo]
    /// Length of the JSON header in bytes (the u64 at the start of the file).
    public let headerLength: Int
    private let indexByName: [String: Int]

    /// The specification's bound on the header, to refuse absurd allocations early.
    public static let maximumHeaderLength = 100_000_000

    /// Maps and validates the file at `url`.
    public convenience init(url: URL) throws {
        try self.init(mapping: MappedFile(url: url))
    }

    /// Validates an already mapped file (or an in-memory buffer).
    public init(mapping: MappedFile) throws {
        self.mapping = mapping
        let header = try SafeTensorsHeaderParser(file: mapping).parse()
        (metadata, tensors, headerLength) = (header.metadata, header.tensors, header.headerLength)
        indexByName = Dictionary(uniqueKeysWithValues: tensors.enumerated().map { ($1.name, $0) })
    }

    /// The file's path (or the in-memory buffer's name).
    public var name: String { mapping.name }

    /// Absolute byte offset of the data section: `8 + headerLength`.
    public var dataOffset: Int { 8 + headerLength }

    /// Tensor names in file (data) order.
    public var tensorNames: [String] { tensors.map(\.name) }

    /// The description of the tensor called `name`, if there is one.
    public func tensorInfo(_ name: String) -> SafeTensorsTensorInfo? {
        indexByName[name].map { tensors[$0] }
    }

    /// The description of the tensor called `name`, or a `tensorNotFound` error.
    public func requireTensorInfo(_ name: String) throws -> SafeTensorsTensorInfo {
        guard let info = tensorInfo(name) else {
            throw ModelFormatError(.tensorNotFound, file: self.name, field: "tensor '\(name)'",
                                   "is not in the file (\(tensors.count) tensors)")
        }
        return info
    }

    /// The stored bytes of the tensor called `name`, pointing into the mapping (no copy).
    ///
    /// Valid while this `SafeTensorsFile` is alive: keep a reference to it (or to ``mapping``)
    /// for as long as the pointer is used. Not necessarily aligned for the element type.
    public func rawBytes(_ name: String) throws -> UnsafeRawBufferPointer {
        let info = try requireTensorInfo(name)
        // In bounds: the data section ends at the end of the file, checked when opened.
        return UnsafeRawBufferPointer(
            rebasing: mapping.bytes[(dataOffset + info.dataOffsets.lowerBound)..<(dataOffset + info.dataOffsets.upperBound)])
    }

    /// The tensor called `name` as f32 values with its stored shape. Converts F32, F16, BF16
    /// and F64; other dtypes throw `notConvertible`.
    public func tensor(_ name: String) throws -> Tensor {
        let info = try requireTensorInfo(name)
        let decoding: FloatDecoding
        switch info.dtype {
        case .f32: decoding = .f32
        case .f16: decoding = .f16
        case .bf16: decoding = .bf16
        case .f64: decoding = .f64
        default:
            throw ModelFormatError(.notConvertible, file: self.name, field: "tensor '\(name)'",
                                   "has dtype \(info.dtype), which is not converted to f32 (F32, F16, BF16, F64 are)")
        }
        return Tensor(shape: info.shape, scalars: decoding.decode(try rawBytes(name), count: info.elementCount))
    }
}
