import Foundation
import Testing
@testable import ModelFormats

/// The checkout these tests live in (`Tests/ModelFormatsTests/` is two levels down).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

/// A committed fixture file (copied into the test bundle).
func fixtureURL(_ name: String) throws -> URL {
    try #require(Bundle.module.url(forResource: "Fixtures/" + name, withExtension: nil), "missing fixture \(name)")
}

/// The bytes of a committed fixture.
func fixtureBytes(_ name: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: fixtureURL(name)))
}

/// A fresh folder under the system temporary folder, for files a test writes.
func scratchFolder(_ label: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("model-formats-\(label)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Runs `body`, which must throw a ``ModelFormatError``, and returns that error.
@discardableResult
func expectFormatError(_ code: ModelFormatError.Code, mentioning fragments: [String] = [],
                       sourceLocation: SourceLocation = #_sourceLocation,
                       _ body: () throws -> Void) -> ModelFormatError? {
    do {
        try body()
        Issue.record("expected a \(code) error, but nothing was thrown", sourceLocation: sourceLocation)
        return nil
    } catch let error as ModelFormatError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        for fragment in fragments {
            #expect(error.description.contains(fragment), "'\(fragment)' not in: \(error)", sourceLocation: sourceLocation)
        }
        return error
    } catch {
        Issue.record("expected a ModelFormatError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// Little-endian bytes built field by field for hand-crafted files: `ByteBuilder().u32(1).string("k").bytes`.
struct ByteBuilder {
    var bytes: [UInt8] = []

    func u8(_ v: UInt8) -> ByteBuilder { raw([v]) }
    func u32(_ v: UInt32) -> ByteBuilder { raw(withUnsafeBytes(of: v.littleEndian, Array.init)) }
    func u64(_ v: UInt64) -> ByteBuilder { raw(withUnsafeBytes(of: v.littleEndian, Array.init)) }
    func raw(_ v: [UInt8]) -> ByteBuilder { ByteBuilder(bytes: bytes + v) }
    /// A GGUF string: u64 length, then UTF-8.
    func string(_ s: String) -> ByteBuilder { u64(UInt64(s.utf8.count)).raw(Array(s.utf8)) }
    /// Zeros up to the next multiple of `alignment`.
    func pad(to alignment: Int) -> ByteBuilder { raw([UInt8](repeating: 0, count: (alignment - bytes.count % alignment) % alignment)) }
}

/// Parses bytes as GGUF through the same path as files on disk.
func parseGGUF(_ bytes: [UInt8], name: String = "crafted.gguf") throws -> GGUFFile {
    try GGUFFile(mapping: MappedFile(contents: bytes, name: name))
}

/// Parses bytes as safetensors through the same path as files on disk.
func parseSafeTensors(_ bytes: [UInt8], name: String = "crafted.safetensors") throws -> SafeTensorsFile {
    try SafeTensorsFile(mapping: MappedFile(contents: bytes, name: name))
}

/// A safetensors file from a header string and a data section.
func safeTensorsBytes(header: String, data: [UInt8]) -> [UInt8] {
    ByteBuilder().u64(UInt64(header.utf8.count)).raw(Array(header.utf8)).raw(data).bytes
}

// MARK: formats.json (written by scripts/fixtures/make_format_fixtures.py)

/// What the reference implementations (gguf-py, safetensors) read in each committed fixture.
struct FormatsFixture: Decodable {
    struct GGUFDescription: Decodable {
        let version: UInt32
        let alignment: Int
        let dataOffset: Int
        let metadata: [MetadataEntry]
        let tensors: [GGUFTensorDescription]
    }

    struct MetadataEntry: Decodable {
        let key: String
        let value: ExpectedValue

        enum CodingKeys: CodingKey { case key }

        init(from decoder: any Decoder) throws {
            key = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .key)
            value = try ExpectedValue(from: decoder)
        }
    }

    struct GGUFTensorDescription: Decodable {
        let name: String
        let type: String
        let typeId: UInt32
        let dimensions: [Int]
        let offset: Int
        let byteCount: Int
        let sha256: String
        let values: [Double]?
        let integers: [String]?
    }

    struct SafeTensorsDescription: Decodable {
        let headerLength: Int
        let metadata: [String: String]
        let tensors: [SafeTensorsTensorDescription]
    }

    struct SafeTensorsTensorDescription: Decodable {
        let name: String
        let dtype: String
        let shape: [Int]
        let dataOffsets: [Int]
        let sha256: String
        let values: [Double]?
        let integers: [String]?
    }

    let ggufVersion: String
    let safetensorsVersion: String
    let ggufTypeSizes: [String: [Int]]
    let gguf: [String: GGUFDescription]
    let safetensors: [String: SafeTensorsDescription]

    static let shared: FormatsFixture = {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do {
            return try decoder.decode(FormatsFixture.self, from: Data(contentsOf: fixtureURL("formats.json")))
        } catch {
            fatalError("formats.json does not decode: \(error)")
        }
    }()
}

/// A metadata value as the fixture JSON describes it: integers as decimal strings, arrays with
/// their element type.
indirect enum ExpectedValue: Decodable {
    case scalar(type: String, text: String)
    case float(type: String, value: Double)
    case bool(Bool)
    case string(String)
    case array(elementType: String, values: [ExpectedValue])

    // The decoder converts snake_case keys, so `element_type` arrives as `elementType`.
    enum CodingKeys: String, CodingKey { case type, value, elementType }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let type = try c.decode(String.self, forKey: .type)
        switch type {
        case "float32", "float64": self = .float(type: type, value: try c.decode(Double.self, forKey: .value))
        case "bool": self = .bool(try c.decode(Bool.self, forKey: .value))
        case "string": self = .string(try c.decode(String.self, forKey: .value))
        case "array": self = .array(elementType: try c.decode(String.self, forKey: .elementType),
                                    values: try c.decode([ExpectedValue].self, forKey: .value))
        default: self = .scalar(type: type, text: try c.decode(String.self, forKey: .value))
        }
    }

    /// The `GGUFValue` a correct reader produces for this description.
    var ggufValue: GGUFValue? {
        switch self {
        case .scalar(let type, let text):
            switch type {
            case "uint8": return UInt8(text).map(GGUFValue.uint8)
            case "int8": return Int8(text).map(GGUFValue.int8)
            case "uint16": return UInt16(text).map(GGUFValue.uint16)
            case "int16": return Int16(text).map(GGUFValue.int16)
            case "uint32": return UInt32(text).map(GGUFValue.uint32)
            case "int32": return Int32(text).map(GGUFValue.int32)
            case "uint64": return UInt64(text).map(GGUFValue.uint64)
            case "int64": return Int64(text).map(GGUFValue.int64)
            default: return nil
            }
        case .float(let type, let value): return type == "float32" ? .float32(Float(value)) : .float64(value)
        case .bool(let value): return .bool(value)
        case .string(let value): return .string(value)
        case .array(let elementType, let values):
            return ggufArray(elementType: elementType, values: values.compactMap(\.ggufValue)).map(GGUFValue.array)
        }
    }

    private func ggufArray(elementType: String, values: [GGUFValue]) -> GGUFArray? {
        func all<T>(_ pick: (GGUFValue) -> T?) -> [T]? {
            let picked = values.compactMap(pick)
            return picked.count == values.count ? picked : nil
        }
        switch elementType {
        case "uint8": return all { if case .uint8(let v) = $0 { v } else { nil } }.map(GGUFArray.uint8)
        case "int8": return all { if case .int8(let v) = $0 { v } else { nil } }.map(GGUFArray.int8)
        case "uint16": return all { if case .uint16(let v) = $0 { v } else { nil } }.map(GGUFArray.uint16)
        case "int16": return all { if case .int16(let v) = $0 { v } else { nil } }.map(GGUFArray.int16)
        case "uint32": return all { if case .uint32(let v) = $0 { v } else { nil } }.map(GGUFArray.uint32)
        case "int32": return all { if case .int32(let v) = $0 { v } else { nil } }.map(GGUFArray.int32)
        case "uint64": return all { if case .uint64(let v) = $0 { v } else { nil } }.map(GGUFArray.uint64)
        case "int64": return all { if case .int64(let v) = $0 { v } else { nil } }.map(GGUFArray.int64)
        case "float32": return all { if case .float32(let v) = $0 { v } else { nil } }.map(GGUFArray.float32)
        case "float64": return all { if case .float64(let v) = $0 { v } else { nil } }.map(GGUFArray.float64)
        case "bool": return all(\.bool).map(GGUFArray.bool)
        case "string": return all(\.string).map(GGUFArray.string)
        case "array": return all(\.array).map(GGUFArray.array)
        default: return nil
        }
    }
}
