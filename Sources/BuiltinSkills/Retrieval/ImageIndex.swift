// The retrieve skill's index of one image folder, kept in one SQLite file. Per image: its path
// relative to the folder, size and mtime (so updates are incremental), an EfficientNet-Lite0
// embedding, its top ImageNet tags, optional OCR text, and a MiniLM embedding of "tags + text".
// Search is brute-force cosine over embeddings held in memory: exact, and a few milliseconds
// for tens of thousands of images, which is the size of a personal folder.

import Foundation
import Imaging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why the index or the retrieve skill refused a request.
public enum RetrievalError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The folder to index does not exist or is not a folder.
    case folderNotFound(String)
    /// A parameter or input file that cannot be used; the message says which and why.
    case invalidInput(String)
    /// The folder holds more entries than the caller allows to walk (see `ImageIndex.scanLimit`).
    case tooLarge(String, limit: Int)

    public var description: String {
        switch self {
        case .folderNotFound(let path): "\(path): no such folder"
        case .invalidInput(let message): message
        case .tooLarge(let path, let limit): "\(path) holds more than \(limit) files and folders"
        }
    }
}

/// One search result: the image's path relative to the indexed folder and its score (cosine
/// similarity; for text queries plus the tag boost).
public struct SearchHit: Sendable, Equatable {
    public let path: String
    public let score: Float
}

/// A file the indexer could not use, and why (usually the decoder's message).
public struct SkippedFile: Sendable, Equatable {
    public let path: String
    public let reason: String
}

/// What one `update` did.
public struct IndexSummary: Sendable {
    /// New images embedded.
    public var added = 0
    /// Changed images (size or mtime) embedded again.
    public var updated = 0
    /// Entries whose file is gone.
    public var removed = 0
    /// Images left as they were.
    public var unchanged = 0
    /// Unchanged images whose text side was filled in (OCR asked for the first time, or a text
    /// encoder that was missing before).
    public var textRefreshed = 0
    /// Files that failed this time (new or changed), with the reason.
    public var skipped: [SkippedFile] = []
    /// Files that failed in an earlier update and have not changed since.
    public var stillSkipped = 0
    /// Images searchable after the update.
    public var total = 0
    /// Wall-clock seconds.
    public var seconds = 0.0
    /// Seconds spent embedding new and changed images (decode, network, OCR, text).
    public var embeddingSeconds = 0.0
    /// Things the user should know (OCR unavailable, index format changed, ...).
    public var notes: [String] = []
}

/// Progress of an update, reported every few images.
public struct IndexProgress: Sendable {
    public let done: Int
    public let total: Int
    public let elapsed: Double

    /// Images per second so far.
    public var rate: Double { elapsed > 0 ? Double(done) / elapsed : 0 }

    /// One line for a terminal: "indexed 50/400 images, 21.4 images/s, ETA 16 s".
    public var line: String {
        let eta = rate > 0 ? Double(total - done) / rate : 0
        return String(format: "indexed %d/%d images, %.1f images/s, ETA %.0f s", done, total, rate, eta)
    }
}

/// An index of the images under one folder, stored in one SQLite file.
public final class ImageIndex {
    /// Version of the file's schema; a file with another version is rebuilt (the index holds
    /// only what can be recomputed from the folder).
    public static let schemaVersion = 2
    /// The index file's name inside the folder (hidden, so the indexer never indexes it).
    public static let defaultFileName = ".llava-plus-index.sqlite"
    /// Extensions of the files the indexer reads (lowercased): what `RGBImage` decodes.
    public static let imageExtensions: Set<String> = ["png", "jpg", "jpeg", "bmp", "gif", "ppm", "pgm", "pnm", "tga"]
    /// Version of `describe(tags:colours:ocrText:)`: part of the stored text-model identifier,
    /// so changing what is embedded re-embeds the texts (not the images).
    static let descriptionVersion = "text-v2"
    /// Images embedded per transaction: an interrupted update keeps all finished batches.
    static let batchSize = 16

    /// The indexed folder.
    public let folder: URL
    /// The SQLite file.
    public let file: URL
    private let database: SQLiteDatabase
    private let images: ImageEmbedder
    private let text: (any TextEmbedder)?
    private let ocr: TesseractOCR?
    private var loaded: LoadedVectors?
    /// Notes from opening (format changes) for the next summary.
    private var openingNotes: [String] = []

