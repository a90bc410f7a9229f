/// Where one tensor of a GGUF file is and how it is stored, as validated by ``GGUFFile``.
public struct GGUFTensorInfo: Sendable, Equatable {
    /// The tensor's name, e.g. `blk.0.attn_q.weight`.
    public let name: String
    /// Extents as stored in the file: ggml order, `ne0` (the contiguous, fastest-varying
    /// dimension, the row length) first. A `[rows, columns]` matrix is stored as `[columns, rows]`.
    public let dimensions: [Int]
    /// Element type.
    public let type: GGMLType
    /// Byte offset of the tensor's data from the start of the data section, as stored.
    public let offset: Int
    /// Product of the dimensions.
    public let elementCount: Int
    /// Bytes of data: `elementCount / type.blockSize * type.bytesPerBlock`.
    public let byteCount: Int

    /// Creates a description; ``GGUFFile`` checks these against each other and the file.
    public init(name: String, dimensions: [Int], type: GGMLType, offset: Int, elementCount: Int, byteCount: Int) {
        (self.name, self.dimensions, self.type, self.offset) = (name, dimensions, type, offset)
        (self.elementCount, self.byteCount) = (elementCount, byteCount)
    }

    /// Extents outermost first (row-major, as ``Tensors/Tensor`` and PyTorch write them):
    /// `dimensions` reversed.
    public var shape: [Int] { dimensions.reversed() }

    /// Values per row (`ne0`).
    public var rowLength: Int { dimensions[0] }

    /// Number of rows: all dimensions but the first multiplied together.
    public var rowCount: Int { elementCount / dimensions[0] }
}
