import Foundation
import Imaging
import ModelStore
import Skills

/// The `retrieve` skill (aliases `clip`, `retrieval`): the images of a folder that best match
/// a text query, an example image, or both, from the folder's `ImageIndex` (brought up to date
/// on every call, which costs one `stat` per unchanged file).
///
/// Parameters: `query` (string), `image` (a path; the runner resolves artifacts to paths),
/// `folder` (default: the manifest's example folder), `k` (1-50, default 5). At least one of
/// `query` and `image`. Result: `{"paths": [...], "scores": [...]}`, best first; each path is
/// the folder as given joined with the image's path inside it, scores to 2 decimals (cosine
/// similarity; a text query's score includes the tag boost, see `ImageIndex.search(text:)`;
/// with both, the mean of the two).
public struct RetrieveSkill: WorkerSkill, Sendable {
    /// The folder searched when a call names none: the model store's `skimage-data` photos,
    /// where the manifest's examples come from.
    public let defaultFolder: URL
    private let images: ImageEmbedder
    private let text: (any TextEmbedder)?
    private let ocr: TesseractOCR?
    private let storeRoot: URL
    private let cacheDirectory: URL?
    private let indexes = IndexCache()

    /// Loads EfficientNet-Lite0, the ImageNet class names and the sentence encoder
    /// (`all-minilm-l6-v2`) from the store.
    /// - Parameters:
    ///   - defaultFolder: the folder for calls without one; default `<store>/skimage-data`.
    ///   - text: the text encoder; default the store's MiniLM (`RetrieveSkill.sentenceEncoder`).
    ///   - cacheDirectory: where indexes of folders that must not be written go (see
    ///     `ImageIndex.defaultFile(for:storeRoot:cacheDirectory:)`).
    public init(store: ModelStore, defaultFolder: URL? = nil, text: (any TextEmbedder)? = nil,
                cacheDirectory: URL? = nil) throws {
        images = try ImageEmbedder(store: store)
        self.text = try text ?? Self.sentenceEncoder(store)
        ocr = TesseractOCR(store: store)
        storeRoot = store.root
        self.defaultFolder = defaultFolder ?? store.folder(of: "skimage-data")
        self.cacheDirectory = cacheDirectory
    }

    /// Answers one call; `SkillInputError` for input it refuses (no folder, neither query nor
    /// image, an image that does not decode, `k` out of range).
    public func callAsFunction(_ values: [String: JSONValue]) throws -> JSONValue {
        let params = Parameters(values)
        let k = try params.integer("k", in: 1...50, default: 5)
        let query = values["query"] == nil ? nil : try params.text("query")
        let image = values["image"] == nil ? nil : try params.image("image")
        guard query != nil || image != nil else {
            throw SkillInputError("expected a text \"query\", an \"image\", or both")
        }
        let given: String
        if let value = values["folder"] {
            guard let folder = value.stringValue, !folder.isEmpty else {
                throw SkillInputError("folder: expected a folder path, got \(value.compactJSON)")
            }
            given = folder
        } else {
            given = defaultFolder.path
        }
        let folder = URL(fileURLWithPath: (given as NSString).expandingTildeInPath)

        let hits: [SearchHit]
        do {
            hits = try search(folder, query: query, image: image, k: k)
        } catch RetrievalError.tooLarge(let path, let limit) {
            throw SkillInputError("folder: \(path) holds more than \(limit) files and folders; name a smaller folder, "
                                  + "or index this one first with `llava-plus index \(path)`")
        }
        return .object([
            "paths": .array(hits.map { .string((given as NSString).appendingPathComponent($0.path)) }),
            "scores": .array(hits.map { rounded2($0.score) }),
        ])
    }

    private func search(_ folder: URL, query: String?, image: RGBImage?, k: Int) throws -> [SearchHit] {
        try indexes.with(folder: folder, open: { try open(folder) }) { index in
            // A first call on a large folder indexes it all: say how far it is (the worker's
            // stderr goes to the runner's log). `llava-plus index DIR` does this ahead of time.
            var summary = try index.update(progressEvery: 100) { progress in
                FileHandle.standardError.write(Data("retrieve: \(folder.path): \(progress.line)\n".utf8))
            }
            if !summary.skipped.isEmpty || summary.added + summary.updated > 0 {
                summary.notes.append("indexed \(summary.added + summary.updated) images of \(folder.path)")
                FileHandle.standardError.write(Data(summary.notes.joined(separator: "; ").appending("\n").utf8))
            }
            switch (query, image) {
            case let (query?, nil): return try index.search(text: query, k: k)
            case let (nil, image?): return try index.search(image: image, k: k)
            case let (query?, image?):
                // Both: the mean of the two scores over every image, so neither query can win alone.
                let all = try index.count()
                var scores: [String: Float] = [:]
                for hit in try index.search(text: query, k: all) { scores[hit.path, default: 0] += hit.score / 2 }
                for hit in try index.search(image: image, k: all) { scores[hit.path, default: 0] += hit.score / 2 }
                return scores.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(k)
                    .map { SearchHit(path: $0.key, score: $0.value) }
            case (nil, nil): return []
            }
        }
    }

