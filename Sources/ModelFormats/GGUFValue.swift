/// The type tag of a GGUF metadata value, with the numeric id stored in files.
public enum GGUFValueType: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6, bool = 7
    case string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12

    /// Bytes of one value in a file, or nil for variable-size types (string, array).
    public var fixedSize: Int? {
        switch self {
        case .uint8, .int8, .bool: 1
        case .uint16, .int16: 2
        case .uint32, .int32, .float32: 4
        case .uint64, .int64, .float64: 8
        case .string, .array: nil
        }
    }

    /// The fewest bytes one value can take: the guard against absurd array counts.
    var minimumSize: Int {
        switch self {
        case .string: 8            // u64 length of an empty string
        case .array: 12            // u32 element type + u64 count of an empty array
        default: fixedSize!
        }
    }

    public var description: String {
        switch self {
        case .uint8: "uint8"
        case .int8: "int8"
        case .uint16: "uint16"
        case .int16: "int16"
        case .uint32: "uint32"
        case .int32: "int32"
        case .float32: "float32"
        case .bool: "bool"
        case .string: "string"
        case .array: "array"
        case .uint64: "uint64"
        case .int64: "int64"
        case .float64: "float64"
        }
    }
}

/// A GGUF metadata array: homogeneous, so each case holds a typed Swift array.
///
/// Typed storage keeps a 49,152-entry vocabulary as one `[String]` rather than 49,152 enum
/// values, and lets an empty array keep its element type (the file stores it). Arrays of arrays
/// are `.array`, and each inner array has its own element type.
public enum GGUFArray: Sendable, Equatable {
    case uint8([UInt8]), int8([Int8]), uint16([UInt16]), int16([Int16])
    case uint32([UInt32]), int32([Int32]), uint64([UInt64]), int64([Int64])
    case float32([Float]), float64([Double]), bool([Bool]), string([String])
    case array([GGUFArray])

    /// The type tag of the elements.
    public var elementType: GGUFValueType {
        switch self {
        case .uint8: .uint8
        case .int8: .int8
        case .uint16: .uint16
        case .int16: .int16
        case .uint32: .uint32
        case .int32: .int32
        case .uint64: .uint64
        case .int64: .int64
        case .float32: .float32
        case .float64: .float64
        case .bool: .bool
        case .string: .string
        case .array: .array
        }
    }

    /// Number of elements.
    public var count: Int {
        switch self {
        case .uint8(let a): a.count
        case .int8(let a): a.count
        case .uint16(let a): a.count
        case .int16(let a): a.count
        case .uint32(let a): a.count
        case .int32(let a): a.count
        case .uint64(let a): a.count
        case .int64(let a): a.count
        case .float32(let a): a.count
        case .float64(let a): a.count
        case .bool(let a): a.count
        case .string(let a): a.count
        case .array(let a): a.count
        }
    }

    /// The elements as individual values (convenient for small arrays; large ones are better
    /// read through the typed accessors).
    public var values: [GGUFValue] {
        switch self {
        case .uint8(let a): a.map(GGUFValue.uint8)
        case .int8(let a): a.map(GGUFValue.int8)
        case .uint16(let a): a.map(GGUFValue.uint16)
        case .int16(let a): a.map(GGUFValue.int16)
        case .uint32(let a): a.map(GGUFValue.uint32)
        case .int32(let a): a.map(GGUFValue.int32)
        case .uint64(let a): a.map(GGUFValue.uint64)
        case .int64(let a): a.map(GGUFValue.int64)
        case .float32(let a): a.map(GGUFValue.float32)
        case .float64(let a): a.map(GGUFValue.float64)
        case .bool(let a): a.map(GGUFValue.bool)
        case .string(let a): a.map(GGUFValue.string)
        case .array(let a): a.map(GGUFValue.array)
        }
    }

    /// Integer elements of any integer type as `Int`; nil for other types or when one does not
    /// fit (a `uint64` above `Int.max`).
    public var ints: [Int]? {
        switch self {
        case .uint8(let a): a.map(Int.init)
        case .int8(let a): a.map(Int.init)
        case .uint16(let a): a.map(Int.init)
        case .int16(let a): a.map(Int.init)
        case .uint32(let a): a.map(Int.init)
        case .int32(let a): a.map(Int.init)
        case .int64(let a): a.map(Int.init)
        case .uint64(let a): a.allSatisfy({ $0 <= UInt64(Int.max) }) ? a.map { Int($0) } : nil
        default: nil
        }
    }

