/// Reads and validates the header of a safetensors file (see ``SafeTensorsFile``).
struct SafeTensorsHeaderParser {
    struct Header {
        var metadata: [String: String]
        var tensors: [SafeTensorsTensorInfo]
        var headerLength: Int
    }

    let file: MappedFile

    private func error(_ code: ModelFormatError.Code, _ field: String, _ message: String) -> ModelFormatError {
        ModelFormatError(code, file: file.name, field: field, message)
    }

    func parse() throws -> Header {
        let rawLength = try file.load(UInt64.self, at: 0, field: "header length")
        guard rawLength <= UInt64(SafeTensorsFile.maximumHeaderLength) else {
            throw error(.headerTooLarge, "header length",
                        "\(rawLength) bytes is more than the \(SafeTensorsFile.maximumHeaderLength) bytes a header may have")
        }
        let headerLength = Int(rawLength)
        guard headerLength <= file.count - 8 else {
            throw error(.truncated, "header length",
                        "\(headerLength) bytes of header do not fit in the file (\(file.count) bytes)")
        }
        let headerBytes = try file.slice(at: 8, count: headerLength, field: "header")
        guard String(validating: headerBytes, as: UTF8.self) != nil else {
            throw error(.invalidUTF8, "header", "the JSON header is not valid UTF-8")
        }
        // The specification requires the object to start the header: no leading whitespace or BOM.
        guard headerBytes.first == UInt8(ascii: "{") else {
            throw error(.invalidJSON, "header", "the JSON header must start with '{'")
        }
        let json: JSONTree
        do {
            json = try JSONParser.parse(headerBytes)
        } catch {
            throw self.error(.invalidJSON, "header", "invalid JSON at byte \(error.offset) of the header: \(error.message)")
        }
        guard case .object(let members) = json else {
            throw error(.invalidJSON, "header", "the JSON header is not an object")
        }

        var metadata: [String: String]?
        var tensors: [SafeTensorsTensorInfo] = []
        var names = Set<String>()
        let dataLength = file.count - 8 - headerLength
        for (key, value) in members {
            if key == "__metadata__" {
                guard metadata == nil else { throw error(.duplicateKey, "header", "'__metadata__' appears more than once") }
                metadata = try parseMetadata(value)
            } else {
                guard names.insert(key).inserted else {
                    throw error(.duplicateTensorName, "tensor '\(key)'", "appears more than once in the header")
                }
                tensors.append(try parseTensor(named: key, value, dataLength: dataLength))
            }
        }
        try checkCoverage(of: &tensors, dataLength: dataLength)
        return Header(metadata: metadata ?? [:], tensors: tensors, headerLength: headerLength)
    }

    private func parseMetadata(_ value: JSONTree) throws -> [String: String] {
        guard case .object(let members) = value else {
            throw error(.wrongFieldType, "__metadata__", "is \(value.kind), expected an object of strings")
        }
        var metadata: [String: String] = [:]
        for (key, entry) in members {
            guard case .string(let text) = entry else {
                throw error(.wrongFieldType, "__metadata__ '\(key)'", "is \(entry.kind), expected a string")
            }
            guard metadata.updateValue(text, forKey: key) == nil else {
                throw error(.duplicateKey, "__metadata__ '\(key)'", "appears more than once")
            }
        }
        return metadata
    }

    private func parseTensor(named name: String, _ value: JSONTree, dataLength: Int) throws -> SafeTensorsTensorInfo {
        let field = "tensor '\(name)'"
        guard case .object(let members) = value else {
            throw error(.wrongFieldType, field, "is \(value.kind), expected an object with dtype, shape and data_offsets")
        }
        var fields: [String: JSONTree] = [:]
        for (key, entry) in members where fields.updateValue(entry, forKey: key) != nil {
            throw error(.duplicateKey, "\(field) \(key)", "appears more than once")
        }
        func required(_ key: String) throws -> JSONTree {
            guard let entry = fields[key] else { throw error(.missingField, "\(field) \(key)", "is missing") }
            return entry
        }

        guard case .string(let dtypeName) = try required("dtype") else {
            throw error(.wrongFieldType, field + " dtype", "is \(try required("dtype").kind), expected a string")
        }
        guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
            throw error(.unknownDType, field + " dtype", "unknown dtype \"\(dtypeName)\"")
        }

