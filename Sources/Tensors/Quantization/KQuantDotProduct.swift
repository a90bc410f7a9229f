/// Integer kernels for K-quant rows against `q8_K` activations (see ``QuantizedActivations``),
/// with the arithmetic of ggml's `ggml_vec_dot_q4_K_q8_K`, `..._q5_K_q8_K` and `..._q6_K_q8_K`:
/// per 256-value block, integer sums of weight times activation scaled by the sub-block scales,
/// then one float multiply by both blocks' scales. Products form in 16-bit lanes against the
/// activations' ``QuantizedActivations/wideValues`` (value times activation fits; four such sums
/// still fit), are scaled in eight 32-bit lanes and land in eight float accumulators, as in the
/// 4- and 8-bit kernels (QuantizedActivations.swift).
extension BlockFormat {
    /// `q4_K` (or `q5_K` with `highBits`): each 32-value sub-block `j` has a 6-bit scale `s_j` and
    /// minimum `m_j`, value `d * s_j * q - dmin * m_j`; the minimum meets the activations through
    /// their per-16 sums.
    @inline(__always)
    func dotQ4_K(row: UnsafeRawPointer, activations x: QuantizedActivations, count: Int, highBits: Bool) -> Float {
        let stride = highBits ? 176 : 144
        var total = SIMD8<Float>(), minimumTotal: Float = 0
        for b in 0..<count / 256 {
            let block = row + b * stride
            let scales = block + 4
            let qs = block + (highBits ? 48 : 16)
            let a = UnsafeRawPointer(x.wideValues + b * 256)
            let bsums = x.subBlockSums + b * 16
            // The fifth bits (q5_K): bit 2c of byte l belongs to value l of chunk c's first
            // sub-block, bit 2c + 1 to its second.
            let high0 = highBits ? widenedBytes(block + 16) : .zero
            let high1 = highBits ? widenedBytes(block + 32) : .zero
            let (subScales, subMinimums) = kQuantScalesAndMinimums(scales)
            var scaled = SIMD8<Int32>(), minimums: Int32 = 0
            for chunk in 0..<4 {
                let s1 = kQuantSubBlock(subScales, 2 * chunk), s2 = kQuantSubBlock(subScales, 2 * chunk + 1)
                let m1 = kQuantSubBlock(subMinimums, 2 * chunk), m2 = kQuantSubBlock(subMinimums, 2 * chunk + 1)
                let packed0 = widenedBytes(qs + 32 * chunk), packed1 = widenedBytes(qs + 32 * chunk + 16)
                var low0 = packed0 & 0x0F, low1 = packed1 & 0x0F, up0 = packed0 &>> 4, up1 = packed1 &>> 4
                if highBits {
                    let shift = Int16(2 * chunk)
                    low0 |= ((high0 &>> shift) & 1) &<< 4
                    low1 |= ((high1 &>> shift) & 1) &<< 4
                    up0 |= ((high0 &>> (shift + 1)) & 1) &<< 4
                    up1 |= ((high1 &>> (shift + 1)) & 1) &<< 4
                }
                // Values 64c ..< 64c + 32 (low nibbles) and 64c + 32 ..< 64c + 64 (high nibbles).
                let values = a + 128 * chunk
                let first = low0 &* values.loadUnaligned(as: SIMD16<Int16>.self)
                    &+ low1 &* values.loadUnaligned(fromByteOffset: 32, as: SIMD16<Int16>.self)
                let second = up0 &* values.loadUnaligned(fromByteOffset: 64, as: SIMD16<Int16>.self)
                    &+ up1 &* values.loadUnaligned(fromByteOffset: 96, as: SIMD16<Int16>.self)
                scaled &+= widened(first.lowHalf &+ first.highHalf) &* s1
                    &+ widened(second.lowHalf &+ second.highHalf) &* s2
                let s = bsums + 4 * chunk
                minimums &+= m1 &* (s[0] &+ s[1]) &+ m2 &* (s[2] &+ s[3])
            }
            let d = x.superScales[b]
            total.addProduct(SIMD8(repeating: block.loadHalf(0) * d), floats(scaled))
            minimumTotal.addProduct(block.loadHalf(2) * d, Float(minimums))
        }
        return total.sum() - minimumTotal
    }

