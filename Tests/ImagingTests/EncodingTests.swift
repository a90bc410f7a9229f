import Foundation
import Testing
import Imaging

@Suite struct EncodingTests {
    @Test func pngRoundTripIsLossless() throws {
        for name in ["rgb.png", "grey.png", "rgb.jpg", "resize_bicubic_1x1.png"] {
            let image = try Fixtures.image(name)
            let data = try image.pngData()
            #expect(data.starts(with: [0x89, 0x50, 0x4E, 0x47]))
            expectEqualImages(try RGBImage(decoding: data, name: "\(name) re-encoded"), image, name)
        }
    }

    @Test func writesAPNGFile() throws {
        let image = RGBImage(width: 3, height: 2, pixels: Array(0..<18))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("imaging-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("out.png")
        try image.writePNG(to: url)
        expectEqualImages(try RGBImage(contentsOf: url), image)

        let nowhere = directory.appendingPathComponent("missing/out.png")
        let error = #expect(throws: ImageError.self) { try image.writePNG(to: nowhere) }
        #expect(error?.description.contains("missing/out.png") == true)
    }
}
