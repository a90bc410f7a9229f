/// Lane conversions for the integer kernels, written as lane loops: LLVM turns each into one
/// vector instruction, while the standard library's conversions (`SIMD16<Int16>(truncatingIfNeeded:)`,
/// `SIMD8<Float>(_:)`) stay out-of-line calls inside the kernels' loops.

/// 16 bytes at `p` as 16-bit lanes (`vpmovzxbw`).
@inline(__always)
func widenedBytes(_ p: UnsafeRawPointer) -> SIMD16<Int16> {
    let bytes = p.assumingMemoryBound(to: UInt8.self)
    var lanes = SIMD16<Int16>()
    for i in 0..<16 { lanes[i] = Int16(bytes[i]) }
    return lanes
}

/// Eight 32-bit integer lanes as floats (`vcvtdq2ps`).
@inline(__always)
func floats(_ v: SIMD8<Int32>) -> SIMD8<Float> {
    var lanes = SIMD8<Float>()
    for i in 0..<8 { lanes[i] = Float(v[i]) }
    return lanes
}

/// Eight 16-bit lanes as 32-bit lanes (`vpmovsxwd`).
@inline(__always)
func widened(_ v: SIMD8<Int16>) -> SIMD8<Int32> {
    var lanes = SIMD8<Int32>()
    for i in 0..<8 { lanes[i] = Int32(v[i]) }
    return lanes
}

/// 16 bytes at `p` in ``transposedLanes(_:)`` order as 16-bit lanes (`vpshufb`, `vpmovzxbw`).
/// Two concrete functions for unsigned and signed bytes, not one generic over the byte type:
/// the generic one (tried) made the model tests 16x slower in debug builds.
@inline(__always)
func widenedTransposedBytes(_ p: UnsafeRawPointer) -> SIMD16<Int16> {
    let bytes = p.loadUnaligned(as: SIMD16<UInt8>.self)
    var lanes = SIMD16<Int16>()
    for i in 0..<16 { lanes[i] = Int16(bytes[transposedLanes(i)]) }
    return lanes
}

/// 16 signed bytes at `p` in ``transposedLanes(_:)`` order as 16-bit lanes.
@inline(__always)
func widenedTransposedSignedBytes(_ p: UnsafeRawPointer) -> SIMD16<Int16> {
    let bytes = p.loadUnaligned(as: SIMD16<Int8>.self)
    var lanes = SIMD16<Int16>()
    for i in 0..<16 { lanes[i] = Int16(bytes[transposedLanes(i)]) }
    return lanes
}
