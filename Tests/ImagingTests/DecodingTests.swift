import Foundation
import Testing
import Imaging

/// Decoding against the source arrays (lossless formats) and Pillow's `convert("RGB")`.
@Suite struct DecodingTests {
    @Test(arguments: Fixtures.manifest.decode)
    func decodesLikePillow(_ fixture: Manifest.Decode) throws {
        let image = try Fixtures.image(fixture.file)
        let expected = Fixtures.raw(fixture.expected, channels: fixture.expected_channels)
        #expect(image.pixels.count == expected.count)
        guard image.pixels.count == expected.count else { return }
        let difference = maxDifference(image.pixels, expected)
        // PNG, PPM/PGM, BMP, GIF and palette PNG must be exact. JPEG may differ slightly: stb
        // and Pillow's libjpeg-turbo use different integer IDCTs, colour-conversion rounding and
        // (for 4:2:0) chroma upsampling filters, none of which the JPEG standard fixes. The
        // manifest's tolerance is the measured maximum plus a margin (measured: 2 for 4:2:0 and
        // progressive, 3 for 4:4:4, 1 for grey); the mean (measured <= 0.08) is checked too, so
        // that a systematic shift (a wrong colour matrix, say) cannot hide under the maximum.
        #expect(difference <= fixture.tolerance, "\(fixture.file): max |difference| \(difference)")
        if fixture.tolerance > 0 {
            let mean = Double(zip(image.pixels, expected).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) }) / Double(expected.count)
            #expect(mean < 0.25, "\(fixture.file): mean |difference| \(mean)")
        }
    }

    @Test func greyAndAlphaBecomeRGB() throws {
        let grey = try Fixtures.image("grey.pgm")
        #expect((grey.width, grey.height) == (23, 29))
        let pixel = grey[x: 5, y: 3]
        #expect(pixel.red == pixel.green && pixel.green == pixel.blue)
        // Colour under zero alpha is kept, not composited onto black or white.
        let rgba = try Fixtures.image("rgba.png")
        let truth = Fixtures.raw("rgba.truth.bin", channels: 3)
        #expect(Array(rgba.pixels[0..<3]) == Array(truth[0..<3]))
    }

    @Test func decodingFromMemoryMatchesFile() throws {
        let fromMemory = try RGBImage(decoding: Fixtures.data("rgb.png"), name: "rgb.png")
        expectEqualImages(fromMemory, try Fixtures.image("rgb.png"))
    }

    @Test func bytesAfterTheJPEGEndMarkerAreAllowed() throws {
        var data = Fixtures.data("rgb.jpg")
        data.append(contentsOf: [UInt8](repeating: 0x55, count: 100))
        expectEqualImages(try RGBImage(decoding: data, name: "trailer.jpg"), try Fixtures.image("rgb.jpg"))
    }
}
