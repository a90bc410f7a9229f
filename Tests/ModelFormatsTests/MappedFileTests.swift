#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
@testable import ModelFormats

/// Opening files: clear errors that name the file, and bounds-checked reads.
@Suite struct MappedFileTests {
    @Test func openingProblemsNameTheFile() throws {
        let folder = try scratchFolder("mapped")
        defer { try? FileManager.default.removeItem(at: folder) }

        let missing = folder.appendingPathComponent("absent.gguf")
        expectFormatError(.fileMissing, mentioning: [missing.path, "does not exist"]) { _ = try MappedFile(url: missing) }
        expectFormatError(.fileMissing, mentioning: [missing.path]) { _ = try GGUFFile(url: missing) }
        expectFormatError(.fileMissing, mentioning: [missing.path]) { _ = try SafeTensorsFile(url: missing) }
        let underAFile = folder.appendingPathComponent("empty.gguf/inner")

        let empty = folder.appendingPathComponent("empty.gguf")
        _ = FileManager.default.createFile(atPath: empty.path, contents: Data())
        expectFormatError(.fileEmpty, mentioning: [empty.path, "empty"]) { _ = try GGUFFile(url: empty) }
        expectFormatError(.fileMissing, mentioning: [underAFile.path]) { _ = try MappedFile(url: underAFile) }

        expectFormatError(.isDirectory, mentioning: [folder.path, "directory"]) { _ = try SafeTensorsFile(url: folder) }

        let fifo = folder.appendingPathComponent("pipe")
        #expect(mkfifo(fifo.path, 0o600) == 0)
        expectFormatError(.notRegularFile, mentioning: [fifo.path]) { _ = try MappedFile(url: fifo) }
    }

    @Test func unreadableFileNamesTheFile() throws {
        let folder = try scratchFolder("unreadable")
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("locked.gguf")
        _ = FileManager.default.createFile(atPath: url.path, contents: Data([1, 2, 3]), attributes: [.posixPermissions: 0])
        if getuid() != 0 {
            expectFormatError(.fileUnreadable, mentioning: [url.path, "Permission denied"]) { _ = try MappedFile(url: url) }
        } else {
            // Root reads files regardless of their mode, so a real unreadable file cannot be made
            // here; check the mapping from the failure's errno instead.
            #expect(try MappedFile(url: url).count == 3)
        }
        let error = MappedFile.openError(errno: EACCES, path: url.path)
        #expect(error.code == .fileUnreadable)
        #expect(error.description.contains(url.path) && error.description.contains("Permission denied"))
    }

    @Test func mappedBytesAreTheFile() throws {
        let folder = try scratchFolder("bytes")
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("data.bin")
        let contents = (0..<100).map { UInt8($0) }
        try Data(contents).write(to: url)
        let file = try MappedFile(url: url)
        #expect(Array(file.bytes) == contents)
        #expect(file.name == url.path)
        #expect(try file.load(UInt32.self, at: 1, field: "x") == 0x0403_0201, "little-endian, unaligned")
        #expect(try file.load(UInt64.self, at: 92, field: "x") == 0x6362_6160_5F5E_5D5C)
        #expect(Array(try file.slice(at: 98, count: 2, field: "x")) == [98, 99])
        #expect(try file.slice(at: 100, count: 0, field: "x").count == 0)
    }

    @Test func outOfBoundsReadsThrowWithoutTrapping() {
        let file = MappedFile(contents: [UInt8](repeating: 7, count: 10), name: "ten-bytes")
        expectFormatError(.truncated, mentioning: ["ten-bytes", "the field", "needs 4 bytes at offset 7"]) {
            _ = try file.load(UInt32.self, at: 7, field: "the field")
        }
        expectFormatError(.truncated) { _ = try file.load(UInt8.self, at: -1, field: "f") }
        expectFormatError(.truncated) { _ = try file.load(UInt64.self, at: .max, field: "f") }
        expectFormatError(.truncated) { _ = try file.slice(at: .max, count: 10, field: "f") }
        expectFormatError(.truncated) { _ = try file.slice(at: 5, count: .max, field: "f") }
        expectFormatError(.truncated) { _ = try file.slice(at: 0, count: -1, field: "f") }
        let empty = MappedFile(contents: [], name: "nothing")
        expectFormatError(.truncated) { _ = try empty.load(UInt8.self, at: 0, field: "f") }
        expectFormatError(.truncated, mentioning: ["nothing"]) { _ = try GGUFFile(mapping: empty) }
        expectFormatError(.truncated, mentioning: ["nothing", "header length"]) { _ = try SafeTensorsFile(mapping: empty) }
    }
}
