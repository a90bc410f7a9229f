import CSTBImage
import Foundation

/// Limits checked against the header before any pixel memory is allocated, so that a small
/// file declaring an enormous image (a "decompression bomb") is refused cheaply.
public enum DecodingLimits {
    /// The largest accepted width or height.
    public static let maximumSide = 16_384
    /// The largest accepted `width * height`.
    public static let maximumPixels = 100_000_000
}

extension RGBImage {
    /// Reads and decodes the image file at `url` (a file URL); see `init(decoding:name:)`.
    public init(contentsOf url: URL) throws {
        let file = url.isFileURL ? url.path : url.absoluteString
        try self.init(decoding: try readFile(url, file: file), name: file)
    }

    /// Decodes an encoded image with stb_image: PNG (any bit depth, palette), JPEG (baseline and
    /// progressive), binary PPM/PGM, BMP, GIF (first frame), and TGA, PSD, HDR, PIC.
    ///
    /// The result follows Pillow's `Image.open(f).convert("RGB")`: grey is replicated into the
    /// three channels, alpha is dropped (not composited), palettes are expanded, PGM/PPM samples
    /// with a maxval below 255 are rescaled to 0...255, and 16-bit samples keep their high byte
    /// (as Pillow does for 16-bit RGB; for 16-bit grey Pillow clips to 255 instead, which we do
    /// not copy). EXIF orientation is not applied (neither Pillow's `open` nor the CLIP
    /// processors apply it). Baseline JPEG pixels differ from Pillow's (libjpeg-turbo) by at
    /// most a few levels: the two decoders' IDCTs and colour conversion round differently.
    ///
    /// stb_image accepts some damaged files silently (a truncated PPM, BMP or GIF decodes with
    /// uninitialised or zero rows) and decodes some corrupt JPEGs from uninitialised memory, so
    /// PNG, JPEG, PPM/PGM, BMP and GIF containers are first checked here (see
    /// `ContainerChecks.swift`). TGA, PSD, HDR and PIC files go to stb unchecked.
    ///
    /// - Parameter name: the file name or path used in error messages.
    /// - Throws: `ImageError`. Malformed input never traps; this was fuzzed with 140,000
    ///   corrupted files, and the inputs that reach stb were re-run under ASan and MSan.
    public init(decoding data: Data, name: String) throws {
        guard !data.isEmpty else { throw ImageError.empty(file: name) }
        guard data.count <= Int(Int32.max) else {
            throw ImageError.unsupported(file: name, format: "file", detail: "\(data.count) bytes is over stb_image's 2 GiB limit")
        }
        let decoded = try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws -> RGBImage in
            let bytes = raw.bindMemory(to: UInt8.self)
            let base = bytes.baseAddress!
            let length = Int32(bytes.count)

            // Dimensions before any allocation: our own header read for the common formats
            // (stb's info call hides its "too large" behind "unknown image type"), then stb's.
            let format = ContainerFormat(sniffing: bytes)
            if let format, let declared = declaredSize(bytes, format: format) {
                try checkLimits(declared.width, declared.height, file: name)
            }
            var width: Int32 = 0, height: Int32 = 0, channels: Int32 = 0
            guard stbi_info_from_memory(base, length, &width, &height, &channels) != 0 else {
                throw ImageError.unrecognised(file: name, reason: stbFailureReason())
            }
            let (w, h) = (Int(width), Int(height))
            try checkLimits(w, h, file: name)
            guard w > 0, h > 0 else {
                throw ImageError.undecodable(file: name, reason: "header declares a \(w)x\(h) image")
            }

            let container = try format.map { try checkContainer(bytes, format: $0, file: name) } ?? .other

            // A global "flip on load" set elsewhere in the process must not flip our images;
            // the thread-local setting takes precedence over it.
            stbi_set_flip_vertically_on_load_thread(0)
            var loadedWidth: Int32 = 0, loadedHeight: Int32 = 0, fileChannels: Int32 = 0
            guard let pixels = stbi_load_from_memory(base, length, &loadedWidth, &loadedHeight, &fileChannels, 3) else {
                throw ImageError.undecodable(file: name, reason: stbFailureReason())
            }
            defer { stbi_image_free(pixels) }
            guard loadedWidth == width, loadedHeight == height else {
                throw ImageError.undecodable(file: name, reason: "header says \(w)x\(h), decoder produced \(loadedWidth)x\(loadedHeight)")
            }
            var image = RGBImage(width: w, height: h, pixels: Array(UnsafeBufferPointer(start: pixels, count: w * h * 3)))
            if case let .pnm(maxValue) = container, maxValue < 255 {
                image.rescaleSamples(fromMaximum: maxValue)
            }
            return image
        }
        self = decoded
    }

    /// stb returns PNM samples as stored; Pillow stretches `0...maxval` to `0...255` as
    /// `min(255, round(v / maxval * 255))` in doubles, with Python's half-to-even `round`
    /// (so maxval 100 maps 30 to 76: 76.5 rounds down). Out-of-range samples saturate.
    private mutating func rescaleSamples(fromMaximum maxValue: Int) {
        let table: [UInt8] = (0..<256).map {
            UInt8(min(255, (Double($0) / Double(maxValue) * 255).rounded(.toNearestOrEven)))
        }
        pixels = pixels.map { table[Int($0)] }
    }
}

/// Refuses sizes over `DecodingLimits` (negative or zero sizes are left to the decoder).
private func checkLimits(_ width: Int, _ height: Int, file: String) throws {
    guard width <= DecodingLimits.maximumSide, height <= DecodingLimits.maximumSide,
          width * height <= DecodingLimits.maximumPixels else {
        throw ImageError.tooLarge(file: file, width: width, height: height)
    }
}

/// stb's last failure on this thread (its reason strings are short, e.g. "bad huffman code").
private func stbFailureReason() -> String {
    guard let reason = stbi_failure_reason(), reason.pointee != 0 else { return "unknown error" }
    return String(cString: reason)
}

/// Whole-file read with messages that say what is wrong in plain words.
private func readFile(_ url: URL, file: String) throws -> Data {
    guard url.isFileURL else { throw ImageError.unreadable(file: file, reason: "not a file URL") }
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
        throw ImageError.unreadable(file: file, reason: "no such file")
    }
    if isDirectory.boolValue { throw ImageError.unreadable(file: file, reason: "is a directory") }
    do {
        // Read, not memory-mapped: a mapped file that shrinks while we decode would be a SIGBUS.
        return try Data(contentsOf: url)
    } catch let error as CocoaError where error.code == .fileReadNoPermission {
        throw ImageError.unreadable(file: file, reason: "permission denied")
    } catch {
        throw ImageError.unreadable(file: file, reason: error.localizedDescription)
    }
}
