/// A read-only weight matrix in any ``BlockFormat``, usually a view into a memory-mapped
/// checkpoint: `rows` rows of `columns` values, each row `format.rowBytes(count: columns)` bytes.
///
/// `owner` keeps whatever holds the bytes (a mapping, an array) alive as long as the matrix.
public struct WeightMatrix: @unchecked Sendable {
    public let format: BlockFormat
    public let rows: Int
    public let columns: Int
    public let data: UnsafeRawPointer
    public let rowBytes: Int
    private let owner: AnyObject?

    /// Wraps `data`; the caller guarantees it holds `rows * format.rowBytes(count: columns)` bytes.
    public init(format: BlockFormat, rows: Int, columns: Int, data: UnsafeRawPointer, owner: AnyObject?) {
        (self.format, self.rows, self.columns, self.data, self.owner) = (format, rows, columns, data, owner)
        rowBytes = format.rowBytes(count: columns)
    }

    /// Copies float values into a new f32 matrix (tests, small models built in memory).
    public init(rows: Int, columns: Int, values: [Float]) {
        precondition(values.count == rows * columns)
        let storage = FloatStorage(values)
        self.init(format: .f32, rows: rows, columns: columns, data: UnsafeRawPointer(storage.pointer), owner: storage)
    }

    /// The start of row `r`.
    @inline(__always) public func row(_ r: Int) -> UnsafeRawPointer { data + r * rowBytes }

    /// Row `r` decoded into `output` (`columns` floats).
    public func dequantizeRow(_ r: Int, into output: UnsafeMutablePointer<Float>) {
        format.dequantize(row: row(r), count: columns, into: output)
    }

    /// Columns `range` of row `r` decoded into `output` (`range.count` floats); `range` starts
    /// and ends on block boundaries.
    public func dequantizeRow(_ r: Int, columns range: Range<Int>, into output: UnsafeMutablePointer<Float>) {
        format.dequantize(row: row(r) + format.rowBytes(count: range.lowerBound), count: range.count, into: output)
    }

    /// `output[r] = row(r) · vector` for `r` in `range`. `blockSums` as in
    /// ``BlockFormat/dot(row:vector:blockSums:count:)``.
    @inline(__always)
    public func multiply(rows range: Range<Int>, vector: UnsafePointer<Float>, blockSums: UnsafePointer<Float>,
                         into output: UnsafeMutablePointer<Float>) {
        for r in range {
            output[r] = format.dot(row: row(r), vector: vector, blockSums: blockSums, count: columns)
        }
    }

    /// `output[r] = row(r) · x` for `r` in `range`, multiplying in integers (see ``QuantizedActivations``).
    @inline(__always)
    public func multiply(rows range: Range<Int>, activations x: QuantizedActivations,
                         into output: UnsafeMutablePointer<Float>) {
        for r in range {
            output[r] = format.dot(row: row(r), activations: x, count: columns)
        }
    }
}

/// Heap floats with a stable address, for matrices built in memory.
final class FloatStorage {
    let pointer: UnsafeMutablePointer<Float>
    init(_ values: [Float]) {
        pointer = .allocate(capacity: max(values.count, 1))
        pointer.initialize(from: values, count: values.count)
    }
    deinit { pointer.deallocate() }
}
