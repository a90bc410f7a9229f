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
    }

    public let kind: Kind
    let layers: [Linear]

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

    /// `[tokens, inputs]` features to `[tokens, outputs]` embeddings.
    public func callAsFunction(_ features: Tensor) -> Tensor {
        let tokens = features.shape[0]
        var x = features.scalars
        for (i, layer) in layers.enumerated() {
            x = layer(x, rows: tokens)
            if i < layers.count - 1 { ActivationFunction.gelu.apply(&x) }
        }
        return Tensor(shape: [tokens, x.count / max(tokens, 1)], scalars: x)
    }
}
