/// Structural checks run before stb_image (2.27, Debian's libstb) decodes. stb reads past the
/// end of a BMP or GIF as zeros and leaves a short PPM/PGM's pixels uninitialised, so a partial
/// download would decode "successfully"; it also decodes a PNG without its IEND chunk, and
/// reports a cut JPEG only as "expected marker". Each check walks the container just far
/// enough to know that the data stb will read is all present (and, for JPEG, that the tables
/// it uses are defined); nothing is decompressed.

/// The formats whose containers are checked here, recognised by their first bytes.
enum ContainerFormat {
    case png, jpeg, pnm, bmp, gif

    init?(sniffing bytes: UnsafeBufferPointer<UInt8>) {
        func starts(with prefix: [UInt8]) -> Bool {
            bytes.count >= prefix.count && zip(bytes, prefix).allSatisfy { $0 == $1 }
        }
        if starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
            self = .png
        } else if starts(with: [0xFF, 0xD8]) {
            self = .jpeg
        } else if starts(with: Array("P5".utf8)) || starts(with: Array("P6".utf8)) {
            self = .pnm
        } else if starts(with: Array("BM".utf8)) {
            self = .bmp
        } else if starts(with: Array("GIF8".utf8)) {
            self = .gif
        } else {
            return nil
        }
    }
}

/// The dimensions the header declares, read without stb: `stbi_info` itself refuses a PNG
/// whose samples exceed 2^30 bytes but then reports the generic "unknown image type", so the
/// size limit is checked on this first to give large images a clear error. `nil` when the
/// header is too short or not where expected (stb then has its say).
func declaredSize(_ bytes: UnsafeBufferPointer<UInt8>, format: ContainerFormat) -> (width: Int, height: Int)? {
    switch format {
    case .png:
        // IHDR must be the first chunk: length, "IHDR", width, height (big-endian).
        guard bytes.count >= 24, String(decoding: bytes[12..<16], as: UTF8.self) == "IHDR" else { return nil }
        return (bigEndian32(bytes, 16), bigEndian32(bytes, 20))
    case .jpeg:
        return jpegFrameSize(bytes)
    case .pnm:
        return (try? PNMHeader(bytes, file: "")).map { ($0.width, $0.height) }
    case .bmp:
        return (try? BMPHeader(bytes, file: "")).map { ($0.width, $0.height) }
    case .gif:
        guard bytes.count >= 10 else { return nil }
        return (littleEndian(bytes, 6, count: 2), littleEndian(bytes, 8, count: 2))  // logical screen
    }
}

/// What the checks learnt that decoding needs.
enum Container: Equatable {
    /// A binary PPM/PGM and its declared maximum sample value.
    case pnm(maxValue: Int)
    case other
}

/// Throws `ImageError.truncated` (or `.undecodable`/`.unsupported`) when the container is
/// incomplete. Call after the size limits have been checked.
func checkContainer(_ bytes: UnsafeBufferPointer<UInt8>, format: ContainerFormat, file: String) throws -> Container {
    switch format {
    case .png: try checkPNG(bytes, file: file)
    case .jpeg: try checkJPEG(bytes, file: file)
    case .pnm: return .pnm(maxValue: try checkPNM(bytes, file: file))
    case .bmp: try checkBMP(bytes, file: file)
    case .gif: try checkGIF(bytes, file: file)
    }
    return .other
}

private func bigEndian32(_ bytes: UnsafeBufferPointer<UInt8>, _ at: Int) -> Int {
    Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3])
}

private func littleEndian(_ bytes: UnsafeBufferPointer<UInt8>, _ at: Int, count: Int) -> Int {
    (0..<count).reduce(0) { $0 | Int(bytes[at + $1]) << (8 * $1) }
}

