import Testing
@testable import Imaging

/// Drawing results onto images: outlines, labels and mask tints land where asked and nowhere else.
struct DrawingTests {
    @Test func outlinesStayOnTheBoxEdges() {
        var image = RGBImage(width: 40, height: 30, fill: (0, 0, 0))
        let red = DrawingColor(255, 0, 0)
        image.strokeRectangle(x0: 10, y0: 5, x1: 30, y1: 25, color: red, thickness: 2)
        func pixel(_ x: Int, _ y: Int) -> [UInt8] { Array(image.pixels[(y * 40 + x) * 3..<(y * 40 + x) * 3 + 3]) }
        #expect(pixel(10, 5) == [255, 0, 0] && pixel(29, 24) == [255, 0, 0] && pixel(11, 15) == [255, 0, 0])
        #expect(pixel(20, 15) == [0, 0, 0], "the inside stays")
        #expect(pixel(9, 5) == [0, 0, 0] && pixel(30, 24) == [0, 0, 0], "nothing outside the box")
        // A box past the image's edges is clipped, not trapped on: its right and bottom
        // sides are drawn, its left and top ones are outside.
        image = RGBImage(width: 40, height: 30, fill: (0, 0, 0))
        image.strokeRectangle(x0: -10, y0: -10, x1: 35, y1: 28, color: red, thickness: 2)
        #expect(pixel(34, 10) == [255, 0, 0] && pixel(10, 27) == [255, 0, 0] && pixel(0, 0) == [0, 0, 0])
    }

    @Test func labelsDrawTextOnABackground() {
        var image = RGBImage(width: 120, height: 40, fill: (0, 0, 0))
        image.drawLabel("cat 0.91", x: 5, y: 5, color: DrawingColor(255, 255, 255), background: DrawingColor(0, 0, 255), scale: 2)
        var white = 0, blue = 0
        for i in stride(from: 0, to: image.pixels.count, by: 3) {
            let p = Array(image.pixels[i..<i + 3])
            if p == [255, 255, 255] { white += 1 } else if p == [0, 0, 255] { blue += 1 }
        }
        #expect(white > 50 && blue > white, "glyph pixels on the label's background: \(white) white, \(blue) blue")
        // Nothing left of the label's start.
        #expect((0..<40).allSatisfy { y in image.pixels[(y * 120 + 2) * 3 + 2] == 0 })
    }

    @Test func masksTintOnlyTheirPixels() {
        var image = RGBImage(width: 4, height: 1, fill: (100, 100, 100))
        image.overlay(mask: [true, false, true, false], color: DrawingColor(200, 0, 0), alpha: 0.5)
        #expect(Array(image.pixels[0..<3]) == [150, 50, 50])
        #expect(Array(image.pixels[3..<6]) == [100, 100, 100])
    }
}
