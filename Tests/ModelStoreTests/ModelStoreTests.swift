import Foundation
import Testing
@testable import ModelStore

/// A small store written by the test itself, so damage can be done to it freely.
private struct ScratchStore {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID())")

    init(files: [String: String]) throws {
        let folder = root.appendingPathComponent("toy")
        var records: [StoreRecord.File] = []
        for (path, text) in files.sorted(by: { $0.key < $1.key }) {
            let url = folder.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url)
            records.append(.init(path: path, size: text.utf8.count, sha256: SHA256.hexDigest(of: Array(text.utf8))))
        }
        let record = StoreRecord(format: StoreRecord.currentFormat, assets: [
            "toy": .init(title: "Toy", kind: "test", main: "weights.bin",
                         source: .init(registry: "pypi", package: "toy", version: "1", file: "toy.whl", sha256: "00"),
                         files: records, installed: "2026-11-23T00:00:00Z"),
        ])
        try JSONEncoder().encode(record).write(to: root.appendingPathComponent("store.json"))
    }

    func url(_ path: String) -> URL { root.appendingPathComponent("toy").appendingPathComponent(path) }
    func remove() { try? FileManager.default.removeItem(at: root) }
}

@Suite struct ModelStoreTests {
    @Test func intactAssetVerifies() throws {
        let scratch = try ScratchStore(files: ["weights.bin": "0123456789", "sub/vocab.txt": "a\nb\n"])
        defer { scratch.remove() }
        let store = try ModelStore(root: scratch.root)
        let check = try store.check("toy")
        #expect(check.isIntact)
        #expect(check.size == 14)
        #expect(try store.url(of: "toy").lastPathComponent == "weights.bin")
    }

    @Test func flippedByteMissingFileAndStrayFileAreEachNamed() throws {
        let scratch = try ScratchStore(files: ["weights.bin": "0123456789", "sub/vocab.txt": "a\nb\n"])
        defer { scratch.remove() }
        var bytes = try Data(contentsOf: scratch.url("weights.bin"))
        bytes[4] ^= 0x01
        try bytes.write(to: scratch.url("weights.bin"))
        try FileManager.default.removeItem(at: scratch.url("sub/vocab.txt"))
        try Data("x".utf8).write(to: scratch.url("stray.txt"))

        let check = try ModelStore(root: scratch.root).check("toy")
        #expect(!check.isIntact)
        #expect(check.missing == ["sub/vocab.txt"])
        #expect(check.modified.count == 1 && check.modified[0].hasPrefix("weights.bin: sha256 "))
        #expect(check.unexpected == ["stray.txt"])
    }

    @Test func truncatedFileIsReportedBySize() throws {
        let scratch = try ScratchStore(files: ["weights.bin": "0123456789"])
        defer { scratch.remove() }
        try Data("01234".utf8).write(to: scratch.url("weights.bin"))
        let check = try ModelStore(root: scratch.root).check("toy")
        #expect(check.modified == ["weights.bin: 5 bytes, expected 10"])
    }

    @Test func locateHonoursTheEnvironmentAndSearchesParents() throws {
        let scratch = try ScratchStore(files: ["weights.bin": "w"])
        defer { scratch.remove() }
        let fromEnvironment = try ModelStore.locate(environment: ["LLAVA_PLUS_MODELS": scratch.root.path], searchFrom: [])
        #expect(fromEnvironment.assetNames == ["toy"])

        // A checkout-like tree: <top>/models is the store; the search starts two levels below <top>.
        let top = FileManager.default.temporaryDirectory.appendingPathComponent("checkout-\(UUID())")
        defer { try? FileManager.default.removeItem(at: top) }
        let deep = top.appendingPathComponent(".build/debug")
        try FileManager.default.createDirectory(at: deep, withIntermediateDirectories: true)
        try FileManager.default.moveItem(at: scratch.root, to: top.appendingPathComponent("models"))
        let found = try ModelStore.locate(environment: [:], searchFrom: [deep])
        #expect(found.root.standardizedFileURL.path == top.appendingPathComponent("models").standardizedFileURL.path)
    }

    @Test func missingStoreAndUnknownAssetGiveActionableErrors() throws {
        let nowhere = FileManager.default.temporaryDirectory.appendingPathComponent("none-\(UUID())")
        let error = #expect(throws: StoreError.self) { try ModelStore(root: nowhere) }
        #expect(error?.description.contains("scripts/setup.sh") == true)

        let scratch = try ScratchStore(files: ["weights.bin": "w"])
        defer { scratch.remove() }
        let unknown = #expect(throws: StoreError.self) { try ModelStore(root: scratch.root).url(of: "clip-vit-l") }
        #expect(unknown?.description.contains("'clip-vit-l' is not installed") == true)
        #expect(unknown?.description.contains("toy") == true)
    }

    @Test func corruptRecordIsABadRecordError() throws {
        let scratch = try ScratchStore(files: ["weights.bin": "w"])
        defer { scratch.remove() }
        try Data("{\"format\": 1, \"assets\": [".utf8).write(to: scratch.root.appendingPathComponent("store.json"))
        #expect(throws: StoreError.self) { try ModelStore(root: scratch.root) }
    }
}