/// PNG: chunks (length, type, data, CRC) from the signature to IEND must all be present.
private func checkPNG(_ bytes: UnsafeBufferPointer<UInt8>, file: String) throws {
    var offset = 8
    while true {
        guard offset + 8 <= bytes.count else {
            throw ImageError.truncated(file: file, format: "PNG", detail: "no IEND chunk (the file ends at byte \(bytes.count), inside a chunk header)")
        }
        let length = bigEndian32(bytes, offset)
        let type = String(decoding: bytes[offset + 4..<offset + 8], as: UTF8.self)
        guard length <= 0x7FFF_FFFF else {
            throw ImageError.undecodable(file: file, reason: "PNG chunk \(type) at byte \(offset) declares \(length) bytes")
        }
        let end = offset + 12 + length
        guard end <= bytes.count else {
            throw ImageError.truncated(file: file, format: "PNG", detail:
                "no IEND chunk (the \(type) chunk at byte \(offset) needs \(end) bytes, the file has \(bytes.count))")
        }
        if type == "IEND" { return }
        offset = end
    }
}

/// JPEG: marker segments from SOI, skipping each scan's entropy-coded data (where 0xFF is
/// followed by a stuffed 0x00 or a restart marker), must reach the EOI marker (0xFFD9).
/// Length-prefixed segments are skipped whole, so an EXIF thumbnail's own EOI is not mistaken
/// for the image's. Bytes after EOI (camera trailers) are allowed, as every decoder does.
///
/// Every scan must also only use Huffman and quantisation tables defined before it, and every
/// component must be coded before EOI (in progressive files: a DC scan before any other scan).
/// stb 2.27 checks none of this and decodes with uninitialised tables or coefficients: the
/// first reads out of bounds (a crash found by fuzzing), the others put leftover heap memory
/// into the pixels. See `JPEGTables`.
private func checkJPEG(_ bytes: UnsafeBufferPointer<UInt8>, file: String) throws {
    let missingEOI = ImageError.truncated(file: file, format: "JPEG", detail: "no end-of-image marker")
    var sawEOI = false
    var tables = JPEGTables()
    var problem: String?
    let walk = walkJPEG(bytes) { marker, segment in
        sawEOI = marker == 0xD9
        problem = tables.record(marker: marker, segment: UnsafeBufferPointer(rebasing: bytes[segment]))
        return !sawEOI && problem == nil
    }
    if let problem { throw ImageError.undecodable(file: file, reason: problem) }
    switch walk {
    case .badLength(let marker, let length):
        throw ImageError.undecodable(file: file, reason: "JPEG segment 0xFF\(String(marker, radix: 16, uppercase: true)) has length \(length)")
    case .endOfData:
        throw missingEOI
    case .stopped:
        guard sawEOI else { throw missingEOI }
    }
}

/// Which tables a JPEG has defined so far, to refuse scans that use undefined ones. Malformed
/// table segments are not judged here: stb rejects them itself.
private struct JPEGTables {
    var huffmanDC = [Bool](repeating: false, count: 4)
    var huffmanAC = [Bool](repeating: false, count: 4)
    var quantisation = [Bool](repeating: false, count: 4)
    var progressive = false
    /// Component id and quantisation table of each component of the frame.
    var components: [(id: UInt8, table: Int)] = []
    /// Components whose coefficients a scan has initialised (progressive: a first DC scan).
    var coded: Set<UInt8> = []

