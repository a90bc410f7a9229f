/// Integer kernels for K-quant rows against `q8_K` activations (see ``QuantizedActivations``),
/// with the arithmetic of ggml's `ggml_vec_dot_q4_K_q8_K`, `..._q5_K_q8_K` and `..._q6_K_q8_K`:
/// per 256-value block, integer sums of weight times activation scaled by the sub-block scales,
/// then one float multiply by both blocks' scales. Plain pointer loops that LLVM vectorises.
extension BlockFormat {
    /// `q4_K` (or `q5_K` with `highBits`): each 32-value sub-block `j` has a 6-bit scale `s_j` and
    /// minimum `m_j`, value `d * s_j * q - dmin * m_j`; the minimum meets the activations through
    /// their per-16 sums.
    @inline(__always)
    func dotQ4_K(row: UnsafeRawPointer, activations x: QuantizedActivations, count: Int, highBits: Bool) -> Float {
        let stride = highBits ? 176 : 144
        var total: Float = 0
        for b in 0..<count / 256 {
            let block = row + b * stride
            let scales = block + 4
            let qh = (block + 16).assumingMemoryBound(to: UInt8.self)
            let qs = (block + (highBits ? 48 : 16)).assumingMemoryBound(to: UInt8.self)
            let a = x.values + b * 256
            let bsums = x.subBlockSums + b * 16
            var scaled: Int32 = 0, minimums: Int32 = 0
            for chunk in 0..<4 {
                let (s1, m1) = kQuantScaleMin(scales, 2 * chunk)
                let (s2, m2) = kQuantScaleMin(scales, 2 * chunk + 1)
                let q = qs + 32 * chunk
                let a1 = a + 64 * chunk, a2 = a1 + 32
                // The 6-bit scale times the 5-bit value fits an Int16 (at most 63 * 31), so LLVM
                // multiplies 16-bit lanes and pairs them into 32-bit sums (`vpmaddwd`), with one
                // horizontal reduction per 64 values.
                let w1 = Int16(s1), w2 = Int16(s2)
                var sum: Int32 = 0
                if highBits {
                    let shift = UInt8(2 * chunk)
                    for l in 0..<32 {
                        let h = qh[l] >> shift
                        sum &+= Int32(w1 &* Int16((q[l] & 0x0F) | ((h & 1) << 4))) &* Int32(a1[l])
                        sum &+= Int32(w2 &* Int16((q[l] >> 4) | ((h & 2) << 3))) &* Int32(a2[l])
                    }
                } else {
                    for l in 0..<32 {
                        sum &+= Int32(w1 &* Int16(q[l] & 0x0F)) &* Int32(a1[l])
                        sum &+= Int32(w2 &* Int16(q[l] >> 4)) &* Int32(a2[l])
                    }
                }
                scaled &+= sum
                let s = bsums + 4 * chunk
                minimums &+= Int32(m1) &* (s[0] &+ s[1]) &+ Int32(m2) &* (s[2] &+ s[3])
            }
            let d = x.superScales[b]
            total += block.loadHalf(0) * d * Float(scaled)
            total -= block.loadHalf(2) * d * Float(minimums)
        }
        return total
    }

    /// `q6_K`: 6-bit values stored offset by 32, one signed 8-bit scale per 16 values. The
    /// offset is taken out through the activations' per-16 sums: `Σ (u - 32) a = Σ u a - 32 Σ a`.
    @inline(__always)
    func dotQ6_K(row: UnsafeRawPointer, activations x: QuantizedActivations, count: Int) -> Float {
        var total: Float = 0
        for b in 0..<count / 256 {
            let block = row + b * 210
            let scales = (block + 192).assumingMemoryBound(to: Int8.self)
            var sum: Int32 = 0
            for half in 0..<2 {
                let ql = (block + 64 * half).assumingMemoryBound(to: UInt8.self)
                let qh = (block + 128 + 32 * half).assumingMemoryBound(to: UInt8.self)
                let a = x.values + b * 256 + 128 * half
                let bsums = x.subBlockSums + b * 16 + 8 * half
                let sc = scales + 8 * half
                // Sub-block g (0, 1) of each of the four 32-value quarters k: activations
                // a[32k + 16g ..< 32k + 16g + 16], scale and sum index 2k + g.
                for g in 0..<2 {
                    // Scale times 6-bit value fits an Int16 (at most 128 * 63): 16-bit multiplies,
                    // `vpmaddwd` pairs, one reduction per 64 values.
                    let c0 = Int16(sc[g]), c1 = Int16(sc[g + 2]), c2 = Int16(sc[g + 4]), c3 = Int16(sc[g + 6])
                    var part: Int32 = 0
                    for i in 0..<16 {
                        let l = 16 * g + i
                        let low1 = ql[l], low2 = ql[l + 32], h = qh[l]
                        part &+= Int32(c0 &* Int16((low1 & 0x0F) | ((h & 0x03) << 4))) &* Int32(a[l])
                        part &+= Int32(c1 &* Int16((low2 & 0x0F) | ((h & 0x0C) << 2))) &* Int32(a[l + 32])
                        part &+= Int32(c2 &* Int16((low1 >> 4) | (h & 0x30))) &* Int32(a[l + 64])
                        part &+= Int32(c3 &* Int16((low2 >> 4) | ((h & 0xC0) >> 2))) &* Int32(a[l + 96])
                    }
                    let offsets = Int32(c0) &* bsums[g] &+ Int32(c1) &* bsums[g + 2]
                        &+ Int32(c2) &* bsums[g + 4] &+ Int32(c3) &* bsums[g + 6]
                    sum &+= part &- 32 &* offsets
                }
            }
            total += block.loadHalf(208) * x.superScales[b] * Float(sum)
        }
        return total
    }
}
