import Foundation
import ModelStore
import Testing
@testable import ModelFormats

/// Our safetensors reader against a file written by the PyPI `safetensors` package
/// (scripts/fixtures/make_format_fixtures.py).
@Suite struct SafeTensorsFixtureTests {
    @Test func everythingMatchesTheReferenceImplementation() throws {
        let expected = try #require(FormatsFixture.shared.safetensors["mixed.safetensors"])
        let file = try SafeTensorsFile(url: fixtureURL("mixed.safetensors"))
        #expect(file.headerLength == expected.headerLength)
        #expect(file.metadata == expected.metadata)
        // File order is data order.
        #expect(file.tensorNames == expected.tensors.map(\.name))
        for reference in expected.tensors {
            let info = try file.requireTensorInfo(reference.name)
            #expect(info.dtype.rawValue == reference.dtype)
            #expect(info.shape == reference.shape)
            #expect([info.dataOffsets.lowerBound, info.dataOffsets.upperBound] == reference.dataOffsets)
            let raw = try file.rawBytes(reference.name)
            #expect(SHA256.hexDigest(of: raw) == reference.sha256, "\(reference.name)")
            if reference.byteCount > 0 {
                #expect(raw.baseAddress == file.mapping.bytes.baseAddress! + file.dataOffset + info.dataOffsets.lowerBound)
            }
            if let values = reference.values {
                let tensor = try file.tensor(reference.name)
                #expect(tensor.shape == reference.shape)
                #expect(tensor.scalars == values.map { Float($0) }, "\(reference.name)")
            }
            if let integers = reference.integers {
                #expect(info.dtype == .i64)
                let stored = (0..<info.elementCount).map { Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self)) }
                #expect(stored.map(String.init) == integers)
                expectFormatError(.notConvertible, mentioning: [reference.name, "I64"]) { _ = try file.tensor(reference.name) }
            }
        }
        #expect(try file.tensor("model.scale").shape == [])
        #expect(try file.tensor("model.empty").scalars.isEmpty)
        expectFormatError(.tensorNotFound, mentioning: ["mixed.safetensors", "nope"]) { _ = try file.tensor("nope") }
    }
}

private extension FormatsFixture.SafeTensorsTensorDescription {
    var byteCount: Int { dataOffsets[1] - dataOffsets[0] }
}