    /// `q6_K`: 6-bit values stored offset by 32, one signed 8-bit scale per 16 values. The
    /// offset is taken out through the activations' per-16 sums: `Σ (u - 32) a = Σ u a - 32 Σ a`.
    @inline(__always)
    func dotQ6_K(row: UnsafeRawPointer, activations x: QuantizedActivations, count: Int) -> Float {
        var total = SIMD8<Float>(), offsetTotal: Float = 0
        for b in 0..<count / 256 {
            let block = row + b * 210
            let scales = (block + 192).assumingMemoryBound(to: Int8.self)
            var sum = SIMD8<Int32>(), offsets: Int32 = 0
            for half in 0..<2 {
                let ql = block + 64 * half, qh = block + 128 + 32 * half
                let a = UnsafeRawPointer(x.wideValues + b * 256 + 128 * half)
                let bsums = x.subBlockSums + b * 16 + 8 * half
                let sc = scales + 8 * half
                // Lanes l = 16g ..< 16g + 16 of the four 32-value quarters k: activations
                // a[32k + l], scale and sum index 2k + g.
                for g in 0..<2 {
                    let low1 = widenedBytes(ql + 16 * g), low2 = widenedBytes(ql + 32 + 16 * g)
                    let h = widenedBytes(qh + 16 * g)
                    let q1 = (low1 & 0x0F) | ((h & 0x03) &<< 4), q2 = (low2 & 0x0F) | ((h & 0x0C) &<< 2)
                    let q3 = (low1 &>> 4) | (h & 0x30), q4 = (low2 &>> 4) | ((h & 0xC0) &>> 2)
                    /// Quarter k's 16 products, summed in pairs of halves (at most 2 * 63 * 127).
                    @inline(__always) func products(_ q: SIMD16<Int16>, _ k: Int) -> SIMD8<Int32> {
                        let p = q &* a.loadUnaligned(fromByteOffset: 2 * (32 * k + 16 * g), as: SIMD16<Int16>.self)
                        return widened(p.lowHalf &+ p.highHalf)
                    }
                    let c0 = Int32(sc[g]), c1 = Int32(sc[g + 2]), c2 = Int32(sc[g + 4]), c3 = Int32(sc[g + 6])
                    sum &+= products(q1, 0) &* c0 &+ products(q2, 1) &* c1 &+ products(q3, 2) &* c2 &+ products(q4, 3) &* c3
                    offsets &+= c0 &* bsums[g] &+ c1 &* bsums[g + 2] &+ c2 &* bsums[g + 4] &+ c3 &* bsums[g + 6]
                }
            }
            let d = block.loadHalf(208) * x.superScales[b]
            total.addProduct(SIMD8(repeating: d), floats(sum))
            offsetTotal.addProduct(d, Float(32 &* offsets))
        }
        return total.sum() - offsetTotal
    }
}

/// A `q4_K`/`q5_K` block's eight 6-bit sub-block scales and eight minimums (the 12 bytes at
/// `scales`), as the bytes of two words, lowest sub-block first (read one with ``kQuantSubBlock(_:_:)``).
/// Sub-blocks 0-3 keep theirs in the low 6 bits of bytes 0-7; sub-blocks 4-7 split theirs between
/// the nibbles of bytes 8-11 and the top 2 bits of bytes 0-7. Unpacked at once without branches,
/// the shape of ggml's `utmp` shuffle.
@inline(__always)
func kQuantScalesAndMinimums(_ scales: UnsafeRawPointer) -> (scales: UInt64, minimums: UInt64) {
    let w0 = scales.loadUnaligned(as: UInt32.self)
    let w1 = scales.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
    let w2 = scales.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
    let low6: UInt32 = 0x3F3F_3F3F, low4: UInt32 = 0x0F0F_0F0F, low2: UInt32 = 0x0303_0303
    // Sub-blocks 0-3 keep 6 bits of bytes 0-3 (scales) and 4-7 (minimums); sub-blocks 4-7 take
    // 4 bits from bytes 8-11 and their top 2 bits from the top of bytes 0-3 / 4-7.
    let scalesHigh = (w2 & low4) | (((w0 >> 6) & low2) << 4)
    let minimumsHigh = ((w2 >> 4) & low4) | (((w1 >> 6) & low2) << 4)
    return (UInt64(w0 & low6) | UInt64(scalesHigh) << 32, UInt64(w1 & low6) | UInt64(minimumsHigh) << 32)
}

/// Sub-block `j`'s value (0..<8) from a word of ``kQuantScalesAndMinimums(_:)``.
@inline(__always)
func kQuantSubBlock(_ packed: UInt64, _ j: Int) -> Int32 {
    Int32(truncatingIfNeeded: packed >> (8 * j)) & 0xFF
}
