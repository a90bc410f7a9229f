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
    /// at a time without converting the activations for every row. In the `q8_0` layout each
    /// 16 values are stored in ``transposedLanes(_:)`` order, the order the kernels put the
    /// weights in.
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
        switch layout {
        case .q8_0:
            // Each 16-value half of a block in `transposedLanes` order, as the kernels load weights.
            for half in stride(from: 0, to: count, by: 16) {
                for i in 0..<16 { wideValues[half + i] = Int16(values[half + transposedLanes(i)]) }
            }
        case .q8_K:
            for i in 0..<count { wideValues[i] = Int16(values[i]) }
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
        switch self {
        case .q4_0: dotQ4(row: row, activations: x, count: count, hasMinimum: false)
        case .q4_1: dotQ4(row: row, activations: x, count: count, hasMinimum: true)
        case .q8_0: dotQ8_0(row: row, activations: x, count: count)
        case .q4_K: dotQ4_K(row: row, activations: x, count: count, highBits: false)
        case .q5_K: dotQ4_K(row: row, activations: x, count: count, highBits: true)
        case .q6_K: dotQ6_K(row: row, activations: x, count: count)
        default: preconditionFailure("\(self) rows are not multiplied with quantised activations")
        }
    }
}

/// The `q4_0`, `q4_1` and `q8_0` kernels, in ggml's exact arithmetic. ggml's x86 kernels sum
/// each block's products four consecutive values to a lane (values `4j..4j+3` in lane `j`),
/// scale the lanes into eight float accumulators with fused multiply-adds and sum those
/// pairwise at the end (`hsum_float_8`). The integer sums are exact however they are grouped,
/// the float accumulation is not: with ggml's grouping and order every row's result is
/// bit-identical to llama.cpp's, so no activation lands on the other side of an 8-bit rounding
/// edge in the next layer (one such flip moves SmolLM2's logits by 0.1-0.3).
///
/// The grouping costs no horizontal shuffles: weights and activations are loaded 16 at a time
/// in ``transposedLanes(_:)`` order, which puts the four values of each group a quarter of the
/// vector apart, so two vertical folds (`lowHalf + highHalf`) leave each group's sum in a lane.
/// Products form in 16-bit lanes (a 4-bit value times an 8-bit activation fits, four do too).
/// Swift's SIMD types compile to single vector instructions here (conversions: SIMDWidening.swift).
extension BlockFormat {
    @inline(__always)
    func dotQ4(row: UnsafeRawPointer, activations x: QuantizedActivations, count: Int, hasMinimum: Bool) -> Float {
        let stride = hasMinimum ? 20 : 18
        var accumulator = SIMD8<Float>(), minimums: Float = 0
        for b in 0..<count / 32 {
            let a = UnsafeRawPointer(x.wideValues + b * 32)
            let block = row + b * stride
            accumulator.addProduct(SIMD8(repeating: block.loadHalf(0) * x.scales[b]),
                                   q4Sums(block + (hasMinimum ? 4 : 2), a.loadUnaligned(as: SIMD16<Int16>.self),
                                          a.loadUnaligned(fromByteOffset: 32, as: SIMD16<Int16>.self), offset: hasMinimum ? 0 : 8))
            if hasMinimum { minimums.addProduct(block.loadHalf(2), x.sums[b]) }
        }
        return VectorMath.pairwiseSum(accumulator) + minimums
    }

    /// One `q4_0`/`q4_1` block's eight sums of four products, as floats.
    @inline(__always)
    private func q4Sums(_ nibbles: UnsafeRawPointer, _ aLow: SIMD16<Int16>, _ aHigh: SIMD16<Int16>, offset: Int16) -> SIMD8<Float> {
        let packed = widenedTransposedBytes(nibbles)
        let low = ((packed & 0x0F) &- offset) &* aLow
        let high = ((packed &>> 4) &- offset) &* aHigh
        let (low8, high8) = (low.lowHalf &+ low.highHalf, high.lowHalf &+ high.highHalf)
        return floats(widened(SIMD8(lowHalf: low8.lowHalf &+ low8.highHalf, highHalf: high8.lowHalf &+ high8.highHalf)))
    }

    @inline(__always)
    func dotQ8_0(row: UnsafeRawPointer, activations x: QuantizedActivations, count: Int) -> Float {
        var accumulator = SIMD8<Float>()
        for b in 0..<count / 32 {
            let a = UnsafeRawPointer(x.wideValues + b * 32)
            let block = row + b * 34
            accumulator.addProduct(SIMD8(repeating: block.loadHalf(0) * x.scales[b]),
                                   q8Sums(block + 2, a.loadUnaligned(as: SIMD16<Int16>.self),
                                          a.loadUnaligned(fromByteOffset: 32, as: SIMD16<Int16>.self)))
        }
        return VectorMath.pairwiseSum(accumulator)
    }

    /// One `q8_0` block's eight sums of four products, as floats.
    @inline(__always)
    private func q8Sums(_ values: UnsafeRawPointer, _ aLow: SIMD16<Int16>, _ aHigh: SIMD16<Int16>) -> SIMD8<Float> {
        let low = widenedTransposedSignedBytes(values) &* aLow
        let high = widenedTransposedSignedBytes(values + 16) &* aHigh
        // Two 8-bit products fit 16 bits, four may not: widen before the second fold.
        let (low8, high8) = (widened(low.lowHalf &+ low.highHalf), widened(high.lowHalf &+ high.highHalf))
        return floats(SIMD8(lowHalf: low8.lowHalf &+ low8.highHalf, highHalf: high8.lowHalf &+ high8.highHalf))
    }
}

/// The order in which the `q8_0`-layout kernels load each 16 values: lane `i` holds value
/// `4 (i mod 4) + i / 4` (a 4x4 transpose), so values `4j..4j+3` sit in lanes `j`, `j+4`, `j+8`, `j+12`.
@inline(__always)
func transposedLanes(_ i: Int) -> Int { 4 * (i % 4) + i / 4 }
