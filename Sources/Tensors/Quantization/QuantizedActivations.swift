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
/// Multiplying in integers is faster than decoding weights to floats, and it follows llama.cpp's
/// numerics (the same rounding of the activations), so logits stay within ggml's own spread.
/// The buffers hold whichever layout was quantised last: quantise for the format of the rows
/// you multiply.
public struct QuantizedActivations {
    public let capacity: Int
    /// The quantised values.
    public let values: UnsafeMutablePointer<Int8>
    /// The same values widened to 16 bits once per vector, so the row kernels multiply 16 lanes
    /// at a time without converting the activations for every row.
    public let wideValues: UnsafeMutablePointer<Int16>
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
        wideValues = .allocate(capacity: capacity)
        scales = .allocate(capacity: capacity / 32)
        sums = .allocate(capacity: capacity / 32)
        superScales = .allocate(capacity: max(1, capacity / 256))
        subBlockSums = .allocate(capacity: max(1, capacity / 16))
    }

    /// Frees the buffers; the owner calls this once.
    public func deallocate() {
        values.deallocate()
        wideValues.deallocate()
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
        for i in 0..<count { wideValues[i] = Int16(values[i]) }
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

    /// The `q8_0` layout of ``quantize(_:count:layout:)``, without the widened copy.
    private func quantize(_ vector: UnsafePointer<Float>, count: Int) {
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
        // `127 / max`, not `1 / d`: ggml's x86 quantiser (what llama.cpp runs here) multiplies by
        // this, and the two differ in the last bit often enough to move values across a rounding edge.
        let inverse: Float = amax == 0 ? 0 : 127 / amax
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
        case .q4_0: total = dotQ4(row: row, activations: x, count: count, hasMinimum: false)
        case .q4_1: total = dotQ4(row: row, activations: x, count: count, hasMinimum: true)
        case .q8_0: total = dotQ8_0(row: row, activations: x, count: count)
        case .q4_K: total = dotQ4_K(row: row, activations: x, count: count, highBits: false)
        case .q5_K: total = dotQ4_K(row: row, activations: x, count: count, highBits: true)
        case .q6_K: total = dotQ6_K(row: row, activations: x, count: count)
        default:
            preconditionFailure("\(self) rows are not multiplied with quantised activations")
        }
        return total
    }
}

/// The `q4_0`, `q4_1` and `q8_0` kernels. Each block's 32 products are formed in 16-bit lanes
/// (a 4-bit value times an 8-bit activation fits; two 8-bit products summed still fit), summed
/// into eight 32-bit lanes, and scaled into eight float accumulators, so no block pays for a
/// horizontal sum or a serial float chain (ggml's AVX2 kernels have the same shape). Swift's
/// SIMD types compile to single vector instructions here (conversions: SIMDWidening.swift).
extension BlockFormat {
    @inline(__always)
    func dotQ4(row: UnsafeRawPointer, activations x: QuantizedActivations, count: Int, hasMinimum: Bool) -> Float {
        let stride = hasMinimum ? 20 : 18
        let offset: Int16 = hasMinimum ? 0 : 8
        var accumulator = SIMD8<Float>(), minimums: Float = 0
        for b in 0..<count / 32 {
            let block = row + b * stride
            let packed = widenedBytes(block + (hasMinimum ? 4 : 2))
            let a = UnsafeRawPointer(x.wideValues + b * 32)
            let products = ((packed & 0x0F) &- offset) &* a.loadUnaligned(as: SIMD16<Int16>.self)
                &+ ((packed &>> 4) &- offset) &* a.loadUnaligned(fromByteOffset: 32, as: SIMD16<Int16>.self)
            let sums = widened(products.lowHalf &+ products.highHalf)
            accumulator.addProduct(SIMD8(repeating: block.loadHalf(0) * x.scales[b]), floats(sums))
            if hasMinimum { minimums.addProduct(block.loadHalf(2), x.sums[b]) }
        }
        return accumulator.sum() + minimums
    }

    @inline(__always)
    func dotQ8_0(row: UnsafeRawPointer, activations x: QuantizedActivations, count: Int) -> Float {
        var accumulator = SIMD8<Float>()
        for b in 0..<count / 32 {
            let block = row + b * 34
            let a = UnsafeRawPointer(x.wideValues + b * 32)
            let products = widenedSignedBytes(block + 2) &* a.loadUnaligned(as: SIMD16<Int16>.self)
                &+ widenedSignedBytes(block + 18) &* a.loadUnaligned(fromByteOffset: 32, as: SIMD16<Int16>.self)
            // Two 8-bit products fit 16 bits, four may not: widen before the last sum.
            let sums = widened(products.lowHalf) &+ widened(products.highHalf)
            accumulator.addProduct(SIMD8(repeating: block.loadHalf(0) * x.scales[b]), floats(sums))
        }
        return accumulator.sum()
    }
}
