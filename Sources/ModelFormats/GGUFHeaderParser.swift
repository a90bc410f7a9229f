/// Reads and validates everything in a GGUF file before the data section (see ``GGUFFile``).
struct GGUFHeaderParser {
    struct Header {
        var version: UInt32
        var metadata: GGUFMetadata
        var tensors: [GGUFTensorInfo]
        var alignment: Int
        var dataOffset: Int
        var indexByName: [String: Int]
    }

    /// `"GGUF"` read as a little-endian u32.
    static let magic: UInt32 = 0x4655_4747
    /// Smallest possible metadata pair: empty key (u64 length), u32 type, a 1-byte value.
    static let minimumPairSize = 8 + 4 + 1
    /// Smallest possible tensor info: empty name (u64 length), u32 rank, one u64 extent, u32 type, u64 offset.
    static let minimumTensorInfoSize = 8 + 4 + 8 + 4 + 8

    private var cursor: ByteCursor
    private var file: MappedFile { cursor.file }

    init(file: MappedFile) {
        cursor = ByteCursor(file)
    }

    private func error(_ code: ModelFormatError.Code, _ field: String, _ message: String) -> ModelFormatError {
        ModelFormatError(code, file: file.name, field: field, message)
    }

    mutating func parse() throws -> Header {
        let version = try readPreamble()
        // The two counts are checked against the bytes after them before any loop runs.
        let tensorCount = try cursor.readCount("header tensor count", minimumSize: Self.minimumTensorInfoSize)
        let pairCount = try cursor.readCount("header metadata count", minimumSize: Self.minimumPairSize)

        var metadata = GGUFMetadata(source: file.name)
        for index in 0..<pairCount {
            let key = try cursor.readString("metadata[\(index)] key")
            let field = "metadata '\(key)'"
            let value = try readValue(of: readValueType(field + " type"), field: field, depth: 0)
            try metadata.appendUnique(key, value, field: field)
        }
        let alignment = try Self.alignment(in: metadata, file: file.name)

        var tensors: [GGUFTensorInfo] = []
        tensors.reserveCapacity(tensorCount)
        var indexByName: [String: Int] = [:]
        for index in 0..<tensorCount {
            let info = try readTensorInfo(index: index, alignment: alignment)
            guard indexByName.updateValue(index, forKey: info.name) == nil else {
                throw error(.duplicateTensorName, "tensor[\(index)] name", "tensor '\(info.name)' appears more than once")
            }
            tensors.append(info)
        }

        // The data section starts at the next multiple of the alignment after the infos.
        let (padded, overflow) = cursor.offset.addingReportingOverflow(alignment - 1)
        guard !overflow else { throw error(.sizeOverflow, "data section", "offset overflows") }
        let dataOffset = padded - padded % alignment
        try checkPlacement(of: tensors, dataOffset: dataOffset)
        return Header(version: version, metadata: metadata, tensors: tensors, alignment: alignment,
                      dataOffset: dataOffset, indexByName: indexByName)
    }

    /// Magic and version.
    private mutating func readPreamble() throws -> UInt32 {
        guard file.count >= 4 else {
            throw error(.truncated, "header magic", "the file has \(file.count) bytes, too few for a GGUF header")
        }
        let magic = try cursor.read(UInt32.self, "header magic")
        guard magic == Self.magic else {
            let bytes = (0..<4).map { file.bytes[$0] }
            let shown = bytes.map { (0x20..<0x7F).contains($0) ? String(UnicodeScalar($0)) : "." }.joined()
            throw error(.badMagic, "header magic",
                        "expected \"GGUF\", found bytes \(bytes.map { hex($0) }.joined(separator: " ")) (\"\(shown)\")")
        }
        let version = try cursor.read(UInt32.self, "header version")
        switch version {
        case 2, 3:
            return version
        case 1:
            throw error(.unsupportedVersion, "header version",
                        "version 1 (32-bit counts, from 2023) is not supported; convert the file with a current llama.cpp")
        default:
            if (1...3).contains(version.byteSwapped) {
                throw error(.unsupportedVersion, "header version",
                            "version \(version.byteSwapped) in big-endian byte order is not supported")
            }
            throw error(.unsupportedVersion, "header version", "version \(version) is not supported (2 and 3 are)")
        }
    }

