import Foundation

/// The shape of a LLaMA-family decoder, from GGUF metadata or a Hugging Face `config.json`.
public struct LlamaConfiguration: Sendable, Equatable {
    /// How RoPE pairs up the dimensions of each head.
    public enum RopeStyle: Sendable, Equatable {
        /// Adjacent pairs `(2i, 2i+1)`: GGUF files, whose converter permuted Q and K.
        case interleaved
        /// Split halves `(i, i + d/2)`: Hugging Face checkpoints (`rotate_half`).
        case halves
    }

    /// How the rotary frequencies are stretched for contexts longer than the pre-training one.
    public enum RopeScaling: Sendable, Equatable {
        case none
        /// Every frequency divided by `factor` (positions compressed by it).
        case linear(factor: Float)
        /// LLaMA-3.1's: wavelengths longer than `originalContextLength / lowFrequencyFactor` are
        /// stretched by `factor`, those shorter than `originalContextLength / highFrequencyFactor`
        /// kept, and those between blended smoothly.
        case llama3(factor: Float, lowFrequencyFactor: Float, highFrequencyFactor: Float, originalContextLength: Int)
        /// Each frequency divided by its own divisor: llama.cpp's `rope_freqs.weight` tensor
        /// (how GGUF files store llama3 scaling), one per pair of dimensions.
        case frequencyDivisors([Float])
    }

    /// How the rotation angles are computed from a position (their last bits differ).
    public enum RopeAngles: Sendable, Equatable {
        /// `position × inverseFrequency[i]`, as Hugging Face `transformers` computes them.
        case inverseFrequencies
        /// llama.cpp's recurrence: `θ₀ = position`, `θᵢ₊₁ = θᵢ · ropeTheta^(-2/d)`, each divided by
        /// its pair's frequency divisor and scaled by `1/factor` for linear scaling.
        case ggml
    }

    public var vocabularySize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layerCount: Int
    public var headCount: Int
    public var keyValueHeadCount: Int
    public var headDimension: Int
    public var ropeTheta: Float
    public var ropeStyle: RopeStyle
    public var ropeScaling: RopeScaling
    public var ropeAngles: RopeAngles
    public var rmsNormEpsilon: Float
    /// The longest context the model was trained for.
    public var contextLength: Int

    public init(vocabularySize: Int, hiddenSize: Int, intermediateSize: Int, layerCount: Int, headCount: Int,
                keyValueHeadCount: Int, headDimension: Int? = nil, ropeTheta: Float, ropeStyle: RopeStyle,
                ropeScaling: RopeScaling = .none, ropeAngles: RopeAngles = .inverseFrequencies,
                rmsNormEpsilon: Float, contextLength: Int) {
        self.vocabularySize = vocabularySize
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.layerCount = layerCount
        self.headCount = headCount
        self.keyValueHeadCount = keyValueHeadCount
        self.headDimension = headDimension ?? hiddenSize / headCount
        self.ropeTheta = ropeTheta
        self.ropeStyle = ropeStyle
        self.ropeScaling = ropeScaling
        self.ropeAngles = ropeAngles
        self.rmsNormEpsilon = rmsNormEpsilon
        self.contextLength = contextLength
    }

    /// The angle per position of each pair of a head's dimensions (`headDimension / 2` of them),
    /// `ropeTheta^(-2i/d)` adjusted by ``ropeScaling``, in single precision as `transformers` computes it.
    public func ropeInverseFrequencies() -> [Float] {
        (0..<headDimension / 2).map { pair in
            let frequency = 1 / powf(ropeTheta, Float(2 * pair) / Float(headDimension))
            switch ropeScaling {
            case .none:
                return frequency
            case .linear(let factor):
                return frequency / factor
            case .llama3(let factor, let low, let high, let original):
                let wavelength = 2 * Float.pi / frequency
                let context = Float(original)
                if wavelength < context / high { return frequency }
                if wavelength > context / low { return frequency / factor }
                let smooth = (context / wavelength - low) / (high - low)
                return (1 - smooth) * frequency / factor + smooth * frequency
            case .frequencyDivisors(let divisors):
                return frequency / divisors[pair]
            }
        }
    }

    /// Width of the query projection.
    public var queryWidth: Int { headCount * headDimension }
    /// Width of each of the key and value projections.
    public var keyValueWidth: Int { keyValueHeadCount * headDimension }
}
