// Exponentials eight lanes at a time, for the softmax and GELU loops of the vision tower: the
// scalar libm `expf` call per element was a tenth of CLIP ViT-L's encode time.

import Foundation

/// Vectorised elementwise kernels.
enum VectorMath {
    /// `eˣ` per lane: `x = n ln2 + r` with `|r| ≤ ln2 / 2`, a degree-6 polynomial for `eʳ` (Cephes'
    /// `expf` coefficients, relative error below 2e-7) and `2ⁿ` built in the exponent bits. Inputs
    /// above 88 give e⁸⁸; below -87, 0 (not a subnormal: those would slow every later product).
    /// Only lane-wise arithmetic, comparisons and bit casts: the standard library's generic SIMD
    /// rounding and float-to-integer conversions run lane by lane, many times slower.
    @inline(__always)
    static func exp(_ input: SIMD8<Float>) -> SIMD8<Float> {
        var x = input.replacing(with: -87, where: input .< -87)
        x.replace(with: 88, where: x .> 88)
        // Adding 1.5·2²³ rounds x·log₂e to the nearest integer n, which lands in the low
        // mantissa bits of `shifted`.
        let magic = SIMD8<Float>(repeating: 12_582_912)
        let shifted = x * 1.442_695_04 + magic
        let n = shifted - magic
        // ln 2 in two parts, so that `n · ln2` is subtracted without rounding error.
        let r = x - n * 0.693_359_375 + n * 2.121_944_4e-4
        var p = SIMD8<Float>(repeating: 1.987_569_15e-4)
        p = p * r + 1.398_199_95e-3
        p = p * r + 8.333_451_9e-3
        p = p * r + 4.166_579_59e-2
        p = p * r + 1.666_666_55e-1
        p = p * r + 5.000_000_12e-1
        p = p * r * r + r + 1
        let integer = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- unsafeBitCast(magic, to: SIMD8<Int32>.self)
        let twoToN = unsafeBitCast((integer &+ 127) &* 8_388_608, to: SIMD8<Float>.self)
        return (p * twoToN).replacing(with: 0, where: input .< -87)
    }

    /// In-place softmax of `count` values.
    static func softmax(_ values: UnsafeMutablePointer<Float>, count: Int) {
        let raw = UnsafeMutableRawPointer(values)
        let vectorEnd = count / 8 * 8
        var maxima = SIMD8<Float>(repeating: -.infinity)
        for i in stride(from: 0, to: vectorEnd, by: 8) {
            let v = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
        maxima.replace(with: v, where: v .> maxima)
        }
        var maximum = maxima.max()
        for i in vectorEnd..<count { maximum = max(maximum, values[i]) }
        var sums = SIMD8<Float>()
        for i in stride(from: 0, to: vectorEnd, by: 8) {
            let e = exp(raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) - maximum)
            raw.storeBytes(of: e, toByteOffset: i * 4, as: SIMD8<Float>.self)
            sums += e
        }
        var sum = sums.sum()
        for i in vectorEnd..<count { values[i] = expf(values[i] - maximum); sum += values[i] }
        let inverse = 1 / sum
        for i in 0..<count { values[i] *= inverse }
    }

    /// CLIP's quick GELU, `x σ(1.702 x)`, in place.
    static func quickGelu(_ values: UnsafeMutablePointer<Float>, count: Int) {
        let raw = UnsafeMutableRawPointer(values)
        let vectorEnd = count / 8 * 8
        for i in stride(from: 0, to: vectorEnd, by: 8) {
            let x = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            raw.storeBytes(of: x / (1 + exp(-1.702 * x)), toByteOffset: i * 4, as: SIMD8<Float>.self)
        }
        for i in vectorEnd..<count { values[i] = values[i] / (1 + expf(-1.702 * values[i])) }
    }
}
