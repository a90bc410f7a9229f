// Elementwise kernels and short dot products for the transformers: the softmax of attention,
// the GELUs and SwiGLU of the MLPs. The scalar libm `expf` per element was a tenth of CLIP ViT-L's
// encode time, and `erff` most of BERT's non-GEMM MLP time.
//
// The exponential, the softmax, SwiGLU and the dot products follow ggml's x86 code operation for
// operation (its AVX-512 `ggml_v_expf`, `ggml_vec_soft_max_f32`, `ggml_vec_swiglu_f32` and
// `ggml_vec_dot_f16`): the language model's token-by-token path is then bit-identical to
// llama.cpp's, which is what lets greedy decoding follow it through near ties.
//
// Only lane-wise arithmetic, comparisons and bit casts: the standard library's generic SIMD
// rounding and float-to-integer conversions run lane by lane, many times slower.

import Foundation

/// Vectorised elementwise kernels over `Float` buffers, in place.
public enum VectorMath {
    /// `eˣ` per lane, ggml's `ggml_v_expf` (from Arm's optimized routines): `x = n ln2 + b`, a
    /// degree-5 polynomial for `eᵇ` evaluated with fused multiply-adds, and `2ⁿ` applied exactly.
    /// Within 1.5 ulp; above 88.38 it is infinite, below -103.97 zero.
    @inlinable @inline(__always)
    public static func exp(_ x: SIMD16<Float>) -> SIMD16<Float> {
        // Adding 1.5·2²³ rounds x·log₂e to the nearest integer n, which lands in the low
        // mantissa bits of `z`.
        let r = SIMD16<Float>(repeating: 0x1.8p23)
        let z = r.addingProduct(x, SIMD16(repeating: 0x1.715476p+0))
        let n = z - r
        // ln 2 in two parts, so that `n · ln2` is subtracted without rounding error.
        let b = x.addingProduct(-n, SIMD16(repeating: 0x1.62e4p-1)).addingProduct(-n, SIMD16(repeating: 0x1.7f7d1cp-20))
        let u = b * b
        let high = SIMD16<Float>(repeating: 0x1.573e2ep-5).addingProduct(SIMD16(repeating: 0x1.0e4020p-7), b)
        let middle = SIMD16<Float>(repeating: 0x1.fffdb6p-2).addingProduct(SIMD16(repeating: 0x1.555e66p-3), b)
        let low = SIMD16<Float>(repeating: 1).addingProduct(SIMD16(repeating: 0x1.ffffecp-1), b)
        let j = low.addingProduct(middle.addingProduct(high, u), u)
        let magnitude = n.replacing(with: -n, where: n .< 0)
        if all(magnitude .<= 126) {
            let integer = unsafeBitCast(z, to: SIMD16<Int32>.self) &- unsafeBitCast(r, to: SIMD16<Int32>.self)
            return j * unsafeBitCast((integer &+ 127) &<< 23, to: SIMD16<Float>.self)
        }
        // 2ⁿ outside the normal range (subnormal or infinite results), or |n| > 192: ggml's
        // `_mm512_scalef_ps` and its cut-offs, lane by lane.
        var result = SIMD16<Float>()
        for i in 0..<16 {
            if n[i].isNaN { result[i] = .nan } else if magnitude[i] > 192 { result[i] = n[i] <= 0 ? 0 : .infinity }
            else { result[i] = Float(sign: .plus, exponent: Int(n[i]), significand: j[i]) }
        }
        return result
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

    /// The lanes summed by halves (`v[i] + v[i+8]`, then `+4`, `+2`, `+1`), the order of x86's
    /// horizontal sums (`_mm512_reduce_add_ps`, ggml's `hsum_float_8`). The standard library's
    /// `sum()` adds lane after lane, which rounds differently.
    @inlinable @inline(__always)
    public static func pairwiseSum(_ v: SIMD16<Float>) -> Float {
        pairwiseSum(v.lowHalf + v.highHalf)
    }

    /// ``pairwiseSum(_:)-(SIMD16<Float>)`` of eight lanes.
    @inlinable @inline(__always)
    public static func pairwiseSum(_ v: SIMD8<Float>) -> Float {
        let four = v.lowHalf + v.highHalf
        let two = four.lowHalf + four.highHalf
        return two[0] + two[1]
    }

    /// `a · b` over `count` floats, summed as ggml's `ggml_vec_dot_f32`/`_f16` sum (see
    /// ``ggmlReduce(_:_:_:_:)``). Inlined into callers: attention over short sequences makes
    /// many small calls.
    @inlinable @inline(__always)
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        var s0 = SIMD16<Float>(), s1 = SIMD16<Float>(), s2 = SIMD16<Float>(), s3 = SIMD16<Float>()
        let vectorEnd = count / 64 * 64
        for i in stride(from: 0, to: vectorEnd, by: 64) {
            s0.addProduct(lanes(a + i), lanes(b + i))
            s1.addProduct(lanes(a + i + 16), lanes(b + i + 16))
            s2.addProduct(lanes(a + i + 32), lanes(b + i + 32))
            s3.addProduct(lanes(a + i + 48), lanes(b + i + 48))
        }
        var sum = Double(ggmlReduce(s0, s1, s2, s3))
        for i in vectorEnd..<count { sum += Double(a[i] * b[i]) }
        return Float(sum)
    }

