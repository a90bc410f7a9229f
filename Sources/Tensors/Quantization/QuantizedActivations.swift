/// A float vector quantised to signed bytes, the way llama.cpp prepares the right-hand side of
/// its quantised matrix products. Two layouts share the buffers (see ``ActivationLayout``):
///
/// - `q8_0` (for `q4_0`, `q4_1`, `q8_0` rows; ggml's `block_q8_0` / `block_q8_1`): blocks of 32,
///   per block a scale `d = max|x| / 127` rounded to f16, values `round(x / d)`, and
///   `s = d * Σq` (f16) for the formats with a minimum.
/// - `q8_K` (for the K-quants; ggml's `block_q8_K`): blocks of 256, per block an f32 scale
///   `d = 1 / iscale` with `iscale = -127 / m`, `m` the value of largest magnitude (so `d` carries
///   the opposite sign of `m`), values `min(127, round(iscale * x))`, and the integer sum of each
///   16 values.
///
/// Multiplying in integers is faster than decoding weights to floats, and it reproduces
/// llama.cpp's numerics, so greedy outputs agree token for token. The buffers hold whichever
/// layout was quantised last: quantise for the format of the rows you multiply.
public struct QuantizedActivations {
    public let capacity: Int
    /// The quantised values.
    public let values: UnsafeMutablePointer<Int8>
    /// `q8_0` layout: each 32-value block's scale, already rounded through f16.
    public let scales: UnsafeMutablePointer<Float>
    /// `q8_0` layout: each 32-value block's `d * Σq`, rounded through f16.
    public let sums: UnsafeMutablePointer<Float>
    /// `q8_K` layout: each 256-value block's f32 scale (sign convention above).
    public let superScales: UnsafeMutablePointer<Float>
    /// `q8_K` layout: the sum of each 16 consecutive quantised values.
    public let subBlockSums: UnsafeMutablePointer<Int32>

    /// Room for vectors of up to `capacity` values (a multiple of 32).
    public init(capacity: Int) {
        self.capacity = capacity
        values = .allocate(capacity: capacity)
        scales = .allocate(capacity: capacity / 32)
        sums = .allocate(capacity: capacity / 32)
        superScales = .allocate(capacity: max(1, capacity / 256))
        subBlockSums = .allocate(capacity: max(1, capacity / 16))
    }

    /// Frees the buffers; the owner calls this once.
    public func deallocate() {
        values.deallocate()
        scales.deallocate()
        sums.deallocate()
        superScales.deallocate()
        subBlockSums.deallocate()
    }

    /// Quantises `count` values of `vector` (at most `capacity`, a multiple of the layout's
    /// block size: 32 for `q8_0`, 256 for `q8_K`).
    public func quantize(_ vector: UnsafePointer<Float>, count: Int, layout: ActivationLayout) {
        switch layout {
        case .q8_0: quantize(vector, count: count)
        case .q8_K:
            precondition(count % 256 == 0 && count <= capacity)
            for b in 0..<count / 256 {
                superScales[b] = Self.quantizeSuperBlock(vector + b * 256, into: values + b * 256,
                                                         subBlockSums: subBlockSums + b * 16)
            }
        }
    }

    /// What llama.cpp's quantised product sees of `vector` in `layout`, `q * d` (see
    /// ``roundTrip(_:count:into:)``).
    public static func roundTrip(_ vector: UnsafePointer<Float>, count: Int, layout: ActivationLayout,
                                 into output: UnsafeMutablePointer<Float>) {
        switch layout {
        case .q8_0: roundTrip(vector, count: count, into: output)
        case .q8_K:
            precondition(count % 256 == 0)
            withUnsafeTemporaryAllocation(of: Int8.self, capacity: 256) { q in
                withUnsafeTemporaryAllocation(of: Int32.self, capacity: 16) { sums in
                    for b in 0..<count / 256 {
                        let d = quantizeSuperBlock(vector + b * 256, into: q.baseAddress!, subBlockSums: sums.baseAddress!)
                        for i in 0..<256 { output[b * 256 + i] = Float(q[i]) * d }
                    }
                }
            }
        }
    }

    /// One `q8_K` block of 256 (ggml's `quantize_row_q8_K_ref`): returns its scale.
    @inline(__always)
    static func quantizeSuperBlock(_ x: UnsafePointer<Float>, into q: UnsafeMutablePointer<Int8>,
                                   subBlockSums: UnsafeMutablePointer<Int32>) -> Float {
        var amax: Float = 0
        for i in 0..<256 { amax = max(amax, abs(x[i])) }
        if amax == 0 {
            q.update(repeating: 0, count: 256)
            subBlockSums.update(repeating: 0, count: 16)
            return 0
        }
        // The first value of largest magnitude decides the sign of the scale.
        var m = amax
        for i in 0..<256 where abs(x[i]) == amax { m = x[i]; break }
        let inverse: Float = -127 / m
        for i in 0..<256 {
            let v = Int32((inverse * x[i]).rounded(.toNearestOrEven))
            q[i] = Int8(truncatingIfNeeded: min(127, v))
        }
        for j in 0..<16 {
            var sum: Int32 = 0
            for i in 0..<16 { sum &+= Int32(q[16 * j + i]) }
            subBlockSums[j] = sum
        }
        return 1 / inverse
    }

    /// Quantises `count` values of `vector` (a multiple of 32, at most `capacity`) in the `q8_0` layout.
    public func quantize(_ vector: UnsafePointer<Float>, count: Int) {
        precondition(count % 32 == 0 && count <= capacity)
        for b in 0..<count / 32 {
            let (d, sum) = Self.quantizeBlock(vector + b * 32, into: values + b * 32)
            scales[b] = Float(Float16(d))
            sums[b] = Float(Float16(Float(sum) * d))
        }
    }

    /// Replaces each value by what llama.cpp's quantised product sees of it in the `q8_0` layout, `q * f16(d)`.
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

/// The block layout of ``QuantizedActivations`` a ``BlockFormat``'s integer kernel multiplies with.
public enum ActivationLayout: Sendable {
    /// Blocks of 32 (ggml's `block_q8_0`/`block_q8_1`).
    case q8_0
    /// Blocks of 256 with per-16 sums (ggml's `block_q8_K`).
    case q8_K
}

extension BlockFormat {
    /// The activation layout ``dot(row:activations:count:)`` expects for this format, or nil
    /// where rows are multiplied with float vectors.
    public var activationLayout: ActivationLayout? {
        switch self {
        case .q4_0, .q4_1, .q8_0: .q8_0
        case .q4_K, .q5_K, .q6_K: .q8_K
        default: nil
        }
    }

    /// Whether ``dot(row:activations:count:)`` supports this format.
    public var multipliesQuantizedActivations: Bool { activationLayout != nil }

    /// `Σ row[i] * x[i]` with `x` given as ``QuantizedActivations`` (formats for which
    /// ``multipliesQuantizedActivations`` is true), quantised in this format's ``activationLayout``.
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
        case .q4_K: total = dotQ4_K(row: row, activations: x, count: count, highBits: false)
        case .q5_K: total = dotQ4_K(row: row, activations: x, count: count, highBits: true)
        case .q6_K: total = dotQ6_K(row: row, activations: x, count: count)
        default:
            preconditionFailure("\(self) rows are not multiplied with quantised activations")
        }
        return total
    }
}
