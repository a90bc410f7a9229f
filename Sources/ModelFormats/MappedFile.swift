#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// The read-only bytes of a model file, memory-mapped so that multi-gigabyte weights cost no
/// copy and no up-front read: pages come in from the page cache as tensors are touched.
///
/// The bytes stay valid until the last reference to the `MappedFile` goes away (the mapping is
/// removed in `deinit`); pointers handed out by ``bytes`` and ``slice(at:count:field:)`` must
/// not outlive it. Every read is bounds-checked and little-endian, and failures throw a
/// ``ModelFormatError`` naming the file and the field being read.
///
/// A file that another process truncates while it is mapped makes later reads of the lost pages
/// fault (SIGBUS); that is inherent to `mmap`, and why model files are replaced by rename, never
/// rewritten in place (see ``GGUFWriter/write(to:)``).
public final class MappedFile: @unchecked Sendable {
    // @unchecked: the only stored state is an immutable pointer to memory that nobody writes
    // (PROT_READ mapping, or a private copy), so sharing it across threads is safe.

    /// The file's path, or the name given to an in-memory buffer; used in error messages.
    public let name: String
    /// All of the file's bytes.
    public let bytes: UnsafeRawBufferPointer

    private enum Owner { case mapping, heap }
    private let owner: Owner

    /// Maps the file at `url` read-only.
    ///
    /// - Throws: ``ModelFormatError`` with code `fileMissing`, `fileUnreadable`, `fileEmpty`,
    ///   `isDirectory` or `notRegularFile`, naming the file.
    public init(url: URL) throws {
        let path = url.path
        name = path
        // O_NONBLOCK so that opening a FIFO cannot hang; it has no effect on regular files.
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else { throw MappedFile.openError(errno: errno, path: path) }
        defer { close(descriptor) }

        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw MappedFile.openError(errno: errno, path: path) }
        switch info.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: throw ModelFormatError(.isDirectory, file: path, field: "file", "is a directory, not a model file")
        default: throw ModelFormatError(.notRegularFile, file: path, field: "file", "is not a regular file")
        }
        guard info.st_size > 0 else {
            throw ModelFormatError(.fileEmpty, file: path, field: "file", "is empty (0 bytes)")
        }
        guard let size = Int(exactly: info.st_size) else {
            throw ModelFormatError(.fileUnreadable, file: path, field: "file", "size \(info.st_size) does not fit in memory")
        }
        let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0)
        guard let mapped, mapped != UnsafeMutableRawPointer(bitPattern: -1) else {
            throw ModelFormatError(.fileUnreadable, file: path, field: "file",
                                   "cannot be memory-mapped: \(String(cString: strerror(errno)))")
        }
        bytes = UnsafeRawBufferPointer(start: mapped, count: size)
        owner = .mapping
    }

    /// Wraps a private copy of `contents`, for files built or mutated in memory (tests, fuzzing,
    /// downloads) that should go through exactly the same parsing as files on disk.
    public init(contents: some Collection<UInt8>, name: String) {
        self.name = name
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: contents.count, alignment: 64)
        _ = buffer.initializeMemory(as: UInt8.self, from: contents)
        bytes = UnsafeRawBufferPointer(buffer)
        owner = .heap
    }

    deinit {
        switch owner {
        case .mapping: munmap(UnsafeMutableRawPointer(mutating: bytes.baseAddress), bytes.count)
        case .heap: bytes.deallocate()
        }
    }

    /// Number of bytes.
    public var count: Int { bytes.count }

    /// The error for a failed `open`/`fstat`, by `errno`.
    static func openError(errno code: Int32, path: String) -> ModelFormatError {
        let reason = String(cString: strerror(code))
        switch code {
        case ENOENT, ENOTDIR:
            return ModelFormatError(.fileMissing, file: path, field: "file", "does not exist (\(reason))")
        case EISDIR:
            return ModelFormatError(.isDirectory, file: path, field: "file", "is a directory, not a model file")
        default:
            return ModelFormatError(.fileUnreadable, file: path, field: "file", "cannot be read (\(reason))")
        }
    }

    /// The error for a read of `count` bytes at `offset` that does not fit in the file.
    func truncated(_ field: String, offset: Int, count: Int) -> ModelFormatError {
        ModelFormatError(.truncated, file: name, field: field,
                         "needs \(count) bytes at offset \(offset), but the file has \(bytes.count) bytes")
    }

    /// `count` bytes starting at `offset`, without copying.
    ///
    /// - Throws: `truncated` when the range is not inside the file (overflow-safe).
    public func slice(at offset: Int, count: Int, field: @autoclosure () -> String) throws -> UnsafeRawBufferPointer {
        guard offset >= 0, count >= 0, count <= bytes.count, offset <= bytes.count - count else {
            throw truncated(field(), offset: offset, count: count)
        }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count])
    }

    /// The little-endian integer at `offset` (any alignment).
    ///
    /// - Throws: `truncated` when it does not fit in the file.
    @inline(__always)
    public func load<T: FixedWidthInteger>(_ type: T.Type = T.self, at offset: Int,
                                           field: @autoclosure () -> String) throws -> T {
        let size = MemoryLayout<T>.size
        guard offset >= 0, offset <= bytes.count - size else { throw truncated(field(), offset: offset, count: size) }
        return T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}
