/// A position in a ``MappedFile`` that advances as fields are read: the sequential reader the
/// GGUF header parser is written against.
///
/// Field names are autoclosures because they are only needed when something goes wrong, and
/// a tokenizer vocabulary has tens of thousands of strings to read on the happy path.
struct ByteCursor {
    let file: MappedFile
    private(set) var offset: Int

    init(_ file: MappedFile, offset: Int = 0) {
        self.file = file
        self.offset = offset
    }

    /// Bytes left after the cursor.
    var remaining: Int { file.count - offset }

    /// Reads a little-endian integer and moves past it.
    @inline(__always)
    mutating func read<T: FixedWidthInteger>(_ type: T.Type, _ field: @autoclosure () -> String) throws -> T {
        let value = try file.load(T.self, at: offset, field: field())
        offset += MemoryLayout<T>.size
        return value
    }

    /// Returns the next `count` bytes without copying and moves past them.
    mutating func bytes(_ count: Int, _ field: @autoclosure () -> String) throws -> UnsafeRawBufferPointer {
        let slice = try file.slice(at: offset, count: count, field: field())
        offset += count
        return slice
    }

    /// Reads a 64-bit count and checks it against the bytes left: `count` items of at least
    /// `minimumSize` bytes each must fit in the rest of the file. This is the guard that stops a
    /// hostile count from turning into a huge allocation or a long loop before anything fails.
    mutating func readCount(_ field: @autoclosure () -> String, minimumSize: Int) throws -> Int {
        let start = offset
        let raw = try read(UInt64.self, field())
        let (needed, overflow) = raw.multipliedReportingOverflow(by: UInt64(minimumSize))
        guard !overflow, needed <= UInt64(remaining), let count = Int(exactly: raw) else {
            throw ModelFormatError(.countTooLarge, file: file.name, field: field(),
                                   "count \(raw) at offset \(start) needs at least \(minimumSize) bytes each, "
                                   + "but only \(remaining) bytes remain in the file")
        }
        return count
    }

    /// Reads a GGUF string (u64 byte length, then UTF-8 bytes without terminator).
    mutating func readString(_ field: @autoclosure () -> String) throws -> String {
        let start = offset
        let length = try readCount(field() + " length", minimumSize: 1)
        let raw = try bytes(length, field())
        guard let string = String(validating: raw, as: UTF8.self) else {
            throw ModelFormatError(.invalidUTF8, file: file.name, field: field(),
                                   "the \(length)-byte string at offset \(start) is not valid UTF-8")
        }
        return string
    }
}