    /// Notes a segment (`segment` starts at its length field); returns a problem, if any.
    mutating func record(marker: UInt8, segment: UnsafeBufferPointer<UInt8>) -> String? {
        var at = 2
        switch marker {
        case 0xDB:  // DQT: (precision << 4 | id), then 64 one- or two-byte entries, repeated
            while at < segment.count {
                let precision = Int(segment[at] >> 4), id = Int(segment[at] & 15)
                guard precision <= 1, id <= 3 else { return nil }
                quantisation[id] = true
                at += 1 + 64 * (precision + 1)
            }
        case 0xC4:  // DHT: (class << 4 | id), 16 code-length counts, the values, repeated
            while at + 17 <= segment.count {
                let tableClass = Int(segment[at] >> 4), id = Int(segment[at] & 15)
                guard tableClass <= 1, id <= 3 else { return nil }
                let values = (1...16).reduce(0) { $0 + Int(segment[at + $1]) }
                guard at + 17 + values <= segment.count else { return nil }
                if tableClass == 0 { huffmanDC[id] = true } else { huffmanAC[id] = true }
                at += 17 + values
            }
        case 0xC0, 0xC1, 0xC2:  // SOF (the kinds stb decodes): precision, height, width, count, components
            guard segment.count >= 8 else { return nil }
            progressive = marker == 0xC2
            let count = Int(segment[7])
            guard segment.count >= 8 + 3 * count else { return nil }
            components = (0..<count).map { (segment[8 + 3 * $0], Int(segment[10 + 3 * $0] & 15)) }
        case 0xDA:  // SOS: count, (component id, DC << 4 | AC) each, start, end, approximation
            guard segment.count >= 3 else { return nil }
            let count = Int(segment[2])
            guard segment.count >= 6 + 2 * count else { return nil }
            let spectralStart = segment[3 + 2 * count], approximationHigh = segment[5 + 2 * count] >> 4
            // Baseline scans code DC and AC; progressive DC first passes only DC; AC passes only AC.
            let firstDCScan = spectralStart == 0 && approximationHigh == 0
            let needsDC = !progressive || firstDCScan
            let needsAC = !progressive || spectralStart > 0
            for i in 0..<count {
                let id = segment[3 + 2 * i], selectors = segment[4 + 2 * i]
                if progressive && !firstDCScan && !coded.contains(id) {
                    return "JPEG progressive scan refines component \(id) before its first DC scan"
                }
                if !progressive || firstDCScan { coded.insert(id) }
                let dc = Int(selectors >> 4), ac = Int(selectors & 15)
                guard dc <= 3, ac <= 3 else { return nil }
                if needsDC && !huffmanDC[dc] { return "JPEG scan uses DC Huffman table \(dc), which is not defined" }
                if needsAC && !huffmanAC[ac] { return "JPEG scan uses AC Huffman table \(ac), which is not defined" }
                if let component = components.first(where: { $0.id == id }), component.table <= 3, !quantisation[component.table] {
                    return "JPEG component \(id) uses quantisation table \(component.table), which is not defined"
                }
            }
        case 0xD9:  // EOI
            if let missing = components.first(where: { !coded.contains($0.id) }) {
                return "JPEG component \(missing.id) is not coded in any scan"
            }
        default:
            break
        }
        return nil
    }
}

/// Height and width from the first start-of-frame segment (SOF0...SOF15 less DHT, JPG, DAC).
private func jpegFrameSize(_ bytes: UnsafeBufferPointer<UInt8>) -> (width: Int, height: Int)? {
    var size: (width: Int, height: Int)?
    _ = walkJPEG(bytes) { marker, segment in
        guard (0xC0...0xCF).contains(marker), ![0xC4, 0xC8, 0xCC].contains(marker) else {
            return marker != 0xDA && marker != 0xD9  // no frame header before the first scan: give up
        }
        // Segment body: length (2), precision (1), height (2), width (2).
        if segment.count >= 7 {
            let at = segment.lowerBound
            size = (Int(bytes[at + 5]) << 8 | Int(bytes[at + 6]), Int(bytes[at + 3]) << 8 | Int(bytes[at + 4]))
        }
        return false
    }
    return size
}

private enum JPEGWalkEnd {
    case stopped
    case endOfData
    case badLength(marker: UInt8, length: Int)
}

/// Visits each marker after SOI with the byte range of its segment (empty for markers without
/// a length) until `visit` returns false or the data ends. Entropy-coded data after SOS is
/// skipped. Stray bytes between segments are skipped, as libjpeg does (with a warning).
private func walkJPEG(_ bytes: UnsafeBufferPointer<UInt8>, visit: (UInt8, Range<Int>) -> Bool) -> JPEGWalkEnd {
    let count = bytes.count
    var offset = 2
    while true {
        // The next marker: 0xFF, any 0xFF fill bytes, then the marker code.
        while offset < count && bytes[offset] != 0xFF { offset += 1 }
        while offset < count && bytes[offset] == 0xFF { offset += 1 }
        guard offset < count else { return .endOfData }
        let marker = bytes[offset]
        offset += 1
        if marker == 0x01 || (0xD0...0xD9).contains(marker) {  // no length field (TEM, RSTn, SOI, EOI)
            if !visit(marker, offset..<offset) { return .stopped }
            continue
        }
        guard offset + 2 <= count else { return .endOfData }
        let length = Int(bytes[offset]) << 8 | Int(bytes[offset + 1])
        guard length >= 2 else { return .badLength(marker: marker, length: length) }
        guard offset + length <= count else { return .endOfData }
        if !visit(marker, offset..<offset + length) { return .stopped }
        offset += length
        if marker == 0xDA { offset = endOfEntropyCodedData(bytes, from: offset) }
    }
}

