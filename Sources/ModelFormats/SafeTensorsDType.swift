/// The element type of a safetensors tensor, spelled in files as its raw value (`"F32"`, `"BF16"`).
///
/// All the types of the safetensors specification, including the sub-byte float formats
/// (`F4`, `F6_*`) whose tensors must still end on a byte boundary.
public enum SafeTensorsDType: String, Sendable, CaseIterable, CustomStringConvertible {
    case bool = "BOOL"
    case u8 = "U8", i8 = "I8", u16 = "U16", i16 = "I16", u32 = "U32", i32 = "I32", u64 = "U64", i64 = "I64"
    case f16 = "F16", bf16 = "BF16", f32 = "F32", f64 = "F64"
    case f8_e4m3 = "F8_E4M3", f8_e5m2 = "F8_E5M2", f8_e8m0 = "F8_E8M0"
    case f8_e4m3fnuz = "F8_E4M3FNUZ", f8_e5m2fnuz = "F8_E5M2FNUZ"
    case f4 = "F4", f6_e2m3 = "F6_E2M3", f6_e3m2 = "F6_E3M2"
    /// Complex number of two f32.
    case c64 = "C64"

    /// Storage bits per element.
    public var bitsPerElement: Int {
        switch self {
        case .f4: 4
        case .f6_e2m3, .f6_e3m2: 6
        case .bool, .u8, .i8, .f8_e4m3, .f8_e5m2, .f8_e8m0, .f8_e4m3fnuz, .f8_e5m2fnuz: 8
        case .u16, .i16, .f16, .bf16: 16
        case .u32, .i32, .f32: 32
        case .u64, .i64, .f64, .c64: 64
        }
    }

    /// Bytes per element for the byte-sized types; nil for `F4` and `F6_*`.
    public var byteSize: Int? {
        bitsPerElement % 8 == 0 ? bitsPerElement / 8 : nil
    }

    /// Bytes taken by `count` elements, or nil when that overflows or (sub-byte types) does not
    /// end on a byte boundary.
    public func byteCount(elements count: Int) -> Int? {
        let (bits, overflow) = count.multipliedReportingOverflow(by: bitsPerElement)
        guard count >= 0, !overflow, bits % 8 == 0 else { return nil }
        return bits / 8
    }

    public var description: String { rawValue }
}
