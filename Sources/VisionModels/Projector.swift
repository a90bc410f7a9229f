import Foundation
import Tensors

/// Maps vision features into the language model's embedding space: LLaVA's `linear`,
/// `mlp<N>x_gelu` (N linear layers with GELU between them) or `identity`.
public struct Projector: Sendable {
    public enum Kind: Equatable, Sendable {
        case identity
        /// `depth` linear layers (1 = LLaVA v1's `linear`, 2 = LLaVA-1.5's `mlp2x_gelu`).
        case mlp(depth: Int)

        /// From LLaVA's `mm_projector_type` string.
        public init?(llavaName: String) {
            if llavaName == "identity" { self = .identity; return }
            if llavaName == "linear" { self = .mlp(depth: 1); return }
            guard llavaName.hasPrefix("mlp"), llavaName.hasSuffix("x_gelu"),
                  let depth = Int(llavaName.dropFirst(3).dropLast(6)), depth >= 1 else { return nil }
            self = .mlp(depth: depth)
        }

        /// LLaVA's `mm_projector_type` string.
        public var llavaName: String {
            switch self {
            case .identity: "identity"
            case .mlp(depth: 1): "linear"
            case .mlp(let depth): "mlp\(depth)x_gelu"
            }
        }
    }

    public let kind: Kind
    let layers: [Linear]

    /// The width of the features in, then of each layer's output.
    public var widths: [Int] { (layers.first.map { [$0.inputs] } ?? []) + layers.map(\.outputs) }

    /// Loads the layers named by `layerName(i)` (e.g. llava-hf's `multi_modal_projector.linear_\(i + 1)`,
    /// original LLaVA's `model.mm_projector.\(2 * i)`), checking they chain from `inputs` to `outputs`.
    public init(kind: Kind, weights: some WeightSource, inputs: Int, outputs: Int, layerName: (Int) -> String) throws {
        self.kind = kind
        switch kind {
        case .identity:
            guard inputs == outputs else {
                throw WeightError.unsupported("an identity projector from \(inputs) to \(outputs) values")
            }
            layers = []
        case .mlp(let depth):
            layers = try (0..<depth).map { i in
                try Linear(weights: weights, name: layerName(i), inputs: i == 0 ? inputs : outputs, outputs: outputs)
            }
        }
    }

    /// `[tokens, inputs]` features to `[tokens, outputs]` embeddings, split between `pool`'s threads.
    public func callAsFunction(_ features: Tensor, pool: ThreadPool) -> Tensor {
        let tokens = features.shape[0]
        guard let last = layers.last else { return features }
        var x = features.scalars
        for (i, layer) in layers.enumerated() {
            var y = [Float](repeating: 0, count: tokens * layer.outputs)
            x.withUnsafeBufferPointer { input in
                y.withUnsafeMutableBufferPointer { output in
                    layer.apply(input.baseAddress!, rows: tokens, into: output.baseAddress!,
                                activation: i < layers.count - 1 ? .gelu : nil, pool: pool)
                }
            }
            x = y
        }
        return Tensor(shape: [tokens, last.outputs], scalars: x)
    }
}
