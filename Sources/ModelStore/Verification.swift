import Foundation

/// The outcome of re-checking one asset's files against the store record.
public struct AssetCheck: Sendable {
    public let name: String
    /// Files that are recorded but absent.
    public var missing: [String] = []
    /// Files whose size or SHA-256 differs from the record, with what was found.
    public var modified: [String] = []
    /// Files in the asset's folder that the record does not list.
    public var unexpected: [String] = []
    /// Bytes over all recorded files.
    public var size: Int = 0

    public var isIntact: Bool { missing.isEmpty && modified.isEmpty && unexpected.isEmpty }

    /// One line per problem, naming the file.
    public var problems: [String] {
        missing.map { "\($0): missing" } + modified + unexpected.map { "\($0): not part of the asset" }
    }
}

extension ModelStore {
    /// Re-hashes every file of an asset and compares it with the record.
    public func check(_ name: String) throws -> AssetCheck {
        let asset = try asset(name)
        let folder = folder(of: name)
        var result = AssetCheck(name: name)
        var recorded = Set<String>()
        for file in asset.files {
            recorded.insert(file.path)
            result.size += file.size
            let url = folder.appendingPathComponent(file.path)
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: url.path) else {
                result.missing.append(file.path)
                continue
            }
            let size = (attributes[.size] as? NSNumber)?.intValue ?? -1
            if size != file.size {
                result.modified.append("\(file.path): \(size) bytes, expected \(file.size)")
                continue
            }
            let digest = try SHA256.hexDigest(ofFile: url)
            if digest != file.sha256 {
                result.modified.append("\(file.path): sha256 \(digest), expected \(file.sha256)")
            }
        }
        if let walker = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: [.isRegularFileKey]) {
            for case let url as URL in walker where (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
                let relative = String(url.standardizedFileURL.path.dropFirst(folder.standardizedFileURL.path.count + 1))
                if !recorded.contains(relative) { result.unexpected.append(relative) }
            }
        }
        return result
    }
}
