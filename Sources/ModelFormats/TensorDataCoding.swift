import Tensors

/// How stored elements become `Float`s when a tensor is read as a ``Tensors/Tensor``.
///
/// Shared by the GGUF and safetensors readers. Plain types are read with unaligned loads: a
/// safetensors data section starts wherever its JSON header ends, and a GGUF file may declare an
/// alignment of 1, so nothing guarantees that an f32 sits on a 4-byte boundary.
enum FloatDecoding {
    case f32, f16, bf16, f64
    /// ggml quantised blocks, decoded by the reference routines in `Tensors`.
    case blocks(BlockFormat)

    /// Decodes `count` elements from `raw` (which the caller has checked holds them all).
    func decode(_ raw: UnsafeRawBufferPointer, count: Int) -> [Float] {
        guard count > 0, let base = raw.baseAddress else { return [] }
        return [Float](unsafeUninitializedCapacity: count) { output, initialized in
            let out = output.baseAddress!
            switch self {
            case .f32:
                // A byte copy is correct at any alignment and the fastest path. Files are
                // little-endian, and so is every host this project builds for (x86-64, arm64).
                UnsafeMutableRawPointer(out).copyMemory(from: base, byteCount: count * 4)
            case .f16:
                for i in 0..<count {
                    out[i] = HalfPrecision.float(fromF16: UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                }
            case .bf16:
                for i in 0..<count {
                    out[i] = HalfPrecision.float(fromBF16: UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                }
            case .f64:
                for i in 0..<count {
                    out[i] = Float(Double(bitPattern: UInt64(littleEndian: base.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
                }
            case .blocks(let format):
                // Blocks are independent, so a whole tensor decodes as one long "row".
                format.dequantize(row: base, count: count, into: out)
            }
            initialized = count
        }
    }
}

/// How `Float`s are stored when writers turn a ``Tensor`` into file bytes (little-endian).
enum FloatEncoding {
    case f32, f16, bf16, f64

    /// Bytes per element.
    var size: Int {
        switch self {
        case .f32: 4
        case .f16, .bf16: 2
        case .f64: 8
        }
    }

    /// The stored bytes of `scalars`; F16 and BF16 round to nearest, ties to even.
    func encode(_ scalars: [Float]) -> [UInt8] {
        let size = self.size
        guard !scalars.isEmpty else { return [] }
        return [UInt8](unsafeUninitializedCapacity: scalars.count * size) { buffer, initialized in
            let out = UnsafeMutableRawPointer(buffer.baseAddress!)
            for (i, value) in scalars.enumerated() {
                switch self {
                case .f32: out.storeBytes(of: value.bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self)
                case .f16: out.storeBytes(of: HalfPrecision.f16Bits(from: value).littleEndian, toByteOffset: 2 * i, as: UInt16.self)
                case .bf16: out.storeBytes(of: HalfPrecision.bf16Bits(from: value).littleEndian, toByteOffset: 2 * i, as: UInt16.self)
                case .f64: out.storeBytes(of: Double(value).bitPattern.littleEndian, toByteOffset: 8 * i, as: UInt64.self)
                }
            }
            initialized = scalars.count * size
        }
    }
}
