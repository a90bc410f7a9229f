import Foundation

/// A file a conversation holds: an input image, or an image, mask, crop or box set a skill
/// produced. The model and the skills refer to it by `id`; the bytes stay out of the prompt.
public struct Artifact: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case image, mask, crop, boxes, file
    }

    /// `<kind>-<first 16 hex digits of the SHA-256>`: stable across runs and machines, so a
    /// recorded call replays against the same ids.
    public var id: String
    public var kind: Kind
    /// Lowercase hex SHA-256 of the bytes.
    public var sha256: String
    public var byteCount: Int
    /// `image/png`, `image/jpeg`, ... as sniffed from the bytes, else `application/octet-stream`.
    public var mediaType: String
    /// The file in the store (read-only by convention: skills get copies of nothing).
    public var url: URL
    /// The artifact whose pixel grid `box` refers to (coordinates are always of a named image).
    public var source: String?
    /// Normalised `[x0, y0, x1, y1]` in 0...1 of `source`, as LLaVA-Plus writes boxes.
    public var box: [Double]?
    /// A short human label (a phrase, a file name).
    public var label: String?

    /// The id for bytes with this hash and kind.
    public static func id(kind: Kind, sha256: String) -> String {
        "\(kind.rawValue)-\(sha256.prefix(16))"
    }

    /// What the model is shown: the id and the coordinate facts, never the bytes.
    public var summary: JSONValue {
        var object: [String: JSONValue] = ["id": .string(id), "kind": .string(kind.rawValue)]
        if let source { object["source"] = .string(source) }
        if let box { object["box"] = .array(box.map { .number(($0 * 100).rounded() / 100) }) }
        if let label { object["label"] = .string(label) }
        return .object(object)
    }

    /// The artifact as one JSON record (artifact indexes, call logs); the file is named relative
    /// to the folder that holds it.
    public var record: JSONValue {
        var object: [String: JSONValue] = [
            "id": .string(id), "kind": .string(kind.rawValue), "sha256": .string(sha256),
            "bytes": .number(Double(byteCount)), "media_type": .string(mediaType), "file": .string(url.lastPathComponent),
        ]
        if let source { object["source"] = .string(source) }
        if let box { object["box"] = .array(box.map { .number($0) }) }
        if let label { object["label"] = .string(label) }
        return .object(object)
    }

    /// The media type of `bytes` from their first bytes.
    public static func sniffMediaType(_ bytes: some Collection<UInt8>) -> String {
        let head = Array(bytes.prefix(12))
        func starts(_ magic: [UInt8]) -> Bool { head.count >= magic.count && Array(head.prefix(magic.count)) == magic }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return "image/png" }
        if starts([0xFF, 0xD8, 0xFF]) { return "image/jpeg" }
        if starts(Array("GIF8".utf8)) { return "image/gif" }
        if starts(Array("BM".utf8)) { return "image/bmp" }
        if head.count >= 12, starts(Array("RIFF".utf8)), Array(head[8..<12]) == Array("WEBP".utf8) { return "image/webp" }
        if starts(Array("{".utf8)) || starts(Array("[".utf8)) { return "application/json" }
        return "application/octet-stream"
    }

    static func fileExtension(for mediaType: String) -> String {
        switch mediaType {
        case "image/png": "png"
        case "image/jpeg": "jpg"
        case "image/gif": "gif"
        case "image/bmp": "bmp"
        case "image/webp": "webp"
        case "application/json": "json"
        default: "bin"
        }
    }
}

extension Artifact {
    /// Reads a ``record`` whose file is in `folder`; nil if a field is missing or the file name
    /// would leave the folder.
    public init?(record value: JSONValue, folder: URL) {
        guard let id = value["id"]?.stringValue, let kind = value["kind"]?.stringValue.flatMap(Kind.init),
              let hash = value["sha256"]?.stringValue, let bytes = value["bytes"]?.numberValue,
              let mediaType = value["media_type"]?.stringValue, let file = value["file"]?.stringValue,
              !file.contains("/")
        else { return nil }
        self.init(id: id, kind: kind, sha256: hash, byteCount: Int(bytes), mediaType: mediaType,
                  url: folder.appendingPathComponent(file), source: value["source"]?.stringValue,
                  box: value["box"]?.arrayValue?.compactMap(\.numberValue), label: value["label"]?.stringValue)
    }
}