    private func hex(_ byte: UInt8) -> String {
        let digits = String(byte, radix: 16, uppercase: true)
        return byte < 16 ? "0" + digits : digits
    }

    // MARK: Metadata values

    private mutating func readValueType(_ field: @autoclosure () -> String) throws -> GGUFValueType {
        let raw = try cursor.read(UInt32.self, field())
        guard let type = GGUFValueType(rawValue: raw) else {
            throw error(.unknownValueType, field(), "unknown value type \(raw) (known: 0...12)")
        }
        return type
    }

    private mutating func readValue(of type: GGUFValueType, field: String, depth: Int) throws -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try cursor.read(UInt8.self, field))
        case .int8: return .int8(try cursor.read(Int8.self, field))
        case .uint16: return .uint16(try cursor.read(UInt16.self, field))
        case .int16: return .int16(try cursor.read(Int16.self, field))
        case .uint32: return .uint32(try cursor.read(UInt32.self, field))
        case .int32: return .int32(try cursor.read(Int32.self, field))
        case .uint64: return .uint64(try cursor.read(UInt64.self, field))
        case .int64: return .int64(try cursor.read(Int64.self, field))
        case .float32: return .float32(Float(bitPattern: try cursor.read(UInt32.self, field)))
        case .float64: return .float64(Double(bitPattern: try cursor.read(UInt64.self, field)))
        case .bool: return .bool(try readBool(field))
        case .string: return .string(try cursor.readString(field))
        case .array: return .array(try readArray(field: field, depth: depth + 1))
        }
    }

    /// A bool is one byte that must be 0 or 1; anything else means the reader is out of step
    /// with the writer, and saying so beats guessing.
    private mutating func readBool(_ field: @autoclosure () -> String) throws -> Bool {
        let start = cursor.offset
        let byte = try cursor.read(UInt8.self, field())
        guard byte <= 1 else {
            throw error(.invalidValue, field(), "bool at offset \(start) is \(byte), not 0 or 1")
        }
        return byte == 1
    }

    private mutating func readArray(field: String, depth: Int) throws -> GGUFArray {
        guard depth <= GGUFFile.maximumNesting else {
            throw error(.nestingTooDeep, field, "arrays nest more than \(GGUFFile.maximumNesting) levels deep")
        }
        let elementType = try readValueType(field + " element type")
        let count = try cursor.readCount(field + " element count", minimumSize: elementType.minimumSize)
        switch elementType {
        case .uint8: return .uint8(try readIntegers(count, field))
        case .int8: return .int8(try readIntegers(count, field))
        case .uint16: return .uint16(try readIntegers(count, field))
        case .int16: return .int16(try readIntegers(count, field))
        case .uint32: return .uint32(try readIntegers(count, field))
        case .int32: return .int32(try readIntegers(count, field))
        case .uint64: return .uint64(try readIntegers(count, field))
        case .int64: return .int64(try readIntegers(count, field))
        case .float32: return .float32(try readIntegers(count, field).map { (bits: UInt32) in Float(bitPattern: bits) })
        case .float64: return .float64(try readIntegers(count, field).map { (bits: UInt64) in Double(bitPattern: bits) })
        case .bool:
            var values: [Bool] = []
            values.reserveCapacity(count)
            for i in 0..<count { values.append(try readBool("\(field)[\(i)]")) }
            return .bool(values)
        case .string:
            var values: [String] = []
            values.reserveCapacity(count)
            for i in 0..<count { values.append(try cursor.readString("\(field)[\(i)]")) }
            return .string(values)
        case .array:
            var values: [GGUFArray] = []
            values.reserveCapacity(count)
            for i in 0..<count { values.append(try readArray(field: "\(field)[\(i)]", depth: depth + 1)) }
            return .array(values)
        }
    }

    /// `count` little-endian integers in one bounds check (`count` was checked against the
    /// remaining bytes, so the multiplication cannot overflow).
    private mutating func readIntegers<T: FixedWidthInteger>(_ count: Int, _ field: String) throws -> [T] {
        let size = MemoryLayout<T>.size
        let raw = try cursor.bytes(count * size, field)
        return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            for i in 0..<count { buffer[i] = T(littleEndian: raw.loadUnaligned(fromByteOffset: i * size, as: T.self)) }
            initialized = count
        }
    }

    /// `general.alignment`: a uint32 power of two, as the specification requires.
    static func alignment(in metadata: GGUFMetadata, file: String) throws -> Int {
        guard let value = metadata["general.alignment"] else { return GGUFFile.defaultAlignment }
        guard case .uint32(let raw) = value, raw > 0, raw & (raw - 1) == 0 else {
            throw ModelFormatError(.badAlignment, file: file, field: "metadata 'general.alignment'",
                                   "is \(value.summary), expected a uint32 power of two")
        }
        return Int(raw)
    }

    // MARK: Tensor infos

    private mutating func readTensorInfo(index: Int, alignment: Int) throws -> GGUFTensorInfo {
        let name = try cursor.readString("tensor[\(index)] name")
        let field = "tensor '\(name)'"
        let rank = try cursor.read(UInt32.self, field + " dimension count")
        guard rank >= 1, rank <= GGUFFile.maximumRank else {
            throw error(.badDimensions, field + " dimension count",
                        "\(rank) dimensions; a tensor has 1 to \(GGUFFile.maximumRank)")
        }
        var dimensions: [Int] = []
        var elementCount = 1
        for axis in 0..<Int(rank) {
            let raw = try cursor.read(UInt64.self, "\(field) dimension \(axis)")
            // ggml keeps extents in int64_t; zero-sized tensors have no use in a model file and
            // would make every later size check vacuous.
            guard raw >= 1, let extent = Int(exactly: raw), raw <= UInt64(Int64.max) else {
                throw error(.badDimensions, "\(field) dimension \(axis)", "extent \(raw) is not in 1...\(Int64.max)")
            }
            let (product, overflow) = elementCount.multipliedReportingOverflow(by: extent)
            guard !overflow else {
                throw error(.sizeOverflow, field + " dimensions", "element count of \(dimensions + [extent]) overflows")
            }
            dimensions.append(extent)
            elementCount = product
        }
        let rawType = try cursor.read(UInt32.self, field + " type")
        guard let type = GGMLType(rawValue: rawType) else {
            throw error(.unknownTensorType, field + " type", "unknown ggml type id \(rawType)")
        }
        // Rows are whole blocks: ggml quantises along ne0 only.
        guard dimensions[0] % type.blockSize == 0 else {
            throw error(.notBlockMultiple, field + " dimensions",
                        "row length \(dimensions[0]) is not a multiple of the \(type) block size \(type.blockSize)")
        }
        let (byteCount, overflow) = (elementCount / type.blockSize).multipliedReportingOverflow(by: type.bytesPerBlock)
        guard !overflow else {
            throw error(.sizeOverflow, field + " dimensions", "byte size of \(dimensions) \(type) overflows")
        }
        let rawOffset = try cursor.read(UInt64.self, field + " offset")
        guard let offset = Int(exactly: rawOffset) else {
            throw error(.outOfBounds, field + " offset", "offset \(rawOffset) is past the end of the file")
        }
        guard offset % alignment == 0 else {
            throw error(.misalignedOffset, field + " offset", "offset \(offset) is not a multiple of the alignment \(alignment)")
        }
        return GGUFTensorInfo(name: name, dimensions: dimensions, type: type, offset: offset,
                              elementCount: elementCount, byteCount: byteCount)
    }

    /// Every tensor's bytes lie in the file after `dataOffset`, and no two overlap.
    private func checkPlacement(of tensors: [GGUFTensorInfo], dataOffset: Int) throws {
        for info in tensors {
            let (start, overflowStart) = dataOffset.addingReportingOverflow(info.offset)
            let (end, overflowEnd) = start.addingReportingOverflow(info.byteCount)
            guard !overflowStart, !overflowEnd, end <= file.count else {
                throw error(.outOfBounds, "tensor '\(info.name)' offset",
                            "data at offset \(info.offset) (+\(info.byteCount) bytes) from the data section at \(dataOffset) "
                            + "runs past the end of the file (\(file.count) bytes)")
            }
        }
        let ordered = tensors.sorted { ($0.offset, $0.byteCount) < ($1.offset, $1.byteCount) }
        for (first, second) in zip(ordered, ordered.dropFirst()) where first.offset + first.byteCount > second.offset {
            throw error(.overlappingTensors, "tensor '\(second.name)' offset",
                        "data at \(second.offset) overlaps tensor '\(first.name)' at \(first.offset)..<\(first.offset + first.byteCount)")
        }
    }
}
