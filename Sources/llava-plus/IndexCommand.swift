import ArgumentParser
import BuiltinSkills
import Foundation
import Imaging
import ModelStore

struct IndexCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Index a folder of images for the retrieve skill, or search it.",
        discussion: """
            Indexes every image under DIR (hidden files excepted) into DIR/.llava-plus-index.sqlite \
            (or a cache file for folders inside the model store or not writable): an \
            EfficientNet-Lite0 embedding, the top ImageNet tags, optional OCR text and a MiniLM \
            embedding of tags + text. Re-running only embeds new and changed files and drops \
            deleted ones. With --query or --query-image, the index is brought up to date and \
            the best matches are printed.
            """)

    @Argument(help: "The folder of images.")
    var folder: String

    @Flag(help: "Read text in the images with tesseract (kept on for later updates).")
    var ocr = false

    @Flag(help: "Embed every image again (OCR only with --ocr).")
    var rebuild = false

    @Option(help: "Search the index with a text query.")
    var query: String?

    @Option(name: .customLong("query-image"), help: "Search the index with an example image.")
    var queryImage: String?

    @Option(name: [.customShort("k"), .long], help: "Number of results to show (1-50).")
    var top = 5

    @Option(help: "The index file (default: DIR/.llava-plus-index.sqlite).")
    var indexFile: String?

    func validate() throws {
        guard (1...50).contains(top) else { throw ValidationError("-k must be in 1...50") }
    }

    func run() throws {
        let store = try ModelStore.locate()
        let clock = ContinuousClock.now
        let images = try ImageEmbedder(store: store)
        let text = try RetrieveSkill.sentenceEncoder(store)
        let folderURL = URL(fileURLWithPath: folder)
        let file = indexFile.map { URL(fileURLWithPath: $0) }
            ?? ImageIndex.defaultFile(for: folderURL, storeRoot: store.root)
        let index = try ImageIndex(folder: folderURL, file: file, images: images, text: text, ocr: TesseractOCR(store: store))
        let loading = ContinuousClock.now - clock
        let searching = query != nil || queryImage != nil
        if text == nil {
            note("no text encoder in this build: text queries match image tags only")
        }

        let summary = try index.update(ocr: ocr, rebuild: rebuild, progressEvery: 25) { progress in
            note(progress.line)
        }
        let processed = summary.added + summary.updated + summary.skipped.count + summary.textRefreshed
        var lines = [
            String(format: "%@: %d images indexed (added %d, updated %d, removed %d, unchanged %d, skipped %d) in %.1f s",
                   folder, summary.total, summary.added, summary.updated, summary.removed, summary.unchanged,
                   summary.skipped.count + summary.stillSkipped, summary.seconds),
        ]
        if processed > 0 {
            lines.append(String(format: "  %.0f ms per image processed%@ (models loaded in %.2f s)",
                                summary.embeddingSeconds * 1000 / Double(processed), index.usesOCR ? ", with OCR" : "",
                                Double(loading.components.seconds) + Double(loading.components.attoseconds) / 1e18))
        }
        if summary.textRefreshed > 0 { lines.append("  text side filled in for \(summary.textRefreshed) unchanged images") }
        for skipped in summary.skipped { lines.append("  skipped \(skipped.path): \(skipped.reason)") }
        if summary.stillSkipped > 0 { lines.append("  \(summary.stillSkipped) files skipped earlier are unchanged") }
        for line in summary.notes { lines.append("  note: \(line)") }
        lines.append("  index: \(index.file.path)")
        // With a query the results are the output; the summary goes with the progress.
        if searching { lines.forEach(note) } else { lines.forEach { print($0) } }

        if let query {
            printHits(try index.search(text: query, k: top), index: index, heading: "query \"\(query)\"")
        }
        if let queryImage {
            let image = try RGBImage(contentsOf: URL(fileURLWithPath: queryImage))
            printHits(try index.search(image: image, k: top), index: index, heading: "image \(queryImage)")
        }
    }

    private func printHits(_ hits: [SearchHit], index: ImageIndex, heading: String) {
        print("\(heading): top \(hits.count) of \((try? index.count()) ?? 0)")
        for hit in hits {
            let tags = ((try? index.entry(hit.path))?.tags ?? []).prefix(3).map(\.name).joined(separator: ", ")
            print(String(format: "  %5.2f  %@  [%@]", hit.score, (folder as NSString).appendingPathComponent(hit.path), tags))
        }
    }

    private func note(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
