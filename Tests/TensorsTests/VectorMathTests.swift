import Foundation
import Testing
import Tensors

/// The vectorised exponential and erf against libm's `expf` and `erff`, and the kernels built on them.
@Suite struct VectorMathTests {
    /// ggml's vector exponential is within 1.5 ulp of the true value (libm's `expf` is within
    /// 0.5), over the whole range where results are normal; outside it, 0 and infinity.
    @Test func expMatchesLibmAcrossTheRange() {
        var worst: Float = 0
        for step in 0..<20_000 {
            let base = -87 + Float(step) * (175 / 20_000)
            let x = SIMD16<Float>((0..<16).map { base + Float($0) * 5e-4 })
            let e = VectorMath.exp(x)
            for lane in 0..<16 { worst = max(worst, abs(e[lane] - expf(x[lane])) / expf(x[lane]).ulp) }
        }
        #expect(worst <= 2, "largest error \(worst) ulp")
        #expect(VectorMath.exp(SIMD16(repeating: -1000)) == SIMD16(repeating: 0))
        #expect(VectorMath.exp(SIMD16(repeating: 1000)) == SIMD16(repeating: .infinity))
        #expect(VectorMath.exp(SIMD16(repeating: .nan))[0].isNaN)
        // Subnormal results go through the lane-by-lane path and still land near libm's.
        let tiny = VectorMath.exp(SIMD16(repeating: -95))[0]
        #expect(abs(tiny - expf(-95)) <= 2 * expf(-95).ulp)
    }

    @Test func softmaxAndQuickGeluMatchTheirDefinitions() {
        // 19 values: a vector of sixteen and a tail of three.
        let x: [Float] = (0..<19).map { Float($0 * 7 % 19) * 0.9 - 8 }
        var probabilities = x
        probabilities.withUnsafeMutableBufferPointer { VectorMath.softmax($0.baseAddress!, count: $0.count) }
        let exps = x.map { expf($0 - x.max()!) }
        for (p, e) in zip(probabilities, exps) { #expect(abs(p - e / exps.reduce(0, +)) < 1e-7) }
        var gelu = x
        gelu.withUnsafeMutableBufferPointer { VectorMath.quickGelu($0.baseAddress!, count: $0.count) }
        for (g, v) in zip(gelu, x) { #expect(abs(g - v / (1 + expf(-1.702 * v))) < 1e-5 * max(1, abs(v))) }
    }

    /// The vectorised erf stays within float rounding of libm's.
    @Test func geluMatchesLibm() {
        var values = (0..<2001).map { Float($0 - 1000) / 150 }
        let expected = values.map { 0.5 * $0 * (1 + erff($0 * 0.707_106_78)) }
        values.withUnsafeMutableBufferPointer { VectorMath.gelu($0.baseAddress!, count: $0.count) }
        #expect(zip(values, expected).allSatisfy { abs($0 - $1) < 2e-6 })
    }

    @Test func dotMatchesASum() {
        let (a, b) = ((0..<37).map { Float($0) * 0.25 - 3 }, (0..<37).map { 1 - Float($0 % 5) * 0.5 })
        let dot = VectorMath.dot(a, b, count: 37)
        #expect(abs(dot - zip(a, b).map(*).reduce(0, +)) < 1e-4)
    }

    /// The f16 key-cache dot: vector lanes plus a scalar tail, against a float64 sum.
    @Test func halfPrecisionDotMatchesAFloat64Sum() {
        for count in [8, 64, 37] {
            let a = (0..<count).map { Float($0) * 0.25 - 3 }
            let b = (0..<count).map { Float16(1 - Float($0 % 5) * 0.375) }
            let expected = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            #expect(abs(Double(VectorMath.dot(a, b, count: count)) - expected) < 1e-4, "count \(count)")
        }
    }
}
