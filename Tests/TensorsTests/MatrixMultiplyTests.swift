import Testing
@testable import Tensors

/// OpenBLAS against a plain triple loop on deterministic, non-symmetric data.
@Suite struct MatrixMultiplyTests {
    private func pseudoRandom(_ count: Int, seed: UInt32) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 1_664_525 &+ 1_013_904_223
            return Float(Int(state >> 8) % 2001 - 1000) / 1000
        }
    }

    private func naive(_ a: [Float], _ b: [Float], m: Int, n: Int, k: Int, transposeB: Bool) -> [Float] {
        var c = [Float](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n {
            var s: Float = 0
            for p in 0..<k { s += a[i * k + p] * (transposeB ? b[j * k + p] : b[p * n + j]) }
            c[i * n + j] = s
        } }
        return c
    }

    @Test(arguments: [false, true])
    func gemmMatchesNaiveLoop(transposeB: Bool) {
        let (m, n, k) = (7, 13, 29)
        let a = pseudoRandom(m * k, seed: 1), b = pseudoRandom(k * n, seed: 2)
        var c = [Float](repeating: .nan, count: m * n)
        MatrixMultiply.gemm(m: m, n: n, k: k, a: a, b: b, transposeB: transposeB, c: &c)
        let expected = naive(a, b, m: m, n: n, k: k, transposeB: transposeB)
        for (x, y) in zip(c, expected) { #expect(abs(x - y) <= 1e-4) }
    }
}

@Suite struct ThreadPoolTests {
    @Test func everyPartRunsAndPoolsCanComeAndGo() {
        // Many short-lived pools: workers must stop cleanly after their pool is gone.
        for threads in [1, 2, 3] {
            for _ in 0..<20 {
                let pool = ThreadPool(threads: threads)
                var counts = [Int](repeating: 0, count: 1000)
                counts.withUnsafeMutableBufferPointer { buffer in
                    let base = buffer.baseAddress!
                    pool.parallelFor(1000, granularity: 7) { range in for i in range { base[i] += 1 } }
                }
                #expect(counts.allSatisfy { $0 == 1 })
            }
        }
    }
}
