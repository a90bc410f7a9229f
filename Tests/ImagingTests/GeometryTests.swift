import Testing
import Imaging

/// Shortest-side resize, centre crop, pad-to-square and crop against the Pillow-built fixtures.
@Suite struct GeometryTests {
    @Test(arguments: Fixtures.manifest.shortest_side)
    func shortestSideMatchesReference(_ fixture: Manifest.ShortestSide) throws {
        let source = try Fixtures.image(fixture.source)
        let output = source.resizedShortestSide(to: fixture.size, filter: ResampleFilter(fixtureName: fixture.filter))
        #expect((output.width, output.height) == (fixture.width, fixture.height))
        expectEqualImages(output, try Fixtures.image(fixture.expected))
    }

    @Test func shortestSideTruncatesTheLongSide() {
        // int(size * long / short): truncation, never rounding up.
        #expect(RGBImage.shortestSideSize(width: 61, height: 47, size: 20) == (25, 20))      // 25.96
        #expect(RGBImage.shortestSideSize(width: 47, height: 61, size: 20) == (20, 25))
        #expect(RGBImage.shortestSideSize(width: 640, height: 480, size: 336) == (448, 336))
        #expect(RGBImage.shortestSideSize(width: 500, height: 375, size: 336) == (448, 336))
        #expect(RGBImage.shortestSideSize(width: 333, height: 500, size: 336) == (336, 504))  // 504.5045
        #expect(RGBImage.shortestSideSize(width: 100, height: 100, size: 336) == (336, 336))
        #expect(RGBImage.shortestSideSize(width: 3, height: 1000, size: 336) == (336, 112000))
    }

    @Test(arguments: Fixtures.manifest.centre_crop)
    func centreCropMatchesTorchvision(_ fixture: Manifest.CentreCrop) throws {
        let output = try Fixtures.image(fixture.source).centreCropped(width: fixture.width, height: fixture.height)
        expectEqualImages(output, try Fixtures.image(fixture.expected))
    }

    @Test func centreCropRoundsHalvesToEven() throws {
        // A 1-pixel-wide column ramp makes the chosen offset readable from the first pixel.
        let ramp = RGBImage(width: 12, height: 1, pixels: (0..<12).flatMap { [UInt8($0), 0, 0] })
        for (crop, offset) in [(11, 0), (9, 2), (7, 2), (5, 4), (3, 4), (12, 0), (10, 1)] {  // margins 1, 3, 5, 7, 9, 0, 2
            #expect(ramp.centreCropped(width: crop, height: 1)[x: 0, y: 0].red == UInt8(offset), "crop \(crop)")
        }
    }

    @Test(arguments: Fixtures.manifest.clip_pipeline)
    func clipPreprocessingMatchesReference(_ fixture: Manifest.ClipPipeline) throws {
        let output = try Fixtures.image(fixture.source)
            .resizedShortestSide(to: fixture.size, filter: ResampleFilter(fixtureName: fixture.filter))
            .centreCropped(width: fixture.size, height: fixture.size)
        expectEqualImages(output, try Fixtures.image(fixture.expected))
    }

    @Test(arguments: Fixtures.manifest.pad_to_square)
    func padToSquareMatchesLLaVA(_ fixture: Manifest.PadToSquare) throws {
        let fill = (fixture.fill[0], fixture.fill[1], fixture.fill[2])
        let output = try Fixtures.image(fixture.source).paddedToSquare(fill: fill)
        expectEqualImages(output, try Fixtures.image(fixture.expected))
    }

    @Test func squareImageIsNotPadded() {
        let square = RGBImage(width: 4, height: 4, fill: (1, 2, 3))
        expectEqualImages(square.paddedToSquare(fill: (9, 9, 9)), square)
    }

    @Test(arguments: Fixtures.manifest.crop)
    func cropMatchesPillow(_ fixture: Manifest.Crop) throws {
        let output = try Fixtures.image(fixture.source).cropped(x: fixture.x, y: fixture.y, width: fixture.width, height: fixture.height)
        expectEqualImages(output, try Fixtures.image(fixture.expected))
    }

    @Test func cropOutsideTheImageThrows() throws {
        let image = try Fixtures.image("rgb.png")  // 61x47
        for (x, y, w, h) in [(-1, 0, 10, 10), (0, -1, 10, 10), (52, 0, 10, 10), (0, 38, 10, 10), (0, 0, 0, 5), (0, 0, 62, 1)] {
            let error = #expect(throws: ImageError.self) { try image.cropped(x: x, y: y, width: w, height: h) }
            #expect(error == .regionOutOfBounds(x: x, y: y, width: w, height: h, imageWidth: 61, imageHeight: 47))
        }
        #expect(throws: Never.self) { try image.cropped(x: 51, y: 37, width: 10, height: 10) }
    }
}
