import Imaging
import Tensors

/// What LLaVA needs from a vision encoder: its own preprocessing, and one feature vector per
/// visual token for the projector.
public protocol VisionEncoder: Sendable {
    /// Values per visual token.
    var featureWidth: Int { get }
    /// Visual tokens per image.
    var tokenCount: Int { get }
    /// From decoded pixels to the encoder's input tensor.
    func preprocess(_ image: RGBImage) -> Tensor
    /// `[tokenCount, featureWidth]` features of a preprocessed image.
    func encode(_ pixels: Tensor) -> Tensor
}

/// A CLIP tower used the LLaVA way: features of one layer, class token dropped or kept,
/// images padded to a square with the mean colour first; the work split between a pool's threads.
public struct CLIPVisionEncoder: VisionEncoder {
    public let tower: CLIPVisionTransformer
    /// The layer whose output is used; negative counts from the end (LLaVA: -2).
    public let selectLayer: Int
    public let keepClassToken: Bool
    public let padToSquare: Bool
    /// The threads that encode (a LLaVA model shares its decoder's).
    public let pool: ThreadPool

    public init(tower: CLIPVisionTransformer, selectLayer: Int = -2, keepClassToken: Bool = false, padToSquare: Bool = true,
                pool: ThreadPool) {
        (self.tower, self.selectLayer, self.keepClassToken, self.padToSquare) = (tower, selectLayer, keepClassToken, padToSquare)
        self.pool = pool
    }

    public var featureWidth: Int { tower.configuration.hiddenSize }
    public var tokenCount: Int { tower.configuration.tokenCount - (keepClassToken ? 0 : 1) }

    public func preprocess(_ image: RGBImage) -> Tensor {
        CLIPPreprocessing.preprocess(image, size: tower.configuration.imageSize, padToSquare: padToSquare)
    }

    public func encode(_ pixels: Tensor) -> Tensor {
        tower.features(pixels, selectLayer: selectLayer, keepClassToken: keepClassToken, pool: pool)
    }
}

/// EfficientNet-Lite0's final 7x7x1280 map as 49 visual tokens.
extension EfficientNetLite: VisionEncoder {
    public var featureWidth: Int { Self.featureChannels }
    public var tokenCount: Int { 49 }
    public func preprocess(_ image: RGBImage) -> Tensor { Self.preprocess(image) }
    public func encode(_ pixels: Tensor) -> Tensor { features(pixels) }
}
