/// An 8-bit RGB image: the form every vision preprocessor in this package works on.
///
/// Pixels are stored row-major, three interleaved channels per pixel (HWC, R then G then B),
/// exactly like a Pillow `"RGB"` image or a `numpy` array of shape `(height, width, 3)`.
/// Both dimensions are at least 1.
public struct RGBImage: Sendable, Equatable {
    /// Columns.
    public let width: Int
    /// Rows.
    public let height: Int
    /// `width * height * 3` samples; the pixel at `(x, y)` starts at `(y * width + x) * 3`.
    /// Mutating is allowed (drawing, masking) but the count must not change.
    public var pixels: [UInt8] {
        didSet { precondition(pixels.count == width * height * 3, "RGBImage pixel count changed") }
    }

    /// Wraps existing samples; `pixels.count` must be `width * height * 3`.
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width > 0 && height > 0, "RGBImage dimensions must be positive, got \(width)x\(height)")
        precondition(pixels.count == width * height * 3,
                     "\(width)x\(height) RGB needs \(width * height * 3) samples, got \(pixels.count)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// An image filled with one colour.
    public init(width: Int, height: Int, fill: (UInt8, UInt8, UInt8)) {
        precondition(width > 0 && height > 0, "RGBImage dimensions must be positive, got \(width)x\(height)")
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        if fill != (0, 0, 0) {
            for i in stride(from: 0, to: pixels.count, by: 3) {
                pixels[i] = fill.0
                pixels[i + 1] = fill.1
                pixels[i + 2] = fill.2
            }
        }
        self.init(width: width, height: height, pixels: pixels)
    }

    /// The pixel at column `x`, row `y` (both must be in bounds).
    public subscript(x x: Int, y y: Int) -> (red: UInt8, green: UInt8, blue: UInt8) {
        precondition(x >= 0 && x < width && y >= 0 && y < height, "pixel (\(x), \(y)) outside \(width)x\(height)")
        let i = (y * width + x) * 3
        return (pixels[i], pixels[i + 1], pixels[i + 2])
    }
}
