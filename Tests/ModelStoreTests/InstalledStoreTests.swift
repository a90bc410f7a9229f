import Foundation
import Testing
@testable import ModelStore

/// The checkout this test file lives in (`Tests/ModelStoreTests/` is two levels down).
private let checkout = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

/// Checks on the store that `scripts/setup.sh` installed. They fail (never skip) without it.
@Suite struct InstalledStoreTests {
    private func installedStore() throws -> ModelStore {
        try ModelStore.locate(searchFrom: [checkout])
    }

    @Test func everyRequiredAssetIsInstalledAndVerified() throws {
        let store = try installedStore()
        let required = ["smollm2-135m-instruct", "efficientnet-lite0", "all-minilm-l6-v2",
                        "tesseract-eng", "skimage-data", "easy-vqa"]
        for name in required {
            let check = try store.check(name)
            #expect(check.isIntact, "\(name): \(check.problems)")
        }
        #expect(try store.url(of: "smollm2-135m-instruct").lastPathComponent == "SmolLM2-135M-Instruct.Q4_1.gguf")
        #expect(try store.asset("smollm2-135m-instruct").files[0].size == 98_362_432)
        #expect(try store.url(of: "efficientnet-lite0").pathExtension == "safetensors")
        for photo in ["chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg", "motorcycle_left.png",
                      "horse.png", "page.png", "text.png"] {
            #expect(FileManager.default.fileExists(atPath: try store.url(of: "skimage-data").appendingPathComponent(photo).path), "\(photo)")
        }
    }

    /// Damage one asset in a scratch copy of the store, see `check` name the file, then let the
    /// real installer repair it from the cached, verified package file.
    @Test func setupRepairsAFlippedByte() throws {
        let store = try installedStore()
        let asset = try store.asset("tesseract-eng")
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("repair-\(UUID())")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let files = FileManager.default
        try files.createDirectory(at: scratch.appendingPathComponent("downloads"), withIntermediateDirectories: true)
        try files.copyItem(at: store.folder(of: "tesseract-eng"), to: scratch.appendingPathComponent("tesseract-eng"))
        try files.copyItem(at: store.root.appendingPathComponent("downloads").appendingPathComponent(asset.source.file),
                           to: scratch.appendingPathComponent("downloads").appendingPathComponent(asset.source.file))
        let record = StoreRecord(format: StoreRecord.currentFormat, assets: ["tesseract-eng": asset])
        try JSONEncoder().encode(record).write(to: scratch.appendingPathComponent("store.json"))

        let data = scratch.appendingPathComponent("tesseract-eng/eng.traineddata")
        let handle = try FileHandle(forUpdating: data)
        try handle.seek(toOffset: 1000)
        let byte = try handle.read(upToCount: 1)![0]
        try handle.seek(toOffset: 1000)
        try handle.write(contentsOf: [byte ^ 0x80])
        try handle.close()

        let damaged = try ModelStore(root: scratch).check("tesseract-eng")
        #expect(damaged.modified.count == 1 && damaged.modified[0].hasPrefix("eng.traineddata: sha256"))

        let installer = Process()
        installer.executableURL = checkout.appendingPathComponent(".venv/bin/python")
        installer.arguments = [checkout.appendingPathComponent("scripts/install_assets.py").path,
                               "--store", scratch.path, "--only", "tesseract-eng"]
        let output = Pipe()
        installer.standardOutput = output
        installer.standardError = output
        try installer.run()
        let log = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        installer.waitUntilExit()
        #expect(installer.terminationStatus == 0, "\(log)")
        #expect(log.contains("repairing"), "\(log)")
        #expect(!log.contains("downloading"), "the verified package file should be reused: \(log)")
        #expect(try ModelStore(root: scratch).check("tesseract-eng").isIntact)
    }
}