    /// `a · b` over `count` values with `b` in half precision (an f16 key cache), in the same
    /// order as ``dot(_:_:count:)-(UnsafePointer<Float>,UnsafePointer<Float>,_)``. Written out
    /// twice rather than generic over `b`'s type: unspecialised generics in the attention loop
    /// would slow the debug-built model tests many times over (see SIMDWidening.swift).
    @inlinable @inline(__always)
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float16>, count: Int) -> Float {
        var s0 = SIMD16<Float>(), s1 = SIMD16<Float>(), s2 = SIMD16<Float>(), s3 = SIMD16<Float>()
        let vectorEnd = count / 64 * 64
        for i in stride(from: 0, to: vectorEnd, by: 64) {
            s0.addProduct(lanes(a + i), lanes(b + i))
            s1.addProduct(lanes(a + i + 16), lanes(b + i + 16))
            s2.addProduct(lanes(a + i + 32), lanes(b + i + 32))
            s3.addProduct(lanes(a + i + 48), lanes(b + i + 48))
        }
        var sum = Double(ggmlReduce(s0, s1, s2, s3))
        for i in vectorEnd..<count { sum += Double(a[i] * Float(b[i])) }
        return Float(sum)
    }

    /// 16 floats at `p`.
    @inlinable @inline(__always)
    static func lanes(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
    }

    /// 16 halves at `p` widened to floats, in a lane loop (`vcvtph2ps`): `SIMD16<Float>(SIMD16<Float16>)`
    /// stays an out-of-line call.
    @inlinable @inline(__always)
    static func lanes(_ p: UnsafePointer<Float16>) -> SIMD16<Float> {
        var wide = SIMD16<Float>()
        for k in 0..<16 { wide[k] = Float(p[k]) }
        return wide
    }

    /// The four 16-lane partial sums of ggml's dot products (`GGML_F32x16_REDUCE`): `0 + 2`,
    /// `1 + 3`, those two, then the lanes by halves.
    @inlinable @inline(__always)
    public static func ggmlReduce(_ s0: SIMD16<Float>, _ s1: SIMD16<Float>, _ s2: SIMD16<Float>, _ s3: SIMD16<Float>) -> Float {
        pairwiseSum((s0 + s2) + (s1 + s3))
    }

    /// Softmax of `count` values, in place, as ggml's `soft_max` computes it: `eˣⁱ⁻ᵐᵃˣ` sixteen
    /// lanes at a time, each group's pairwise sum added to a double-precision total (a last
    /// partial group summed with zeros in its empty lanes), then every value multiplied by
    /// `1 / total` rounded to single precision.
    public static func softmax(_ values: UnsafeMutablePointer<Float>, count: Int) {
        let raw = UnsafeMutableRawPointer(values)
        let vectorEnd = count / 16 * 16
        var maxima = SIMD16<Float>(repeating: -.infinity)
        for i in stride(from: 0, to: vectorEnd, by: 16) {
            let v = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            maxima.replace(with: v, where: v .> maxima)
        }
        var maximum = maxima.max()
        for i in vectorEnd..<count { maximum = max(maximum, values[i]) }
        var sum: Double = 0
        for i in stride(from: 0, to: vectorEnd, by: 16) {
            let e = exp(raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self) - maximum)
            raw.storeBytes(of: e, toByteOffset: i * 4, as: SIMD16<Float>.self)
            sum += Double(pairwiseSum(e))
        }
        if vectorEnd < count {
            var tail = SIMD16<Float>(repeating: -.infinity)
            for i in vectorEnd..<count { tail[i - vectorEnd] = values[i] }
            let e = exp(tail - maximum)
            for i in vectorEnd..<count { values[i] = e[i - vectorEnd] }
            sum += Double(pairwiseSum(e))
        }
        let inverse = Float(1 / sum)
        for i in 0..<count { values[i] *= inverse }
    }

    /// SwiGLU, `gate = silu(gate) · up` over `count` values, as ggml's `ggml_vec_swiglu_f32`:
    /// `silu(x) = x / (1 + e⁻ˣ)` with the vector ``exp(_:)``.
    public static func swiGLU(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, count: Int) {
        let (rg, ru) = (UnsafeMutableRawPointer(gate), UnsafeRawPointer(up))
        let vectorEnd = count / 16 * 16
        for i in stride(from: 0, to: vectorEnd, by: 16) {
            let x = rg.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            let silu = x / (1 + exp(0 - x))
            rg.storeBytes(of: silu * ru.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self),
                          toByteOffset: i * 4, as: SIMD16<Float>.self)
        }
        for i in vectorEnd..<count { gate[i] = gate[i] / (1 + expf(-gate[i])) * up[i] }
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
        let vectorEnd = count / 16 * 16
        for i in stride(from: 0, to: vectorEnd, by: 16) {
            let x = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            raw.storeBytes(of: x / (1 + exp(-1.702 * x)), toByteOffset: i * 4, as: SIMD16<Float>.self)
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
