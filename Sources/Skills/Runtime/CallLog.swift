import Foundation
import Synchronization

/// Where calls are recorded and, in replay mode, answered from: a folder with `calls.jsonl`
/// (one ``CallRecord`` per line, appended as calls finish) and `artifacts/` (the bytes of
/// every artifact a call produced, so a replay can hand them out again).
public final class CallLog: Sendable {
    public let directory: URL
    private let callsURL: URL
    private let artifactFolder: URL
    private let records = Mutex<[CallRecord]>([])

    /// Opens (creating if needed) a log folder and reads the calls already in it. A damaged
    /// line is an error naming the line: replaying from a partial record would hide it.
    public init(directory: URL) throws {
        self.directory = directory
        callsURL = directory.appendingPathComponent("calls.jsonl")
        artifactFolder = directory.appendingPathComponent("artifacts", isDirectory: true)
        try FileManager.default.createDirectory(at: artifactFolder, withIntermediateDirectories: true)
        guard let data = FileManager.default.contents(atPath: callsURL.path) else { return }
        var loaded: [CallRecord] = []
        for (number, line) in data.split(separator: UInt8(ascii: "\n")).enumerated() {
            do {
                loaded.append(try CallRecord(json: try JSONValue(parsing: line), artifactFolder: artifactFolder))
            } catch {
                throw ArtifactStore.StoreError.io("\(callsURL.path):\(number + 1): \(error.message)")
            }
        }
        records.withLock { $0 = loaded }
    }

    /// Every recorded call, oldest first.
    public var calls: [CallRecord] { records.withLock { $0 } }

    /// Appends `record`, copying its artifacts' bytes into the log folder.
    public func append(_ record: CallRecord) throws {
        var stored = record
        for (index, artifact) in record.artifacts.enumerated() {
            let copy = artifactFolder.appendingPathComponent(artifact.url.lastPathComponent)
            if !FileManager.default.fileExists(atPath: copy.path) {
                try FileManager.default.copyItem(at: artifact.url, to: copy)
            }
            stored.artifacts[index].url = copy
        }
        try records.withLock { list in
            try JSONLines.append(stored.json, to: callsURL)
            list.append(stored)
        }
    }

    /// The most recent recorded call with this key.
    public func lookup(_ key: String) -> CallRecord? {
        records.withLock { $0.last { $0.replayKey == key } }
    }
}
