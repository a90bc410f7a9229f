/// A Semantic Versioning 2.0.0 version: `MAJOR.MINOR.PATCH[-prerelease][+build]`.
public struct SemanticVersion: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var major: Int
    public var minor: Int
    public var patch: Int
    public var prerelease: [String]
    public var build: [String]

    /// Parses a version, or nil. Numeric parts may not have leading zeros and identifiers may
    /// not be empty, as the specification says (so `1.0`, `v1.0.0` and `01.0.0` are rejected).
    public init?(_ text: String) {
        var rest = Substring(text)
        var build: [String] = []
        if let plus = rest.firstIndex(of: "+") {
            build = rest[rest.index(after: plus)...].split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            rest = rest[..<plus]
            guard build.allSatisfy(Self.isIdentifier) else { return nil }
        }
        var prerelease: [String] = []
        if let dash = rest.firstIndex(of: "-") {
            prerelease = rest[rest.index(after: dash)...].split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            rest = rest[..<dash]
            guard prerelease.allSatisfy({ Self.isIdentifier($0) && !Self.hasLeadingZero($0) }) else { return nil }
        }
        let core = rest.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard core.count == 3, core.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCIIDigitCharacter) && !Self.hasLeadingZero($0) }),
              let major = Int(core[0]), let minor = Int(core[1]), let patch = Int(core[2])
        else { return nil }
        (self.major, self.minor, self.patch, self.prerelease, self.build) = (major, minor, patch, prerelease, build)
    }

    public var description: String {
        "\(major).\(minor).\(patch)" + (prerelease.isEmpty ? "" : "-" + prerelease.joined(separator: "."))
            + (build.isEmpty ? "" : "+" + build.joined(separator: "."))
    }

    private static func isIdentifier(_ s: String) -> Bool {
        !s.isEmpty && s.allSatisfy { $0.isASCIIDigitCharacter || ($0.isASCII && $0.isLetter) || $0 == "-" }
    }

    /// A numeric identifier with a leading zero (`01`); alphanumeric ones may start with 0.
    private static func hasLeadingZero(_ s: String) -> Bool {
        s.count > 1 && s.first == "0" && s.allSatisfy(\.isASCIIDigitCharacter)
    }
}

extension Character {
    var isASCIIDigitCharacter: Bool { isASCII && isNumber }
}
