#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Where writers put bytes: memory (``GGUFWriter/serialized()``) or a file being written.
protocol ByteSink {
    mutating func write(_ bytes: UnsafeRawBufferPointer) throws
}

extension ByteSink {
    mutating func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    mutating func writeZeros(_ count: Int) throws {
        if count > 0 { try write([UInt8](repeating: 0, count: count)) }
    }
}

/// An in-memory sink.
struct ByteArraySink: ByteSink {
    var bytes: [UInt8] = []

    mutating func write(_ chunk: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: chunk)
    }
}

/// Writes a file so that readers see either the old file or the complete new one, never a
/// partial write: the bytes go to a temporary file in the same folder, are flushed to disk, and
/// the temporary file is renamed over the destination (atomic within one file system).
///
/// This matters beyond crashes: readers `mmap` model files, and rewriting a mapped file in place
/// would change (or, when it shrinks, fault) the pages another process is reading.
struct AtomicFileOutput: ByteSink {
    private let descriptor: Int32
    private let temporaryPath: String
    let destination: String

    /// Writes the bytes `body` produces to `url`, replacing any existing file only on success.
    static func write(to url: URL, _ body: (inout AtomicFileOutput) throws -> Void) throws {
        var output = try AtomicFileOutput(destination: url.path)
        do {
            try body(&output)
        } catch {
            output.abandon()
            throw error
        }
        try output.commit()
    }

    private init(destination: String) throws {
        self.destination = destination
        let url = URL(fileURLWithPath: destination)
        let folder = url.deletingLastPathComponent().path
        temporaryPath = folder + "/." + url.lastPathComponent + ".tmp-" + UUID().uuidString
        descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw Self.failure(destination, "cannot create a temporary file in \(folder)")
        }
    }

    private static func failure(_ path: String, _ what: String) -> ModelFormatError {
        ModelFormatError(.writeFailed, file: path, field: "file", "\(what): \(String(cString: strerror(errno)))")
    }

    mutating func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard var pointer = bytes.baseAddress else { return }
        var remaining = bytes.count
        while remaining > 0 {
            let written = posixWrite(descriptor, pointer, remaining)
            if written < 0 {
                if errno == EINTR { continue }
                throw Self.failure(destination, "write failed")
            }
            pointer += written
            remaining -= written
        }
    }

    /// Flushes, closes and renames into place; on failure removes the temporary file itself.
    private func commit() throws {
        guard fsync(descriptor) == 0 else {
            let error = Self.failure(destination, "flushing to disk failed")
            abandon()
            throw error
        }
        guard close(descriptor) == 0 else {
            let error = Self.failure(destination, "closing failed")
            unlink(temporaryPath)
            throw error
        }
        guard rename(temporaryPath, destination) == 0 else {
            let error = Self.failure(destination, "renaming the temporary file into place failed")
            unlink(temporaryPath)
            throw error
        }
    }

    private func abandon() {
        close(descriptor)
        unlink(temporaryPath)
    }
}

/// The POSIX `write`, reachable under this name inside types that have a `write` method.
private func posixWrite(_ descriptor: Int32, _ pointer: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, pointer, count)
}
