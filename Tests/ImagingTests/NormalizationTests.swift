import Testing
import Imaging

@Suite struct NormalizationTests {
    @Test func channelsFirstWithMeanAndStd() throws {
        let image = try Fixtures.image("rgb.png")
        let mean: [Float] = [0.48145466, 0.4578275, 0.40821073]
        let std: [Float] = [0.26862954, 0.26130258, 0.27577711]
        let tensor = image.normalized(mean: mean, std: std)
        #expect(tensor.shape == [3, 47, 61])
        for (x, y) in [(0, 0), (60, 0), (0, 46), (60, 46), (17, 23), (40, 10)] {
            let pixel = image[x: x, y: y]
            for (c, sample) in [pixel.red, pixel.green, pixel.blue].enumerated() {
                let expected = (Float(sample) / 255 - mean[c]) / std[c]
                #expect(tensor[c, y, x] == expected, "channel \(c) at (\(x), \(y))")
            }
        }
    }

    @Test func extremesMapToTheExpectedRange() {
        let image = RGBImage(width: 2, height: 1, pixels: [0, 0, 0, 255, 255, 255])
        let tensor = image.normalized(mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5])
        #expect(tensor.scalars == [-1, 1, -1, 1, -1, 1])
    }
}
