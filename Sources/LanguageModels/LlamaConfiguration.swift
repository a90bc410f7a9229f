/// The shape of a LLaMA-family decoder, from GGUF metadata or a Hugging Face `config.json`.
public struct LlamaConfiguration: Sendable, Equatable {
    /// How RoPE pairs up the dimensions of each head.
    public enum RopeStyle: Sendable, Equatable {
        /// Adjacent pairs `(2i, 2i+1)`: GGUF files, whose converter permuted Q and K.
        case interleaved
        /// Split halves `(i, i + d/2)`: Hugging Face checkpoints (`rotate_half`).
        case halves
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
    public var rmsNormEpsilon: Float
    /// The longest context the model was trained for.
    public var contextLength: Int

    public init(vocabularySize: Int, hiddenSize: Int, intermediateSize: Int, layerCount: Int, headCount: Int,
                keyValueHeadCount: Int, headDimension: Int? = nil, ropeTheta: Float, ropeStyle: RopeStyle,
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
        self.rmsNormEpsilon = rmsNormEpsilon
        self.contextLength = contextLength
    }

    /// Width of the query projection.
    public var queryWidth: Int { headCount * headDimension }
    /// Width of each of the key and value projections.
    public var keyValueWidth: Int { keyValueHeadCount * headDimension }
}
