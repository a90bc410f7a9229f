/// Decoding of one row of any ``BlockFormat`` into floats: the reference semantics that the
/// fused kernels in `DotProduct.swift` must reproduce, and the path used before a GEMM.
extension BlockFormat {
    /// Writes the `count` values of the row at `row` to `output`.
    public func dequantize(row: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Float>) {
        let blocks = count / blockSize
        switch self {
        case .f32:
            output.update(from: row.assumingMemoryBound(to: Float.self), count: count)
        case .f16:
            let source = row.assumingMemoryBound(to: Float16.self)
            for i in 0..<count { output[i] = Float(source[i]) }
        case .bf16:
            let source = row.assumingMemoryBound(to: UInt16.self)
            for i in 0..<count { output[i] = Float(bitPattern: UInt32(source[i]) << 16) }
        case .q4_0, .q4_1:
            let hasMinimum = self == .q4_1
            for b in 0..<blocks {
                let block = row + b * bytesPerBlock
                let d = block.loadHalf(0)
                let m = hasMinimum ? block.loadHalf(2) : -8 * d
                let quants = block + (hasMinimum ? 4 : 2)
                let out = output + b * 32
                for j in 0..<16 {
                    let byte = quants.load(fromByteOffset: j, as: UInt8.self)
                    out[j] = Float(byte & 0x0F) * d + m
                    out[j + 16] = Float(byte >> 4) * d + m
                }
            }
        case .q8_0:
            for b in 0..<blocks {
                let block = row + b * bytesPerBlock
                let d = block.loadHalf(0)
                let out = output + b * 32
                for j in 0..<32 { out[j] = Float(block.load(fromByteOffset: 2 + j, as: Int8.self)) * d }
            }
        case .q4_K, .q5_K:
            let highBits = self == .q5_K
            for b in 0..<blocks {
                let block = row + b * bytesPerBlock
                let d = block.loadHalf(0), dmin = block.loadHalf(2)
                let scales = block + 4
                let qh = block + 16
                let qs = block + (highBits ? 48 : 16)
                let (subScales, subMinimums) = kQuantScalesAndMinimums(scales)
                var out = output + b * 256
                for chunk in 0..<4 {
                    let d1 = d * Float(kQuantSubBlock(subScales, 2 * chunk))
                    let d2 = d * Float(kQuantSubBlock(subScales, 2 * chunk + 1))
                    let o1 = dmin * Float(kQuantSubBlock(subMinimums, 2 * chunk))
                    let o2 = dmin * Float(kQuantSubBlock(subMinimums, 2 * chunk + 1))
                    let q = qs + 32 * chunk
                    for l in 0..<32 {
                        let byte = q.load(fromByteOffset: l, as: UInt8.self)
                        var low = Int(byte & 0x0F), high = Int(byte >> 4)
                        if highBits {
                            let h = qh.load(fromByteOffset: l, as: UInt8.self)
                            if h & (1 << (2 * chunk)) != 0 { low += 16 }
                            if h & (2 << (2 * chunk)) != 0 { high += 16 }
                        }
                        out[l] = d1 * Float(low) - o1
                        out[l + 32] = d2 * Float(high) - o2
                    }
                    out += 64
                }
            }
        case .q6_K:
            for b in 0..<blocks {
                let block = row + b * bytesPerBlock
                let d = block.loadHalf(208)
                for half in 0..<2 {
                    let ql = block + 64 * half
                    let qh = block + 128 + 32 * half
                    let scales = block + 192 + 8 * half
                    let out = output + b * 256 + 128 * half
                    for l in 0..<32 {
                        let group = l / 16
                        let low1 = ql.load(fromByteOffset: l, as: UInt8.self)
                        let low2 = ql.load(fromByteOffset: l + 32, as: UInt8.self)
                        let high = qh.load(fromByteOffset: l, as: UInt8.self)
                        let q1 = Int((low1 & 0x0F) | ((high >> 0) & 3) << 4) - 32
                        let q2 = Int((low2 & 0x0F) | ((high >> 2) & 3) << 4) - 32
                        let q3 = Int((low1 >> 4) | ((high >> 4) & 3) << 4) - 32
                        let q4 = Int((low2 >> 4) | ((high >> 6) & 3) << 4) - 32
                        out[l] = d * Float(scales.load(fromByteOffset: group, as: Int8.self)) * Float(q1)
                        out[l + 32] = d * Float(scales.load(fromByteOffset: group + 2, as: Int8.self)) * Float(q2)
                        out[l + 64] = d * Float(scales.load(fromByteOffset: group + 4, as: Int8.self)) * Float(q3)
                        out[l + 96] = d * Float(scales.load(fromByteOffset: group + 6, as: Int8.self)) * Float(q4)
                    }
                }
            }
        }
    }
}

extension UnsafeRawPointer {
    /// An IEEE half at a byte offset, widened (one F16C instruction on the target CPU).
    @inline(__always)
    func loadHalf(_ offset: Int) -> Float {
        Float(Float16(bitPattern: loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
    }
}
