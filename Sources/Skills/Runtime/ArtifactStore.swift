import Foundation
import ModelStore
import Synchronization

/// The artifacts of one conversation, stored under content-hash names in one folder.
///
/// A skill's file parameters can only name artifacts of this store, so a model cannot make
/// a skill read an arbitrary path. Adding the same bytes twice returns the same artifact.
/// The folder holds `<sha256>.<ext>` files and `index.jsonl`, one line per artifact, so a
/// conversation's artifacts survive the process and are readable without this code.
public final class ArtifactStore: Sendable {
    /// Largest artifact accepted (a 20,000 x 20,000 RGBA PNG can be about this big).
    public static let maximumBytes = 256 << 20

    public let directory: URL
    private let state = Mutex<[String: Artifact]>([:])
    private let indexURL: URL

    public enum StoreError: Error, CustomStringConvertible {
        case io(String)
        case tooLarge(bytes: Int)
        case corruptIndex(line: Int, String)

        public var description: String {
            switch self {
            case .io(let message): message
            case .tooLarge(let bytes): "artifact of \(bytes) bytes is larger than the \(ArtifactStore.maximumBytes >> 20) MiB limit"
            case .corruptIndex(let line, let why): "index.jsonl line \(line): \(why)"
            }
        }
    }

    /// Opens (creating if needed) the store in `directory`, reading any existing index.
    public init(directory: URL) throws {
        self.directory = directory
        indexURL = directory.appendingPathComponent("index.jsonl")
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw StoreError.io("\(directory.path): cannot create the artifact folder: \(error.localizedDescription)")
        }
        guard let data = FileManager.default.contents(atPath: indexURL.path) else { return }
        var loaded: [String: Artifact] = [:]
        for (number, line) in data.split(separator: UInt8(ascii: "\n")).enumerated() {
            let value: JSONValue
            do { value = try JSONValue(parsing: line) } catch { throw StoreError.corruptIndex(line: number + 1, error.message) }
            guard let artifact = Artifact(record: value, folder: directory) else {
                throw StoreError.corruptIndex(line: number + 1, "expected an artifact record")
            }
            loaded[artifact.id] = artifact
        }
        state.withLock { $0 = loaded }
    }

    /// A store in a new temporary folder (for one-off commands and tests).
    public static func temporary() throws -> ArtifactStore {
        try ArtifactStore(directory: FileManager.default.temporaryDirectory
            .appendingPathComponent("llava-plus-artifacts-\(UUID().uuidString)"))
    }

    /// The artifact with this id, if this conversation has it.
    public func artifact(_ id: String) -> Artifact? {
        state.withLock { $0[id] }
    }

    /// Every artifact, in id order.
    public var all: [Artifact] {
        state.withLock { $0.values.sorted { $0.id < $1.id } }
    }

    /// Stores `bytes` (or finds them already stored) and returns their artifact.
    @discardableResult
    public func add(_ bytes: Data, kind: Artifact.Kind, source: String? = nil, box: [Double]? = nil,
                    label: String? = nil) throws -> Artifact {
        guard bytes.count <= Self.maximumBytes else { throw StoreError.tooLarge(bytes: bytes.count) }
        let hash = SHA256.hexDigest(of: bytes)
        let id = Artifact.id(kind: kind, sha256: hash)
        if let existing = artifact(id) { return existing }
        let mediaType = Artifact.sniffMediaType(bytes)
        let url = directory.appendingPathComponent("\(hash).\(Artifact.fileExtension(for: mediaType))")
        let artifact = Artifact(id: id, kind: kind, sha256: hash, byteCount: bytes.count, mediaType: mediaType,
                                url: url, source: source, box: box, label: label)
        do {
            if !FileManager.default.fileExists(atPath: url.path) {
                try bytes.write(to: url, options: .atomic)
            }
            try JSONLines.append(artifact.record, to: indexURL)
        } catch {
            throw StoreError.io("\(url.path): cannot store the artifact: \(error.localizedDescription)")
        }
        state.withLock { $0[id] = artifact }
        return artifact
    }

    /// Stores the file at `url` (an input image, say).
    @discardableResult
    public func add(contentsOf url: URL, kind: Artifact.Kind = .image, label: String? = nil) throws -> Artifact {
        let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? nil
        if let size, size > Self.maximumBytes { throw StoreError.tooLarge(bytes: size) }
        guard let bytes = FileManager.default.contents(atPath: url.path) else {
            throw StoreError.io("\(url.path): cannot read the file")
        }
        return try add(bytes, kind: kind, label: label ?? url.lastPathComponent)
    }
}
