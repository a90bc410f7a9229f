import Foundation

/// Append-only JSON-lines files (artifact indexes, call logs): one compact JSON value per line,
/// so a file stays readable line by line even if a process stops mid-run.
enum JSONLines {
    static func append(_ value: JSONValue, to url: URL) throws {
        if !FileManager.default.fileExists(atPath: url.path) {
            _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data((value.compactJSON + "\n").utf8))
    }
}
