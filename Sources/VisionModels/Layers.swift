// Dense layers shared by the transformer encoders and projectors: rows are tokens, weights are
// PyTorch `nn.Linear` layout ([out, in]), products go through OpenBLAS.

import Foundation
import Tensors

/// `y = x Wᵀ + b` for a batch of rows.
struct Linear {
    let inputs: Int, outputs: Int
    /// `[outputs, inputs]`, row-major.
    let weight: [Float]
    let bias: [Float]?

    init(weights: some WeightSource, name: String, inputs: Int, outputs: Int, bias hasBias: Bool = true) throws {
        (self.inputs, self.outputs) = (inputs, outputs)
        weight = try weights.tensor(name + ".weight", shape: [outputs, inputs]).scalars
        bias = hasBias ? try weights.tensor(name + ".bias", shape: [outputs]).scalars : nil
    }

    /// `rows` rows of `inputs` values in, `rows` rows of `outputs` values out.
    func callAsFunction(_ x: [Float], rows: Int) -> [Float] {
        precondition(x.count == rows * inputs)
        var y = [Float](repeating: 0, count: rows * outputs)
        x.withUnsafeBufferPointer { a in
            weight.withUnsafeBufferPointer { w in
                y.withUnsafeMutableBufferPointer { c in
                    MatrixMultiply.gemm(m: rows, n: outputs, k: inputs, a: a.baseAddress!, b: w.baseAddress!,
                                        transposeB: true, c: c.baseAddress!)
                }
            }
        }
        if let bias {
            for r in 0..<rows { for o in 0..<outputs { y[r * outputs + o] += bias[o] } }
        }
        return y
    }
}

/// Layer normalisation over the last dimension, with learned scale and shift.
struct LayerNorm {
    let weight: [Float], bias: [Float]
    let epsilon: Float

    init(weights: some WeightSource, name: String, width: Int, epsilon: Float) throws {
        weight = try weights.tensor(name + ".weight", shape: [width]).scalars
        bias = try weights.tensor(name + ".bias", shape: [width]).scalars
        self.epsilon = epsilon
    }

    func callAsFunction(_ x: [Float]) -> [Float] {
        let width = weight.count
        var y = x
        for start in stride(from: 0, to: x.count, by: width) {
            var mean: Float = 0
            for i in 0..<width { mean += x[start + i] }
            mean /= Float(width)
            var variance: Float = 0
            for i in 0..<width { let d = x[start + i] - mean; variance += d * d }
            let scale = 1 / (variance / Float(width) + epsilon).squareRoot()
            for i in 0..<width { y[start + i] = (x[start + i] - mean) * scale * weight[i] + bias[i] }
        }
        return y
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

    func apply(_ x: inout [Float]) {
        switch self {
        case .gelu:
            for i in x.indices { x[i] = 0.5 * x[i] * (1 + erff(x[i] * 0.707_106_78)) }
        case .quickGelu:
            for i in x.indices { x[i] = x[i] / (1 + expf(-1.702 * x[i])) }
        case .geluTanh:
            for i in x.indices {
                let v = x[i]
                x[i] = 0.5 * v * (1 + tanhf(0.797_884_6 * (v + 0.044_715 * v * v * v)))
            }
        }
    }
}
