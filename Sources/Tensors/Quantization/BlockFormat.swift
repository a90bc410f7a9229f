/// How a weight matrix row is stored: plain floats, or ggml's quantised blocks.
///
/// Every format packs a row as consecutive blocks of `blockSize` values in `bytesPerBlock`
/// bytes; a row's element count must be a multiple of `blockSize`.
public enum BlockFormat: String, Sendable, CaseIterable {
    case f32, f16, bf16
    /// 32 values: f16 scale, 16 bytes of 4-bit values offset by 8.
    case q4_0
    /// 32 values: f16 scale, f16 minimum, 16 bytes of 4-bit values.
    case q4_1
    /// 32 values: f16 scale, 32 signed bytes.
    case q8_0
    /// 256 values: f16 scale and min scale, 12 bytes of 6-bit sub-block scales/mins, 128 bytes of nibbles.
    case q4_K
    /// 256 values: as `q4_K` plus 32 bytes holding each value's fifth bit.
    case q5_K
    /// 256 values: 128 bytes of low nibbles, 64 bytes of high 2-bit pairs, 16 signed scales, f16 scale.
    case q6_K

    /// Values per block.
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16: 1
        case .q4_0, .q4_1, .q8_0: 32
        case .q4_K, .q5_K, .q6_K: 256
        }
    }

    /// Bytes per block.
    public var bytesPerBlock: Int {
        switch self {
        case .f32: 4
        case .f16, .bf16: 2
        case .q4_0: 18
        case .q4_1: 20
        case .q8_0: 34
        case .q4_K: 144
        case .q5_K: 176
        case .q6_K: 210
        }
    }

    /// Bytes of a row of `count` values (`count` a multiple of `blockSize`).
    public func rowBytes(count: Int) -> Int {
        precondition(count % blockSize == 0, "\(self) rows need a multiple of \(blockSize) values, got \(count)")
        return count / blockSize * bytesPerBlock
    }
}
