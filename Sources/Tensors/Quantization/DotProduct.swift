/// Fused row-times-vector kernels: each quantised row is decoded in registers and multiplied
/// into the float vector without writing floats back to memory. These carry token generation,
/// where every weight is read once per token.
extension BlockFormat {
    /// `Σ row[i] * vector[i]` over `count` values.
    ///
    /// `blockSums` must hold, for the 32-value formats, the sum of each 32-value block of
    /// `vector` (see ``blockSums(of:count:into:)``): `q4_0` and `q4_1` factor their offset out
    /// of the block, so each row needs one multiply per block for it instead of one per value.
    @inline(__always)
    public func dot(row: UnsafeRawPointer, vector: UnsafePointer<Float>, blockSums: UnsafePointer<Float>,
                    count: Int) -> Float {
        switch self {
        case .q4_1: dotQ4(row: row, vector: vector, blockSums: blockSums, count: count, hasMinimum: true)
        case .q4_0: dotQ4(row: row, vector: vector, blockSums: blockSums, count: count, hasMinimum: false)
        case .q8_0: dotQ8_0(row: row, vector: vector, count: count)
        case .f32: VectorMath.dot(row.assumingMemoryBound(to: Float.self), vector, count: count)
        default: dotByDecoding(row: row, vector: vector, count: count)
        }
    }

    /// Sums of consecutive 32-value blocks of `vector`, the companion of ``dot(row:vector:blockSums:count:)``.
    public static func blockSums(of vector: UnsafePointer<Float>, count: Int, into sums: UnsafeMutablePointer<Float>) {
        for b in 0..<count / 32 {
            let v = UnsafeRawPointer(vector + b * 32)
            sums[b] = (v.loadUnaligned(as: SIMD16<Float>.self)
                + v.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)).sum()
        }
    }

    @inline(__always)
    private func dotQ4(row: UnsafeRawPointer, vector: UnsafePointer<Float>, blockSums: UnsafePointer<Float>,
                       count: Int, hasMinimum: Bool) -> Float {
        let stride = hasMinimum ? 20 : 18
        var total: Float = 0
        for b in 0..<count / 32 {
            let block = row + b * stride
            let nibbles = (block + (hasMinimum ? 4 : 2)).assumingMemoryBound(to: UInt8.self)
            let v = vector + b * 32
            var sum: Float = 0
            for j in 0..<16 {
                sum += Float(nibbles[j] & 0x0F) * v[j] + Float(nibbles[j] >> 4) * v[j + 16]
            }
            let d = block.loadHalf(0)
            total += d * sum + (hasMinimum ? block.loadHalf(2) : -8 * d) * blockSums[b]
        }
        return total
    }

    @inline(__always)
    private func dotQ8_0(row: UnsafeRawPointer, vector: UnsafePointer<Float>, count: Int) -> Float {
        var total: Float = 0
        for b in 0..<count / 32 {
            let block = row + b * 34
            let q = (block + 2).assumingMemoryBound(to: Int8.self)
            let v = vector + b * 32
            var sum: Float = 0
            for j in 0..<32 { sum += Float(q[j]) * v[j] }
            total += block.loadHalf(0) * sum
        }
        return total
    }

    /// Formats without a hand-fused kernel: decode one block at a time into a stack buffer.
    private func dotByDecoding(row: UnsafeRawPointer, vector: UnsafePointer<Float>, count: Int) -> Float {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 256) { buffer in
            let step = max(blockSize, 256 / blockSize * blockSize)
            var total: Float = 0
            var start = 0
            while start < count {
                let n = min(step, count - start)
                dequantize(row: row + rowBytes(count: start), count: n, into: buffer.baseAddress!)
                total += VectorMath.dot(buffer.baseAddress!, vector + start, count: n)
                start += n
            }
            return total
        }
    }
}