    /// Opens (creating if needed) the index of `folder`.
    /// - Parameters:
    ///   - file: the SQLite file; default `<folder>/.llava-plus-index.sqlite`.
    ///   - text: the text encoder; nil indexes and searches by image embeddings and tags only.
    ///   - textIdentifier: names the text encoder; a different one re-embeds the texts.
    ///   - ocr: tesseract, used when an update asks for OCR.
    public init(folder: URL, file: URL? = nil, images: ImageEmbedder, text: (any TextEmbedder)?,
                textIdentifier: String = "all-minilm-l6-v2", ocr: TesseractOCR? = nil) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw RetrievalError.folderNotFound(folder.path)
        }
        self.folder = folder.standardizedFileURL
        self.file = file ?? folder.appendingPathComponent(Self.defaultFileName)
        self.images = images
        self.text = text
        self.ocr = ocr
        database = try SQLiteDatabase(url: self.file)
        try prepareSchema(textIdentifier: text.map { "\(textIdentifier)/\($0.dimension)/\(Self.descriptionVersion)" })
    }

    // MARK: Schema

    private func prepareSchema(textIdentifier: String?) throws {
        try database.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        let version = try meta("schema_version")
        if let version, version != String(Self.schemaVersion) {
            try database.execute("DROP TABLE IF EXISTS images; DELETE FROM meta")
            openingNotes.append("index format v\(version) is not v\(Self.schemaVersion): rebuilt from the folder")
        }
        try database.execute("""
            CREATE TABLE IF NOT EXISTS images (
                path TEXT PRIMARY KEY,      -- relative to the folder, '/'-separated
                size INTEGER NOT NULL,      -- bytes
                mtime REAL NOT NULL,        -- seconds since 1970, nanosecond precision
                width INTEGER, height INTEGER,
                image_embedding BLOB,       -- float32, L2-normalised; NULL if skipped
                tags TEXT,                  -- JSON [{"name", "probability"}], most probable first
                colours TEXT,               -- JSON ["red", ...], most covering first
                ocr_text TEXT,              -- NULL if OCR was not run
                text_embedding BLOB,        -- float32, L2-normalised; NULL without a text encoder
                skipped_reason TEXT         -- not NULL: the file could not be indexed, and why
            )
            """)
        try setMeta("schema_version", String(Self.schemaVersion))
        if let model = try meta("image_model"), model != ImageEmbedder.identifier {
            try database.execute("DELETE FROM images")
            openingNotes.append("image model changed (\(model) -> \(ImageEmbedder.identifier)): re-embedding everything")
        }
        try setMeta("image_model", ImageEmbedder.identifier)
        if let textIdentifier {
            if let model = try meta("text_model"), model != textIdentifier {
                try database.execute("UPDATE images SET text_embedding = NULL")
                openingNotes.append("text model changed (\(model) -> \(textIdentifier)): re-embedding texts")
            }
            try setMeta("text_model", textIdentifier)
        }
    }

    private func meta(_ key: String) throws -> String? {
        let statement = try database.prepare("SELECT value FROM meta WHERE key = ?")
        try statement.bind(.text(key))
        return try statement.step() ? statement.text(0) : nil
    }

    private func setMeta(_ key: String, _ value: String) throws {
        try database.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)").run(.text(key), .text(value))
    }

    /// Whether the index runs OCR on new images (set by the last update that asked for it).
    public var usesOCR: Bool { (try? meta("ocr")) == "1" }

    // MARK: Updating

    /// A file on disk.
    private struct FileState {
        let path: String
        let size: Int64
        let mtime: Double
    }

    /// A stored row, as far as updating needs it.
    private struct StoredState {
        let size: Int64
        let mtime: Double
        let skipped: Bool
        let hasText: Bool
        let ocrText: String?
        let tags: [ImageTag]
        let colours: [String]
    }

    /// At most this many files and folders are walked per update (nil: no limit). The skill
    /// sets one: its folder comes from a model, which may name `/`.
    public var scanLimit: Int?

    /// The image files under the folder (hidden files and folders excluded), sorted.
    private func scanFolder() throws -> [FileState] {
        guard let walker = FileManager.default.enumerator(atPath: folder.path) else { return [] }
        var files: [FileState] = []
        var visited = 0
        while let path = walker.nextObject() as? String {
            visited += 1
            if let scanLimit, visited > scanLimit { throw RetrievalError.tooLarge(folder.path, limit: scanLimit) }
            let name = (path as NSString).lastPathComponent
            if name.hasPrefix(".") {
                walker.skipDescendants()
                continue
            }
            guard Self.imageExtensions.contains((name as NSString).pathExtension.lowercased()) else { continue }
            // stat follows symbolic links: a linked image is indexed as the file it points to.
            var info = stat()
            guard stat(folder.appendingPathComponent(path).path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
            #if canImport(Darwin)
            let mtime = Double(info.st_mtimespec.tv_sec) + Double(info.st_mtimespec.tv_nsec) / 1e9
            #else
            let mtime = Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9
            #endif
            files.append(FileState(path: path, size: Int64(info.st_size), mtime: mtime))
        }
        return files.sorted { $0.path < $1.path }
    }

    private func storedStates() throws -> [String: StoredState] {
        let statement = try database.prepare("""
            SELECT path, size, mtime, skipped_reason IS NOT NULL, text_embedding IS NOT NULL, ocr_text, tags, colours
            FROM images
            """)
        var states: [String: StoredState] = [:]
        while try statement.step() {
            let tags = statement.text(6).flatMap { try? JSONDecoder().decode([ImageTag].self, from: Data($0.utf8)) } ?? []
            states[statement.text(0) ?? ""] = StoredState(
                size: statement.int(1), mtime: statement.double(2), skipped: statement.int(3) != 0,
                hasText: statement.int(4) != 0, ocrText: statement.text(5), tags: tags,
                colours: statement.text(7).flatMap { try? JSONDecoder().decode([String].self, from: Data($0.utf8)) } ?? [])
        }
        return states
    }

    /// Brings the index up to date with the folder: embeds new and changed images, removes
    /// entries whose file is gone, and skips unchanged ones. A file that cannot be decoded is
    /// recorded with the reason (and not retried until it changes); it never stops the update
    /// or costs what is already stored. Batches are committed as they finish, so an
    /// interrupted update keeps its work.
    /// - Parameters:
    ///   - ocr: run OCR on images (and remember to do so in later updates).
    ///   - rebuild: embed every image again (rows are replaced one by one, never dropped first).
    ///   - progressEvery: images between progress reports.
    public func update(ocr requestOCR: Bool = false, rebuild: Bool = false, progressEvery: Int = 25,
                       progress: ((IndexProgress) -> Void)? = nil) throws -> IndexSummary {
        let start = ContinuousClock.now
        var summary = IndexSummary()
        summary.notes = openingNotes
        openingNotes = []
        if rebuild { try setMeta("ocr", requestOCR ? "1" : "0") } else if requestOCR { try setMeta("ocr", "1") }
        var runOCR = usesOCR
        if runOCR && ocr == nil {
            summary.notes.append("tesseract is not installed: OCR skipped (apt-get install tesseract-ocr)")
            runOCR = false
        }

        let files = try scanFolder()
        let stored = try storedStates()
        let present = Set(files.map(\.path))

        enum Work { case embed(FileState, isNew: Bool), refreshText(FileState, StoredState) }
        var work: [Work] = []
        for file in files {
            guard let old = stored[file.path] else { work.append(.embed(file, isNew: true)); continue }
            if rebuild || old.size != file.size || old.mtime != file.mtime {
                work.append(.embed(file, isNew: false))
            } else if old.skipped {
                summary.stillSkipped += 1
            } else if (text != nil && !old.hasText) || (runOCR && old.ocrText == nil) {
                work.append(.refreshText(file, old))
            } else {
                summary.unchanged += 1
            }
        }

        let removed = stored.keys.filter { !present.contains($0) }.sorted()
        if !removed.isEmpty {
            let delete = try database.prepare("DELETE FROM images WHERE path = ?")
            try database.transaction { for path in removed { try delete.run(.text(path)) } }
            summary.removed = removed.count
        }

        let insert = try database.prepare("""
            INSERT OR REPLACE INTO images
            (path, size, mtime, width, height, image_embedding, tags, colours, ocr_text, text_embedding, skipped_reason)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        let refresh = try database.prepare("UPDATE images SET ocr_text = ?, text_embedding = ? WHERE path = ?")
        let embeddingStart = ContinuousClock.now
        var done = 0
        for batchStart in stride(from: 0, to: work.count, by: Self.batchSize) {
            let batch = work[batchStart..<min(batchStart + Self.batchSize, work.count)]
            // Image side first (the slow part), then one text-encoder call for the batch.
            var rows: [Row] = []
            for item in batch {
                switch item {
                case let .embed(file, isNew):
                    var row = embedRow(file)
                    row.isNew = isNew
                    rows.append(row)
                case let .refreshText(file, old):
                    var row = Row(file: file, refreshOnly: true)
                    row.tags = old.tags
                    row.colours = old.colours
                    row.ocrText = old.ocrText
                    rows.append(row)
                }
            }
            if runOCR, let ocr { readText(in: &rows, with: ocr) }
            if let text {
                let indices = rows.indices.filter { rows[$0].skippedReason == nil }
                let vectors = text.embed(indices.map { Self.describe(tags: rows[$0].tags, colours: rows[$0].colours, ocrText: rows[$0].ocrText) })
                for (index, vector) in zip(indices, vectors) { rows[index].textEmbedding = vector }
            }
            try database.transaction {
                for row in rows {
                    let textBlob: SQLiteStatement.Value = row.textEmbedding.map { .blob(EmbeddingMath.blob($0)) } ?? .null
                    let ocrValue: SQLiteStatement.Value = row.ocrText.map { .text($0) } ?? .null
                    if row.refreshOnly {
                        try refresh.run(ocrValue, textBlob, .text(row.file.path))
                        summary.textRefreshed += 1
                        continue
                    }
                    let tags = String(decoding: try JSONEncoder().encode(row.tags), as: UTF8.self)
                    let colours = String(decoding: try JSONEncoder().encode(row.colours), as: UTF8.self)
                    try insert.run(
                        .text(row.file.path), .integer(row.file.size), .real(row.file.mtime),
                        row.width.map { .integer(Int64($0)) } ?? .null, row.height.map { .integer(Int64($0)) } ?? .null,
                        row.imageEmbedding.map { .blob(EmbeddingMath.blob($0)) } ?? .null,
                        row.skippedReason == nil ? .text(tags) : .null, row.skippedReason == nil ? .text(colours) : .null,
                        ocrValue, textBlob,
                        row.skippedReason.map { .text($0) } ?? .null)
                    if let reason = row.skippedReason {
                        summary.skipped.append(SkippedFile(path: row.file.path, reason: reason))
                    } else if row.isNew {
                        summary.added += 1
                    } else {
                        summary.updated += 1
                    }
                }
            }
            for _ in rows {
                done += 1
                if let progress, done % max(progressEvery, 1) == 0 || done == work.count {
                    progress(IndexProgress(done: done, total: work.count, elapsed: Self.seconds(since: embeddingStart)))
                }
            }
        }
        summary.embeddingSeconds = Self.seconds(since: embeddingStart)
        if !work.isEmpty || !removed.isEmpty { loaded = nil }
        summary.total = try count()
        summary.seconds = Self.seconds(since: start)
        return summary
    }

    /// One image's computed values, before they are written.
    private struct Row {
        let file: FileState
        var refreshOnly = false
        var isNew = false
        var width: Int?, height: Int?
        var imageEmbedding: [Float]?
        var tags: [ImageTag] = []
        var colours: [String] = []
        var ocrText: String?
        var textEmbedding: [Float]?
        var skippedReason: String?
    }

    private func embedRow(_ file: FileState) -> Row {
        var row = Row(file: file)
        let url = folder.appendingPathComponent(file.path)
        let image: RGBImage
        do {
            image = try RGBImage(contentsOf: url)
        } catch {
            // The decoder's message starts with the absolute path; the relative one is enough.
            row.skippedReason = "\(error)".replacingOccurrences(of: url.path + ": ", with: "")
            return row
        }
        let (embedding, tags) = images.describe(image)
        row.width = image.width
        row.height = image.height
        row.imageEmbedding = embedding
        row.tags = tags
        row.colours = ColourNames.dominant(in: image)
        return row
    }

    /// Runs OCR on the rows that have none yet, several tesseract processes at once (OCR is
    /// most of an update's time, and each run is a separate single-threaded process). ""
    /// records that OCR ran and found nothing, so it is not run again.
    private func readText(in rows: inout [Row], with ocr: TesseractOCR) {
        let pending = rows.indices.filter { rows[$0].skippedReason == nil && rows[$0].ocrText == nil }
        let urls = pending.map { folder.appendingPathComponent(rows[$0].file.path) }
        let results = OCRResults(count: urls.count)
        DispatchQueue.concurrentPerform(iterations: urls.count) { i in
            results.set(i, ocr.read(urls[i]) ?? "")
        }
        for (i, index) in pending.enumerated() { rows[index].ocrText = results.texts[i] }
    }

    /// The text embedded for an image: its likely ImageNet classes, its main colours, then any
    /// text read in it.
    /// Classes under 5% are left out: they are mostly noise ("CRT monitor" behind a cat) and
    /// would pull the sentence embedding away from what the image shows; the top class always
    /// stays. Text is introduced as text ("with the text: ...") so that a query about text in
    /// an image ("a page of text") finds it, and OCR output that is mostly not words (tesseract
    /// reading coins as "(@00080 ee0e@") is left out rather than described as text.
    public static func describe(tags: [ImageTag], colours: [String], ocrText: String?) -> String {
        let names = tags.enumerated().filter { $0.offset == 0 || $0.element.probability >= 0.05 }.map(\.element.name)
        var text = "a photo of " + names.joined(separator: ", ")
        if !colours.isEmpty { text += ", coloured " + colours.joined(separator: " and ") }
        if let ocrText, looksLikeText(ocrText) {
            text += ", a document with the text: " + String(ocrText.prefix(600))
        }
        return text
    }

    /// Whether OCR output reads as words: at least three tokens, at least half of them
    /// alphabetic words of three or more letters.
    static func looksLikeText(_ text: String) -> Bool {
        let tokens = text.split(whereSeparator: \.isWhitespace)
        let words = tokens.filter { $0.filter(\.isLetter).count >= 3 && $0.allSatisfy { $0.isLetter || $0.isPunctuation } }
        return words.count >= 3 && words.count * 2 >= tokens.count
    }

    /// Searchable images (skipped files not counted).
    public func count() throws -> Int {
        let statement = try database.prepare("SELECT COUNT(*) FROM images WHERE skipped_reason IS NULL")
        return try statement.step() ? Int(statement.int(0)) : 0
    }

    /// Files recorded as skipped, with their reasons.
    public func skippedFiles() throws -> [SkippedFile] {
        let statement = try database.prepare(
            "SELECT path, skipped_reason FROM images WHERE skipped_reason IS NOT NULL ORDER BY path")
        var files: [SkippedFile] = []
        while try statement.step() { files.append(SkippedFile(path: statement.text(0) ?? "", reason: statement.text(1) ?? "")) }
        return files
    }

    /// The stored tags, colour names and OCR text of an image (nil if it is not indexed).
    public func entry(_ path: String) throws -> (tags: [ImageTag], colours: [String], ocrText: String?)? {
        let statement = try database.prepare(
            "SELECT tags, colours, ocr_text FROM images WHERE path = ? AND skipped_reason IS NULL")
        try statement.bind(.text(path))
        guard try statement.step() else { return nil }
        let tags = statement.text(0).flatMap { try? JSONDecoder().decode([ImageTag].self, from: Data($0.utf8)) } ?? []
        let colours = statement.text(1).flatMap { try? JSONDecoder().decode([String].self, from: Data($0.utf8)) } ?? []
        return (tags, colours, statement.text(2))
    }

    private static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    // MARK: Search

    /// Every searchable image's vectors, row-major, loaded once per change of the index.
    private struct LoadedVectors {
        var paths: [String] = []
        var imageVectors: [Float] = []
        /// Zeros for an image without a text embedding (it then scores by tags alone).
        var textVectors: [Float] = []
        /// Singular, lowercased words of each image's tags, with the tag's probability.
        var tagWords: [[String: Float]] = []
    }

    private func vectors() throws -> LoadedVectors {
        if let loaded { return loaded }
        var result = LoadedVectors()
        let textDimension = text?.dimension ?? 0
        let statement = try database.prepare(
            "SELECT path, image_embedding, text_embedding, tags FROM images WHERE skipped_reason IS NULL ORDER BY path")
        while try statement.step() {
            guard let image = EmbeddingMath.vector(statement.blob(1), dimension: ImageEmbedder.dimension) else { continue }
            result.paths.append(statement.text(0) ?? "")
            result.imageVectors += image
            result.textVectors += EmbeddingMath.vector(statement.blob(2), dimension: textDimension)
                ?? [Float](repeating: 0, count: textDimension)
            let tags = statement.text(3).flatMap { try? JSONDecoder().decode([ImageTag].self, from: Data($0.utf8)) } ?? []
            var words: [String: Float] = [:]
            for tag in tags { for word in Self.words(tag.name) { words[word] = max(words[word] ?? 0, tag.probability) } }
            result.tagWords.append(words)
        }
        loaded = result
        return result
    }

    /// The `k` images most like `image` (cosine of EfficientNet embeddings).
    public func search(image: RGBImage, k: Int) throws -> [SearchHit] {
        let query = images.describe(image, tagCount: 0).embedding
        let loaded = try vectors()
        let dimension = ImageEmbedder.dimension
        let scores = loaded.imageVectors.withUnsafeBufferPointer { all in
            (0..<loaded.paths.count).map { i in
                EmbeddingMath.dot(query, UnsafeBufferPointer(rebasing: all[(i * dimension)..<((i + 1) * dimension)]))
            }
        }
        return Self.top(k, scores, loaded.paths)
    }

    /// The tag boost used with a text encoder: none. Measured on Fixtures/retrieval.json (22
    /// text queries over 38 images, RetrievalTests.recallAtFive), boosts of 0, 0.1, 0.2, 0.3
    /// and 0.5 all give text recall@5 0.682, and MRR 0.655 up to 0.2 against 0.654 above: MiniLM
    /// already matches the tag words it was given (queries phrased in ImageNet's own words,
    /// "espresso", "a tripod", "a moped", reach recall 1.0 without a boost), while a boost
    /// lifts false matches further ("a clock" on shapes tagged "digital clock" at 7-22%).
    public static let defaultTagBoost: Float = 0
    /// The boost without a text encoder, where exact tag words are the only signal.
    public static let tagOnlyBoost: Float = 1

    /// The `k` images that best match a text query: cosine similarity of the query's sentence
    /// embedding with each image's "tags + OCR text" embedding, plus `tagBoost` when a content
    /// word of the query is a word of one of the image's tags ("cat" in "tabby cat"), scaled
    /// by that tag's probability relative to 10% (so a 0.2% fifth guess barely counts).
    /// - Parameter tagBoost: default `defaultTagBoost` with a text encoder, `tagOnlyBoost`
    ///   without one.
    public func search(text query: String, k: Int, tagBoost: Float? = nil) throws -> [SearchHit] {
        let tagBoost = tagBoost ?? (text == nil ? Self.tagOnlyBoost : Self.defaultTagBoost)
        let loaded = try vectors()
        let queryWords = Set(Self.words(query)).subtracting(Self.stopWords)
        var scores = [Float](repeating: 0, count: loaded.paths.count)
        if let text, let queryVector = text.embed([query]).first, queryVector.count == text.dimension {
            let dimension = text.dimension
            loaded.textVectors.withUnsafeBufferPointer { all in
                for i in scores.indices {
                    scores[i] = EmbeddingMath.dot(queryVector, UnsafeBufferPointer(rebasing: all[(i * dimension)..<((i + 1) * dimension)]))
                }
            }
        }
        if tagBoost != 0 && !queryWords.isEmpty {
            for i in scores.indices {
                let best = queryWords.compactMap { loaded.tagWords[i][$0] }.max() ?? 0
                scores[i] += tagBoost * min(1, best / 0.1)
            }
        }
        return Self.top(k, scores, loaded.paths)
    }

    private static func top(_ k: Int, _ scores: [Float], _ paths: [String]) -> [SearchHit] {
        scores.indices.sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : paths[$0] < paths[$1] }
            .prefix(max(k, 0)).map { SearchHit(path: paths[$0], score: scores[$0]) }
    }

    /// Words that carry no subject in a query ("a photo of a cat" is about "cat").
    static let stopWords: Set<String> = [
        "a", "an", "the", "of", "on", "in", "at", "by", "with", "and", "or", "to", "for", "from", "some", "is", "are",
        "this", "that", "there", "me", "find", "show", "photo", "picture", "image", "pic", "one", "my",
    ]

    /// Lowercased words, plural "s" dropped ("cats" -> "cat", not "glass" -> "glas").
    static func words(_ text: String) -> [String] {
        text.lowercased().split { !$0.isLetter && !$0.isNumber }.map { word in
            word.count > 3 && word.hasSuffix("s") && !word.hasSuffix("ss") ? String(word.dropLast()) : String(word)
        }
    }
}

/// OCR results written by concurrent workers, one slot each.
private final class OCRResults: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var texts: [String]

    init(count: Int) { texts = Array(repeating: "", count: count) }

    func set(_ index: Int, _ text: String) {
        lock.lock()
        texts[index] = text
        lock.unlock()
    }
}
