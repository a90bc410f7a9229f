import Testing
@testable import ModelFormats

/// F16 and BF16 conversions, including the rounding cases writers depend on.
@Suite struct HalfPrecisionTests {
    @Test func f16KnownPatterns() {
        let known: [(UInt16, Float)] = [
            (0x0000, 0), (0x8000, -0.0), (0x3C00, 1), (0xC000, -2), (0x7BFF, 65504), (0x0001, 0x1p-24),
            (0x0400, 0x1p-14), (0x7C00, .infinity), (0xFC00, -.infinity), (0x3555, 0.333251953125),
        ]
        for (bits, value) in known {
            #expect(HalfPrecision.float(fromF16: bits) == value, "\(bits)")
            #expect(HalfPrecision.f16Bits(from: value) == bits, "\(value)")
        }
        #expect(HalfPrecision.float(fromF16: 0x7E00).isNaN)
        #expect(HalfPrecision.f16Bits(from: 65520) == 0x7C00, "rounds to infinity past the largest finite")
        #expect(HalfPrecision.f16Bits(from: 1 + 0x1p-11) == 0x3C00, "tie to even (down)")
        #expect(HalfPrecision.f16Bits(from: 1 + 3 * 0x1p-11) == 0x3C02, "tie to even (up)")
    }

    @Test func bf16KnownPatterns() {
        let known: [(UInt16, Float)] = [
            (0x0000, 0), (0x8000, -0.0), (0x3F80, 1), (0xC000, -2), (0x7F7F, 0x1.FEp127), (0x7F80, .infinity),
            (0xFF80, -.infinity), (0x0001, Float(bitPattern: 0x0001_0000)), (0x3EAB, 0.333984375),
        ]
        for (bits, value) in known {
            #expect(HalfPrecision.float(fromBF16: bits) == value, "\(bits)")
            #expect(HalfPrecision.bf16Bits(from: value) == bits, "\(value)")
        }
    }

    @Test func bf16RoundsToNearestEven() {
        // 1 + 2^-8 is halfway between 1 (0x3F80, even) and 1 + 2^-7 (0x3F81): ties go to even.
        #expect(HalfPrecision.bf16Bits(from: 1 + 0x1p-8) == 0x3F80)
        // 1 + 3 * 2^-8 is halfway between 0x3F81 (odd) and 0x3F82 (even).
        #expect(HalfPrecision.bf16Bits(from: 1 + 3 * 0x1p-8) == 0x3F82)
        // Just above halfway rounds up; just below rounds down.
        #expect(HalfPrecision.bf16Bits(from: Float(bitPattern: 0x3F80_8001)) == 0x3F81)
        #expect(HalfPrecision.bf16Bits(from: Float(bitPattern: 0x3F80_7FFF)) == 0x3F80)
        // Negative values round by magnitude the same way.
        #expect(HalfPrecision.bf16Bits(from: -(1 + 3 * 0x1p-8)) == 0xBF82)
        // The largest f32 rounds to infinity, as correct rounding requires.
        #expect(HalfPrecision.bf16Bits(from: .greatestFiniteMagnitude) == 0x7F80)
    }

    @Test func bf16KeepsNaNsQuiet() {
        // A signalling NaN whose payload is only in the low 16 bits must not become infinity.
        let lowPayloadNaN = Float(bitPattern: 0x7F80_0001)
        #expect(lowPayloadNaN.isNaN)
        let bits = HalfPrecision.bf16Bits(from: lowPayloadNaN)
        #expect(HalfPrecision.float(fromBF16: bits).isNaN)
        #expect(bits & 0x0040 != 0, "quiet bit set")
        #expect(HalfPrecision.float(fromBF16: HalfPrecision.bf16Bits(from: -.nan)).sign == .minus)
    }

    @Test func everyBF16AndF16PatternRoundTrips() {
        for bits in UInt16.min...UInt16.max {
            let b = HalfPrecision.float(fromBF16: bits)
            if !b.isNaN, HalfPrecision.bf16Bits(from: b) != bits { Issue.record("bf16 \(bits) does not round-trip") }
            let h = HalfPrecision.float(fromF16: bits)
            if !h.isNaN, HalfPrecision.f16Bits(from: h) != bits { Issue.record("f16 \(bits) does not round-trip") }
        }
    }
}
