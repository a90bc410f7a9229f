import Testing
@testable import ModelFormats

/// One tensor info record for a hand-crafted GGUF file.
struct CraftedTensor {
    var name: String
    var dimensions: [UInt64]
    var type: UInt32 = GGMLType.f32.rawValue
    var offset: UInt64 = 0
    var rank: UInt32? = nil   // overrides dimensions.count

    var bytes: ByteBuilder {
        var b = ByteBuilder().string(name).u32(rank ?? UInt32(dimensions.count))
        for d in dimensions { b = b.u64(d) }
        return b.u32(type).u64(offset)
    }
}

/// A GGUF file from parts: metadata pairs as (key, type tag, value bytes), tensor infos, and
/// `data` zero bytes of data section after the alignment padding.
func craftedGGUF(version: UInt32 = 3, metadata: [(String, UInt32, [UInt8])] = [], tensors: [CraftedTensor] = [],
                 data: Int = 0, alignment: Int = 32) -> [UInt8] {
    var b = ByteBuilder().raw(Array("GGUF".utf8)).u32(version).u64(UInt64(tensors.count)).u64(UInt64(metadata.count))
    for (key, type, value) in metadata { b = b.string(key).u32(type).raw(value) }
    for tensor in tensors { b = b.raw(tensor.bytes.bytes) }
    return b.pad(to: alignment).raw([UInt8](repeating: 0, count: data)).bytes
}

/// Each validation rule of the GGUF reader, on hand-crafted bytes: the error's code, and a
/// message that names the file and the field.
@Suite struct GGUFValidationTests {
    private let file = "crafted.gguf"

    private func expectRejected(_ bytes: [UInt8], _ code: ModelFormatError.Code, _ fragments: [String],
                                sourceLocation: SourceLocation = #_sourceLocation) {
        expectFormatError(code, mentioning: [file] + fragments, sourceLocation: sourceLocation) {
            _ = try parseGGUF(bytes, name: file)
        }
    }

    private let u32Type = GGUFValueType.uint32.rawValue
    private let arrayType = GGUFValueType.array.rawValue

    @Test func minimalFilesAreValid() throws {
        let empty = try parseGGUF(craftedGGUF())
        #expect(empty.tensors.isEmpty && empty.metadata.count == 0)
        // No padding at all after the header when there is no data is fine too.
        let unpadded = ByteBuilder().raw(Array("GGUF".utf8)).u32(3).u64(0).u64(0).bytes
        #expect(try parseGGUF(unpadded).dataOffset == 32)
        let one = try parseGGUF(craftedGGUF(tensors: [CraftedTensor(name: "t", dimensions: [4])], data: 16))
        #expect(try one.tensor("t").scalars == [0, 0, 0, 0])
    }

    @Test func preamble() {
        expectRejected([0x47, 0x47, 0x55], .truncated, ["header magic", "3 bytes"])
        expectRejected(Array("GGML".utf8) + [3, 0, 0, 0], .badMagic, ["header magic", "\"GGML\""])
        expectRejected(Array("\u{0}\u{1}GG".utf8) + [3, 0, 0, 0], .badMagic, ["00 01 47 47"])
        expectRejected(craftedGGUF(version: 1), .unsupportedVersion, ["header version", "version 1"])
        expectRejected(craftedGGUF(version: 4), .unsupportedVersion, ["header version", "version 4"])
        expectRejected(Array("GGUF".utf8) + [3, 0], .truncated, ["header version"])
        expectRejected(ByteBuilder().raw(Array("GGUF".utf8)).u32(3).u32(0).bytes, .truncated, ["header tensor count"])
        expectRejected(ByteBuilder().raw(Array("GGUF".utf8)).u32(3).u64(0).bytes, .truncated, ["header metadata count"])
    }

    @Test func absurdCountsAreRefusedBeforeAllocating() {
        let huge = ByteBuilder().raw(Array("GGUF".utf8)).u32(3)
        expectRejected(huge.u64(.max).u64(0).bytes, .countTooLarge, ["header tensor count", "\(UInt64.max)"])
        expectRejected(huge.u64(0).u64(1 << 40).bytes, .countTooLarge, ["header metadata count"])
        expectRejected(huge.u64(1_000).u64(0).raw([UInt8](repeating: 0, count: 100)).bytes, .countTooLarge, ["header tensor count"])
    }

