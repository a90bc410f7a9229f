import CSTBImage

/// An RGB colour for drawing.
public struct DrawingColor: Sendable, Equatable {
    public var red: UInt8, green: UInt8, blue: UInt8
    public init(_ red: UInt8, _ green: UInt8, _ blue: UInt8) { (self.red, self.green, self.blue) = (red, green, blue) }

    /// Distinct colours for successive boxes or masks (Tableau's 10).
    public static let palette: [DrawingColor] = [
        .init(31, 119, 180), .init(255, 127, 14), .init(44, 160, 44), .init(214, 39, 40), .init(148, 103, 189),
        .init(140, 86, 75), .init(227, 119, 194), .init(127, 127, 127), .init(188, 189, 34), .init(23, 190, 207),
    ]
}

/// Drawing of results onto images: boxes with labels, masks as tinted overlays. Coordinates
/// are pixels; everything is clipped to the image.
extension RGBImage {
    /// Fills the rectangle `[x0, x1) x [y0, y1)`, blending `alpha` of `color` over the pixels.
    public mutating func fill(x0: Int, y0: Int, x1: Int, y1: Int, color: DrawingColor, alpha: Float = 1) {
        let (left, right) = (max(0, x0), min(width, x1)), (top, bottom) = (max(0, y0), min(height, y1))
        guard left < right, top < bottom else { return }
        let keep = 1 - alpha
        let channels = [Float(color.red) * alpha, Float(color.green) * alpha, Float(color.blue) * alpha]
        let width = self.width
        pixels.withUnsafeMutableBufferPointer { p in
            for y in top..<bottom {
                for x in left..<right {
                    let i = (y * width + x) * 3
                    for c in 0..<3 { p[i + c] = UInt8(min(255, Float(p[i + c]) * keep + channels[c] + 0.5)) }
                }
            }
        }
    }

    /// The outline of a box, `thickness` pixels wide, inside the box.
    public mutating func strokeRectangle(x0: Int, y0: Int, x1: Int, y1: Int, color: DrawingColor, thickness: Int = 2) {
        let t = max(1, min(thickness, (x1 - x0 + 1) / 2, (y1 - y0 + 1) / 2))
        fill(x0: x0, y0: y0, x1: x1, y1: y0 + t, color: color)
        fill(x0: x0, y0: y1 - t, x1: x1, y1: y1, color: color)
        fill(x0: x0, y0: y0, x1: x0 + t, y1: y1, color: color)
        fill(x0: x1 - t, y0: y0, x1: x1, y1: y1, color: color)
    }

    /// ASCII `text` with its top-left corner at `(x, y)`, on a filled label background, each
    /// font pixel drawn as `scale` x `scale` (stb_easy_font: about 7 x 6 pixels per character
    /// at scale 1). Characters outside printable ASCII are drawn as `?`.
    public mutating func drawLabel(_ text: String, x: Int, y: Int, color: DrawingColor, background: DrawingColor, scale: Int = 2) {
        var ascii = text.unicodeScalars.map { $0.value >= 32 && $0.value < 127 ? CChar($0.value) : CChar(63) }
        ascii.append(0)
        let textWidth = Int(stb_easy_font_width(&ascii)), textHeight = Int(stb_easy_font_height(&ascii))
        let pad = scale
        fill(x0: x, y0: y, x1: x + textWidth * scale + 2 * pad, y1: y + textHeight * scale + 2 * pad, color: background)
        // Each quad is 4 vertices of (x, y, z: Float, colour: 4 bytes) = 16 bytes.
        var vertices = [UInt8](repeating: 0, count: max(1, ascii.count) * 270 * 16)
        let quads = Int(vertices.withUnsafeMutableBytes { buffer in
            stb_easy_font_print(0, 0, &ascii, nil, buffer.baseAddress, Int32(buffer.count))
        })
        vertices.withUnsafeBytes { raw in
            for quad in 0..<quads {
                let first = raw.loadUnaligned(fromByteOffset: quad * 64, as: (Float, Float).self)
                let third = raw.loadUnaligned(fromByteOffset: quad * 64 + 32, as: (Float, Float).self)
                fill(x0: x + pad + Int(first.0) * scale, y0: y + pad + Int(first.1) * scale,
                     x1: x + pad + Int(third.0) * scale, y1: y + pad + Int(third.1) * scale, color: color)
            }
        }
    }

    /// Tints the pixels where `mask` (row-major, `width * height`) is true.
    public mutating func overlay(mask: [Bool], color: DrawingColor, alpha: Float = 0.45) {
        precondition(mask.count == width * height, "the mask must have one value per pixel")
        let keep = 1 - alpha
        let channels = [Float(color.red) * alpha, Float(color.green) * alpha, Float(color.blue) * alpha]
        pixels.withUnsafeMutableBufferPointer { p in
            for (index, on) in mask.enumerated() where on {
                for c in 0..<3 { p[index * 3 + c] = UInt8(min(255, Float(p[index * 3 + c]) * keep + channels[c] + 0.5)) }
            }
        }
    }
}
