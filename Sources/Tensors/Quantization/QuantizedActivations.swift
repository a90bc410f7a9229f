/// A float vector quantised to signed bytes in blocks of 32, the way llama.cpp prepares the
/// right-hand side of its quantised matrix products (`block_q8_0` / `block_q8_1`): per block a
/// scale `d = max|x| / 127` rounded to f16, values `round(x / d)`, and `s = d * Σq` (f16) for
/// the formats with a minimum. Multiplying in integers is faster than decoding weights to
/// floats, and it reproduces llama.cpp's numerics, so greedy outputs agree token for token.
public struct QuantizedActivations {
    public let capacity: Int
    /// The quantised values.
    public let values: UnsafeMutablePointer<Int8>
    /// Each block's scale, already rounded through f16.
    public let scales: UnsafeMutablePointer<Float>
    /// Each block's `d * Σq`, rounded through f16.
    public let sums: UnsafeMutablePointer<Float>

    /// Room for vectors of up to `capacity` values (a multiple of 32).
    public init(capacity: Int) {
        self.capacity = capacity
        values = .allocate(capacity: capacity)
        scales = .allocate(capacity: capacity / 32)
        sums = .allocate(capacity: capacity / 32)
    }

    /// Frees the buffers; the owner calls this once.
    public func deallocate() {
        values.deallocate()
        scales.deallocate()
        sums.deallocate()
    }

    /// Quantises `count` values of `vector` (a multiple of 32, at most `capacity`).
    public func quantize(_ vector: UnsafePointer<Float>, count: Int) {
        precondition(count % 32 == 0 && count <= capacity)
        for b in 0..<count / 32 {
            let (d, sum) = Self.quantizeBlock(vector + b * 32, into: values + b * 32)
            scales[b] = Float(Float16(d))
            sums[b] = Float(Float16(Float(sum) * d))
        }
    }

    /// Replaces each value by what llama.cpp's quantised product sees of it, `q * f16(d)`.
    /// A float GEMM over these values and decoded weights computes what ggml's integer kernels
    /// compute, which keeps prompt batches (BLAS) numerically in step with token-by-token work.
    public static func roundTrip(_ vector: UnsafePointer<Float>, count: Int, into output: UnsafeMutablePointer<Float>) {
        precondition(count % 32 == 0)
        withUnsafeTemporaryAllocation(of: Int8.self, capacity: 32) { q in
            for b in 0..<count / 32 {
                let d = Float(Float16(quantizeBlock(vector + b * 32, into: q.baseAddress!).scale))
                for i in 0..<32 { output[b * 32 + i] = Float(q[i]) * d }
            }
        }
    }

    /// One block of 32: scale `max|x| / 127` (full precision) and the sum of the rounded values.
    /// Plain loops over pointers: LLVM vectorises these, while Swift's SIMD type conversions
    /// (e.g. `SIMD16<Int32>(SIMD16<Float>)`) compile to per-lane code.
    @inline(__always)
    static func quantizeBlock(_ x: UnsafePointer<Float>, into q: UnsafeMutablePointer<Int8>) -> (scale: Float, sum: Int32) {
        var amax: Float = 0
        for i in 0..<32 { amax = max(amax, abs(x[i])) }
        let d = amax / 127
        let inverse: Float = d == 0 ? 0 : 1 / d
        var sum: Int32 = 0
        for i in 0..<32 {
            let v = Int32((x[i] * inverse).rounded(.toNearestOrEven))
            q[i] = Int8(truncatingIfNeeded: v)
            sum &+= v
        }
        return (d, sum)
    }
}

extension BlockFormat {
    /// Whether ``dot(row:activations:count:)`` supports this format.
    public var multipliesQuantizedActivations: Bool {
        switch self {
        case .q4_0, .q4_1, .q8_0: true
        default: false
        }
    }

    /// `Σ row[i] * x[i]` with `x` given as ``QuantizedActivations`` (formats for which
    /// ``multipliesQuantizedActivations`` is true).
    @inline(__always)
    public func dot(row: UnsafeRawPointer, activations x: QuantizedActivations, count: Int) -> Float {
        var total: Float = 0
        switch self {
        case .q4_1, .q4_0:
            let hasMinimum = self == .q4_1
            let stride = hasMinimum ? 20 : 18
            let offset: Int32 = hasMinimum ? 0 : 8
            for b in 0..<count / 32 {
                let block = row + b * stride
                let nibbles = (block + (hasMinimum ? 4 : 2)).assumingMemoryBound(to: UInt8.self)
                let a = x.values + b * 32
                var sum: Int32 = 0
                for j in 0..<16 {
                    let byte = nibbles[j]
                    sum &+= (Int32(byte & 0x0F) &- offset) &* Int32(a[j])
                    sum &+= (Int32(byte >> 4) &- offset) &* Int32(a[j + 16])
                }
                total += block.loadHalf(0) * x.scales[b] * Float(sum)
                if hasMinimum { total += block.loadHalf(2) * x.sums[b] }
            }
        case .q8_0:
            for b in 0..<count / 32 {
                let block = row + b * 34
                let w = (block + 2).assumingMemoryBound(to: Int8.self)
                let a = x.values + b * 32
                var sum: Int32 = 0
                for j in 0..<32 { sum &+= Int32(w[j]) &* Int32(a[j]) }
                total += block.loadHalf(0) * x.scales[b] * Float(sum)
            }
        default:
            preconditionFailure("\(self) rows are not multiplied with quantised activations")
        }
        return total
    }
}
