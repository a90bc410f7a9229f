import Foundation
import Tensors
import Testing
@testable import ModelFormats

/// Our writers' output read back by our readers, the writers' own checks, and atomic replacement.
@Suite struct GGUFWriterTests {
    static func everyKindOfMetadata() -> GGUFMetadata {
        var m = GGUFMetadata()
        m["general.architecture"] = .string("llama")
        m["u8"] = .uint8(200); m["i8"] = .int8(-100); m["u16"] = .uint16(60000); m["i16"] = .int16(-30000)
        m["u32"] = .uint32(.max); m["i32"] = .int32(.min); m["u64"] = .uint64(.max); m["i64"] = .int64(.min)
        m["f32"] = .float32(-0.1); m["f64"] = .float64(.pi); m["yes"] = .bool(true); m["no"] = .bool(false)
        m["text"] = .string("ünïcödé 🙂\u{0}with a NUL"); m["empty text"] = .string("")
        m["a.u8"] = .array(.uint8([0, 255])); m["a.i8"] = .array(.int8([-1]))
        m["a.u16"] = .array(.uint16([1, 2])); m["a.i16"] = .array(.int16([-2]))
        m["a.u32"] = .array(.uint32([3])); m["a.i32"] = .array(.int32([-4, 5]))
        m["a.u64"] = .array(.uint64([.max])); m["a.i64"] = .array(.int64([.min, .max]))
        m["a.f32"] = .array(.float32([1.5, -.infinity])); m["a.f64"] = .array(.float64([-0.25]))
        m["a.bool"] = .array(.bool([true, false])); m["a.str"] = .array(.string(["x", "", "ÿ"]))
        m["a.empty"] = .array(.int32([])); m["a.empty strings"] = .array(.string([]))
        m["a.nested"] = .array(.array([.int32([1]), .string(["two"]), .array([.float64([3])]), .uint8([])]))
        return m
    }

