/// A dense, row-major tensor of 32-bit floats that owns its storage.
///
/// This is the exchange type between modules (image pixels after normalisation, embeddings,
/// logits). Quantised weights keep their own block layouts and are not `Tensor`s.
public struct Tensor: Sendable, Equatable {
    /// Extent of each dimension, outermost first.
    public let shape: [Int]
    /// `shape.reduce(1, *)` elements in row-major order.
    public var scalars: [Float]

    /// Wraps `scalars`; their count must equal the product of `shape`.
    public init(shape: [Int], scalars: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        precondition(shape.reduce(1, *) == scalars.count,
                     "shape \(shape) needs \(shape.reduce(1, *)) scalars, got \(scalars.count)")
        self.shape = shape
        self.scalars = scalars
    }

    /// A tensor of the given shape filled with `value`.
    public init(repeating value: Float, shape: [Int]) {
        self.init(shape: shape, scalars: [Float](repeating: value, count: shape.reduce(1, *)))
    }

    /// Number of elements.
    public var count: Int { scalars.count }

    /// Number of dimensions.
    public var rank: Int { shape.count }

    /// Element at a full multi-index (bounds are checked in debug builds only).
    public subscript(_ index: Int...) -> Float {
        get { scalars[offset(of: index)] }
        set { scalars[offset(of: index)] = newValue }
    }

    private func offset(of index: [Int]) -> Int {
        assert(index.count == shape.count, "index \(index) for shape \(shape)")
        var offset = 0
        for (i, extent) in zip(index, shape) {
            assert(i >= 0 && i < extent, "index \(index) out of shape \(shape)")
            offset = offset * extent + i
        }
        return offset
    }
}
