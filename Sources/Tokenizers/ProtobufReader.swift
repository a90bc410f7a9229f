/// Reads one protobuf message (wire format) from a byte range, field by field.
struct ProtobufReader {
    struct Field {
        var number: Int
        var wireType: UInt8
        /// Where the field's key starts in the file, for errors.
        var offset: Int
    }

    static let varintType: UInt8 = 0, fixed64Type: UInt8 = 1, lengthDelimitedType: UInt8 = 2, fixed32Type: UInt8 = 5

    private let bytes: [UInt8]
    private var position: Int
    private let end: Int
    /// The path of this message from the root (`ModelProto.pieces[3]`), for errors.
    let message: String

    init(bytes: [UInt8], range: Range<Int>, message: String) {
        self.bytes = bytes
        position = range.lowerBound
        end = range.upperBound
        self.message = message
    }

    /// An error naming the field that starts at byte `offset` of the file.
    func error(_ field: String, _ why: String, at offset: Int) -> TokenizerError {
        .invalidFile("SentencePiece model: \(message).\(field) at byte \(offset): \(why)")
    }

    /// The next field's number and wire type, or nil at the end of the message.
    mutating func nextField() throws(TokenizerError) -> Field? {
        guard position < end else { return nil }
        let offset = position
        let key = try readVarint("(field key)", at: offset)
        let number = key >> 3
        guard number >= 1, number <= 536_870_911 else {
            throw error("(field key)", "invalid field number \(number)", at: offset)
        }
        return Field(number: Int(number), wireType: UInt8(key & 7), offset: offset)
    }

    mutating func skip(_ field: Field) throws(TokenizerError) {
        switch field.wireType {
        case Self.varintType: _ = try readVarint("field \(field.number)", at: field.offset)
        case Self.fixed64Type: try advance(8, "field \(field.number)", at: field.offset)
        case Self.lengthDelimitedType: _ = try readLength("field \(field.number)", at: field.offset)
        case Self.fixed32Type: try advance(4, "field \(field.number)", at: field.offset)
        default:
            throw error("field \(field.number)", "unsupported wire type \(field.wireType) (groups are not used by SentencePiece)", at: field.offset)
        }
    }

    mutating func varint(_ field: Field, _ name: String) throws(TokenizerError) -> UInt64 {
        try expect(field, Self.varintType, name)
        return try readVarint(name, at: field.offset)
    }

    mutating func bool(_ field: Field, _ name: String) throws(TokenizerError) -> Bool {
        let value = try varint(field, name)
        guard value <= 1 else { throw error(name, "expected a bool (0 or 1), got \(value)", at: field.offset) }
        return value == 1
    }

    /// An `int32` field: negative values are sign-extended to ten bytes on the wire.
    mutating func int32(_ field: Field, _ name: String) throws(TokenizerError) -> Int {
        let value = Int64(bitPattern: try varint(field, name))
        guard let result = Int32(exactly: value) else {
            throw error(name, "\(value) does not fit in int32", at: field.offset)
        }
        return Int(result)
    }

    mutating func fixed32(_ field: Field, _ name: String) throws(TokenizerError) -> UInt32 {
        try expect(field, Self.fixed32Type, name)
        let start = position
        try advance(4, name, at: field.offset)
        return bytes[start..<(start + 4)].reversed().reduce(0) { $0 << 8 | UInt32($1) }
    }

    mutating func bytes(_ field: Field, _ name: String) throws(TokenizerError) -> ArraySlice<UInt8> {
        try expect(field, Self.lengthDelimitedType, name)
        return bytes[try readLength(name, at: field.offset)]
    }

    mutating func string(_ field: Field, _ name: String) throws(TokenizerError) -> String {
        let raw = try bytes(field, name)
        guard let text = String(validating: raw, as: UTF8.self) else {
            throw error(name, "not valid UTF-8", at: field.offset)
        }
        return text
    }

    /// A reader for the embedded message in `field`.
    mutating func message(_ field: Field, _ name: String) throws(TokenizerError) -> ProtobufReader {
        try expect(field, Self.lengthDelimitedType, name)
        let range = try readLength(name, at: field.offset)
        return ProtobufReader(bytes: bytes, range: range, message: "\(message).\(name)")
    }

    private func expect(_ field: Field, _ wireType: UInt8, _ name: String) throws(TokenizerError) {
        guard field.wireType == wireType else {
            throw error(name, "wire type \(field.wireType), expected \(wireType)", at: field.offset)
        }
    }

    /// Errors name `offset`, where the field starts.
    private mutating func readVarint(_ name: String, at start: Int) throws(TokenizerError) -> UInt64 {
        var value: UInt64 = 0
        for shift in stride(from: 0, to: 70, by: 7) {
            guard position < end else { throw error(name, "truncated varint", at: start) }
            let byte = bytes[position]
            position += 1
            // The tenth byte may only hold the top bit of a 64-bit value.
            guard shift < 63 || byte <= 1 else { throw error(name, "varint longer than 64 bits", at: start) }
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
        }
        throw error(name, "varint longer than 10 bytes", at: start)
    }

    private mutating func readLength(_ name: String, at start: Int) throws(TokenizerError) -> Range<Int> {
        let length = try readVarint(name, at: start)
        guard length <= UInt64(end - position) else {
            throw error(name, "length \(length) runs past the end of the message (\(end - position) bytes left)", at: start)
        }
        let range = position..<(position + Int(length))
        position = range.upperBound
        return range
    }

    private mutating func advance(_ count: Int, _ name: String, at start: Int) throws(TokenizerError) {
        guard end - position >= count else {
            throw error(name, "truncated: \(count) bytes needed, \(end - position) left", at: start)
        }
        position += count
    }
}
