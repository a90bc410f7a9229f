import Foundation
import ModelFormats

extension JSONValue {
    /// Why bytes are not one JSON document this type can hold.
    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Parses a JSON document (strict RFC 8259: UTF-8, no trailing commas, no comments).
    /// Duplicate keys and numbers beyond `Double` are errors rather than silently resolved:
    /// skill output is untrusted input.
    public init(parsing bytes: some Collection<UInt8>) throws(ParseError) {
        let array = Array(bytes)
        guard String(validating: array, as: UTF8.self) != nil else {
            throw ParseError(message: "not valid UTF-8")
        }
        let tree: JSONTree
        do {
            tree = try array.withUnsafeBytes { buffer throws(JSONSyntaxError) in try JSONParser.parse(buffer) }
        } catch {
            throw ParseError(message: "not JSON: \(error)")
        }
        self = try Self.convert(tree, at: "")
    }

    /// Parses JSON text.
    public init(parsing text: String) throws(ParseError) {
        try self.init(parsing: Array(text.utf8))
    }

    private static func convert(_ tree: JSONTree, at pointer: String) throws(ParseError) -> JSONValue {
        switch tree {
        case .null: return .null
        case .bool(let value): return .bool(value)
        case .string(let value): return .string(value)
        case .number(let text):
            guard let value = Double(text), value.isFinite else {
                throw ParseError(message: "\(pointer.isEmpty ? "/" : pointer): the number \(text) is out of range")
            }
            return .number(value)
        case .array(let items):
            var values: [JSONValue] = []
            values.reserveCapacity(items.count)
            for (index, item) in items.enumerated() {
                values.append(try convert(item, at: JSONPointer.appending(pointer, String(index))))
            }
            return .array(values)
        case .object(let members):
            var object: [String: JSONValue] = [:]
            for (key, value) in members {
                let path = JSONPointer.appending(pointer, key)
                guard object[key] == nil else { throw ParseError(message: "\(path): duplicate key") }
                object[key] = try convert(value, at: path)
            }
            return .object(object)
        }
    }
}
