import BuiltinSkills
import Foundation
import Imaging
import ModelStore
import Skills
import Testing

/// The retrieve skill's image index: retrieval quality on a labelled folder built from the
/// model store's images (Fixtures/retrieval.json), incremental updates, the skill's parameter
/// checks, and the SQLite wrapper's errors. Needs scripts/setup.sh to have run (models/).
@Suite(.serialized) struct RetrievalTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let fixture = root.appendingPathComponent("Tests/BuiltinSkillsTests/Fixtures/retrieval.json")
    static let store = try! ProcessInfo.processInfo.environment["LLAVA_PLUS_MODELS"].map { try ModelStore(root: URL(fileURLWithPath: $0)) }
        ?? ModelStore(root: root.appendingPathComponent("models"))
    static let images = try! ImageEmbedder(store: store)
    static let text = try! RetrieveSkill.sentenceEncoder(store)

    /// A new empty folder under the temporary directory.
    static func temporaryFolder() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("retrieval-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    /// Copies store images into `folder` under the given names. Copies, not links: the
    /// incremental test changes mtimes, which through a link would touch the model store.
    static func fill(_ folder: URL, with files: [String: String]) throws {
        for (name, source) in files {
            let target = folder.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: store.root.appendingPathComponent(source), to: target)
        }
    }

    static func recall(_ hits: [SearchHit], _ relevant: [String]) -> Double {
        Double(Set(hits.map(\.path)).intersection(relevant).count) / Double(relevant.count)
    }

    /// Three views of an image that a user might search with: a centre crop of 70%, a mirror
    /// image, and a half-size copy.
    static func views(of image: RGBImage) throws -> [(String, RGBImage)] {
        let w = image.width * 7 / 10, h = image.height * 7 / 10
        let crop = try image.cropped(x: (image.width - w) / 2, y: (image.height - h) / 2, width: w, height: h)
        var mirrored = [UInt8](repeating: 0, count: image.width * image.height * 3)
        let pixels = image.pixels
        for y in 0..<image.height {
            for x in 0..<image.width {
                let from = (y * image.width + x) * 3, to = (y * image.width + image.width - 1 - x) * 3
                for c in 0..<3 { mirrored[to + c] = pixels[from + c] }
            }
        }
        let flip = RGBImage(width: image.width, height: image.height, pixels: mirrored)
        let half = image.resized(width: max(image.width / 2, 1), height: max(image.height / 2, 1), filter: .bilinear)
        return [("crop", crop), ("flip", flip), ("half", half)]
    }

    @Test func recallAtFive() throws {
        let fixture = try JSONValue(parsing: Data(contentsOf: Self.fixture))
        let files = try #require(fixture["images"]?.objectValue).compactMapValues(\.stringValue)
        #expect(files.count >= 30)
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try Self.fill(folder, with: files)

        // setup.sh installs tesseract; without it the queries about text in images cannot pass.
        let ocr = TesseractOCR(store: Self.store)
        if ocr == nil { print("retrieval: tesseract not found: queries about text in images are left out") }
        let index = try ImageIndex(folder: folder, images: Self.images, text: Self.text, ocr: ocr)
        let summary = try index.update(ocr: true)
        #expect(summary.added == files.count && summary.skipped.isEmpty, "\(summary.skipped)")
        print(String(format: "retrieval: indexed %d images in %.2f s, %.0f ms per image (EfficientNet-Lite0 + tesseract%@)",
                     summary.added, summary.seconds, summary.embeddingSeconds * 1000 / Double(summary.added),
                     Self.text == nil ? "" : " + MiniLM"))
        for path in files.keys.sorted() {
            let entry = try #require(try index.entry(path))
            print("  \(path): \(entry.tags.map { String(format: "%@ %.2f", $0.name, $0.probability) }.joined(separator: ", ")) | "
                  + "\(entry.colours.joined(separator: " ")) | \(entry.ocrText?.prefix(50) ?? "")")
        }

        let queries = try #require(fixture["text_queries"]?.arrayValue).filter {
            ocr != nil || !["ocr", "text"].contains($0["group"]?.stringValue ?? "")
        }
        var textRecall = 0.0
        // Recall@5 and mean reciprocal rank for several tag boosts: the evidence for
        // ImageIndex.defaultTagBoost.
        for boost: Float in [0, 0.1, 0.2, 0.3, 0.5] {
            var recalls: [String: [Double]] = [:], reciprocalRanks: [Double] = []
            for item in queries {
                let query = try #require(item["query"]?.stringValue)
                let group = item["group"]?.stringValue ?? "other"
                let relevant = try #require(item["relevant"]?.arrayValue).compactMap(\.stringValue)
                let ranking = try index.search(text: query, k: files.count, tagBoost: boost)
                let hits = Array(ranking.prefix(5))
                recalls[group, default: []].append(Self.recall(hits, relevant))
                reciprocalRanks.append(1 / Double((ranking.firstIndex { relevant.contains($0.path) } ?? ranking.count) + 1))
                if boost == ImageIndex.defaultTagBoost {
                    print(String(format: "  text %@: recall@5 %.2f: %@", query, Self.recall(hits, relevant),
                                 hits.map { String(format: "%@ %.2f", $0.path, $0.score) }.joined(separator: ", ")))
                }
            }
            let all = recalls.values.flatMap { $0 }
            let mean = all.reduce(0, +) / Double(all.count)
            let groups = recalls.keys.sorted().map { String(format: "%@ %.3f", $0, recalls[$0]!.reduce(0, +) / Double(recalls[$0]!.count)) }
            print(String(format: "retrieval: text recall@5 %.3f (%@), MRR %.3f, tag boost %.1f, %d queries", mean,
                         groups.joined(separator: ", "), reciprocalRanks.reduce(0, +) / Double(reciprocalRanks.count), boost, all.count))
            if boost == ImageIndex.defaultTagBoost { textRecall = mean }
        }

        var imageRecall = 0.0, imageTop1 = 0.0, imageQueries = 0
        for source in try #require(fixture["image_queries"]?.arrayValue).compactMap(\.stringValue) {
            let original = try RGBImage(contentsOf: folder.appendingPathComponent(source))
            for (name, view) in try Self.views(of: original) {
                let hits = try index.search(image: view, k: 5)
                imageRecall += Self.recall(hits, [source])
                imageTop1 += hits.first?.path == source ? 1 : 0
                imageQueries += 1
                if hits.first?.path != source {
                    print("  image \(name) of \(source): \(hits.map { String(format: "%@ %.2f", $0.path, $0.score) }.joined(separator: ", "))")
                }
            }
        }
        imageRecall /= Double(imageQueries)
        imageTop1 /= Double(imageQueries)
        print(String(format: "retrieval: image recall@5 %.3f, top-1 %.3f (%d queries: crop, flip, half size)",
                     imageRecall, imageTop1, imageQueries))

        let floors = try #require(fixture["floors"])
        #expect(textRecall >= floors["text_recall_at_5"]?.numberValue ?? 1)
        #expect(imageRecall >= floors["image_recall_at_5"]?.numberValue ?? 1)
    }

    @Test func incrementalUpdates() throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try Self.fill(folder, with: [
            "chelsea.png": "skimage-data/chelsea.png", "coffee.png": "skimage-data/coffee.png",
            "horse.png": "skimage-data/horse.png", "sub/rocket.jpg": "skimage-data/rocket.jpg",
            "sub/red_circle.png": "easy-vqa/test/images/4.png",
        ])
        // Not images, or hidden: never indexed.
        try Data("notes".utf8).write(to: folder.appendingPathComponent("notes.txt"))
        try FileManager.default.createDirectory(at: folder.appendingPathComponent(".thumbnails"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Self.store.root.appendingPathComponent("skimage-data/moon.png"),
                                         to: folder.appendingPathComponent(".thumbnails/moon.png"))
        func index() throws -> ImageIndex { try ImageIndex(folder: folder, images: Self.images, text: Self.text) }

        var summary = try index().update()
        #expect(summary.added == 5 && summary.total == 5 && summary.skipped.isEmpty)
        print(String(format: "retrieval: %.0f ms per image without OCR (%d images, decode + EfficientNet-Lite0%@)",
                     summary.embeddingSeconds * 1000 / 5, summary.added, Self.text == nil ? "" : " + MiniLM"))
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent(ImageIndex.defaultFileName).path))

        summary = try index().update()
        #expect(summary.added == 0 && summary.updated == 0 && summary.removed == 0 && summary.unchanged == 5)

        let touched = folder.appendingPathComponent("coffee.png")
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(60)], ofItemAtPath: touched.path)
        summary = try index().update()
        #expect(summary.updated == 1 && summary.added == 0 && summary.unchanged == 4)

        try FileManager.default.removeItem(at: folder.appendingPathComponent("horse.png"))
        summary = try index().update()
        #expect(summary.removed == 1 && summary.total == 4)

        // A corrupt file and a file truncated mid-way: recorded with the reason, everything
        // else kept and searchable.
        try Data("this is not a PNG".utf8).write(to: folder.appendingPathComponent("broken.png"))
        let rocket = try Data(contentsOf: folder.appendingPathComponent("sub/rocket.jpg"))
        try rocket.prefix(rocket.count / 3).write(to: folder.appendingPathComponent("sub/rocket.jpg"))
        let reopened = try index()
        summary = try reopened.update()
        #expect(summary.skipped.map(\.path).sorted() == ["broken.png", "sub/rocket.jpg"], "\(summary.skipped)")
        #expect(summary.skipped.allSatisfy { !$0.reason.isEmpty && !$0.reason.contains(folder.path) })
        #expect(summary.total == 3)
        print("retrieval: skipped \(summary.skipped.map { "\($0.path): \($0.reason)" }.joined(separator: "; "))")
        let hit = try #require(try reopened.search(image: RGBImage(contentsOf: Self.store.root.appendingPathComponent("skimage-data/chelsea.png")), k: 1).first)
        #expect(hit.path == "chelsea.png" && hit.score > 0.99)

        // Unchanged bad files are not retried; a rebuild embeds everything again.
        summary = try index().update()
        #expect(summary.stillSkipped == 2 && summary.skipped.isEmpty && summary.unchanged == 3)
        summary = try index().update(rebuild: true)
        #expect(summary.updated == 3 && summary.skipped.count == 2 && summary.total == 3)

        // OCR asked for without tesseract: a note, and the images are still indexed.
        let noTesseract = TesseractOCR(store: Self.store, environment: ["PATH": "/nonexistent"])
        #expect(noTesseract == nil)
        summary = try ImageIndex(folder: folder, images: Self.images, text: Self.text, ocr: noTesseract).update(ocr: true)
        #expect(summary.notes.contains { $0.contains("tesseract is not installed") } && summary.total == 3)
    }

    @Test func retrieveSkillChecksItsInput() throws {
        let cache = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: cache) }
        let skill = try RetrieveSkill(store: Self.store, cacheDirectory: cache)
        let chelsea = Self.store.root.appendingPathComponent("skimage-data/chelsea.png").path

        // The default folder is the store's skimage-data; its index goes to the cache, not the
        // store (an extra file there would fail `models verify`).
        let result = try skill(["query": "a cat", "k": 3])
        let paths = try #require(result["paths"]?.arrayValue).compactMap(\.stringValue)
        let scores = try #require(result["scores"]?.arrayValue).compactMap(\.numberValue)
        #expect(paths.count == 3 && scores.count == 3 && paths.first == chelsea, "\(result)")
        #expect(scores.allSatisfy { ($0 * 100).rounded() == $0 * 100 })
        #expect(!FileManager.default.fileExists(atPath: Self.store.folder(of: "skimage-data").appendingPathComponent(ImageIndex.defaultFileName).path))
        let byImage = try skill(["image": .string(chelsea), "folder": .string(Self.store.folder(of: "skimage-data").path)])
        #expect(byImage["paths"]?.arrayValue?.first?.stringValue == chelsea)
        #expect(byImage["paths"]?.arrayValue?.count == 5)
        let both = try skill(["query": "a cat", "image": .string(chelsea), "k": 1])
        #expect(both["paths"]?.arrayValue == [.string(chelsea)])

        // A damaged index file: the skill answers from a fresh one instead of failing.
        let photos = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: photos) }
        try Self.fill(photos, with: ["cat.png": "skimage-data/chelsea.png", "horse.png": "skimage-data/horse.png"])
        try Data(repeating: 0x41, count: 4096).write(to: photos.appendingPathComponent(ImageIndex.defaultFileName))
        let fallback = ImageIndex.defaultFile(
            for: photos, storeRoot: nil,
            cacheDirectory: FileManager.default.temporaryDirectory.appendingPathComponent("llava-plus-indexes"), forceCache: true)
        defer { try? FileManager.default.removeItem(at: fallback) }
        let recovered = try skill(["query": "a cat", "folder": .string(photos.path), "k": 1])
        #expect(FileManager.default.fileExists(atPath: fallback.path))
        #expect(recovered["paths"]?.arrayValue == [.string(photos.appendingPathComponent("cat.png").path)])

        // A folder nobody indexed: the skill writes nothing into it (its index goes to the
        // cache), and a folder too large to walk in one call is refused, not walked for minutes.
        let fresh = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: fresh) }
        try Self.fill(fresh, with: ["cat.png": "skimage-data/chelsea.png"])
        _ = try skill(["query": "a cat", "folder": .string(fresh.path), "k": 1])
        #expect(try FileManager.default.contentsOfDirectory(atPath: fresh.path) == ["cat.png"])
        do {
            _ = try skill(["query": "a cat", "folder": "/"])
            Issue.record("the whole file system was walked")
        } catch let error as SkillInputError {
            #expect(error.message.contains("holds more than \(RetrieveSkill.scanLimit)"), "\(error)")
        }

        let notImage = cache.appendingPathComponent("notes.png")
        try Data("hello".utf8).write(to: notImage)
        let bad: [(String, [String: JSONValue])] = [
            ("neither", [:]),
            ("empty query", ["query": ""]),
            ("k too large", ["query": "a cat", "k": 51]),
            ("k not whole", ["query": "a cat", "k": 2.5]),
            ("missing folder", ["query": "a cat", "folder": "/nonexistent/photos"]),
            ("folder not a string", ["query": "a cat", "folder": 3]),
            ("not an image", ["image": .string(notImage.path)]),
            ("no such image", ["image": "/nonexistent.png"]),
        ]
        for (name, params) in bad {
            #expect(throws: SkillInputError.self, "\(name)") { try skill(params) }
        }
        do {
            _ = try skill(["query": "a cat", "folder": "/nonexistent/photos"])
        } catch let error as SkillInputError {
            #expect(error.message.contains("/nonexistent/photos"))
        }
    }

    @Test func sqliteErrorsNameTheFile() throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent(ImageIndex.defaultFileName)
        try Data(repeating: 0x41, count: 4096).write(to: file)
        do {
            _ = try ImageIndex(folder: folder, images: Self.images, text: nil)
            Issue.record("opened a file that is not a database")
        } catch let error as SQLiteError {
            #expect(error.description.contains(file.path) && error.message.contains("not a database"), "\(error)")
        }

        let database = try SQLiteDatabase(url: folder.appendingPathComponent("t.sqlite"))
        try database.execute("CREATE TABLE t (a INTEGER PRIMARY KEY, b BLOB, c TEXT)")
        let insert = try database.prepare("INSERT INTO t (a, b, c) VALUES (?, ?, ?)")
        try database.transaction { try insert.run(.integer(1), .blob(Data([1, 2, 3])), .text("x")) }
        #expect(throws: SQLiteError.self) { try database.transaction { try insert.run(.integer(1), .null, .null) } }
        // The failed transaction rolled back as a whole.
        let rows = try database.prepare("SELECT a, b, c FROM t")
        #expect(try rows.step() && rows.int(0) == 1 && rows.blob(1) == Data([1, 2, 3]) && rows.text(2) == "x")
        #expect(try !rows.step())
        #expect(throws: SQLiteError.self) { try database.prepare("SELECT nope FROM t") }
    }
}
