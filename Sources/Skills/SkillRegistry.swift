import Foundation

/// The skills the agent can call: every manifest found in a list of folders, looked up by
/// name or alias, and the gate every tool call passes before it is dispatched.
public struct SkillRegistry: Sendable {
    /// The environment variable with extra manifest folders, colon-separated.
    public static let environmentVariable = "LLAVA_PLUS_SKILLS"

    /// Valid manifests, sorted by name.
    public private(set) var manifests: [SkillManifest] = []
    /// Every problem found while loading: per-file ones, then clashes between files.
    public private(set) var problems: [ManifestProblem] = []
    /// Name or alias → canonical name.
    private var index: [String: String] = [:]
    private var byName: [String: SkillManifest] = [:]

    public init() {}

    /// Builds a registry from already loaded manifests, reporting duplicate names and aliases.
    /// The first manifest to claim a name keeps it; later ones are left out.
    public init(manifests: [SkillManifest]) {
        for manifest in manifests { add(manifest) }
        self.manifests.sort { $0.name < $1.name }
    }

    /// Loads every `*.yaml` / `*.yml` file directly in `directories` (in the order given,
    /// files sorted by name within each). Folders that do not exist are skipped: the default
    /// list names optional ones.
    public static func discover(in directories: [URL], loader: ManifestLoader = ManifestLoader(),
                                displayPath: (URL) -> String = { $0.path }) -> SkillRegistry {
        var registry = SkillRegistry()
        var seen = Set<String>()
        for directory in directories {
            for file in manifestFiles(in: directory) where seen.insert(file.standardizedFileURL.path).inserted {
                registry.load(file, loader: loader, displayPath: displayPath(file))
            }
        }
        registry.manifests.sort { $0.name < $1.name }
        return registry
    }

    /// The manifest files directly in `directory`, sorted; empty if it does not exist.
    public static func manifestFiles(in directory: URL) -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
            .map { directory.appendingPathComponent($0) }
    }

    /// The folders to search: the project's `manifests/`, then `--skills` folders, then the
    /// entries of `$LLAVA_PLUS_SKILLS`.
    public static func defaultDirectories(projectRoot: URL?, extra: [String] = [],
                                          environment: [String: String] = ProcessInfo.processInfo.environment) -> [URL] {
        var directories: [URL] = []
        if let projectRoot { directories.append(projectRoot.appendingPathComponent("manifests", isDirectory: true)) }
        directories += extra.map { URL(fileURLWithPath: $0, isDirectory: true) }
        directories += (environment[environmentVariable] ?? "").split(separator: ":").map {
            URL(fileURLWithPath: String($0), isDirectory: true)
        }
        return directories
    }

    /// The checkout that holds `manifests/`: the first of the current directory, the
    /// executable's directory and their parents with a `Package.swift` and a `manifests/`.
    public static func locateProjectRoot(from starts: [URL] = [
        URL(fileURLWithPath: FileManager.default.currentDirectoryPath),
        URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent(),
    ]) -> URL? {
        for start in starts {
            var directory = start.standardizedFileURL
            while true {
                let files = FileManager.default
                if files.fileExists(atPath: directory.appendingPathComponent("Package.swift").path),
                   files.fileExists(atPath: directory.appendingPathComponent("manifests").path) {
                    return directory
                }
                let parent = directory.deletingLastPathComponent()
                if parent.path == directory.path { break }
                directory = parent
            }
        }
        return nil
    }

    /// Loads one file into the registry, recording its problems.
    public mutating func load(_ file: URL, loader: ManifestLoader = ManifestLoader(), displayPath: String? = nil) {
        switch loader.load(file, displayPath: displayPath) {
        case .success(let manifest): add(manifest)
        case .failure(let failure): problems += failure.problems
        }
    }

    /// Adds a manifest unless one of its names is taken; a clash names both files.
    public mutating func add(_ manifest: SkillManifest) {
        let claims = [(manifest.name, manifest.origin.nameLocation, "name")]
            + zip(manifest.aliases, manifest.origin.aliasLocations).enumerated().map { ($1.0, $1.1, "aliases[\($0)]") }
        var clashed = false
        for (claimed, location, field) in claims {
            guard let owner = index[claimed], let other = byName[owner] else { continue }
            let otherLocation = other.name == claimed
                ? other.origin.nameLocation
                : other.origin.aliasLocations[other.aliases.firstIndex(of: claimed)!]
            let role = other.name == claimed ? "the name" : "an alias"
            problems.append(ManifestProblem(location, field, "'\(claimed)' is already \(role) of skill '\(other.name)' at \(otherLocation)"))
            clashed = true
        }
        guard !clashed else { return }
        for name in manifest.allNames { index[name] = manifest.name }
        byName[manifest.name] = manifest
        manifests.append(manifest)
    }

    /// The skill called `name` (its name or one of its aliases).
    public func manifest(named name: String) -> SkillManifest? {
        index[name].flatMap { byName[$0] }
    }

    /// Every name and alias, sorted.
    public var callableNames: [String] { index.keys.sorted() }

    /// A validated call, ready to dispatch.
    public struct ValidatedCall: Sendable, Equatable {
        /// The skill's canonical name (the call may have used an alias).
        public var name: String
        /// The parameters with defaults filled in.
        public var params: JSONValue
        /// The defaults that were filled in, to show the user and record in the transcript.
        public var appliedDefaults: [AppliedDefault]
    }

    /// Why a call cannot be dispatched.
    public enum CallError: Error, Sendable, Equatable, CustomStringConvertible {
        case unknownSkill(name: String, suggestion: String?)
        case invalidParams(name: String, violations: [SchemaViolation])

        public var description: String {
            switch self {
            case .unknownSkill(let name, let suggestion):
                return "unknown skill '\(name)'" + (suggestion.map { "; did you mean '\($0)'?" } ?? "")
            case .invalidParams(let name, let violations):
                return "invalid parameters for '\(name)':\n" + violations.map { "  \($0)" }.joined(separator: "\n")
            }
        }
    }

    /// Resolves `name` and validates `params` against the skill's input schema. `pointer`
    /// prefixes violation paths (e.g. `/actions/0/API_params`).
    public func validateCall(name: String, params: JSONValue, pointer: String = "") -> Result<ValidatedCall, CallError> {
        guard let manifest = manifest(named: name) else {
            return .failure(.unknownSkill(name: name, suggestion: Suggestions.closest(to: name, in: callableNames)))
        }
        let result = JSONSchemaValidator(schema: manifest.inputSchema).validate(params, at: pointer)
        guard result.isValid else { return .failure(.invalidParams(name: manifest.name, violations: result.violations)) }
        return .success(ValidatedCall(name: manifest.name, params: result.value, appliedDefaults: result.appliedDefaults))
    }
}
