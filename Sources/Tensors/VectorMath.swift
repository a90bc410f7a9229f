// Elementwise kernels eight lanes at a time for the transformer encoders (CLIP, BERT): the
// softmax of attention and the GELUs of the MLPs. The scalar libm `expf` per element was a tenth
// of CLIP ViT-L's encode time, and `erff` most of BERT's non-GEMM MLP time.
//
// Only lane-wise arithmetic, comparisons and bit casts: the standard library's generic SIMD
// rounding and float-to-integer conversions run lane by lane, many times slower.

import Foundation

/// Vectorised elementwise kernels over `Float` buffers, in place.
public enum VectorMath {
    /// `eˣ` per lane: `x = n ln2 + r` with `|r| ≤ ln2 / 2`, a degree-6 polynomial for `eʳ` (Cephes'
    /// `expf` coefficients, relative error below 2e-7) and `2ⁿ` built in the exponent bits. Inputs
    /// above 88 give e⁸⁸; below -87, 0 (not a subnormal: those would slow every later product).
    @inlinable @inline(__always)
    public static func exp(_ input: SIMD8<Float>) -> SIMD8<Float> {
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

    /// `erf` per lane as a rational function of odd and even polynomials on [-4, 4] (beyond which
    /// erf is ±1 in single precision): Eigen's and XLA's `erf` for floats, within a few ulp.
    @inlinable @inline(__always)
    public static func erf(_ input: SIMD8<Float>) -> SIMD8<Float> {
        var x = input.replacing(with: 4, where: input .> 4)
        x.replace(with: -4, where: x .< -4)
        let x2 = x * x
        var p = x2 * -2.726_142_258_013_06e-10 + 2.770_681_424_959_02e-08
        p = x2 * p - 2.101_024_020_825_08e-06
        p = x2 * p - 5.692_506_394_623_46e-05
        p = x2 * p - 7.349_906_303_268_55e-04
        p = x2 * p - 2.954_599_808_540_25e-03
        p = x2 * p - 1.609_603_332_624_15e-02
        p = x * p
        var q = x2 * -1.456_607_184_649_96e-05 - 2.133_740_552_789_05e-04
        q = x2 * q - 1.682_826_974_382_03e-03
        q = x2 * q - 7.373_329_167_204_68e-03
        q = x2 * q - 1.426_473_905_141_89e-02
        return p / q
    }

    /// `a · b` over `count` floats. Inlined into callers: attention over short sequences makes
    /// many small calls.
    @inlinable @inline(__always)
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        let (ra, rb) = (UnsafeRawPointer(a), UnsafeRawPointer(b))
        var sums = SIMD8<Float>()
        let vectorEnd = count / 8 * 8
        for i in stride(from: 0, to: vectorEnd, by: 8) {
            sums += ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                * rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
        }
        var sum = sums.sum()
        for i in vectorEnd..<count { sum += a[i] * b[i] }
        return sum
    }

    /// `a · b` over `count` values with `b` in half precision (an f16 key cache). Eight float
    /// lanes as in ``dot(_:_:count:)``; the halves widen in a lane loop (`vcvtph2ps`) because
    /// `SIMD8<Float>(SIMD8<Float16>)` stays an out-of-line call.
    @inlinable @inline(__always)
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float16>, count: Int) -> Float {
        let ra = UnsafeRawPointer(a)
        var sums = SIMD8<Float>()
        let vectorEnd = count / 8 * 8
        for i in stride(from: 0, to: vectorEnd, by: 8) {
            var wide = SIMD8<Float>()
            for j in 0..<8 { wide[j] = Float(b[i + j]) }
            sums.addProduct(ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self), wide)
        }
        var sum = sums.sum()
        for i in vectorEnd..<count { sum += a[i] * Float(b[i]) }
        return sum
    }

    /// Softmax of `count` values, in place: `eˣⁱ⁻ᵐᵃˣ / Σ`.
    public static func softmax(_ values: UnsafeMutablePointer<Float>, count: Int) {
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

    /// GELU with the exact erf, `0.5 x (1 + erf(x / √2))` (PyTorch's default `gelu`), in place.
    public static func gelu(_ values: UnsafeMutablePointer<Float>, count: Int) {
        let raw = UnsafeMutableRawPointer(values)
        let vectorEnd = count / 8 * 8
        for i in stride(from: 0, to: vectorEnd, by: 8) {
            let x = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            raw.storeBytes(of: 0.5 * x * (1 + erf(x * 0.707_106_78)), toByteOffset: i * 4, as: SIMD8<Float>.self)
        }
        for i in vectorEnd..<count { values[i] = 0.5 * values[i] * (1 + erff(values[i] * 0.707_106_78)) }
    }

    /// CLIP's quick GELU, `x σ(1.702 x)`, in place.
    public static func quickGelu(_ values: UnsafeMutablePointer<Float>, count: Int) {
        let raw = UnsafeMutableRawPointer(values)
        let vectorEnd = count / 8 * 8
        for i in stride(from: 0, to: vectorEnd, by: 8) {
            let x = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            raw.storeBytes(of: x / (1 + exp(-1.702 * x)), toByteOffset: i * 4, as: SIMD8<Float>.self)
        }
        for i in vectorEnd..<count { values[i] = values[i] / (1 + expf(-1.702 * values[i])) }
    }

    /// GELU's tanh approximation, `0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))`, in place.
    public static func geluTanh(_ values: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count {
            let v = values[i]
            values[i] = 0.5 * v * (1 + tanhf(0.797_884_6 * (v + 0.044_715 * v * v * v)))
        }
    }
}
