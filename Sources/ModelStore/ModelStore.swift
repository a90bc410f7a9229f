import Foundation

/// The folder of installed weights and data that `scripts/setup.sh` fills, and its record.
///
/// Layout: `<root>/store.json` (see ``StoreRecord``), one folder per asset (`<root>/<name>/`),
/// and the verified package files they came from under `<root>/downloads/`.
public struct ModelStore: Sendable {
    /// The store's folder.
    public let root: URL
    /// What setup recorded.
    public let record: StoreRecord

    /// The environment variable that overrides where the store is.
    public static let environmentVariable = "LLAVA_PLUS_MODELS"

    /// Opens the store at `root`, failing with a clear message if its record is missing or unreadable.
    public init(root: URL) throws {
        let recordURL = root.appendingPathComponent("store.json")
        guard let data = FileManager.default.contents(atPath: recordURL.path) else {
            throw StoreError.notFound(searched: [root.path])
        }
        let record: StoreRecord
        do {
            record = try JSONDecoder().decode(StoreRecord.self, from: data)
        } catch {
            throw StoreError.badRecord(recordURL, "not a valid store record (\(error))")
        }
        guard record.format == StoreRecord.currentFormat else {
            throw StoreError.badRecord(recordURL, "record format \(record.format), this build reads \(StoreRecord.currentFormat)")
        }
        self.root = root
        self.record = record
    }

    /// Finds the store: `$LLAVA_PLUS_MODELS` if set, else a `models/` folder with a `store.json`
    /// in the current directory, the executable's directory, or any of their parents (so both
    /// `swift run` in a checkout and a binary under `.build/` find the checkout's store).
    public static func locate(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        searchFrom starts: [URL] = defaultSearchStarts()
    ) throws -> ModelStore {
        if let path = environment[environmentVariable], !path.isEmpty {
            return try ModelStore(root: URL(fileURLWithPath: path))
        }
        var searched: [String] = []
        for start in starts {
            var directory = start.standardizedFileURL
            while true {
                let candidate = directory.appendingPathComponent("models")
                if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("store.json").path) {
                    return try ModelStore(root: candidate)
                }
                searched.append(candidate.path)
                let parent = directory.deletingLastPathComponent()
                if parent.path == directory.path { break }
                directory = parent
            }
        }
        var seen = Set<String>()
        throw StoreError.notFound(searched: ["$\(environmentVariable)"] + searched.filter { seen.insert($0).inserted })
    }

    /// The current directory and the running executable's directory.
    public static func defaultSearchStarts() -> [URL] {
        [URL(fileURLWithPath: FileManager.default.currentDirectoryPath),
         URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()]
    }

    /// Names of the installed assets, sorted.
    public var assetNames: [String] { record.assets.keys.sorted() }

    /// The folder that holds an asset's files.
    public func folder(of name: String) -> URL { root.appendingPathComponent(name, isDirectory: true) }

    /// The recorded asset, or a clear error naming what is installed.
    public func asset(_ name: String) throws -> StoreRecord.Asset {
        guard let asset = record.assets[name] else {
            throw StoreError.notInstalled(name: name, store: root, installed: assetNames)
        }
        return asset
    }

    /// The file or folder programs use for an asset (its `main`), checked to exist.
    public func url(of name: String) throws -> URL {
        let asset = try asset(name)
        let url = folder(of: name).appendingPathComponent(asset.main).standardizedFileURL
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw StoreError.damaged(name: name, problems: ["\(asset.main) is missing"])
        }
        return url
    }
}
