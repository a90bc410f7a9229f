import Testing
@testable import ModelFormats

/// Each validation rule of the safetensors reader, on hand-crafted bytes: the error's code, and
/// a message that names the file and the field.
@Suite struct SafeTensorsValidationTests {
    private let file = "crafted.safetensors"

    private func expectRejected(_ bytes: [UInt8], _ code: ModelFormatError.Code, _ fragments: [String],
                                sourceLocation: SourceLocation = #_sourceLocation) {
        expectFormatError(code, mentioning: [file] + fragments, sourceLocation: sourceLocation) {
            _ = try parseSafeTensors(bytes, name: file)
        }
    }

    private func expectRejected(header: String, data: [UInt8] = [], _ code: ModelFormatError.Code, _ fragments: [String],
                                sourceLocation: SourceLocation = #_sourceLocation) {
        expectRejected(safeTensorsBytes(header: header, data: data), code, fragments, sourceLocation: sourceLocation)
    }

    /// A header with one F32 tensor `w` of the given shape and offsets.
    private func one(shape: String = "[2]", offsets: String = "[0,8]", dtype: String = "\"F32\"") -> String {
        "{\"w\":{\"dtype\":\(dtype),\"shape\":\(shape),\"data_offsets\":\(offsets)}}"
    }

    @Test func minimalAndUnusualButValidFiles() throws {
        #expect(try parseSafeTensors(safeTensorsBytes(header: "{}", data: [])).tensors.isEmpty)
        #expect(try parseSafeTensors(safeTensorsBytes(header: "{}      ", data: [])).tensors.isEmpty, "space padding")
        let spaced = "{ \"w\" : { \"shape\" : [ 2 ] , \"data_offsets\" : [ 0 , 8 ], \"dtype\" : \"F32\", \"extra\": {\"x\": [null, true, -1.5e3]} } }"
        let file = try parseSafeTensors(safeTensorsBytes(header: spaced, data: [0, 0, 0x80, 0x3F, 0, 0, 0, 0xC0]))
        #expect(try file.tensor("w").scalars == [1, -2])
        // Escapes, including a surrogate pair, decode to the right names.
        let escaped = "{\"\\u00e9\\ud83d\\ude00\\n\\\"\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}"
        #expect(try parseSafeTensors(safeTensorsBytes(header: escaped, data: [5])).tensorNames == ["é😀\n\""])
        // Scalars and empty tensors.
        let scalar = "{\"s\":{\"dtype\":\"F16\",\"shape\":[],\"data_offsets\":[0,2]},\"e\":{\"dtype\":\"F32\",\"shape\":[3,0],\"data_offsets\":[2,2]}}"
        let parsed = try parseSafeTensors(safeTensorsBytes(header: scalar, data: [0x00, 0x3C]))
        #expect(try parsed.tensor("s") .scalars == [1])
        #expect(try parsed.tensor("e").shape == [3, 0])
    }

    @Test func headerLength() {
        expectRejected([1, 0, 0], .truncated, ["header length"])
        expectRejected(ByteBuilder().u64(100_000_001).raw(Array("{}".utf8)).bytes, .headerTooLarge, ["header length", "100000001"])
        expectRejected(ByteBuilder().u64(.max).bytes, .headerTooLarge, ["header length"])
        expectRejected(ByteBuilder().u64(1_000).raw(Array("{}".utf8)).bytes, .truncated, ["header length", "1000"])
    }

    @Test func headerEncodingAndSyntax() {
        expectRejected(ByteBuilder().u64(4).raw([0x7B, 0x22, 0xC3, 0x7D]).bytes, .invalidUTF8, ["header", "UTF-8"])
        expectRejected(header: " {}", .invalidJSON, ["header", "start with '{'"])
        expectRejected(header: "[]", .invalidJSON, ["start with '{'"])
        expectRejected(header: "", .invalidJSON, ["header"])
        for bad in ["{\"a\": }", "{\"a\":1,}", "{} x", "{\"a", "{\"a\":\"\u{1}\"}", "{\"a\":01}", "{\"a\":1.}", "{\"a\":tru}",
                    "{\"a\":\"\\x\"}", "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00x\"}", "{a:1}", "{\"a\":[1 2]}", "{\"a\":-}"] {
            expectRejected(header: bad, .invalidJSON, ["header", "invalid JSON at byte"])
        }
        let deep = "{\"a\":" + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "}"
        expectRejected(header: deep, .invalidJSON, ["nested more than"])
        let veryDeep = "{\"a\":" + String(repeating: "[", count: 100_000)
        expectRejected(header: veryDeep, .invalidJSON, ["nested more than"])
    }

