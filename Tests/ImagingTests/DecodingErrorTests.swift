import Foundation
import Testing
import Imaging

/// Bad input gives a specific `ImageError` that names the file, and never a crash.
@Suite struct DecodingErrorTests {
    /// A scratch directory per test, so the file names in messages are ours.
    private func withScratchFile(_ name: String, contents: Data?, _ body: (URL) throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("imaging-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent(name)
        if let contents { try contents.write(to: url) }
        try body(url)
    }

    private func decodingError(_ name: String, _ contents: Data?) throws -> ImageError? {
        var caught: ImageError?
        try withScratchFile(name, contents: contents) { url in
            caught = #expect(throws: ImageError.self) { try RGBImage(contentsOf: url) }
            #expect(caught?.description.contains(url.path) == true, "message does not name the file: \(caught.map(String.init(describing:)) ?? "")")
        }
        return caught
    }

    @Test(arguments: ["rgb.png", "grey.png", "palette.png"])
    func truncatedPNG(_ fixture: String) throws {
        let bytes = Fixtures.data(fixture)
        for keep in [bytes.count / 2, bytes.count - 12, bytes.count - 1] {
            let error = try decodingError("cut.png", bytes.prefix(keep))
            guard case .truncated(_, "PNG", _)? = error else { Issue.record("\(fixture) cut to \(keep): \(String(describing: error))"); continue }
            #expect(error!.description.contains("truncated PNG: no IEND chunk"))
        }
    }

    @Test(arguments: ["rgb.jpg", "rgb_444.jpg", "rgb_progressive.jpg", "grey.jpg"])
    func truncatedJPEG(_ fixture: String) throws {
        let bytes = Fixtures.data(fixture)
        // Mid-scan (stb alone would fill the rest with grey), just before EOI, inside EOI.
        for keep in [bytes.count * 6 / 10, bytes.count - 2, bytes.count - 1] {
            let error = try decodingError("cut.jpg", bytes.prefix(keep))
            guard case .truncated(_, "JPEG", _)? = error else { Issue.record("\(fixture) cut to \(keep): \(String(describing: error))"); continue }
            #expect(error!.description.hasSuffix("truncated JPEG: no end-of-image marker"))
        }
    }

    @Test(arguments: [("rgb.ppm", "PPM"), ("grey.pgm", "PGM"), ("rgb.bmp", "BMP"), ("rgb.gif", "GIF")])
    func truncatedOtherFormats(_ fixture: String, _ format: String) throws {
        let bytes = Fixtures.data(fixture)
        let error = try decodingError("cut-\(fixture)", bytes.prefix(bytes.count * 3 / 4))
        guard case .truncated(_, format, _)? = error else { Issue.record("\(fixture): \(String(describing: error))"); return }
    }

    @Test func textFileNamedPNG() throws {
        let error = try decodingError("notes.png", Data("These are my notes, not a picture.\n".utf8))
        guard case .unrecognised? = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(error!.description.contains("notes.png: not a recognised image"))
    }

    @Test func emptyFile() throws {
        let error = try decodingError("empty.jpg", Data())
        guard case .empty? = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(error?.description.hasSuffix("empty.jpg: empty file (0 bytes)") == true)
    }

    @Test func missingFileAndDirectory() throws {
        let missing = try decodingError("absent.png", nil)
        guard case .unreadable(_, "no such file")? = missing else { Issue.record("got \(String(describing: missing))"); return }
        let directory = FileManager.default.temporaryDirectory
        let error = #expect(throws: ImageError.self) { try RGBImage(contentsOf: directory) }
        guard case .unreadable(_, "is a directory")? = error else { Issue.record("got \(String(describing: error))"); return }
    }

    /// A PNG signature and IHDR claiming `width` x `height`, then an empty IDAT and IEND: a few
    /// dozen bytes that would ask for gigabytes if decoded.
    private func pngHeader(width: UInt32, height: UInt32) -> Data {
        func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
            let typed = Array(type.utf8) + body
            return bigEndian(UInt32(body.count)) + typed + bigEndian(crc32(typed))
        }
        let ihdr = bigEndian(width) + bigEndian(height) + [8, 2, 0, 0, 0]  // 8-bit RGB
        return Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", ihdr) + chunk("IDAT", []) + chunk("IEND", []))
    }

    @Test(arguments: [(20_000, 20_000), (16_385, 1), (1, 16_385), (10_001, 10_000)])
    func declaredSizeTooLarge(_ width: Int, _ height: Int) throws {
        let error = try decodingError("bomb.png", pngHeader(width: UInt32(width), height: UInt32(height)))
        guard case let .tooLarge(_, w, h)? = error else { Issue.record("got \(String(describing: error))"); return }
        #expect((w, h) == (width, height))
        #expect(error!.description.contains("image too large: \(width)x\(height)"))
    }

    @Test func sizeAtTheLimitPassesTheSizeCheck() throws {
        // 16384x1 is allowed; the empty IDAT then fails in the decoder, not the size check.
        let error = try decodingError("wide.png", pngHeader(width: 16_384, height: 1))
        guard case .undecodable? = error else { Issue.record("got \(String(describing: error))"); return }
    }

    @Test func unsupportedPNMDepth() throws {
        let error = try decodingError("deep.pgm", Data("P5\n2 1\n4095\n".utf8) + Data(count: 4))
        guard case .unsupported(_, "PGM", _)? = error else { Issue.record("got \(String(describing: error))"); return }
    }

