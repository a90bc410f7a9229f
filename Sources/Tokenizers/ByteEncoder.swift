/// GPT-2's reversible map between bytes and printable Unicode scalars, used by byte-level BPE.
///
/// Byte-level BPE works on bytes, but its vocabulary and merges are stored as text. Each of the
/// 256 byte values is given a visible scalar: the 188 bytes that are printable Latin-1
/// (`!`...`~`, `¡`...`¬`, `®`...`ÿ`) stand for themselves, and the other 68 (controls, space,
/// DEL, the C1 range, no-break space, soft hyphen) take U+0100, U+0101, ... in increasing byte
/// order. So a space is `Ġ` (U+0120) and a newline is `Ċ` (U+010A).
public enum ByteEncoder {
    /// The scalar that stands for each byte value.
    public static let byteToScalar: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            if isPrintableLatin1(UInt8(byte)) {
                table[byte] = Unicode.Scalar(UInt32(byte))!
            } else {
                table[byte] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()

    /// The byte for each scalar value below 324 that stands for one, or -1.
    private static let scalarToByte: [Int16] = {
        var table = [Int16](repeating: -1, count: 324)
        for (byte, scalar) in byteToScalar.enumerated() { table[Int(scalar.value)] = Int16(byte) }
        return table
    }()

    private static func isPrintableLatin1(_ byte: UInt8) -> Bool {
        (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
    }

    /// The byte-level text of some bytes (as stored in a byte-level BPE vocabulary).
    public static func encode<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> String {
        var scalars = String.UnicodeScalarView()
        for byte in bytes { scalars.append(byteToScalar[Int(byte)]) }
        return String(scalars)
    }

    /// The bytes a byte-level token stands for, or nil if it holds a scalar outside the map.
    public static func decode(_ token: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(token.unicodeScalars.count)
        for scalar in token.unicodeScalars {
            let value = Int(scalar.value)
            guard value < scalarToByte.count, scalarToByte[value] >= 0 else { return nil }
            bytes.append(UInt8(scalarToByte[value]))
        }
        return bytes
    }
}
