// The dense building blocks of the transformer encoders (CLIP's vision tower, BERT) and LLaVA's
// projectors: a linear layer, layer normalisation and the GELU family. Rows are tokens, weights
// are in PyTorch `nn.Linear` layout (`[out, in]`), everything is f32 and row-major.
//
// Products are OpenBLAS sgemms, single-threaded: either split by output columns between the
// threads of a `ThreadPool` (one set of threads for all parallel work, as `LlamaSession` does),
// or run whole on the calling thread when the caller already works in parallel (BERT runs one
// batch per thread). OpenBLAS's own threads are kept out of the way of ours.

import CBLAS
import Foundation

/// `y = x Wᵀ + b` for a batch of rows, optionally followed by an activation or added to `y`.
public struct Linear: Sendable {
    public let inputs: Int, outputs: Int
    /// `[outputs, inputs]`, row-major (PyTorch `nn.Linear.weight`).
    public let weight: [Float]
    /// `outputs` values, or `nil` for a layer without bias.
    public let bias: [Float]?

    public init(inputs: Int, outputs: Int, weight: [Float], bias: [Float]?) {
        precondition(weight.count == inputs * outputs && (bias?.count ?? outputs) == outputs)
        (self.inputs, self.outputs, self.weight, self.bias) = (inputs, outputs, weight, bias)
    }

    /// Layers reading the same input, stacked into one (e.g. query, key and value): their
    /// outputs side by side in each row. Either all parts have a bias or none.
    public init(stacking parts: [Linear]) {
        precondition(!parts.isEmpty && parts.allSatisfy { $0.inputs == parts[0].inputs })
        let biases = parts.compactMap(\.bias)
        precondition(biases.isEmpty || biases.count == parts.count, "some stacked layers have a bias and some not")
        self.init(inputs: parts[0].inputs, outputs: parts.map(\.outputs).reduce(0, +), weight: parts.flatMap(\.weight),
                  bias: biases.isEmpty ? nil : biases.flatMap { $0 })
    }

    /// Writes `x Wᵀ + b` for `rows` rows of `x` (`inputs` wide) into `y` (`outputs` wide), or
    /// adds it to `y` when `accumulate` (a residual connection); `activation` is applied to the
    /// result (not with `accumulate`).
    ///
    /// With a `pool`, the output columns are split between its threads. Without one, the
    /// product runs on the calling thread: for callers that already run in parallel, which
    /// must have called ``MatrixMultiply/useSingleThreadedBLAS()`` before their threads start.
    public func apply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, accumulate: Bool = false,
                      activation: ActivationFunction? = nil, pool: ThreadPool? = nil) {
        precondition(!(accumulate && activation != nil))
        if pool != nil { MatrixMultiply.useSingleThreadedBLAS() }
        let (inputs, outputs) = (inputs, outputs)
        func run(_ w: UnsafePointer<Float>, _ b: UnsafePointer<Float>?) {
            // Output columns `columns`, for every row.
            func part(_ columns: Range<Int>) {
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
            if let pool { pool.parallelFor(outputs, granularity: 16, part) } else { part(0..<outputs) }
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

/// Layer normalisation over each row (the last dimension), with learned scale and shift.
public struct LayerNorm: Sendable {
    /// Scale and shift, one per column.
    public let weight: [Float], bias: [Float]
    public let epsilon: Float

    public init(weight: [Float], bias: [Float], epsilon: Float) {
        precondition(weight.count == bias.count)
        (self.weight, self.bias, self.epsilon) = (weight, bias, epsilon)
    }

    /// Normalises `rows` rows of `x` into `y` (which may be `x`); rows are split between the
    /// threads of `pool`, or all run on the calling thread without one.
    public func apply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, pool: ThreadPool? = nil) {
        forEachRow(rows, pool: pool) { r, w, b in normalize(x + r * weight.count, into: y + r * weight.count, w, b) }
    }

    /// Post-norm residual connection: `y = LN(residual + x)` row by row, leaving `residual + x`
    /// in `x`. `y` may be `residual` (the residual stream, updated in place).
    public func apply(residual: UnsafePointer<Float>, _ x: UnsafeMutablePointer<Float>, rows: Int,
                      into y: UnsafeMutablePointer<Float>, pool: ThreadPool? = nil) {
        let width = weight.count
        forEachRow(rows, pool: pool) { r, w, b in
            let (sum, input) = (x + r * width, residual + r * width)
            for i in 0..<width { sum[i] += input[i] }
            normalize(sum, into: y + r * width, w, b)
        }
    }

    private func forEachRow(_ rows: Int, pool: ThreadPool?,
                            _ body: (Int, UnsafePointer<Float>, UnsafePointer<Float>) -> Void) {
        weight.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { b in
                let (w, b) = (w.baseAddress!, b.baseAddress!)
                if let pool {
                    pool.parallelFor(rows) { range in for r in range { body(r, w, b) } }
                } else {
                    for r in 0..<rows { body(r, w, b) }
                }
            }
        }
    }

    @inline(__always)
    private func normalize(_ input: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>,
                           _ w: UnsafePointer<Float>, _ b: UnsafePointer<Float>) {
        let width = weight.count
        var mean: Float = 0
        for i in 0..<width { mean += input[i] }
        mean /= Float(width)
        var variance: Float = 0
        for i in 0..<width { let d = input[i] - mean; variance += d * d }
        let scale = 1 / (variance / Float(width) + epsilon).squareRoot()
        for i in 0..<width { output[i] = (input[i] - mean) * scale * w[i] + b[i] }
    }
}

/// The activations of the encoders and projectors, by their Hugging Face `hidden_act` names.
public enum ActivationFunction: String, Sendable {
    /// `0.5 x (1 + erf(x / √2))`, the exact GELU.
    case gelu
    /// CLIP's `x σ(1.702 x)`.
    case quickGelu = "quick_gelu"
    /// The tanh approximation of GELU.
    case geluTanh = "gelu_pytorch_tanh"

    /// Applies the activation to `count` values in place.
    public func apply(_ x: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .gelu: VectorMath.gelu(x, count: count)
        case .quickGelu: VectorMath.quickGelu(x, count: count)
        case .geluTanh: VectorMath.geluTanh(x, count: count)
        }
    }
}

extension MatrixMultiply {
    /// Sets OpenBLAS to one thread (if it is not already): our own threads do the parallel
    /// work, and OpenBLAS's would compete with them. Call it before starting threads that run
    /// products, not from inside them (the setting is global).
    public static func useSingleThreadedBLAS() {
        if openblas_get_num_threads() != 1 { openblas_set_num_threads(1) }
    }
}