    /// The worker's entry point; the retrieve skill writes no files.
    public func callAsFunction(_ params: [String: JSONValue], outputDirectory: URL) throws -> JSONValue {
        try self(params)
    }

    /// Files and folders one call may walk in a folder nobody indexed with `llava-plus index`:
    /// the folder comes from the model, which may name `/` or a home directory.
    public static let scanLimit = 50_000

    private func open(_ folder: URL) throws -> ImageIndex {
        func open(_ file: URL) throws -> ImageIndex {
            let index = try ImageIndex(folder: folder, file: file, images: images, text: text, ocr: ocr)
            if forceCache { index.scanLimit = Self.scanLimit }
            return index
        }
        // The skill writes nothing into a folder the model named: it uses the folder's own index
        // when `llava-plus index` made one, and an index in the cache otherwise.
        let own = folder.appendingPathComponent(ImageIndex.defaultFileName)
        let forceCache = !FileManager.default.fileExists(atPath: own.path)
        do {
            return try open(ImageIndex.defaultFile(for: folder, storeRoot: storeRoot, cacheDirectory: cacheDirectory,
                                                   forceCache: forceCache))
        } catch RetrievalError.folderNotFound(let path) {
            throw SkillInputError("folder: \(path) is not a folder")
        } catch let error as SQLiteError {
            // An index file that cannot be opened (a read-only home in a sandbox, a damaged
            // file): answer from a fresh index under the temporary directory rather than fail.
            FileHandle.standardError.write(Data("retrieve: \(error); indexing into the temporary directory\n".utf8))
            let temporary = FileManager.default.temporaryDirectory.appendingPathComponent("llava-plus-indexes")
            return try open(ImageIndex.defaultFile(for: folder, storeRoot: storeRoot, cacheDirectory: temporary,
                                                   forceCache: true))
        }
    }
}

/// Open indexes by folder, each used by one call at a time (an `ImageIndex` and its SQLite
/// connection are not thread-safe; the worker may serve calls concurrently).
private final class IndexCache: @unchecked Sendable {
    private let lock = NSLock()
    private var indexes: [String: ImageIndex] = [:]

    func with<T>(folder: URL, open: () throws -> ImageIndex, _ body: (ImageIndex) throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        let key = folder.standardizedFileURL.path
        let index = try indexes[key] ?? open()
        indexes[key] = index
        return try body(index)
    }
}

extension ImageIndex {
    /// Where the index of `folder` lives: `<folder>/.llava-plus-index.sqlite`, unless the folder
    /// is inside the model store (an extra file there would make `models verify` report the
    /// asset as damaged) or cannot be written; then a file named after the folder under
    /// `cacheDirectory` (default `$XDG_CACHE_HOME/llava-plus/indexes`, or `~/.cache/...`).
    /// - Parameter forceCache: use the cache even for a writable folder.
    public static func defaultFile(for folder: URL, storeRoot: URL?, cacheDirectory: URL? = nil, forceCache: Bool = false,
                                   environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        let folder = folder.standardizedFileURL.resolvingSymlinksInPath()
        let inStore = storeRoot.map { folder.path.hasPrefix($0.standardizedFileURL.resolvingSymlinksInPath().path + "/") } ?? false
        if !inStore && !forceCache && FileManager.default.isWritableFile(atPath: folder.path) {
            return folder.appendingPathComponent(defaultFileName)
        }
        let cache = cacheDirectory ?? userCacheDirectory(environment: environment).appendingPathComponent("indexes")
        try? FileManager.default.createDirectory(at: cache, withIntermediateDirectories: true)
        // FNV-1a of the full path keeps two folders with the same name apart.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in folder.path.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return cache.appendingPathComponent("\(folder.lastPathComponent)-\(String(hash, radix: 16)).sqlite")
    }
}