    /// The JPEG's segments before its first scan, as (marker, byte range including 0xFF marker).
    private func headerSegments(_ bytes: [UInt8]) -> [(marker: UInt8, range: Range<Int>)] {
        var segments: [(UInt8, Range<Int>)] = []
        var at = 2
        while at + 4 <= bytes.count, bytes[at] == 0xFF, bytes[at + 1] != 0xDA {
            let end = at + 2 + (Int(bytes[at + 2]) << 8 | Int(bytes[at + 3]))
            segments.append((bytes[at + 1], at..<end))
            at = end
        }
        return segments
    }

    private func removingSegments(_ marker: UInt8, from fixture: String) -> Data {
        var bytes = [UInt8](Fixtures.data(fixture))
        for segment in headerSegments(bytes).reversed() where segment.marker == marker {
            bytes.removeSubrange(segment.range)
        }
        return Data(bytes)
    }

    /// stb 2.27 decodes scans whose tables were never defined from uninitialised memory (a
    /// segfault under fuzzing); such files must be refused before stb sees them.
    @Test func jpegWithoutHuffmanOrQuantisationTables() throws {
        let noHuffman = try decodingError("no-dht.jpg", removingSegments(0xC4, from: "rgb.jpg"))
        guard case let .undecodable(_, reason)? = noHuffman else { Issue.record("got \(String(describing: noHuffman))"); return }
        #expect(reason.contains("Huffman table"))
        let noQuantisation = try decodingError("no-dqt.jpg", removingSegments(0xDB, from: "rgb.jpg"))
        guard case let .undecodable(_, reason)? = noQuantisation else { Issue.record("got \(String(describing: noQuantisation))"); return }
        #expect(reason.contains("quantisation table"))
    }

    /// A progressive JPEG whose first (DC) scan is cut out: stb would refine coefficients it
    /// never initialised, putting leftover heap memory into the pixels.
    @Test func progressiveJPEGWithoutItsDCScan() throws {
        var bytes = [UInt8](Fixtures.data("rgb_progressive.jpg"))
        guard let start = (0..<bytes.count - 1).first(where: { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xDA }) else {
            Issue.record("no scan in the fixture"); return
        }
        let dataStart = start + 2 + (Int(bytes[start + 2]) << 8 | Int(bytes[start + 3]))
        // The scan ends at the first marker that is neither a stuffed 0xFF00 nor a restart.
        let end = (dataStart..<bytes.count - 1).first {
            bytes[$0] == 0xFF && bytes[$0 + 1] != 0x00 && !(0xD0...0xD7).contains(bytes[$0 + 1])
        }!
        bytes.removeSubrange(start..<end)
        let error = try decodingError("no-dc-scan.jpg", Data(bytes))
        guard case let .undecodable(_, reason)? = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(reason.contains("before its first DC scan"))
    }

    /// Hand-made headers with extreme or nonsensical fields: each must be refused cleanly.
    @Test(arguments: [
        ("huge-number.ppm", Array("P6\n99999999999999999999999999 1\n255\n".utf8) + [1, 2, 3]),
        ("bomb.pgm", Array("P5 16384 16384 255\n".utf8) + [0]),
        ("zero.pgm", Array("P5 0 0 255\n".utf8)),
        ("maxval0.pgm", Array("P5 1 1 0\n".utf8) + [0]),
        ("bomb.gif", Array("GIF89a".utf8) + [0xFF, 0xFF, 0xFF, 0xFF, 0xF7, 0, 0]),
        ("negative.bmp", Array("BM".utf8) + [UInt8](repeating: 0, count: 8) + [54, 0, 0, 0, 40, 0, 0, 0]
            + [0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00, 0x80, 1, 0, 24, 0] + [UInt8](repeating: 0, count: 24)),
        ("zero-size.jpg", [0xFF, 0xD8, 0xFF, 0xC0, 0, 11, 8, 0, 0, 0, 0, 1, 1, 0x11, 0, 0xFF, 0xD9]),
        ("only-soi.jpg", [0xFF, 0xD8]),
        ("bad-length.jpg", [0xFF, 0xD8, 0xFF, 0xE0, 0, 0, 0xFF, 0xD9]),
        ("signature.png", [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]),
    ] as [(String, [UInt8])])
    func extremeHeadersAreRefused(_ name: String, _ bytes: [UInt8]) {
        #expect(throws: ImageError.self) { try RGBImage(decoding: Data(bytes), name: name) }
    }

    /// Every prefix length and many single-byte corruptions of each format: decoding may throw
    /// or succeed but must not crash (stb reads past ends as zeros; our checks guard lengths).
    @Test(arguments: ["rgb.png", "rgb.jpg", "rgb_progressive.jpg", "rgb.ppm", "rgb.bmp", "rgb.gif", "palette.png"])
    func malformedInputNeverCrashes(_ fixture: String) {
        let bytes = [UInt8](Fixtures.data(fixture))
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(state >> 33)
        }
        var decoded = 0
        for keep in Swift.stride(from: 0, to: bytes.count, by: max(1, bytes.count / 150)) {
            if (try? RGBImage(decoding: Data(bytes[0..<keep]), name: fixture)) != nil { decoded += 1 }
        }
        #expect(decoded == 0, "\(decoded) truncated copies of \(fixture) decoded without error")
        for _ in 0..<300 {
            var corrupt = bytes
            for _ in 0..<(1 + next() % 4) { corrupt[next() % corrupt.count] = UInt8(truncatingIfNeeded: next()) }
            _ = try? RGBImage(decoding: Data(corrupt), name: fixture)
        }
    }
}

private func bigEndian(_ value: UInt32) -> [UInt8] {
    [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
}

/// CRC-32 (IEEE, reflected), as PNG chunks carry it.
private func crc32(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    return ~crc
}
