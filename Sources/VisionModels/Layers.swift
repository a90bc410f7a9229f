// Dense layers shared by the transformer encoders and projectors: rows are tokens, weights are
// PyTorch `nn.Linear` layout ([out, in]). Products are OpenBLAS GEMMs split between the threads
// of a `ThreadPool`, each thread running a single-threaded GEMM on its share of the output
// columns (as `LlamaSession` does): one set of threads for all parallel work, and OpenBLAS's own
// threads kept out of the way of the pool's.

import CBLAS
import Foundation
import Tensors

/// `y = x Wᵀ + b` for a batch of rows.
struct Linear: Sendable {
    let inputs: Int, outputs: Int
    /// `[outputs, inputs]`, row-major.
    let weight: [Float]
    let bias: [Float]?

    init(weights: some WeightSource, name: String, inputs: Int, outputs: Int, bias hasBias: Bool = true) throws {
        (self.inputs, self.outputs) = (inputs, outputs)
        weight = try weights.tensor(name + ".weight", shape: [outputs, inputs]).scalars
        bias = hasBias ? try weights.tensor(name + ".bias", shape: [outputs]).scalars : nil
    }

    /// Layers reading the same input, stacked into one: their outputs side by side in each row.
    init(stacking parts: [Linear]) {
        precondition(!parts.isEmpty && parts.allSatisfy { $0.inputs == parts[0].inputs })
        let biases = parts.compactMap(\.bias)
        self.init(inputs: parts[0].inputs, outputs: parts.map(\.outputs).reduce(0, +), weight: parts.flatMap(\.weight),
                  bias: biases.count == parts.count ? biases.flatMap { $0 } : nil)
    }

    init(inputs: Int, outputs: Int, weight: [Float], bias: [Float]?) {
        precondition(weight.count == inputs * outputs && (bias?.count ?? outputs) == outputs)
        (self.inputs, self.outputs, self.weight, self.bias) = (inputs, outputs, weight, bias)
    }

    /// Writes `x Wᵀ + b` for `rows` rows of `x` into `y`, or adds it to `y` when `accumulate`
    /// (a residual connection); `activation` is applied to the result (not with `accumulate`).
    func apply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, accumulate: Bool = false,
               activation: ActivationFunction? = nil, pool: ThreadPool) {
        precondition(!(accumulate && activation != nil))
        // The pool's threads are all the threads (as in `Llama`): no OpenBLAS threads competing.
        if openblas_get_num_threads() != 1 { openblas_set_num_threads(1) }
        let (inputs, outputs) = (inputs, outputs)
        func run(_ w: UnsafePointer<Float>, _ b: UnsafePointer<Float>?) {
            pool.parallelFor(outputs, granularity: 16) { columns in
                let n = columns.count, start = columns.lowerBound
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(n), Int32(inputs), 1,
                            x, Int32(inputs), w + start * inputs, Int32(inputs), accumulate ? 1 : 0,
                            y + start, Int32(outputs))
                for r in 0..<rows {
                    let out = y + r * outputs + start
                    if let b { for o in 0..<n { out[o] += b[start + o] } }
                    activation?.apply(out, count: n)
                }
            }
        }
        weight.withUnsafeBufferPointer { w in
            if let bias {
                bias.withUnsafeBufferPointer { run(w.baseAddress!, $0.baseAddress!) }
            } else {
                run(w.baseAddress!, nil)
            }
        }
    }
}

/// Layer normalisation over the last dimension, with learned scale and shift.
struct LayerNorm: Sendable {
    let weight: [Float], bias: [Float]
    let epsilon: Float

    init(weights: some WeightSource, name: String, width: Int, epsilon: Float) throws {
        weight = try weights.tensor(name + ".weight", shape: [width]).scalars
        bias = try weights.tensor(name + ".bias", shape: [width]).scalars
        self.epsilon = epsilon
    }

    /// Normalises `rows` rows of `x` into `y` (which may be `x`), rows split between the threads.
    func apply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        let width = weight.count
        weight.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { b in
                pool.parallelFor(rows) { range in
                    for r in range {
                        let (input, output) = (x + r * width, y + r * width)
                        var mean: Float = 0
                        for i in 0..<width { mean += input[i] }
                        mean /= Float(width)
                        var variance: Float = 0
                        for i in 0..<width { let d = input[i] - mean; variance += d * d }
                        let scale = 1 / (variance / Float(width) + epsilon).squareRoot()
                        for i in 0..<width { output[i] = (input[i] - mean) * scale * w[i] + b[i] }
                    }
                }
            }
        }
    }
}

/// The activations the vision towers and projectors use, by their Hugging Face names.
public enum ActivationFunction: String, Sendable {
    /// `0.5 x (1 + erf(x / √2))`.
    case gelu
    /// CLIP's `x σ(1.702 x)`.
    case quickGelu = "quick_gelu"
    /// The tanh approximation of GELU.
    case geluTanh = "gelu_pytorch_tanh"

    func apply(_ x: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .gelu:
            for i in 0..<count { x[i] = 0.5 * x[i] * (1 + erff(x[i] * 0.707_106_78)) }
        case .quickGelu:
            VectorMath.quickGelu(x, count: count)
        case .geluTanh:
            for i in 0..<count {
                let v = x[i]
                x[i] = 0.5 * v * (1 + tanhf(0.797_884_6 * (v + 0.044_715 * v * v * v)))
            }
        }
    }
}