    @Test(arguments: [32, 64, 1, 4096])
    func roundTripsMetadataAndTensors(alignment: Int) throws {
        var writer = try GGUFWriter(alignment: alignment)
        writer.metadata = Self.everyKindOfMetadata()
        let matrix = Tensor(shape: [3, 5], scalars: (0..<15).map { Float($0) / 3 - 2 })
        try writer.addTensor("f32", matrix)
        try writer.addTensor("f16", matrix, type: .f16)
        try writer.addTensor("bf16", matrix, type: .bf16)
        try writer.addTensor("f64", Tensor(shape: [2, 1, 2, 1], scalars: [1, 2, 3, 4]), type: .f64)
        var q8: [UInt8] = []
        for row in 0..<2 {
            q8 += [0x00, 0x3C]   // f16 scale 1.0
            q8 += (0..<32).map { (i: Int) -> UInt8 in UInt8(truncatingIfNeeded: i * 7 + row) }
        }
        try writer.addTensor("q8_0", type: .q8_0, dimensions: [32, 2], bytes: q8)
        let q4k = (0..<144).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try writer.addTensor("q4_K", type: .q4_K, dimensions: [256], bytes: q4k)

        let bytes = try writer.serialized()
        let file = try parseGGUF(bytes, name: "written.gguf")
        #expect(file.version == 3)
        #expect(file.alignment == alignment)
        #expect(file.dataOffset % alignment == 0)
        var expectedMetadata = Self.everyKindOfMetadata()
        if alignment != 32 { expectedMetadata["general.alignment"] = .uint32(UInt32(alignment)) }
        #expect(file.metadata == expectedMetadata)
        #expect(file.tensors.map(\.name) == ["f32", "f16", "bf16", "f64", "q8_0", "q4_K"])
        for info in file.tensors { #expect(info.offset % alignment == 0, "\(info.name)") }

        #expect(try file.tensor("f32") == matrix)
        #expect(file.tensorInfo("f32")?.dimensions == [5, 3])
        #expect(try file.tensor("f16").scalars == matrix.scalars.map { Float(Float16($0)) })
        #expect(try file.tensor("bf16").scalars == matrix.scalars.map { HalfPrecision.float(fromBF16: HalfPrecision.bf16Bits(from: $0)) })
        #expect(try file.tensor("f64") == Tensor(shape: [2, 1, 2, 1], scalars: [1, 2, 3, 4]))
        #expect(Array(try file.rawBytes("q8_0")) == q8)
        #expect(Array(try file.rawBytes("q4_K")) == q4k)
        #expect(try file.tensor("q8_0").scalars[1] == 7, "scale 1.0 (f16 0x3C00) times quant 7")
    }

    @Test func writerRefusesWhatReadersWouldReject() throws {
        var writer = GGUFWriter()
        try writer.addTensor("t", type: .f32, dimensions: [2], bytes: [UInt8](repeating: 0, count: 8))
        expectFormatError(.invalidArgument, mentioning: ["'t'", "already added"]) {
            try writer.addTensor("t", type: .f32, dimensions: [2], bytes: [UInt8](repeating: 0, count: 8))
        }
        expectFormatError(.invalidArgument, mentioning: ["1 to 4"]) {
            try writer.addTensor("rank5", type: .f32, dimensions: [1, 1, 1, 1, 1], bytes: [0, 0, 0, 0])
        }
        expectFormatError(.invalidArgument, mentioning: ["1 to 4"]) {
            try writer.addTensor("zero", type: .f32, dimensions: [0], bytes: [])
        }
        expectFormatError(.invalidArgument, mentioning: ["block size 32"]) {
            try writer.addTensor("q", type: .q8_0, dimensions: [16, 2], bytes: [UInt8](repeating: 0, count: 34))
        }
        expectFormatError(.invalidArgument, mentioning: ["takes 34 bytes, got 33"]) {
            try writer.addTensor("q", type: .q8_0, dimensions: [32], bytes: [UInt8](repeating: 0, count: 33))
        }
        expectFormatError(.invalidArgument, mentioning: ["overflows"]) {
            try writer.addTensor("huge", type: .f32, dimensions: [Int.max, 2], bytes: [])
        }
        expectFormatError(.invalidArgument, mentioning: ["Q8_0"]) {
            try writer.addTensor("t2", Tensor(shape: [32], scalars: [Float](repeating: 0, count: 32)), type: .q8_0)
        }
        expectFormatError(.invalidArgument, mentioning: ["power of two"]) { _ = try GGUFWriter(alignment: 48) }

        var mismatched = GGUFWriter()
        mismatched.metadata["general.alignment"] = .uint32(64)
        expectFormatError(.invalidArgument, mentioning: ["general.alignment", "32"]) { _ = try mismatched.serialized() }

        var deep = GGUFWriter()
        var array = GGUFArray.int32([1])
        for _ in 0..<GGUFFile.maximumNesting { array = .array([array]) }
        deep.metadata["deep"] = .array(array)
        expectFormatError(.invalidArgument, mentioning: ["'deep'", "nest"]) { _ = try deep.serialized() }
    }

    @Test func nestingAtTheLimitRoundTrips() throws {
        var writer = GGUFWriter()
        var array = GGUFArray.int32([1])
        for _ in 1..<GGUFFile.maximumNesting { array = .array([array]) }
        writer.metadata["deep"] = .array(array)
        #expect(try parseGGUF(writer.serialized()).metadata["deep"] == .array(array))
    }

    @Test func metadataSubscriptKeepsOrderAndReplacesInPlace() {
        var m = GGUFMetadata()
        m["a"] = .int32(1); m["b"] = .int32(2); m["c"] = .int32(3)
        m["b"] = .string("two")
        #expect(m.keys == ["a", "b", "c"])
        #expect(m["b"] == .string("two"))
        m["a"] = nil
        #expect(m.keys == ["b", "c"])
        #expect(m.count == 2)
        #expect(m.map(\.key) == ["b", "c"])
    }
}

@Suite struct SafeTensorsWriterTests {
    @Test func roundTripsEveryDTypeAndMetadata() throws {
        var writer = SafeTensorsWriter(metadata: ["format": "pt", "quote\"and\\slash": "line\nbreak\u{1}"])
        let matrix = Tensor(shape: [2, 3], scalars: [0.1, -0.2, 3, 4e-8, 5e10, -6])
        try writer.addTensor("w.f16", matrix, dtype: .f16)
        try writer.addTensor("w.f32", matrix)
        try writer.addTensor("w.bf16", matrix, dtype: .bf16)
        try writer.addTensor("w.f64", matrix, dtype: .f64)
        try writer.addTensor("scalar", Tensor(shape: [], scalars: [7]))
        try writer.addTensor("empty", Tensor(shape: [0, 4], scalars: []))
        try writer.addTensor("mask", dtype: .bool, shape: [3], bytes: [1, 0, 1])
        try writer.addTensor("ids", dtype: .i64, shape: [2], bytes: [1, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
        try writer.addTensor("fp4", dtype: .f4, shape: [2, 2], bytes: [0x12, 0x34])
        try writer.addTensor("ünïcode \"name\"", dtype: .u8, shape: [1], bytes: [9])

        let bytes = try writer.serialized()
        let file = try parseSafeTensors(bytes)
        #expect(file.metadata == writer.metadata)
        #expect(file.dataOffset % 8 == 0, "header padded to 8 bytes")
        // Largest elements first, in the order added among equals.
        #expect(file.tensorNames == ["w.f64", "ids", "w.f32", "scalar", "empty", "w.f16", "w.bf16", "mask", "ünïcode \"name\"", "fp4"])
        #expect(writer.tensorNames == file.tensorNames)
        for info in file.tensors where info.dtype.bitsPerElement >= 8 {
            #expect((file.dataOffset + info.dataOffsets.lowerBound) % (info.dtype.bitsPerElement / 8) == 0, "\(info.name) aligned")
        }
        #expect(try file.tensor("w.f32") == matrix)
        #expect(try file.tensor("w.f64") == matrix)
        #expect(try file.tensor("w.f16").scalars == matrix.scalars.map { Float(Float16($0)) })
        #expect(try file.tensor("w.bf16").scalars == matrix.scalars.map { HalfPrecision.float(fromBF16: HalfPrecision.bf16Bits(from: $0)) })
        #expect(try file.tensor("scalar") == Tensor(shape: [], scalars: [7]))
        #expect(try file.tensor("empty").shape == [0, 4])
        #expect(Array(try file.rawBytes("mask")) == [1, 0, 1])
        #expect(Array(try file.rawBytes("fp4")) == [0x12, 0x34])
        #expect(try file.requireTensorInfo("fp4").shape == [2, 2])
        #expect(Array(try file.rawBytes("ünïcode \"name\"")) == [9])
    }

    @Test func emptyFileRoundTrips() throws {
        let file = try parseSafeTensors(SafeTensorsWriter().serialized())
        #expect(file.tensors.isEmpty)
        #expect(file.metadata.isEmpty)
    }

    @Test func writerChecksItsInput() throws {
        var writer = SafeTensorsWriter()
        try writer.addTensor("a", dtype: .f32, shape: [1], bytes: [0, 0, 0, 0])
        expectFormatError(.invalidArgument, mentioning: ["'a'", "already added"]) {
            try writer.addTensor("a", dtype: .f32, shape: [1], bytes: [0, 0, 0, 0])
        }
        expectFormatError(.invalidArgument, mentioning: ["reserved"]) {
            try writer.addTensor("__metadata__", dtype: .u8, shape: [1], bytes: [0])
        }
        expectFormatError(.invalidArgument, mentioning: ["[2]", "3 bytes"]) {
            try writer.addTensor("b", dtype: .f16, shape: [2], bytes: [0, 0, 0])
        }
        expectFormatError(.invalidArgument, mentioning: ["negative"]) {
            try writer.addTensor("c", dtype: .u8, shape: [-1], bytes: [])
        }
        expectFormatError(.invalidArgument, mentioning: ["F4"]) {
            try writer.addTensor("d", dtype: .f4, shape: [3], bytes: [0, 0])
        }
        expectFormatError(.invalidArgument, mentioning: ["I32"]) {
            try writer.addTensor("e", Tensor(shape: [1], scalars: [1]), dtype: .i32)
        }
    }
}

/// Writing to disk: atomic replacement, no temporary files left behind, clear failures.
@Suite struct AtomicWriteTests {
    @Test func writesAndReplacesAtomically() throws {
        let folder = try scratchFolder("atomic")
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("model.gguf")

        var first = GGUFWriter()
        first.metadata["version"] = .uint32(1)
        try first.write(to: url)
        let firstFile = try GGUFFile(url: url)   // mapped while the file is replaced
        #expect(firstFile.metadata["version"] == .uint32(1))

        var second = GGUFWriter()
        second.metadata["version"] = .uint32(2)
        try second.addTensor("t", Tensor(shape: [4], scalars: [1, 2, 3, 4]))
        try second.write(to: url)
        #expect(try GGUFFile(url: url).metadata["version"] == .uint32(2))
        // The old mapping still sees the old, complete file (rename, not rewrite in place).
        #expect(firstFile.metadata["version"] == .uint32(1))
        #expect(firstFile.mapping.bytes.count == (try first.serialized()).count)

        var safetensors = SafeTensorsWriter(metadata: ["k": "v"])
        try safetensors.addTensor("t", Tensor(shape: [2], scalars: [1, 2]), dtype: .bf16)
        let stURL = folder.appendingPathComponent("model.safetensors")
        try safetensors.write(to: stURL)
        #expect(try Data(contentsOf: stURL) == Data(try safetensors.serialized()))
        #expect(try SafeTensorsFile(url: stURL).tensor("t").scalars == [1, 2])

        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        #expect(leftovers == ["model.gguf", "model.safetensors"], "no temporary files")
    }

    @Test func failedWriteLeavesTheOldFileAndNoTemporaryFile() throws {
        let folder = try scratchFolder("atomic-fail")
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("model.gguf")
        var good = GGUFWriter()
        good.metadata["ok"] = .bool(true)
        try good.write(to: url)
        let before = try Data(contentsOf: url)

        var bad = GGUFWriter()
        bad.metadata["general.alignment"] = .uint32(7)   // refused while writing the header
        expectFormatError(.invalidArgument) { try bad.write(to: url) }
        #expect(try Data(contentsOf: url) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["model.gguf"])

        let missingFolder = folder.appendingPathComponent("no/such/folder/model.gguf")
        expectFormatError(.writeFailed, mentioning: [missingFolder.path, "temporary file"]) { try good.write(to: missingFolder) }
    }
}
