import Testing
import Tensors
@testable import ModelFormats

/// Element type ids and sizes: the values the brief pins down, and every type against gguf-py's
/// table (recorded in formats.json), except where ggml itself has moved on.
@Suite struct ElementTypeTests {
    @Test func ggmlIdsAndSizesThatMatterMost() {
        let pinned: [(GGMLType, UInt32, Int, Int)] = [
            (.f32, 0, 1, 4), (.f16, 1, 1, 2), (.q4_0, 2, 32, 18), (.q4_1, 3, 32, 20), (.q5_0, 6, 32, 22),
            (.q5_1, 7, 32, 24), (.q8_0, 8, 32, 34), (.q8_1, 9, 32, 36), (.q2_K, 10, 256, 84), (.q3_K, 11, 256, 110),
            (.q4_K, 12, 256, 144), (.q5_K, 13, 256, 176), (.q6_K, 14, 256, 210), (.q8_K, 15, 256, 292),
            (.i8, 24, 1, 1), (.i16, 25, 1, 2), (.i32, 26, 1, 4), (.i64, 27, 1, 8), (.f64, 28, 1, 8), (.bf16, 30, 1, 2),
        ]
        for (type, id, block, bytes) in pinned {
            #expect(type.rawValue == id, "\(type)")
            #expect(type.blockSize == block, "\(type)")
            #expect(type.bytesPerBlock == bytes, "\(type)")
        }
        #expect(GGMLType(rawValue: 4) == nil && GGMLType(rawValue: 5) == nil, "retired Q4_2 / Q4_3")
    }

    @Test func everyTypeAgreesWithGGUFPy() throws {
        let table = FormatsFixture.shared.ggufTypeSizes
        for type in GGMLType.allCases {
            let sizes = try #require(table[type.description], "gguf-py has no \(type)")
            #expect(sizes[0] == type.blockSize, "\(type) block size")
            // gguf-py still lists Q8_1 with two f32 (40 bytes); ggml's block_q8_1 holds two f16.
            if type != .q8_1 { #expect(sizes[1] == type.bytesPerBlock, "\(type) bytes per block") }
        }
        #expect(Set(table.keys) == Set(GGMLType.allCases.map(\.description)), "types gguf-py knows that we do not")
    }

    @Test func blockFormatsMatchTensors() {
        for type in GGMLType.allCases {
            guard let format = type.blockFormat else { continue }
            #expect(format.blockSize == type.blockSize, "\(type)")
            #expect(format.bytesPerBlock == type.bytesPerBlock, "\(type)")
        }
        #expect(GGMLType.q4_1.blockFormat == .q4_1)
        #expect(GGMLType.q5_0.blockFormat == nil)
        #expect(GGMLType.q4_1.rowBytes(count: 576) == 18 * 20)
        #expect(GGMLType.q4_1.rowBytes(count: 33) == nil)
        #expect(GGMLType.f32.rowBytes(count: Int.max) == nil, "overflow")
    }

    @Test func safeTensorsDTypeSizes() {
        let expected: [SafeTensorsDType: Int] = [
            .bool: 8, .u8: 8, .i8: 8, .u16: 16, .i16: 16, .u32: 32, .i32: 32, .u64: 64, .i64: 64,
            .f16: 16, .bf16: 16, .f32: 32, .f64: 64, .f8_e4m3: 8, .f8_e5m2: 8, .f8_e8m0: 8,
            .f8_e4m3fnuz: 8, .f8_e5m2fnuz: 8, .f4: 4, .f6_e2m3: 6, .f6_e3m2: 6, .c64: 64,
        ]
        #expect(Set(expected.keys) == Set(SafeTensorsDType.allCases))
        for (dtype, bits) in expected { #expect(dtype.bitsPerElement == bits, "\(dtype)") }
        #expect(SafeTensorsDType(rawValue: "BF16") == .bf16)
        #expect(SafeTensorsDType.f32.byteSize == 4)
        #expect(SafeTensorsDType.f4.byteSize == nil)
        #expect(SafeTensorsDType.f4.byteCount(elements: 6) == 3)
        #expect(SafeTensorsDType.f4.byteCount(elements: 5) == nil, "half a byte")
        #expect(SafeTensorsDType.f6_e2m3.byteCount(elements: 4) == 3)
        #expect(SafeTensorsDType.f64.byteCount(elements: Int.max / 4) == nil, "overflow")
    }
}
