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
            let v = UnsafeRawPointer(vector + b * 32)
            let x0 = v.loadUnaligned(as: SIMD16<Float>.self)
            let x1 = v.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)
            let amax = max(x0.max(), -x0.min(), x1.max(), -x1.min())
            let d = amax / 127
            let inverse: Float = d == 0 ? 0 : 1 / d
            let q0 = SIMD16<Int32>((x0 * inverse).rounded(.toNearestOrEven))
            let q1 = SIMD16<Int32>((x1 * inverse).rounded(.toNearestOrEven))
            let out = UnsafeMutableRawPointer(values + b * 32)
            out.storeBytes(of: SIMD16<Int8>(truncatingIfNeeded: q0), as: SIMD16<Int8>.self)
            out.storeBytes(of: SIMD16<Int8>(truncatingIfNeeded: q1), toByteOffset: 16, as: SIMD16<Int8>.self)
            let roundedScale = Float(Float16(d))
            scales[b] = roundedScale
            sums[b] = Float(Float16(Float((q0 &+ q1).wrappedSum()) * d))
        }
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
            for b in 0..<count / 32 {
                let block = row + b * stride
                let bytes = block.loadUnaligned(fromByteOffset: hasMinimum ? 4 : 2, as: SIMD16<UInt8>.self)
                var low = SIMD16<Int16>(truncatingIfNeeded: bytes & 0x0F)
                var high = SIMD16<Int16>(truncatingIfNeeded: bytes &>> 4)
                if !hasMinimum { low &-= 8; high &-= 8 }
                let a = UnsafeRawPointer(x.values + b * 32).loadUnaligned(as: SIMD32<Int8>.self)
                let products = low &* SIMD16<Int16>(truncatingIfNeeded: a.lowHalf)
                    &+ high &* SIMD16<Int16>(truncatingIfNeeded: a.highHalf)
                let wide = SIMD16<Int32>(truncatingIfNeeded: products)
                let sum = Float((wide.lowHalf &+ wide.highHalf).wrappedSum())
                let d = block.loadHalf(0) * x.scales[b]
                total += d * sum
                if hasMinimum { total += block.loadHalf(2) * x.sums[b] }
            }
        case .q8_0:
            for b in 0..<count / 32 {
                let block = row + b * 34
                let w = block.loadUnaligned(fromByteOffset: 2, as: SIMD32<Int8>.self)
                let a = UnsafeRawPointer(x.values + b * 32).loadUnaligned(as: SIMD32<Int8>.self)
                let products = SIMD32<Int16>(truncatingIfNeeded: w) &* SIMD32<Int16>(truncatingIfNeeded: a)
                let wide = SIMD32<Int32>(truncatingIfNeeded: products)
                let sum = Float((wide.lowHalf &+ wide.highHalf).wrappedSum())
                total += block.loadHalf(0) * x.scales[b] * sum
            }
        default:
            preconditionFailure("\(self) rows are not multiplied with quantised activations")
        }
        return total
    }
}
