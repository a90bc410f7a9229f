import Foundation
import ModelStore
import Testing
@testable import ModelFormats

/// Our GGUF reader against files written by the PyPI `gguf` package and described by its reader
/// (scripts/fixtures/make_format_fixtures.py): every metadata value with its exact type, every
/// tensor's type, dimensions, offset, size, bytes and values.
@Suite struct GGUFFixtureTests {
    static let files = ["all_types.gguf", "aligned64.gguf"]

    @Test(arguments: files)
    func headerAndMetadataMatchGGUFPy(file: String) throws {
        let expected = try #require(FormatsFixture.shared.gguf[file])
        let gguf = try GGUFFile(url: fixtureURL(file))
        #expect(gguf.version == expected.version)
        #expect(gguf.alignment == expected.alignment)
        #expect(gguf.dataOffset == expected.dataOffset)
        #expect(gguf.metadata.keys == expected.metadata.map(\.key))
        for entry in expected.metadata {
            let value = try #require(entry.value.ggufValue, "fixture value for \(entry.key) does not convert")
            #expect(gguf.metadata[entry.key] == value, "\(entry.key)")
        }
    }

    @Test(arguments: files)
    func tensorsMatchGGUFPy(file: String) throws {
        let expected = try #require(FormatsFixture.shared.gguf[file])
        let gguf = try GGUFFile(url: fixtureURL(file))
        #expect(gguf.tensors.map(\.name) == expected.tensors.map(\.name))
        for reference in expected.tensors {
            let info = try gguf.requireTensorInfo(reference.name)
            #expect(info.type.description == reference.type)
            #expect(info.type.rawValue == reference.typeId)
            #expect(info.dimensions == reference.dimensions)
            #expect(info.shape == reference.dimensions.reversed())
            #expect(info.offset == reference.offset)
            #expect(info.byteCount == reference.byteCount)
            let raw = try gguf.rawBytes(reference.name)
            #expect(raw.count == reference.byteCount)
            #expect(SHA256.hexDigest(of: raw) == reference.sha256, "\(reference.name) bytes")
            // No copy: the bytes are the mapping's.
            #expect(raw.baseAddress == gguf.mapping.bytes.baseAddress! + gguf.dataOffset + info.offset)

            if let values = reference.values {
                let tensor = try gguf.tensor(reference.name)
                #expect(tensor.shape == info.shape)
                #expect(tensor.scalars.count == values.count)
                let exact = [GGMLType.f32, .f16, .bf16, .f64].contains(info.type)
                for (ours, theirs) in zip(tensor.scalars, values) {
                    // Quantised blocks: ggml computes (q - 8) * d where Tensors computes q * d - 8d.
                    if exact { #expect(ours == Float(theirs), "\(reference.name)") }
                    else { #expect(abs(ours - Float(theirs)) <= 1e-6 * max(1, abs(Float(theirs))), "\(reference.name)") }
                }
            }
            if let integers = reference.integers {
                #expect(info.type == .i32)
                let stored = (0..<info.elementCount).map { Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self)) }
                #expect(stored.map(String.init) == integers)
                expectFormatError(.notConvertible, mentioning: [reference.name, "I32"]) { _ = try gguf.tensor(reference.name) }
            }
        }
    }

    @Test func typedAccessorsOnTokenizerArrays() throws {
        let gguf = try GGUFFile(url: fixtureURL("all_types.gguf"))
        let meta = gguf.metadata
        #expect(gguf.architecture == "fixture")
        #expect(meta["tokenizer.ggml.tokens"]?.strings == ["<unk>", "<s>", "</s>", "Ġhello", "wörld", ""])
        #expect(meta["tokenizer.ggml.scores"]?.floats == [0, -1.5, -2.25, -3, Float(0.001), 0])
        #expect(meta["tokenizer.ggml.token_type"]?.ints == [2, 3, 3, 1, 1, 6])
        #expect(try meta.requireStrings("tokenizer.ggml.merges") == ["Ġ h", "e l", "l o"])
        #expect(meta["test.uint32"]?.int == 4_294_967_295)
        #expect(meta["test.int8"]?.int == -128)
        #expect(meta["test.uint64"]?.int == nil, "above Int.max")
        #expect(meta["test.float32"]?.float == Float(0.1))
        #expect(meta["test.float64"]?.double == -2.5e-300)
        #expect(meta["test.bool_true"]?.bool == true)
        #expect(meta["test.string"]?.string == "héllo, 世界 🙂 \"quoted\" \\ \n")
        #expect(meta["test.string"]?.int == nil)
        #expect(meta["test.nested.ints"]?.array == .array([.int32([1, 2, 3]), .int32([4]), .int32([5, 6])]))
        #expect(meta["test.nested.deep"]?.array == .array([.array([.float32([1.5]), .float32([2.5, 3.5])]), .array([.float32([-1])])]))
        #expect(meta["test.array.uint64"]?.ints == nil, "an element above Int.max")
        #expect(meta["test.array.int64"]?.ints == [Int.min, Int.max])

        expectFormatError(.metadataMissing, mentioning: ["all_types.gguf", "llama.block_count", "missing"]) {
            _ = try meta.requireInt("llama.block_count")
        }
        expectFormatError(.metadataType, mentioning: ["test.string", "expected an integer"]) {
            _ = try meta.requireInt("test.string")
        }
        expectFormatError(.metadataType, mentioning: ["tokenizer.ggml.scores", "array of 6 float32"]) {
            _ = try meta.requireStrings("tokenizer.ggml.scores")
        }
        expectFormatError(.tensorNotFound, mentioning: ["output.weight"]) { _ = try gguf.rawBytes("output.weight") }
    }

    /// Versions 2 and 3 share a layout, so the v3 fixture with its version field set to 2 must
    /// read identically.
    @Test func versionTwoReadsLikeVersionThree() throws {
        var bytes = try fixtureBytes("all_types.gguf")
        bytes[4] = 2
        let v2 = try parseGGUF(bytes, name: "v2.gguf")
        let v3 = try GGUFFile(url: fixtureURL("all_types.gguf"))
        #expect(v2.version == 2)
        #expect(v2.metadata == v3.metadata)
        #expect(v2.tensors == v3.tensors)
    }

    @Test func bigEndianFileIsRejectedClearly() throws {
        let url = try fixtureURL("big_endian.gguf")
        expectFormatError(.unsupportedVersion, mentioning: ["big_endian.gguf", "header version", "big-endian"]) {
            _ = try GGUFFile(url: url)
        }
    }
}
