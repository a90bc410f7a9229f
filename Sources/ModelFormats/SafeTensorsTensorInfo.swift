/// Where one tensor of a safetensors file is and how it is stored, as validated by ``SafeTensorsFile``.
public struct SafeTensorsTensorInfo: Sendable, Equatable {
    /// The tensor's name, e.g. `vision_tower.blocks.0.attn.qkv.weight`.
    public let name: String
    /// Element type.
    public let dtype: SafeTensorsDType
    /// Extents outermost first (row-major); `[]` for a scalar.
    public let shape: [Int]
    /// The tensor's bytes, relative to the start of the data section (`data_offsets`).
    public let dataOffsets: Range<Int>
    /// Product of the extents (1 for a scalar).
    public let elementCount: Int

    /// Creates a description; ``SafeTensorsFile`` checks these against each other and the file.
    public init(name: String, dtype: SafeTensorsDType, shape: [Int], dataOffsets: Range<Int>, elementCount: Int) {
        (self.name, self.dtype, self.shape, self.dataOffsets, self.elementCount) = (name, dtype, shape, dataOffsets, elementCount)
    }

    /// Bytes of data.
    public var byteCount: Int { dataOffsets.count }
}