    /// Float elements (`float32`, or `float64` narrowed) as `Float`; nil for other types.
    public var floats: [Float]? {
        switch self {
        case .float32(let a): a
        case .float64(let a): a.map(Float.init)
        default: nil
        }
    }

    /// String elements; nil for other types.
    public var strings: [String]? {
        if case .string(let a) = self { return a }
        return nil
    }

    /// Bool elements; nil for other types.
    public var bools: [Bool]? {
        if case .bool(let a) = self { return a }
        return nil
    }
}

/// One GGUF metadata value, with its exact stored type.
///
/// The cases keep the file's type so that a file can be rewritten unchanged; the accessors
/// (``int``, ``float``, ``string``, ``strings``...) give the conversions callers usually want
/// and return nil rather than guess when the value is of another kind:
/// `file.metadata["llama.block_count"]?.int`.
public enum GGUFValue: Sendable, Equatable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16)
    case uint32(UInt32), int32(Int32), uint64(UInt64), int64(Int64)
    case float32(Float), float64(Double), bool(Bool), string(String)
    case array(GGUFArray)

    /// The stored type tag.
    public var type: GGUFValueType {
        switch self {
        case .uint8: .uint8
        case .int8: .int8
        case .uint16: .uint16
        case .int16: .int16
        case .uint32: .uint32
        case .int32: .int32
        case .uint64: .uint64
        case .int64: .int64
        case .float32: .float32
        case .float64: .float64
        case .bool: .bool
        case .string: .string
        case .array: .array
        }
    }

    /// Any integer type as `Int`; nil for non-integers or a `uint64` above `Int.max`.
    public var int: Int? {
        switch self {
        case .uint8(let v): Int(v)
        case .int8(let v): Int(v)
        case .uint16(let v): Int(v)
        case .int16(let v): Int(v)
        case .uint32(let v): Int(v)
        case .int32(let v): Int(v)
        case .uint64(let v): Int(exactly: v)
        case .int64(let v): Int(v)
        default: nil
        }
    }

    /// A `float32` or `float64` (narrowed) as `Float`; nil otherwise. Integers are not
    /// converted: a hyperparameter stored as an integer where a float is expected is a file
    /// problem worth an error, not a silent conversion.
    public var float: Float? {
        switch self {
        case .float32(let v): v
        case .float64(let v): Float(v)
        default: nil
        }
    }

    /// A `float32` (widened) or `float64` as `Double`; nil otherwise.
    public var double: Double? {
        switch self {
        case .float32(let v): Double(v)
        case .float64(let v): v
        default: nil
        }
    }

    /// The value of a `bool`; nil otherwise.
    public var bool: Bool? {
        if case .bool(let v) = self { return v }
        return nil
    }

    /// The value of a `string`; nil otherwise.
    public var string: String? {
        if case .string(let v) = self { return v }
        return nil
    }

    /// The value of an `array`; nil otherwise.
    public var array: GGUFArray? {
        if case .array(let v) = self { return v }
        return nil
    }

    /// A string array's elements (e.g. `tokenizer.ggml.tokens`); nil for anything else.
    public var strings: [String]? { array?.strings }

    /// An integer array's elements as `Int` (e.g. `tokenizer.ggml.token_type`); nil for anything else.
    public var ints: [Int]? { array?.ints }

    /// A float array's elements as `Float` (e.g. `tokenizer.ggml.scores`); nil for anything else.
    public var floats: [Float]? { array?.floats }

    /// A short rendering for messages: the type and, for scalars and short strings, the value.
    var summary: String {
        switch self {
        case .string(let s): s.count <= 40 ? "string \"\(s)\"" : "string of \(s.utf8.count) bytes"
        case .array(let a): "array of \(a.count) \(a.elementType)"
        case .uint8(let v): "uint8 \(v)"
        case .int8(let v): "int8 \(v)"
        case .uint16(let v): "uint16 \(v)"
        case .int16(let v): "int16 \(v)"
        case .uint32(let v): "uint32 \(v)"
        case .int32(let v): "int32 \(v)"
        case .uint64(let v): "uint64 \(v)"
        case .int64(let v): "int64 \(v)"
        case .float32(let v): "float32 \(v)"
        case .float64(let v): "float64 \(v)"
        case .bool(let v): "bool \(v)"
        }
    }
}
