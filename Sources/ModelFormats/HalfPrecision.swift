/// Conversions between `Float` and the two 16-bit float encodings stored in model files.
///
/// - F16 is IEEE 754 binary16; Swift's `Float16` does the work (it is available on x86-64 Linux).
/// - BF16 ("brain float") is the top half of an f32 bit pattern: same exponent range as f32,
///   8 bits of significand. Widening is a shift; narrowing rounds to nearest, ties to even, as
///   PyTorch and ggml do, so that our files match theirs bit for bit.
public enum HalfPrecision {
    /// The `Float` value of an F16 bit pattern (exact).
    @inline(__always)
    public static func float(fromF16 bits: UInt16) -> Float {
        Float(Float16(bitPattern: bits))
    }

    /// The F16 bit pattern nearest to `value` (ties to even; out of range becomes ±infinity).
    @inline(__always)
    public static func f16Bits(from value: Float) -> UInt16 {
        Float16(value).bitPattern
    }

    /// The `Float` value of a BF16 bit pattern (exact).
    @inline(__always)
    public static func float(fromBF16 bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// The BF16 bit pattern nearest to `value`, ties to even.
    ///
    /// NaNs stay NaNs: plain rounding could carry a NaN whose payload sits in the low bits into
    /// infinity, so they keep their sign and top payload bits and get the quiet bit set.
    @inline(__always)
    public static func bf16Bits(from value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
        // Adding 0x7FFF rounds halfway cases down; the extra 1 when the kept part is odd turns
        // that into ties-to-even. Finite values that round past the largest BF16 become infinity,
        // which is the correctly rounded result. No overflow: the largest non-NaN pattern is
        // 0xFF800000 (-infinity).
        let rounding = 0x7FFF + ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits + rounding) >> 16)
    }
}