        let shapeValue = try required("shape")
        guard case .array(let extents) = shapeValue else {
            throw error(.wrongFieldType, field + " shape", "is \(shapeValue.kind), expected an array of integers")
        }
        var shape: [Int] = []
        // The product of the non-zero extents must fit too: a zero extent makes the element count
        // 0, but code that multiplies a subset of the extents (a row length, a stride) must not
        // be able to overflow on a shape like [0, 2^40, 2^40].
        var nonZeroProduct = 1
        for extent in extents {
            guard let size = extent.nonNegativeInteger else {
                throw error(.badDimensions, field + " shape", "extent \(extent.kind) is not a non-negative integer")
            }
            let (product, overflow) = nonZeroProduct.multipliedReportingOverflow(by: max(size, 1))
            guard !overflow else { throw error(.sizeOverflow, field + " shape", "element count of \(shape + [size]) overflows") }
            shape.append(size)
            nonZeroProduct = product
        }
        let elementCount = shape.contains(0) ? 0 : nonZeroProduct

        let offsetsValue = try required("data_offsets")
        guard case .array(let offsets) = offsetsValue, offsets.count == 2,
              let begin = offsets[0].nonNegativeInteger, let end = offsets[1].nonNegativeInteger else {
            throw error(.wrongFieldType, field + " data_offsets", "expected two non-negative integers [begin, end]")
        }
        guard begin <= end else {
            throw error(.invalidValue, field + " data_offsets", "begin \(begin) is after end \(end)")
        }
        guard let expected = dtype.byteCount(elements: elementCount) else {
            throw error(.sizeMismatch, field + " shape",
                        "\(elementCount) elements of \(dtype) do not make a whole number of bytes, or overflow")
        }
        guard end - begin == expected else {
            throw error(.sizeMismatch, field + " data_offsets",
                        "span \(end - begin) bytes, but shape \(shape) of \(dtype) needs \(expected)")
        }
        guard end <= dataLength else {
            throw error(.outOfBounds, field + " data_offsets",
                        "[\(begin), \(end)] runs past the end of the data section (\(dataLength) bytes)")
        }
        return SafeTensorsTensorInfo(name: name, dtype: dtype, shape: shape, dataOffsets: begin..<end, elementCount: elementCount)
    }

    /// Sorts tensors by offset and checks that they tile the data section exactly.
    private func checkCoverage(of tensors: inout [SafeTensorsTensorInfo], dataLength: Int) throws {
        tensors.sort { ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound) < ($1.dataOffsets.lowerBound, $1.dataOffsets.upperBound) }
        var covered = 0
        var previous: SafeTensorsTensorInfo?
        for info in tensors {
            if info.dataOffsets.lowerBound < covered, let previous {
                throw error(.overlappingTensors, "tensor '\(info.name)' data_offsets",
                            "[\(info.dataOffsets.lowerBound), \(info.dataOffsets.upperBound)] overlaps tensor '\(previous.name)' "
                            + "at [\(previous.dataOffsets.lowerBound), \(previous.dataOffsets.upperBound)]")
            }
            if info.dataOffsets.lowerBound > covered {
                throw error(.uncoveredBytes, "tensor '\(info.name)' data_offsets",
                            "bytes \(covered)..<\(info.dataOffsets.lowerBound) of the data section belong to no tensor")
            }
            covered = info.dataOffsets.upperBound
            previous = info
        }
        guard covered == dataLength else {
            throw error(.uncoveredBytes, "data section",
                        "bytes \(covered)..<\(dataLength) at the end of the data section belong to no tensor")
        }
    }
}