/// The index of the 0xFF that starts the first real marker at or after `start`, or `count`.
private func endOfEntropyCodedData(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
    let count = bytes.count
    var offset = start
    while offset < count {
        if bytes[offset] != 0xFF { offset += 1; continue }
        guard offset + 1 < count else { return count }
        let next = bytes[offset + 1]
        if next == 0x00 || (0xD0...0xD7).contains(next) {
            offset += 2  // stuffed 0xFF data byte or restart marker: still inside the scan
        } else if next == 0xFF {
            offset += 1  // fill byte before a marker
        } else {
            return offset
        }
    }
    return count
}

/// A binary PPM/PGM (P6/P5) header: fields separated by whitespace or `#` comments, then
/// exactly one whitespace byte before the samples.
struct PNMHeader {
    let format: String
    let channels: Int
    let width: Int
    let height: Int
    let maxValue: Int
    let dataOffset: Int

    init(_ bytes: UnsafeBufferPointer<UInt8>, file: String) throws {
        channels = bytes[1] == UInt8(ascii: "6") ? 3 : 1
        format = channels == 3 ? "PPM" : "PGM"
        let format = format
        var offset = 2
        func isSpace(_ byte: UInt8) -> Bool { [0x20, 0x09, 0x0A, 0x0B, 0x0C, 0x0D].contains(byte) }
        func field() throws -> Int {
            while offset < bytes.count {
                if isSpace(bytes[offset]) {
                    offset += 1
                } else if bytes[offset] == UInt8(ascii: "#") {
                    while offset < bytes.count && bytes[offset] != 0x0A && bytes[offset] != 0x0D { offset += 1 }
                } else {
                    break
                }
            }
            var value = 0, digits = 0
            while offset < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[offset]) {
                value = min(value * 10 + Int(bytes[offset] - UInt8(ascii: "0")), 1 << 40)  // saturate, never overflow
                offset += 1
                digits += 1
            }
            guard digits > 0 else {
                if offset >= bytes.count { throw ImageError.truncated(file: file, format: format, detail: "the header is incomplete") }
                throw ImageError.undecodable(file: file, reason: "\(format) header has a non-numeric field at byte \(offset)")
            }
            return value
        }
        width = try field()
        height = try field()
        maxValue = try field()
        dataOffset = offset + 1
    }
}

/// Checks a binary PPM/PGM for a sample count that fits the file and a depth we decode right;
/// returns maxval (stb neither checks the sample count nor rescales).
private func checkPNM(_ bytes: UnsafeBufferPointer<UInt8>, file: String) throws -> Int {
    let header = try PNMHeader(bytes, file: file)
    let format = header.format
    guard (1...65535).contains(header.maxValue) else {
        throw ImageError.undecodable(file: file, reason: "\(format) maxval \(header.maxValue) is outside 1...65535")
    }
    guard header.maxValue <= 255 || header.maxValue == 65535 else {
        // stb would keep the high byte of each sample, which is only right for maxval 65535.
        throw ImageError.unsupported(file: file, format: format, detail: "16-bit samples with maxval \(header.maxValue) (only 65535 is supported)")
    }
    guard header.width <= 1 << 24, header.height <= 1 << 24 else {  // normally refused earlier by DecodingLimits
        throw ImageError.undecodable(file: file, reason: "\(format) header declares \(header.width)x\(header.height)")
    }
    let needed = header.dataOffset + header.width * header.height * header.channels * (header.maxValue > 255 ? 2 : 1)
    guard needed <= bytes.count else {
        throw ImageError.truncated(file: file, format: format,
                                   detail: "\(header.width)x\(header.height) samples need \(needed) bytes, the file has \(bytes.count)")
    }
    return header.maxValue
}

