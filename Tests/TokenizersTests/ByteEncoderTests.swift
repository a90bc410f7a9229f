import Testing
@testable import Tokenizers

@Suite struct ByteEncoderTests {
    @Test func mapIsABijectionOntoPrintableScalars() {
        let scalars = ByteEncoder.byteToScalar
        #expect(Set(scalars).count == 256)
        #expect(scalars.allSatisfy { !$0.properties.isWhitespace && $0.properties.generalCategory != .control })
        #expect(scalars[0x20] == "Ġ" && scalars[0x0A] == "Ċ" && scalars[0x09] == "ĉ")
        #expect(scalars[0x41] == "A" && scalars[0xFF] == "ÿ" && scalars[0xAD] == "Ń" && scalars[0] == "Ā")
        #expect(scalars.map(\.value).max() == 323)
    }

    @Test func encodeAndDecodeAreInverse() {
        let bytes = (0...255).map(UInt8.init)
        #expect(ByteEncoder.decode(ByteEncoder.encode(bytes)) == bytes)
        #expect(ByteEncoder.encode(Array(" the".utf8)) == "Ġthe")
        #expect(ByteEncoder.encode(Array("é".utf8)) == "Ã©")
        #expect(ByteEncoder.decode("<|im_end|>") == Array("<|im_end|>".utf8))
        #expect(ByteEncoder.decode("a b") == nil)
    }
}
