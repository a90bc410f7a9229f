import Foundation
import Tensors

/// Builds a GGUF version 3 file: metadata of any type, then tensors, each aligned.
///
/// ```swift
/// var writer = GGUFWriter()
/// writer.metadata["general.architecture"] = .string("llama")
/// try writer.addTensor("output_norm.weight", weights)            // a Tensor, stored as F32
/// try writer.addTensor("proj.weight", type: .q8_0, dimensions: [64, 8], bytes: blocks)
/// try writer.write(to: url)                                        // atomic: temp file + rename
/// ```
///
/// Everything is checked as it is added, so that a file this writer produces always opens with
/// ``GGUFFile``. Tensor data is kept in memory until written, which suits adapters, projectors
/// and test files rather than whole converted models.
public struct GGUFWriter: Sendable {
    /// The metadata to write, in order. `general.alignment` is managed through ``alignment``.
    public var metadata = GGUFMetadata(source: "GGUFWriter")
    /// Alignment of the data section and of each tensor (a power of two). When not the default
    /// 32, `general.alignment` is written with it.
    public let alignment: Int

    private struct PendingTensor: Sendable {
        var info: GGUFTensorInfo
        var bytes: [UInt8]
    }
    private var pending: [PendingTensor] = []
    private var names = Set<String>()
    private var nextOffset = 0

    /// An empty file with the default alignment (32).
    public init() {
        alignment = GGUFFile.defaultAlignment
    }

    /// An empty file with the given data alignment, a power of two.
    public init(alignment: Int) throws {
        guard alignment > 0, alignment & (alignment - 1) == 0, alignment <= Int(UInt32.max) else {
            throw Self.invalid("alignment", "\(alignment) is not a power of two that fits in a uint32")
        }
        self.alignment = alignment
    }

    private static func invalid(_ field: String, _ message: String) -> ModelFormatError {
        ModelFormatError(.invalidArgument, file: "GGUFWriter", field: field, message)
    }

    /// Names of the tensors added so far, in order.
    public var tensorNames: [String] { pending.map(\.info.name) }

    /// Adds a tensor from its stored bytes.
    ///
    /// - Parameters:
    ///   - dimensions: extents in ggml order, `ne0` (the row length) first; 1 to 4 of them.
    ///   - bytes: exactly the bytes the type needs for that many elements (blocks for
    ///     quantised types, little-endian values for plain ones).
    public mutating func addTensor(_ name: String, type: GGMLType, dimensions: [Int], bytes: [UInt8]) throws {
        let field = "tensor '\(name)'"
        guard !names.contains(name) else { throw Self.invalid(field, "a tensor with this name was already added") }
        guard (1...GGUFFile.maximumRank).contains(dimensions.count), dimensions.allSatisfy({ $0 >= 1 }) else {
            throw Self.invalid(field, "dimensions \(dimensions): a tensor has 1 to 4 extents, each at least 1")
        }
        var elementCount = 1
        for extent in dimensions {
            let (product, overflow) = elementCount.multipliedReportingOverflow(by: extent)
            guard !overflow else { throw Self.invalid(field, "element count of \(dimensions) overflows") }
            elementCount = product
        }
        guard dimensions[0] % type.blockSize == 0, let byteCount = type.rowBytes(count: elementCount) else {
            throw Self.invalid(field, "row length \(dimensions[0]) is not a multiple of the \(type) block size \(type.blockSize)")
        }
        guard bytes.count == byteCount else {
            throw Self.invalid(field, "\(dimensions) \(type) takes \(byteCount) bytes, got \(bytes.count)")
        }
        let info = GGUFTensorInfo(name: name, dimensions: dimensions, type: type, offset: nextOffset,
                                  elementCount: elementCount, byteCount: byteCount)
        pending.append(PendingTensor(info: info, bytes: bytes))
        names.insert(name)
        nextOffset = Self.padded(nextOffset + byteCount, to: alignment)
    }

    /// Adds a ``Tensors/Tensor``, stored as F32, F16, BF16 or F64. Its shape (outermost first)
    /// becomes the reversed ggml dimensions, so it reads back with the same shape.
    public mutating func addTensor(_ name: String, _ tensor: Tensor, type: GGMLType = .f32) throws {
        let encoding: FloatEncoding
        switch type {
        case .f32: encoding = .f32
        case .f16: encoding = .f16
        case .bf16: encoding = .bf16
        case .f64: encoding = .f64
        default: throw Self.invalid("tensor '\(name)'", "cannot store a Tensor as \(type) (F32, F16, BF16, F64 can)")
        }
        try addTensor(name, type: type, dimensions: tensor.shape.reversed(), bytes: encoding.encode(tensor.scalars))
    }