    @Test func stringsAndArraysBeyondTheFile() {
        // Key length past the end.
        let longKey = ByteBuilder().raw(Array("GGUF".utf8)).u32(3).u64(0).u64(1).u64(1_000).raw(Array("abc".utf8) + [UInt8](repeating: 0, count: 20)).bytes
        expectRejected(longKey, .countTooLarge, ["metadata[0] key length", "1000"])
        let maxKey = ByteBuilder().raw(Array("GGUF".utf8)).u32(3).u64(0).u64(1).u64(.max).raw([UInt8](repeating: 0, count: 20)).bytes
        expectRejected(maxKey, .countTooLarge, ["metadata[0] key length"])
        // String value length past the end.
        expectRejected(craftedGGUF(metadata: [("name", GGUFValueType.string.rawValue, ByteBuilder().u64(1 << 50).bytes)]),
                       .countTooLarge, ["metadata 'name' length"])
        // Array counts past the end, for fixed-size, string and nested elements.
        for element in [GGUFValueType.uint32, .string, .array, .float64] {
            let value = ByteBuilder().u32(element.rawValue).u64(1 << 36).bytes
            expectRejected(craftedGGUF(metadata: [("list", arrayType, value)]), .countTooLarge, ["metadata 'list' element count"])
        }
        // A count that fits in bytes-remaining when multiplied naively by 1 but not by 8.
        let value = ByteBuilder().u32(GGUFValueType.uint64.rawValue).u64(40).raw([UInt8](repeating: 0, count: 64)).bytes
        expectRejected(ByteBuilder().raw(Array("GGUF".utf8)).u32(3).u64(0).u64(1).string("k").u32(arrayType).raw(value).bytes,
                       .countTooLarge, ["metadata 'k' element count"])
        // A string array whose last string runs past the end.
        let strings = ByteBuilder().u32(GGUFValueType.string.rawValue).u64(2).string("ok").u64(30).raw(Array("short".utf8)).bytes
        expectRejected(ByteBuilder().raw(Array("GGUF".utf8)).u32(3).u64(0).u64(1).string("toks").u32(arrayType).raw(strings).bytes,
                       .countTooLarge, ["metadata 'toks'[1] length"])
        // A value cut short.
        expectRejected(ByteBuilder().raw(Array("GGUF".utf8)).u32(3).u64(0).u64(1).string("k").u32(u32Type).raw([1, 2]).bytes,
                       .truncated, ["metadata 'k'"])
    }

    @Test func valueTypes() {
        expectRejected(craftedGGUF(metadata: [("k", 13, [0])]), .unknownValueType, ["metadata 'k' type", "13"])
        expectRejected(craftedGGUF(metadata: [("k", arrayType, ByteBuilder().u32(99).u64(0).bytes)]),
                       .unknownValueType, ["metadata 'k' element type", "99"])
        expectRejected(craftedGGUF(metadata: [("flag", GGUFValueType.bool.rawValue, [2])]), .invalidValue, ["metadata 'flag'", "not 0 or 1"])
        expectRejected(craftedGGUF(metadata: [("k", GGUFValueType.string.rawValue, ByteBuilder().u64(2).raw([0xC3, 0x28]).bytes)]),
                       .invalidUTF8, ["metadata 'k'", "UTF-8"])
        let badKey = ByteBuilder().raw(Array("GGUF".utf8)).u32(3).u64(0).u64(1).u64(1).raw([0xFF]).u32(u32Type).u32(0).bytes
        expectRejected(badKey, .invalidUTF8, ["metadata[0] key"])
    }

    @Test func nestingDepthIsBounded() throws {
        func nested(_ levels: Int) -> [UInt8] {
            let level = ByteBuilder().u32(arrayType).u64(1).bytes
            let innermost = ByteBuilder().u32(GGUFValueType.uint8.rawValue).u64(1).u8(7).bytes
            let value = Array([[UInt8]](repeating: level, count: levels - 1).joined()) + innermost
            return craftedGGUF(metadata: [("deep", arrayType, value)])
        }
        #expect(try parseGGUF(nested(GGUFFile.maximumNesting)).metadata["deep"] != nil)
        expectRejected(nested(GGUFFile.maximumNesting + 1), .nestingTooDeep, ["metadata 'deep'", "nest"])
        // Thousands of levels in a few kilobytes must fail cleanly, not overflow the stack.
        expectRejected(nested(5_000), .nestingTooDeep, ["metadata 'deep'"])
    }

    @Test func duplicates() {
        let pair = ("dup", u32Type, ByteBuilder().u32(1).bytes)
        expectRejected(craftedGGUF(metadata: [pair, ("other", u32Type, [0, 0, 0, 0]), pair]),
                       .duplicateKey, ["metadata 'dup'", "more than once"])
        let tensors = [CraftedTensor(name: "w", dimensions: [4]), CraftedTensor(name: "w", dimensions: [4], offset: 32)]
        expectRejected(craftedGGUF(tensors: tensors, data: 64), .duplicateTensorName, ["tensor[1] name", "'w'"])
    }

