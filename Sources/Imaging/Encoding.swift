import CSTBImage
import Foundation

extension RGBImage {
    /// The image as an 8-bit RGB PNG, encoded in memory by stb_image_write (lossless; stb's
    /// own deflate, so files are somewhat larger than zlib's).
    public func pngData() throws -> Data {
        guard width <= Int(Int32.max) / 3, height <= Int(Int32.max) else {
            throw ImageError.unwritable(file: "PNG", reason: "\(width)x\(height) is beyond stb_image_write's 32-bit sizes")
        }
        var output = Data()
        let status = withUnsafeMutablePointer(to: &output) { outputPointer in
            pixels.withUnsafeBytes { samples in
                // stb calls back with the finished file; the context is our `Data`.
                stbi_write_png_to_func({ context, chunk, size in
                    guard let context, let chunk, size > 0 else { return }
                    context.assumingMemoryBound(to: Data.self).pointee
                        .append(chunk.assumingMemoryBound(to: UInt8.self), count: Int(size))
                }, outputPointer, Int32(width), Int32(height), 3, samples.baseAddress, Int32(width * 3))
            }
        }
        guard status != 0, !output.isEmpty else {
            throw ImageError.unwritable(file: "PNG", reason: "stb_image_write could not encode the \(width)x\(height) image")
        }
        return output
    }

    /// Encodes as PNG and writes the file atomically (a temporary file renamed into place).
    public func writePNG(to url: URL) throws {
        let file = url.isFileURL ? url.path : url.absoluteString
        let data: Data
        do {
            data = try pngData()
        } catch let ImageError.unwritable(_, reason) {
            throw ImageError.unwritable(file: file, reason: reason)
        }
        do {
            try data.write(to: url, options: .atomic)
        } catch {
            throw ImageError.unwritable(file: file, reason: error.localizedDescription)
        }
    }
}
