/// A place in a source file; lines and columns count from 1 (columns in Unicode scalars, as
/// libyaml counts them).
public struct SourceLocation: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }
}

/// One mistake in a manifest, printed the way compilers print them so that editors can jump
/// to it: `file:line:column: field.path: what was expected`.
public struct ManifestProblem: Sendable, Equatable, Hashable, CustomStringConvertible, Error {
    public var location: SourceLocation
    /// Dotted field path (`transport.command`, `examples[0].params.caption`); empty for
    /// problems with the file as a whole (unreadable, not YAML).
    public var field: String
    public var message: String

    public init(_ location: SourceLocation, _ field: String, _ message: String) {
        self.location = location
        self.field = field
        self.message = message
    }

    public var description: String {
        field.isEmpty ? "\(location): \(message)" : "\(location): \(field): \(message)"
    }
}

/// Every problem found, in file order; thrown when there is at least one.
public struct ManifestProblems: Error, Sendable, CustomStringConvertible {
    public var problems: [ManifestProblem]
    public init(_ problems: [ManifestProblem]) { self.problems = problems }
    public var description: String { problems.map(\.description).joined(separator: "\n") }
}
