/// The key-value metadata of a GGUF file, in file order, looked up by key.
///
/// Read it with optional accessors (`metadata["llama.block_count"]?.int`) where a key is
/// optional, or with the `require…` methods where the model cannot do without it: they throw a
/// ``ModelFormatError`` naming the file, the key, and what was found instead.
/// ``GGUFWriter`` builds files from the same type, so it is also mutable.
public struct GGUFMetadata: Sendable, Equatable, Sequence {
    /// Keys in file (or insertion) order.
    public private(set) var keys: [String] = []
    private var values: [String: GGUFValue] = [:]
    /// Used in error messages: the file the metadata came from.
    let source: String

    /// Empty metadata; `source` names it in error messages.
    public init(source: String = "metadata") {
        self.source = source
    }

    /// Number of keys.
    public var count: Int { keys.count }

    /// The value for `key`. Setting a new key appends it; setting an existing key replaces its
    /// value in place; setting nil removes it.
    public subscript(key: String) -> GGUFValue? {
        get { values[key] }
        set {
            if let newValue {
                if values.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if values.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    /// Appends a key read from a file, rejecting a second occurrence.
    mutating func appendUnique(_ key: String, _ value: GGUFValue, field: String) throws {
        guard values.updateValue(value, forKey: key) == nil else {
            throw ModelFormatError(.duplicateKey, file: source, field: field, "key '\(key)' appears more than once")
        }
        keys.append(key)
    }

    /// The pairs in order.
    public func makeIterator() -> some IteratorProtocol<(key: String, value: GGUFValue)> {
        keys.lazy.map { (key: $0, value: values[$0]!) }.makeIterator()
    }

    /// Same keys in the same order with equal values (where the metadata came from is ignored).
    public static func == (a: GGUFMetadata, b: GGUFMetadata) -> Bool {
        a.keys == b.keys && a.values == b.values
    }

    // MARK: Required values

    /// The value for `key`, converted by `accessor`, or an error naming the key and what it holds.
    public func require<T>(_ key: String, _ accessor: (GGUFValue) -> T?, expected: String) throws -> T {
        guard let value = values[key] else {
            throw ModelFormatError(.metadataMissing, file: source, field: "metadata '\(key)'", "is missing")
        }
        guard let converted = accessor(value) else {
            throw ModelFormatError(.metadataType, file: source, field: "metadata '\(key)'",
                                   "is \(value.summary), expected \(expected)")
        }
        return converted
    }

    /// An integer of any integer type.
    public func requireInt(_ key: String) throws -> Int { try require(key, \.int, expected: "an integer") }
    /// A `float32` or `float64`.
    public func requireFloat(_ key: String) throws -> Float { try require(key, \.float, expected: "a float") }
    /// A `bool`.
    public func requireBool(_ key: String) throws -> Bool { try require(key, \.bool, expected: "a bool") }
    /// A `string`.
    public func requireString(_ key: String) throws -> String { try require(key, \.string, expected: "a string") }
    /// An array of strings.
    public func requireStrings(_ key: String) throws -> [String] {
        try require(key, \.strings, expected: "an array of strings")
    }
    /// An array of any integer type.
    public func requireInts(_ key: String) throws -> [Int] {
        try require(key, \.ints, expected: "an array of integers")
    }
    /// An array of `float32` or `float64`.
    public func requireFloats(_ key: String) throws -> [Float] {
        try require(key, \.floats, expected: "an array of floats")
    }
}
