// Loading the shared layers (`Linear`, `LayerNorm` in `Tensors`) from checkpoint tensors under
// their PyTorch names: `<name>.weight`, `<name>.bias`.

import Tensors

extension Linear {
    /// `<name>.weight` (`[outputs, inputs]`) and, when `bias`, `<name>.bias` (`[outputs]`).
    init(weights: some WeightSource, name: String, inputs: Int, outputs: Int, bias hasBias: Bool = true) throws {
        self.init(inputs: inputs, outputs: outputs, weight: try weights.tensor(name + ".weight", shape: [outputs, inputs]).scalars,
                  bias: hasBias ? try weights.tensor(name + ".bias", shape: [outputs]).scalars : nil)
    }
}

extension LayerNorm {
    /// `<name>.weight` and `<name>.bias`, `width` values each.
    init(weights: some WeightSource, name: String, width: Int, epsilon: Float) throws {
        self.init(weight: try weights.tensor(name + ".weight", shape: [width]).scalars,
                  bias: try weights.tensor(name + ".bias", shape: [width]).scalars, epsilon: epsilon)
    }
}