/// The fields of a BMP header that locate the pixel array.
struct BMPHeader {
    let dataOffset: Int
    let width: Int
    /// Rows; negative heights (top-down files) are stored as their magnitude.
    let height: Int
    let bitsPerPixel: Int
    let compression: Int

    init(_ bytes: UnsafeBufferPointer<UInt8>, file: String) throws {
        let incomplete = ImageError.truncated(file: file, format: "BMP", detail: "the header is incomplete")
        guard bytes.count >= 26 else { throw incomplete }
        dataOffset = littleEndian(bytes, 10, count: 4)
        if littleEndian(bytes, 14, count: 4) == 12 {  // OS/2 BITMAPCOREHEADER: 16-bit dimensions
            width = littleEndian(bytes, 18, count: 2)
            height = littleEndian(bytes, 20, count: 2)
            bitsPerPixel = littleEndian(bytes, 24, count: 2)
            compression = 0
        } else {
            guard bytes.count >= 34 else { throw incomplete }
            width = Int(Int32(truncatingIfNeeded: littleEndian(bytes, 18, count: 4)))
            height = abs(Int(Int32(truncatingIfNeeded: littleEndian(bytes, 22, count: 4))))
            bitsPerPixel = littleEndian(bytes, 28, count: 2)
            compression = littleEndian(bytes, 30, count: 4)
        }
    }
}

/// Uncompressed BMP: the pixel array (rows padded to 4 bytes) must fit after its offset.
/// Compressed variants are left to stb, which rejects RLE.
private func checkBMP(_ bytes: UnsafeBufferPointer<UInt8>, file: String) throws {
    let header = try BMPHeader(bytes, file: file)
    // 0 = BI_RGB, 3 = BI_BITFIELDS, 6 = BI_ALPHABITFIELDS: plain pixel arrays. (Sizes beyond
    // stb's limit of 2^24 are left to stb; DecodingLimits normally refused them already.)
    guard [0, 3, 6].contains(header.compression), header.bitsPerPixel <= 32,
          (1...(1 << 24)).contains(header.width), header.height <= 1 << 24 else { return }
    let rowBytes = (header.width * header.bitsPerPixel + 31) / 32 * 4
    let needed = header.dataOffset + rowBytes * header.height
    guard needed <= bytes.count else {
        throw ImageError.truncated(file: file, format: "BMP",
                                   detail: "\(header.width)x\(header.height) pixels need \(needed) bytes, the file has \(bytes.count)")
    }
}

/// GIF: stb decodes the first frame only, so the blocks up to and including that frame's
/// image data (its sub-blocks end with a zero-length block) must be present.
private func checkGIF(_ bytes: UnsafeBufferPointer<UInt8>, file: String) throws {
    let truncated = ImageError.truncated(file: file, format: "GIF", detail: "the file ends before the first frame's image data")
    guard bytes.count >= 13 else { throw truncated }
    var offset = 13
    let screenFlags = bytes[10]
    if screenFlags & 0x80 != 0 { offset += 3 << (Int(screenFlags & 7) + 1) }  // global colour table
    // Skips a chain of data sub-blocks (size byte, then that many bytes) up to its terminator.
    func skipSubBlocks() throws {
        while true {
            guard offset < bytes.count else { throw truncated }
            let size = Int(bytes[offset])
            offset += 1 + size
            if size == 0 { return }
        }
    }
    while true {
        guard offset < bytes.count else { throw truncated }
        switch bytes[offset] {
        case 0x21:  // extension: label, then sub-blocks
            offset += 2
            try skipSubBlocks()
        case 0x2C:  // image descriptor (10 bytes), optional local colour table, LZW code size, data
            guard offset + 10 <= bytes.count else { throw truncated }
            let flags = bytes[offset + 9]
            offset += 10
            if flags & 0x80 != 0 { offset += 3 << (Int(flags & 7) + 1) }
            offset += 1
            try skipSubBlocks()
            guard offset <= bytes.count else { throw truncated }
            return
        default:
            return  // trailer or garbage: stb reports it
        }
    }
}