    static func padded(_ offset: Int, to alignment: Int) -> Int {
        (offset + alignment - 1) / alignment * alignment
    }

    /// The complete file as bytes.
    public func serialized() throws -> [UInt8] {
        var sink = ByteArraySink()
        try emit(into: &sink)
        return sink.bytes
    }

    /// Writes the file to `url` atomically (temporary file in the same folder, then rename).
    public func write(to url: URL) throws {
        try AtomicFileOutput.write(to: url) { output in try emit(into: &output) }
    }

    private func emit<Sink: ByteSink>(into sink: inout Sink) throws {
        var header = GGUFEncoder()
        var metadata = self.metadata
        switch metadata["general.alignment"] {
        case nil:
            if alignment != GGUFFile.defaultAlignment { metadata["general.alignment"] = .uint32(UInt32(alignment)) }
        case .uint32(let value) where Int(value) == alignment:
            break
        case let other?:
            throw Self.invalid("metadata 'general.alignment'", "is \(other.summary), but the writer's alignment is \(alignment)")
        }

        header.append(GGUFHeaderParser.magic)
        header.append(UInt32(3))
        header.append(UInt64(pending.count))
        header.append(UInt64(metadata.count))
        for (key, value) in metadata {
            try Self.checkNesting(value, key: key)
            header.append(key)
            header.append(value.type.rawValue)
            header.append(value)
        }
        for tensor in pending {
            header.append(tensor.info.name)
            header.append(UInt32(tensor.info.dimensions.count))
            for extent in tensor.info.dimensions { header.append(UInt64(extent)) }
            header.append(tensor.info.type.rawValue)
            header.append(UInt64(tensor.info.offset))
        }
        try sink.write(header.bytes)
        try sink.writeZeros(Self.padded(header.bytes.count, to: alignment) - header.bytes.count)
        for tensor in pending {
            try sink.write(tensor.bytes)
            try sink.writeZeros(Self.padded(tensor.bytes.count, to: alignment) - tensor.bytes.count)
        }
    }

    /// Arrays nested deeper than readers accept are refused rather than written.
    private static func checkNesting(_ value: GGUFValue, key: String) throws {
        func depth(_ array: GGUFArray) -> Int {
            if case .array(let inner) = array { return 1 + (inner.map(depth).max() ?? 0) }
            return 1
        }
        if case .array(let array) = value, depth(array) > GGUFFile.maximumNesting {
            throw invalid("metadata '\(key)'", "arrays nest more than \(GGUFFile.maximumNesting) levels deep")
        }
    }
}

/// Little-endian encoding of GGUF header fields.
struct GGUFEncoder {
    var bytes: [UInt8] = []

    mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func append(_ string: String) {
        append(UInt64(string.utf8.count))
        bytes.append(contentsOf: string.utf8)
    }

    /// A value without its type tag (the caller writes the tag where the format has one).
    mutating func append(_ value: GGUFValue) {
        switch value {
        case .uint8(let v): append(v)
        case .int8(let v): append(v)
        case .uint16(let v): append(v)
        case .int16(let v): append(v)
        case .uint32(let v): append(v)
        case .int32(let v): append(v)
        case .uint64(let v): append(v)
        case .int64(let v): append(v)
        case .float32(let v): append(v.bitPattern)
        case .float64(let v): append(v.bitPattern)
        case .bool(let v): append(UInt8(v ? 1 : 0))
        case .string(let v): append(v)
        case .array(let array): append(array)
        }
    }

    mutating func append(_ array: GGUFArray) {
        append(array.elementType.rawValue)
        append(UInt64(array.count))
        switch array {
        case .uint8(let a): bytes.append(contentsOf: a)
        case .int8(let a): for v in a { append(v) }
        case .uint16(let a): for v in a { append(v) }
        case .int16(let a): for v in a { append(v) }
        case .uint32(let a): for v in a { append(v) }
        case .int32(let a): for v in a { append(v) }
        case .uint64(let a): for v in a { append(v) }
        case .int64(let a): for v in a { append(v) }
        case .float32(let a): for v in a { append(v.bitPattern) }
        case .float64(let a): for v in a { append(v.bitPattern) }
        case .bool(let a): for v in a { append(UInt8(v ? 1 : 0)) }
        case .string(let a): for v in a { append(v) }
        case .array(let a): for v in a { append(v) }
        }
    }
}
