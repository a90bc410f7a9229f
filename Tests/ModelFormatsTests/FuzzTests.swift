import Foundation
import Testing
@testable import ModelFormats
import Tensors


/// Random damage to a valid file, of the kinds that break parsers: flipped bits, boundary
/// values written over counts and lengths, truncation, and ranges duplicated, removed or spliced.
struct Mutator {
    var random: SplitMix64

    /// Values that sit on the edges parsers get wrong, written at 1, 2, 4 or 8 bytes wide.
    static let boundaries: [UInt64] = [0, 1, 2, 3, 7, 8, 31, 32, 33, 64, 255, 256, 0x7FFF, 0xFFFF, 0x7FFF_FFFF, 0xFFFF_FFFF,
                                       1 << 32, 1 << 40, 1 << 62, UInt64(Int64.max), UInt64(Int64.max) - 31, .max, .max - 1]

    mutating func mutate(_ input: [UInt8]) -> [UInt8] {
        var bytes = input
        for _ in 0..<Int.random(in: 1...4, using: &random) { apply(to: &bytes) }
        return bytes
    }

    private mutating func position(in bytes: [UInt8]) -> Int {
        bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &random)
    }

    private mutating func apply(to bytes: inout [UInt8]) {
        guard !bytes.isEmpty else { bytes = [UInt8.random(in: 0...255, using: &random)]; return }
        // Most interesting structure is in the header: bias positions towards the start.
        func headerBiased(_ p: Int) -> Int { Bool.random(using: &random) ? p % min(bytes.count, 512) : p }
        switch Int.random(in: 0..<9, using: &random) {
        case 0:  // flip a bit
            let p = headerBiased(position(in: bytes))
            bytes[p] ^= 1 << UInt8.random(in: 0..<8, using: &random)
        case 1:  // overwrite with random bytes
            let p = headerBiased(position(in: bytes))
            for i in p..<min(bytes.count, p + Int.random(in: 1...8, using: &random)) { bytes[i] = .random(in: 0...255, using: &random) }
        case 2, 3:  // a boundary value, little-endian, 1/2/4/8 bytes wide
            let p = headerBiased(position(in: bytes))
            let width = [1, 2, 4, 8].randomElement(using: &random)!
            var value = Self.boundaries.randomElement(using: &random)!
            for i in p..<min(bytes.count, p + width) { bytes[i] = UInt8(truncatingIfNeeded: value); value >>= 8 }
        case 4:  // truncate
            bytes.removeSubrange(position(in: bytes)...)
        case 5:  // duplicate a range in place
            let p = position(in: bytes)
            let range = p..<min(bytes.count, p + Int.random(in: 1...64, using: &random))
            bytes.insert(contentsOf: bytes[range], at: range.upperBound)
        case 6:  // remove a range
            let p = position(in: bytes)
            bytes.removeSubrange(p..<min(bytes.count, p + Int.random(in: 1...64, using: &random)))
        case 7:  // splice: copy a range over another place
            let source = position(in: bytes), target = position(in: bytes)
            let length = min(Int.random(in: 1...64, using: &random), bytes.count - source, bytes.count - target)
            bytes.replaceSubrange(target..<target + length, with: bytes[source..<source + length])
        default:  // fill a range with 0x00 or 0xFF
            let p = headerBiased(position(in: bytes))
            let fill: UInt8 = Bool.random(using: &random) ? 0 : 0xFF
            for i in p..<min(bytes.count, p + Int.random(in: 1...16, using: &random)) { bytes[i] = fill }
        }
    }

    /// A safetensors-aware mutation: rewrite a number or dtype inside the JSON header and fix up
    /// the header length, so that damage reaches the checks behind the JSON parser.
    mutating func mutateSafeTensorsHeader(_ input: [UInt8]) -> [UInt8] {
        guard input.count >= 8 else { return input }
        let length = Int(input[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        guard length <= input.count - 8, var header = String(bytes: input[8..<8 + length], encoding: .utf8) else { return input }
        let replacements = ["0", "1", "2", "7", "8", "-1", "4294967296", "9223372036854775807", "18446744073709551615",
                            "99999999999999999999", "1.5", "1e3", "[]", "null", "\"x\""]
        let dtypes = SafeTensorsDType.allCases.map(\.rawValue) + ["F17", ""]
        if Bool.random(using: &random) {
            let numbers = header.ranges(of: /[0-9]+/)
            if let range = numbers.randomElement(using: &random) {
                header.replaceSubrange(range, with: replacements.randomElement(using: &random)!)
            }
        } else {
            let names = header.ranges(of: /"(BOOL|U8|I8|U16|I16|U32|I32|U64|I64|F16|BF16|F32|F64)"/)
            if let range = names.randomElement(using: &random) {
                header.replaceSubrange(range, with: "\"\(dtypes.randomElement(using: &random)!)\"")
            }
        }
        let newHeader = Array(header.utf8)
        let lengthBytes = withUnsafeBytes(of: UInt64(newHeader.count).littleEndian, Array.init)
        return lengthBytes + newHeader + input[(8 + length)...]
    }
}

/// Mutation fuzzing of both readers: every mutated file must either parse into something whose
/// accessors work, or throw a ``ModelFormatError``; a crash or trap fails the whole test run.
///
/// `FUZZ_ITERATIONS` sets the iterations per format (default 3,000, a few seconds in a debug
/// build); `FUZZ_SEED` replays a run. `scripts/fuzz-formats.sh` runs 100,000 in release mode.
@Suite struct FuzzTests {
    static let iterations = ProcessInfo.processInfo.environment["FUZZ_ITERATIONS"].flatMap(Int.init) ?? 3_000
    static let seed = ProcessInfo.processInfo.environment["FUZZ_SEED"].flatMap(UInt64.init) ?? 0x5EED_F00D

    struct Tally: CustomStringConvertible {
        var parsed = 0
        var rejected = 0
        var codes: [ModelFormatError.Code: Int] = [:]

        var description: String {
            let byCode = codes.sorted { $0.value > $1.value }.map { "\($0.key.rawValue) \($0.value)" }.joined(separator: ", ")
            return "parsed ok \(parsed), rejected \(rejected) (\(byCode))"
        }
    }

    /// Exercises what a caller would use after a successful parse, so that a file the reader
    /// accepts can never make later reads go wrong.
    static func exercise(_ file: GGUFFile) throws {
        for (_, value) in file.metadata {
            _ = (value.int, value.float, value.double, value.bool, value.string, value.strings, value.ints, value.floats)
        }
        let base = file.mapping.bytes.baseAddress!, end = base + file.mapping.count
        for info in file.tensors {
            let raw = try file.rawBytes(info.name)
            #expect(raw.count == info.byteCount)
            if raw.count > 0 { #expect(raw.baseAddress! >= base && raw.baseAddress! + raw.count <= end) }
            if info.elementCount <= 1 << 16, info.type.blockFormat != nil || info.type == .f64 {
                #expect(try file.tensor(info.name).scalars.count == info.elementCount)
            }
        }
    }

    static func exercise(_ file: SafeTensorsFile) throws {
        let base = file.mapping.bytes.baseAddress!, end = base + file.mapping.count
        for info in file.tensors {
            let raw = try file.rawBytes(info.name)
            #expect(raw.count == info.byteCount)
            if raw.count > 0 { #expect(raw.baseAddress! >= base && raw.baseAddress! + raw.count <= end) }
            if [.f32, .f16, .bf16, .f64].contains(info.dtype), info.elementCount <= 1 << 16 {
                #expect(try file.tensor(info.name).scalars.count == info.elementCount)
            }
        }
    }

    static func run(seeds: [[UInt8]], seedOffset: UInt64, structured: Bool,
                    parse: (MappedFile) throws -> Void) -> Tally {
        var mutator = Mutator(random: SplitMix64(seed: seed &+ seedOffset))
        var tally = Tally()
        for iteration in 0..<iterations {
            let original = seeds[iteration % seeds.count]
            var bytes = original
            if structured && Bool.random(using: &mutator.random) {
                // Header-aware edits, then byte damage only half the time, so that many files
                // get through the JSON parser to the checks behind it.
                for _ in 0..<Int.random(in: 1...3, using: &mutator.random) { bytes = mutator.mutateSafeTensorsHeader(bytes) }
                if Bool.random(using: &mutator.random) { bytes = mutator.mutate(bytes) }
            } else {
                bytes = mutator.mutate(bytes)
            }
            do {
                try parse(MappedFile(contents: bytes, name: "fuzz-\(iteration)"))
                tally.parsed += 1
            } catch let error as ModelFormatError {
                tally.rejected += 1
                tally.codes[error.code, default: 0] += 1
                #expect(error.file == "fuzz-\(iteration)" || error.file.hasSuffix("Writer"), "error names the file: \(error)")
            } catch {
                Issue.record("iteration \(iteration): not a ModelFormatError: \(error)")
            }
        }
        return tally
    }

    @Test func mutatedGGUFFilesNeverCrash() throws {
        var writer = GGUFWriter()
        writer.metadata = GGUFWriterTests.everyKindOfMetadata()
        try writer.addTensor("q4_1", type: .q4_1, dimensions: [32, 2], bytes: (0..<40).map { UInt8($0 * 5 % 256) })
        let seeds = [try fixtureBytes("all_types.gguf"), try fixtureBytes("aligned64.gguf"), try writer.serialized()]
        let tally = Self.run(seeds: seeds, seedOffset: 1, structured: false) { try Self.exercise(GGUFFile(mapping: $0)) }
        print("fuzz GGUF: \(Self.iterations) mutated files (seed \(Self.seed)): \(tally)")
        #expect(tally.parsed + tally.rejected == Self.iterations)
        #expect(tally.rejected > Self.iterations / 4, "mutations should mostly be caught")
    }

    @Test func mutatedSafeTensorsFilesNeverCrash() throws {
        let seeds = [try fixtureBytes("mixed.safetensors"), try fixtureBytes("swift_writer.safetensors")]
        let tally = Self.run(seeds: seeds, seedOffset: 2, structured: true) { try Self.exercise(SafeTensorsFile(mapping: $0)) }
        print("fuzz safetensors: \(Self.iterations) mutated files (seed \(Self.seed)): \(tally)")
        #expect(tally.parsed + tally.rejected == Self.iterations)
        #expect(tally.rejected > Self.iterations / 4, "mutations should mostly be caught")
    }
}