    @Test func alignmentMetadata() throws {
        let aligned = craftedGGUF(metadata: [("general.alignment", u32Type, ByteBuilder().u32(8).bytes)],
                                  tensors: [CraftedTensor(name: "t", dimensions: [2], offset: 8)], data: 16, alignment: 8)
        #expect(try parseGGUF(aligned).alignment == 8)
        for (type, value) in [(u32Type, ByteBuilder().u32(0).bytes), (u32Type, ByteBuilder().u32(48).bytes),
                              (GGUFValueType.uint64.rawValue, ByteBuilder().u64(32).bytes),
                              (GGUFValueType.string.rawValue, ByteBuilder().string("32").bytes)] {
            expectRejected(craftedGGUF(metadata: [("general.alignment", type, value)]), .badAlignment,
                           ["metadata 'general.alignment'", "power of two"])
        }
    }

    @Test func tensorTypesAndDimensions() {
        func reject(_ tensor: CraftedTensor, _ code: ModelFormatError.Code, _ fragments: [String],
                    sourceLocation: SourceLocation = #_sourceLocation) {
            expectRejected(craftedGGUF(tensors: [tensor], data: 64), code, fragments, sourceLocation: sourceLocation)
        }
        reject(CraftedTensor(name: "t", dimensions: [4], type: 4), .unknownTensorType, ["tensor 't' type", "id 4"])
        reject(CraftedTensor(name: "t", dimensions: [4], type: 1_000), .unknownTensorType, ["tensor 't' type", "1000"])
        reject(CraftedTensor(name: "t", dimensions: []), .badDimensions, ["tensor 't' dimension count", "0 dimensions"])
        reject(CraftedTensor(name: "t", dimensions: [1, 1, 1, 1, 1]), .badDimensions, ["tensor 't' dimension count", "5"])
        reject(CraftedTensor(name: "t", dimensions: [4], rank: .max), .badDimensions, ["tensor 't' dimension count"])
        reject(CraftedTensor(name: "t", dimensions: [4, 0]), .badDimensions, ["tensor 't' dimension 1", "extent 0"])
        reject(CraftedTensor(name: "t", dimensions: [UInt64(Int64.max) + 1]), .badDimensions, ["tensor 't' dimension 0"])
        reject(CraftedTensor(name: "t", dimensions: [1 << 32, 1 << 32]), .sizeOverflow, ["tensor 't' dimensions", "overflows"])
        reject(CraftedTensor(name: "t", dimensions: [1 << 62]), .sizeOverflow, ["tensor 't' dimensions", "byte size"])
        reject(CraftedTensor(name: "t", dimensions: [16, 2], type: GGMLType.q8_0.rawValue), .notBlockMultiple,
               ["tensor 't' dimensions", "row length 16", "Q8_0", "32"])
        reject(CraftedTensor(name: "t", dimensions: [100], type: GGMLType.q4_K.rawValue), .notBlockMultiple, ["256"])
    }

    @Test func tensorPlacement() {
        func reject(_ tensors: [CraftedTensor], data: Int, _ code: ModelFormatError.Code, _ fragments: [String],
                    sourceLocation: SourceLocation = #_sourceLocation) {
            expectRejected(craftedGGUF(tensors: tensors, data: data), code, fragments, sourceLocation: sourceLocation)
        }
        reject([CraftedTensor(name: "t", dimensions: [4], offset: 4)], data: 64, .misalignedOffset,
               ["tensor 't' offset", "4", "alignment 32"])
        reject([CraftedTensor(name: "t", dimensions: [4], offset: 1 << 40)], data: 64, .outOfBounds,
               ["tensor 't' offset", "past the end"])
        reject([CraftedTensor(name: "t", dimensions: [4], offset: .max)], data: 64, .outOfBounds, ["tensor 't' offset"])
        // Aligned, fits in Int, but start + size overflows.
        reject([CraftedTensor(name: "t", dimensions: [4], offset: UInt64(Int.max) - 31)], data: 64, .outOfBounds, ["tensor 't' offset"])
        // Data that starts inside the file but ends after it.
        reject([CraftedTensor(name: "t", dimensions: [20])], data: 64, .outOfBounds, ["tensor 't' offset", "+80 bytes"])
        let overlapping = [CraftedTensor(name: "a", dimensions: [16]), CraftedTensor(name: "b", dimensions: [4], offset: 32)]
        reject(overlapping, data: 96, .overlappingTensors, ["tensor 'b' offset", "'a'"])
        let sameStart = [CraftedTensor(name: "a", dimensions: [4]), CraftedTensor(name: "b", dimensions: [8])]
        reject(sameStart, data: 64, .overlappingTensors, ["'a'", "'b'"])
    }
}
