/// Why an image could not be read, written or cut. Every message starts with the file (path or
/// the name given to `RGBImage(decoding:name:)`) so it can be shown to a user as it is.
public enum ImageError: Error, Equatable, CustomStringConvertible {
    /// The file could not be opened or read (missing, a directory, no permission...).
    case unreadable(file: String, reason: String)
    /// The file has no bytes.
    case empty(file: String)
    /// No decoder recognised the header; `reason` is stb_image's.
    case unrecognised(file: String, reason: String)
    /// The header declares more pixels than we are willing to allocate (see `DecodingLimits`).
    case tooLarge(file: String, width: Int, height: Int)
    /// The container ends before the image data does (a partial download or copy).
    case truncated(file: String, format: String, detail: String)
    /// A known format with a variant this package does not decode faithfully.
    case unsupported(file: String, format: String, detail: String)
    /// The header was recognised but the data could not be decoded; `reason` is stb_image's.
    case undecodable(file: String, reason: String)
    /// Encoding or writing an image failed.
    case unwritable(file: String, reason: String)
    /// A crop region that does not lie inside the image.
    case regionOutOfBounds(x: Int, y: Int, width: Int, height: Int, imageWidth: Int, imageHeight: Int)

    public var description: String {
        switch self {
        case let .unreadable(file, reason):
            "\(file): cannot read file: \(reason)"
        case let .empty(file):
            "\(file): empty file (0 bytes)"
        case let .unrecognised(file, reason):
            "\(file): not a recognised image (PNG, JPEG, PPM/PGM, BMP, GIF, TGA, PSD, HDR, PIC): \(reason)"
        case let .tooLarge(file, width, height):
            "\(file): image too large: \(width)x\(height) exceeds the limit of \(DecodingLimits.maximumSide) "
                + "pixels per side or \(DecodingLimits.maximumPixels) pixels in all"
        case let .truncated(file, format, detail):
            "\(file): truncated \(format): \(detail)"
        case let .unsupported(file, format, detail):
            "\(file): unsupported \(format): \(detail)"
        case let .undecodable(file, reason):
            "\(file): corrupt image: \(reason)"
        case let .unwritable(file, reason):
            "\(file): cannot write image: \(reason)"
        case let .regionOutOfBounds(x, y, width, height, imageWidth, imageHeight):
            "crop region \(width)x\(height) at (\(x), \(y)) is not inside the \(imageWidth)x\(imageHeight) image"
        }
    }
}
