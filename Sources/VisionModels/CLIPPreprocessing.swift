import Imaging
import Tensors

/// CLIP's image preprocessing as LLaVA applies it (Hugging Face `CLIPImageProcessor` after
/// LLaVA's `expand2square`).
public enum CLIPPreprocessing {
    /// CLIP's per-channel normalisation.
    public static let mean: [Float] = [0.481_454_66, 0.457_827_5, 0.408_210_73]
    public static let standardDeviation: [Float] = [0.268_629_54, 0.261_302_58, 0.275_777_11]
    /// LLaVA pads with the mean colour, `int(mean * 255)` per channel.
    public static let padColour: (UInt8, UInt8, UInt8) = (122, 116, 104)

    /// A `[3, size, size]` tensor: optionally padded to a square with ``padColour`` (LLaVA-1.5's
    /// `image_aspect_ratio: pad`), shorter side resized to `size` (bicubic, Pillow-exact),
    /// centre-cropped with the offset rounded down as Hugging Face does, and normalised.
    public static func preprocess(_ image: RGBImage, size: Int, padToSquare: Bool = true) -> Tensor {
        let square = padToSquare ? image.paddedToSquare(fill: padColour) : image
        let resized = square.resizedShortestSide(to: size, filter: .bicubic)
        // In bounds by construction: both sides are at least `size` after the resize.
        let cropped = (try? resized.cropped(x: (resized.width - size) / 2, y: (resized.height - size) / 2,
                                            width: size, height: size)) ?? resized
        return cropped.normalized(mean: mean, std: standardDeviation)
    }
}
