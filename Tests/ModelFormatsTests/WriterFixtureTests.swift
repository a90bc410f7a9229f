import Foundation
import Tensors
import Testing
@testable import ModelFormats

/// Files our writers produce, committed so that the reference implementations can check them:
/// scripts/fixtures/make_format_fixtures.py opens `swift_writer.gguf` with gguf-py and
/// `swift_writer.safetensors` with safetensors and asserts the content built here.
///
/// These tests check that the writers still produce exactly the committed bytes. After an
/// intended change to the output, regenerate with
/// `REGENERATE_FORMAT_FIXTURES=1 swift test --filter WriterFixtureTests` and rerun the script.
@Suite struct WriterFixtureTests {
    static let regenerate = ProcessInfo.processInfo.environment["REGENERATE_FORMAT_FIXTURES"] == "1"
    static let sourceFixtures = packageRoot.appendingPathComponent("Tests/ModelFormatsTests/Fixtures")

    static func gguf() throws -> GGUFWriter {
        var writer = try GGUFWriter(alignment: 64)
        writer.metadata["general.architecture"] = .string("swift-test")
        writer.metadata["test.uint64"] = .uint64(.max)
        writer.metadata["test.int8"] = .int8(-5)
        writer.metadata["test.float32"] = .float32(0.25)
        writer.metadata["test.bool"] = .bool(true)
        writer.metadata["test.strings"] = .array(.string(["a", "bé", ""]))
        writer.metadata["test.floats"] = .array(.float32([1.5, -2]))
        writer.metadata["test.empty"] = .array(.int32([]))
        let values = Tensor(shape: [3, 4], scalars: (0..<12).map { Float($0) / 4 - 1 })
        try writer.addTensor("weight.f32", values)
        try writer.addTensor("weight.f16", values, type: .f16)
        try writer.addTensor("weight.bf16", values, type: .bf16)
        let q8 = (0..<2).flatMap { _ in [0x00, 0x38] + (0..<32).map { $0 - 16 } }.map { UInt8(truncatingIfNeeded: $0) }
        try writer.addTensor("weight.q8_0", type: .q8_0, dimensions: [32, 2], bytes: q8)
        return writer
    }

    static func safetensors() throws -> SafeTensorsWriter {
        var writer = SafeTensorsWriter(metadata: ["format": "pt", "writer": "SafeTensorsWriter ✓"])
        let values = Tensor(shape: [2, 3], scalars: (0..<6).map { Float($0) / 8 })
        try writer.addTensor("a.f32", values)
        try writer.addTensor("b.f16", values, dtype: .f16)
        try writer.addTensor("c.bf16", values, dtype: .bf16)
        let ids: [Int64] = [1, -2, 3]
        try writer.addTensor("d.i64", dtype: .i64, shape: [3],
                             bytes: ids.flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) })
        return writer
    }

    @Test func ggufOutputIsTheCommittedFile() throws {
        let bytes = try Self.gguf().serialized()
        let file = try parseGGUF(bytes)
        #expect(try file.tensor("weight.q8_0").scalars[0] == -8, "scale 0.5 times quant -16")
        if Self.regenerate {
            // The bundle holds the copy from the last build, so compare on the next run.
            try Self.gguf().write(to: Self.sourceFixtures.appendingPathComponent("swift_writer.gguf"))
            return
        }
        #expect(bytes == (try fixtureBytes("swift_writer.gguf")), "writer output changed: see the suite's documentation")
    }

    @Test func safetensorsOutputIsTheCommittedFile() throws {
        let bytes = try Self.safetensors().serialized()
        #expect(try parseSafeTensors(bytes).tensor("c.bf16").scalars == (0..<6).map { Float($0) / 8 })
        if Self.regenerate {
            try Self.safetensors().write(to: Self.sourceFixtures.appendingPathComponent("swift_writer.safetensors"))
            return
        }
        #expect(bytes == (try fixtureBytes("swift_writer.safetensors")), "writer output changed: see the suite's documentation")
    }
}