    @Test func tensorEntries() {
        expectRejected(header: "{\"x\":1}", .wrongFieldType, ["tensor 'x'", "the number 1"])
        expectRejected(header: "{\"w\":[1]}", .wrongFieldType, ["tensor 'w'", "expected an object"])
        expectRejected(header: "{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", .missingField, ["tensor 'w' dtype", "missing"])
        expectRejected(header: "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", .missingField, ["tensor 'w' shape"])
        expectRejected(header: "{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", .missingField, ["tensor 'w' data_offsets"])
        expectRejected(header: one(dtype: "32"), .wrongFieldType, ["tensor 'w' dtype", "expected a string"])
        expectRejected(header: one(dtype: "\"F17\""), .unknownDType, ["tensor 'w' dtype", "F17"])
        expectRejected(header: one(dtype: "\"f32\""), .unknownDType, ["\"f32\""])
        expectRejected(header: one(shape: "2"), .wrongFieldType, ["tensor 'w' shape"])
        for shape in ["[-2]", "[2.0]", "[1e1]", "[\"2\"]", "[99999999999999999999]"] {
            expectRejected(header: one(shape: shape), .badDimensions, ["tensor 'w' shape", "non-negative integer"])
        }
        expectRejected(header: one(shape: "[4294967296,4294967296]"), .sizeOverflow, ["tensor 'w' shape"])
        expectRejected(header: one(shape: "[0,4294967296,4294967296]", offsets: "[0,0]"), .sizeOverflow, ["tensor 'w' shape"])
        expectRejected(header: one(shape: "[4611686018427387904]"), .sizeMismatch, ["tensor 'w' shape"])
        for offsets in ["[0]", "[0,8,16]", "{}", "[-1,7]", "[0,8.0]", "[0,99999999999999999999999]"] {
            expectRejected(header: one(offsets: offsets), .wrongFieldType, ["tensor 'w' data_offsets"])
        }
        expectRejected(header: one(offsets: "[8,0]"), data: [UInt8](repeating: 0, count: 8), .invalidValue, ["begin 8 is after end 0"])
        expectRejected(header: one(offsets: "[0,4]"), data: [0, 0, 0, 0], .sizeMismatch, ["tensor 'w' data_offsets", "needs 8"])
        expectRejected(header: one(offsets: "[0,8]"), data: [0, 0, 0, 0], .outOfBounds, ["tensor 'w' data_offsets", "4 bytes"])
        expectRejected(header: one(offsets: "[9223372036854775800,9223372036854775807]"), .sizeMismatch, ["tensor 'w'"])
        expectRejected(header: "{\"w\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}}", data: [0, 0], .sizeMismatch,
                       ["whole number of bytes"])
        expectRejected(header: "{\"w\":{\"dtype\":\"F32\",\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,4]}}", data: [0, 0, 0, 0],
                       .duplicateKey, ["tensor 'w' dtype", "more than once"])
    }

    @Test func duplicatesAndMetadata() {
        let entry = "{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}"
        expectRejected(header: "{\"w\":\(entry),\"w\":\(entry)}", data: [1], .duplicateTensorName, ["tensor 'w'", "more than once"])
        expectRejected(header: "{\"__metadata__\":[]}", .wrongFieldType, ["__metadata__", "expected an object"])
        expectRejected(header: "{\"__metadata__\":{\"epoch\":3}}", .wrongFieldType, ["__metadata__ 'epoch'", "expected a string"])
        expectRejected(header: "{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}", .duplicateKey, ["__metadata__ 'a'"])
        expectRejected(header: "{\"__metadata__\":{},\"__metadata__\":{}}", .duplicateKey, ["'__metadata__'"])
    }

    @Test func dataSectionCoverage() {
        let a = "\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}"
        let bOverlapping = "\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[2,6]}"
        expectRejected(header: "{\(a),\(bOverlapping)}", data: [UInt8](repeating: 0, count: 6), .overlappingTensors,
                       ["tensor 'b' data_offsets", "'a'"])
        let bSame = "\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}"
        expectRejected(header: "{\(a),\(bSame)}", data: [0, 0, 0, 0], .overlappingTensors, ["'a'"])
        let bGap = "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[6,8]}"
        expectRejected(header: "{\(a),\(bGap)}", data: [UInt8](repeating: 0, count: 8), .uncoveredBytes,
                       ["tensor 'b' data_offsets", "bytes 4..<6"])
        let lateStart = "{\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]}}"
        expectRejected(header: lateStart, data: [0, 0, 0, 0], .uncoveredBytes, ["bytes 0..<2"])
        expectRejected(header: "{\(a)}", data: [0, 0, 0, 0, 9], .uncoveredBytes, ["data section", "bytes 4..<5"])
        expectRejected(header: "{}", data: [1], .uncoveredBytes, ["data section"])
    }
}
