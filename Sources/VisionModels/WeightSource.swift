import Tensors

/// Where a model's weights come from: a checkpoint file, or tensors built in memory.
public protocol WeightSource {
    /// The named tensor as f32; throws naming the tensor when it is absent or not convertible.
    func tensor(_ name: String) throws -> Tensor
}

/// A checkpoint that lacks a tensor or holds one of the wrong shape.
public enum WeightError: Error, CustomStringConvertible, Equatable {
    case missing(String)
    case shapeMismatch(name: String, expected: [Int], found: [Int])
    case unsupported(String)

    public var description: String {
        switch self {
        case .missing(let name): "checkpoint has no tensor '\(name)'"
        case .shapeMismatch(let name, let expected, let found):
            "tensor '\(name)' has shape \(found), expected \(expected)"
        case .unsupported(let what): "unsupported: \(what)"
        }
    }
}

extension WeightSource {
    /// The named tensor, checked to have exactly `shape`.
    public func tensor(_ name: String, shape: [Int]) throws -> Tensor {
        let tensor = try tensor(name)
        guard tensor.shape == shape else { throw WeightError.shapeMismatch(name: name, expected: shape, found: tensor.shape) }
        return tensor
    }
}

/// Tensors held in a dictionary (tests, converted checkpoints).
extension Dictionary: WeightSource where Key == String, Value == Tensor {
    public func tensor(_ name: String) throws -> Tensor {
        guard let tensor = self[name] else { throw WeightError.missing(name) }
        return tensor
    }
}
