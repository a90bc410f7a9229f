import Foundation
import Testing
@testable import Tensors

/// Rows of every block format, decoded by the PyPI `gguf` package (scripts/fixtures/make_quantization_fixtures.py).
private struct QuantizationFixture: Decodable {
    struct Case: Decodable {
        let format: String
        let rows: Int
        let columns: Int
        let data: String
        let values: [Float]
        let dots: [Double]
        let quantized_activation_dots: [Double]?
    }
    /// ggml's `quantize_row_q8_K_ref` applied to a vector.
    struct Q8K: Decodable {
        let vector: [Float]
        let scales: [Float]
        let values: [Int]
        let sums: [Int]
    }
    let vector: [Float]
    let cases: [Case]
    let q8_K: [Q8K]

    static let shared: QuantizationFixture = {
        let url = Bundle.module.url(forResource: "Fixtures/quantization", withExtension: "json")!
        return try! JSONDecoder().decode(QuantizationFixture.self, from: Data(contentsOf: url))
    }()

    static var formats: [String] { shared.cases.map(\.format) }
    static func named(_ format: String) -> Case { shared.cases.first { $0.format == format }! }
}

@Suite struct QuantizationTests {
    @Test func everyFormatHasAFixture() {
        #expect(Set(QuantizationFixture.formats) == Set(BlockFormat.allCases.map(\.rawValue)))
    }

    @Test(arguments: QuantizationFixture.formats)
    func dequantizeEqualsTheReferenceExactly(format name: String) throws {
        let fixture = QuantizationFixture.named(name)
        let format = try #require(BlockFormat(rawValue: name))
        let bytes = try #require(Data(base64Encoded: fixture.data))
        #expect(bytes.count == fixture.rows * format.rowBytes(count: fixture.columns))
        var decoded = [Float](repeating: .nan, count: fixture.rows * fixture.columns)
        bytes.withUnsafeBytes { raw in
            for r in 0..<fixture.rows {
                format.dequantize(row: raw.baseAddress! + r * format.rowBytes(count: fixture.columns),
                                  count: fixture.columns, into: &decoded[r * fixture.columns])
            }
        }
        // Scale times integer in float32 is exact in both implementations, so equality is expected.
        #expect(decoded == fixture.values)
    }

    @Test(arguments: QuantizationFixture.formats)
    func fusedDotMatchesTheFloat64Reference(format name: String) throws {
        let fixture = QuantizationFixture.named(name)
        let format = try #require(BlockFormat(rawValue: name))
        let bytes = try #require(Data(base64Encoded: fixture.data))
        let vector = QuantizationFixture.shared.vector
        var sums = [Float](repeating: 0, count: vector.count / 32)
        BlockFormat.blockSums(of: vector, count: vector.count, into: &sums)
        bytes.withUnsafeBytes { raw in
            for r in 0..<fixture.rows {
                let dot = format.dot(row: raw.baseAddress! + r * format.rowBytes(count: fixture.columns),
                                     vector: vector, blockSums: sums, count: fixture.columns)
                // 512 float32 products summed in another order: relative error well under 1e-5.
                let expected = fixture.dots[r]
                #expect(abs(Double(dot) - expected) <= 1e-5 * max(1, abs(expected)), "\(name) row \(r): \(dot) vs \(expected)")
            }
        }
    }
}

@Suite struct QuantizedActivationTests {
    @Test(arguments: ["q4_0", "q4_1", "q8_0", "q4_K", "q5_K", "q6_K"])
    func integerDotMatchesGgmlSemantics(format name: String) throws {
        let fixture = QuantizationFixture.named(name)
        let format = try #require(BlockFormat(rawValue: name))
        let layout = try #require(format.activationLayout)
        #expect(format.multipliesQuantizedActivations)
        let expected = try #require(fixture.quantized_activation_dots)
        let bytes = try #require(Data(base64Encoded: fixture.data))
        let vector = QuantizationFixture.shared.vector
        let activations = QuantizedActivations(capacity: fixture.columns)
        defer { activations.deallocate() }
        activations.quantize(vector, count: fixture.columns, layout: layout)
        bytes.withUnsafeBytes { raw in
            for r in 0..<fixture.rows {
                let dot = format.dot(row: raw.baseAddress! + r * format.rowBytes(count: fixture.columns),
                                     activations: activations, count: fixture.columns)
                // Same integers and scales as the reference; only the float summation order differs.
                #expect(abs(Double(dot) - expected[r]) <= 1e-5 * max(1, abs(expected[r])), "\(name) row \(r): \(dot) vs \(expected[r])")
                // And the quantised product stays close to the exact one. The K-quant fixtures are
                // random bytes (large offsets, heavy cancellation): bound those by Σ|w·x|.
                var magnitude = max(1, abs(fixture.dots[r]))
                if layout == .q8_K {
                    magnitude = (0..<fixture.columns).reduce(0) { $0 + abs(Double(fixture.values[r * fixture.columns + $1] * vector[$1])) }
                }
                #expect(abs(Double(dot) - fixture.dots[r]) <= 0.02 * magnitude)
            }
        }
    }

    @Test func q8_KQuantisationEqualsGgmlExactly() {
        for reference in QuantizationFixture.shared.q8_K {
            let count = reference.vector.count
            let activations = QuantizedActivations(capacity: count)
            defer { activations.deallocate() }
            activations.quantize(reference.vector, count: count, layout: .q8_K)
            #expect((0..<count / 256).map { activations.superScales[$0] } == reference.scales)
            #expect((0..<count).map { Int(activations.values[$0]) } == reference.values)
            #expect((0..<count / 16).map { Int(activations.subBlockSums[$0]) } == reference.sums)
            // The GEMM path's view of the same activations: q * d.
            var rounded = [Float](repeating: .nan, count: count)
            QuantizedActivations.roundTrip(reference.vector, count: count, layout: .q8_K, into: &rounded)
            #expect(rounded == (0..<count).map { Float(reference.values[$0]) * reference.scales[$0 / 256] })
        }
    }

    @Test func formatsNameTheirActivationLayout() {
        #expect(BlockFormat.q4_1.activationLayout == .q8_0)
        #expect(BlockFormat.q6_K.activationLayout == .q8_K)
        #expect(BlockFormat.f16.activationLayout == nil)
        #expect(!BlockFormat.f32.multipliesQuantizedActivations)
    }
}

@Suite struct KQuantScaleTests {
    /// The branch-free unpacking against the layout read one sub-block at a time (ggml's
    /// `get_scale_min_k4`), on 1000 random 12-byte scale fields.
    @Test func scalesAndMinimumsUnpackAsPerSubBlock() {
        var generator = SplitMix64(seed: 7)
        for _ in 0..<1000 {
            let bytes = (0..<12).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            bytes.withUnsafeBytes { raw in
                let (scales, minimums) = kQuantScalesAndMinimums(raw.baseAddress!)
                for j in 0..<8 {
                    let (s, m) = j < 4 ? (bytes[j] & 63, bytes[j + 4] & 63)
                        : ((bytes[j + 4] & 0x0F) | ((bytes[j - 4] >> 6) << 4), (bytes[j + 4] >> 4) | ((bytes[j] >> 6) << 4))
                    #expect(kQuantSubBlock(scales, j) == Int32(s) && kQuantSubBlock(minimums, j) == Int32(m))
                }
            }
        }
    }
}
