import Foundation
import Tensors

/// Builds a safetensors file.
///
/// ```swift
/// var writer = SafeTensorsWriter(metadata: ["format": "pt"])
/// try writer.addTensor("lora.A", a, dtype: .bf16)                 // a Tensor, rounded to BF16
/// try writer.addTensor("steps", dtype: .i64, shape: [1], bytes: raw)
/// try writer.write(to: url)                                         // atomic: temp file + rename
/// ```
///
/// The data section is laid out as the reference implementation does it: tensors ordered by
/// element size, largest first (then in the order added), with no gaps, and the header padded
/// with spaces to a multiple of 8 bytes. Every tensor then starts at a multiple of its element
/// size from an 8-aligned data section, so readers that cast pointers see aligned data.
public struct SafeTensorsWriter: Sendable {
    /// The `__metadata__` strings (written only when not empty).
    public var metadata: [String: String]

    private struct PendingTensor: Sendable {
        var name: String
        var dtype: SafeTensorsDType
        var shape: [Int]
        var bytes: [UInt8]
    }
    private var pending: [PendingTensor] = []
    private var names = Set<String>()

    /// An empty file with the given `__metadata__`.
    public init(metadata: [String: String] = [:]) {
        self.metadata = metadata
    }

    private static func invalid(_ field: String, _ message: String) -> ModelFormatError {
        ModelFormatError(.invalidArgument, file: "SafeTensorsWriter", field: field, message)
    }

    /// Adds a tensor from its stored (little-endian) bytes, which must be exactly what `shape`
    /// of `dtype` takes.
    public mutating func addTensor(_ name: String, dtype: SafeTensorsDType, shape: [Int], bytes: [UInt8]) throws {
        let field = "tensor '\(name)'"
        guard name != "__metadata__" else { throw Self.invalid(field, "this name is reserved for the metadata") }
        guard !names.contains(name) else { throw Self.invalid(field, "a tensor with this name was already added") }
        guard shape.allSatisfy({ $0 >= 0 }) else { throw Self.invalid(field, "negative extent in \(shape)") }
        var elementCount = 1
        for extent in shape {
            let (product, overflow) = elementCount.multipliedReportingOverflow(by: extent)
            guard !overflow else { throw Self.invalid(field, "element count of \(shape) overflows") }
            elementCount = product
        }
        guard let byteCount = dtype.byteCount(elements: elementCount), byteCount == bytes.count else {
            throw Self.invalid(field, "shape \(shape) of \(dtype) does not take \(bytes.count) bytes")
        }
        pending.append(PendingTensor(name: name, dtype: dtype, shape: shape, bytes: bytes))
        names.insert(name)
    }

    /// Adds a ``Tensors/Tensor`` stored as F32, F16, BF16 or F64 (F16 and BF16 round to nearest even).
    public mutating func addTensor(_ name: String, _ tensor: Tensor, dtype: SafeTensorsDType = .f32) throws {
        let encoding: FloatEncoding
        switch dtype {
        case .f32: encoding = .f32
        case .f16: encoding = .f16
        case .bf16: encoding = .bf16
        case .f64: encoding = .f64
        default: throw Self.invalid("tensor '\(name)'", "cannot store a Tensor as \(dtype) (F32, F16, BF16, F64 can)")
        }
        try addTensor(name, dtype: dtype, shape: tensor.shape, bytes: encoding.encode(tensor.scalars))
    }

    /// Names of the tensors added so far, in the order they are written to the data section.
    public var tensorNames: [String] { ordered.map(\.name) }

    /// Largest elements first, stable otherwise (see the type's documentation).
    private var ordered: [PendingTensor] {
        pending.enumerated()
            .sorted { ($1.element.dtype.bitsPerElement, $0.offset) < ($0.element.dtype.bitsPerElement, $1.offset) }
            .map(\.element)
    }

    /// The header JSON, padded with spaces to a multiple of 8 bytes.
    private func header(for tensors: [PendingTensor]) -> [UInt8] {
        var members: [String] = []
        if !metadata.isEmpty {
            let entries = metadata.keys.sorted().map { "\(JSONText.quoted($0)):\(JSONText.quoted(metadata[$0]!))" }
            members.append("\"__metadata__\":{\(entries.joined(separator: ","))}")
        }
        var offset = 0
        for tensor in tensors {
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            members.append("\(JSONText.quoted(tensor.name)):{\"dtype\":\"\(tensor.dtype.rawValue)\",\"shape\":[\(shape)],"
                           + "\"data_offsets\":[\(offset),\(offset + tensor.bytes.count)]}")
            offset += tensor.bytes.count
        }
        var bytes = Array("{\(members.joined(separator: ","))}".utf8)
        bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - bytes.count % 8) % 8))
        return bytes
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
        let tensors = ordered
        let header = header(for: tensors)
        guard header.count <= SafeTensorsFile.maximumHeaderLength else {
            throw Self.invalid("header", "\(header.count) bytes is more than a safetensors header may have")
        }
        try withUnsafeBytes(of: UInt64(header.count).littleEndian) { try sink.write($0) }
        try sink.write(header)
        for tensor in tensors { try sink.write(tensor.bytes) }
    }
}
