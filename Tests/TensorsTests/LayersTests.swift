import Foundation
import Testing
import Tensors

/// `Linear` and `LayerNorm` against plain loops, on a thread pool and on the calling thread.
@Suite struct LayersTests {
    static let (rows, inputs, outputs) = (5, 24, 40)

    static func values(_ count: Int, seed: UInt64) -> [Float] {
        var random = SplitMix64(seed: seed)
        return (0..<count).map { _ in Float(random.nextUnit()) * 2 - 1 }
    }

    /// `x Wᵀ + b` in doubles.
    static func reference(_ layer: Linear, _ x: [Float]) -> [Float] {
        (0..<rows).flatMap { r in
            (0..<layer.outputs).map { o in
                var sum = Double(layer.bias?[o] ?? 0)
                for i in 0..<layer.inputs { sum += Double(x[r * layer.inputs + i]) * Double(layer.weight[o * layer.inputs + i]) }
                return Float(sum)
            }
        }
    }

    func run(_ layer: Linear, _ x: [Float], initial: [Float]? = nil, accumulate: Bool = false,
             activation: ActivationFunction? = nil, pool: ThreadPool?) -> [Float] {
        var y = initial ?? [Float](repeating: .nan, count: Self.rows * layer.outputs)
        x.withUnsafeBufferPointer { x in
            y.withUnsafeMutableBufferPointer { y in
                layer.apply(x.baseAddress!, rows: Self.rows, into: y.baseAddress!, accumulate: accumulate,
                            activation: activation, pool: pool)
            }
        }
        return y
    }

    @Test(arguments: [1, 3]) func linearMatchesItsDefinition(threads: Int) {
        let (rows, inputs, outputs) = (Self.rows, Self.inputs, Self.outputs)
        let pool = ThreadPool(threads: threads)
        let x = Self.values(rows * inputs, seed: 1)
        let layer = Linear(inputs: inputs, outputs: outputs, weight: Self.values(outputs * inputs, seed: 2),
                           bias: Self.values(outputs, seed: 3))
        let expected = Self.reference(layer, x)
        for candidate in [run(layer, x, pool: pool), run(layer, x, pool: nil)] {
            #expect(zip(candidate, expected).allSatisfy { abs($0 - $1) < 1e-5 })
        }
        // Without bias, added to what `y` holds.
        let unbiased = Linear(inputs: inputs, outputs: outputs, weight: layer.weight, bias: nil)
        let residual = Self.values(rows * outputs, seed: 4)
        let sums = zip(Self.reference(unbiased, x), residual).map(+)
        for candidate in [run(unbiased, x, initial: residual, accumulate: true, pool: pool),
                          run(unbiased, x, initial: residual, accumulate: true, pool: nil)] {
            #expect(zip(candidate, sums).allSatisfy { abs($0 - $1) < 1e-5 })
        }
        // With an activation.
        let gelu = expected.map { 0.5 * $0 * (1 + erff($0 * 0.707_106_78)) }
        for candidate in [run(layer, x, activation: .gelu, pool: pool), run(layer, x, activation: .gelu, pool: nil)] {
            #expect(zip(candidate, gelu).allSatisfy { abs($0 - $1) < 1e-5 })
        }
    }

    @Test func stackedLayersGiveTheirOutputsSideBySide() {
        let parts = (0..<3).map { i in
            Linear(inputs: Self.inputs, outputs: 8, weight: Self.values(8 * Self.inputs, seed: 10 + UInt64(i)),
                   bias: Self.values(8, seed: 20 + UInt64(i)))
        }
        let x = Self.values(Self.rows * Self.inputs, seed: 5)
        let stacked = run(Linear(stacking: parts), x, pool: nil)
        let separate = parts.map { run($0, x, pool: nil) }
        for r in 0..<Self.rows {
            #expect(Array(stacked[(r * 24)..<(r * 24 + 24)]) == separate.flatMap { $0[(r * 8)..<(r * 8 + 8)] })
        }
    }

    @Test(arguments: [1, 3]) func layerNormMatchesItsDefinition(threads: Int) {
        let (rows, width) = (Self.rows, 19)
        let pool = ThreadPool(threads: threads)
        let norm = LayerNorm(weight: Self.values(width, seed: 6), bias: Self.values(width, seed: 7), epsilon: 1e-5)
        let (x, residual) = (Self.values(rows * width, seed: 8), Self.values(rows * width, seed: 9))
        func reference(_ x: [Float]) -> [Float] {
            (0..<rows).flatMap { r in
                let row = x[(r * width)..<((r + 1) * width)].map(Double.init)
                let mean = row.reduce(0, +) / Double(width)
                let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(width)
                return row.indices.map { i in
                    Float((row[i] - mean) / (variance + 1e-5).squareRoot() * Double(norm.weight[i]) + Double(norm.bias[i]))
                }
            }
        }
        let expected = reference(x), expectedSum = reference(zip(x, residual).map(+))
        for pool in [pool, nil] {
            var y = x
            y.withUnsafeMutableBufferPointer { norm.apply($0.baseAddress!, rows: rows, into: $0.baseAddress!, pool: pool) }
            #expect(zip(y, expected).allSatisfy { abs($0 - $1) < 1e-5 })
            // The post-norm residual form, writing over the residual stream.
            var (stream, branch) = (residual, x)
            stream.withUnsafeMutableBufferPointer { s in
                branch.withUnsafeMutableBufferPointer { b in
                    norm.apply(residual: s.baseAddress!, b.baseAddress!, rows: rows, into: s.baseAddress!, pool: pool)
                }
            }
            #expect(zip(stream, expectedSum).allSatisfy { abs($0 - $1) < 1e-5 })
        }
    }
}
