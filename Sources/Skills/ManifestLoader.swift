import Foundation
import Yams

/// Loads and validates skill manifests, reporting every problem of a file at once as
/// `file:line:column: field.path: what was expected`.
public struct ManifestLoader: Sendable {
    /// The environment whose `PATH` resolves bare program names.
    public var environment: [String: String]

    public static let topLevelKeys = ["name", "version", "aliases", "description", "input_schema", "output_schema",
                                      "transport", "limits", "examples"]
    public static let transportKinds = ["subprocess", "http", "mcp"]
    static let transportKeys = [
        "subprocess": ["kind", "command", "persistent"],
        "http": ["kind", "url", "start", "health"],
        "mcp": ["kind", "command", "url", "tool"],
    ]
    static let limitKeys = ["timeout_s", "memory_mb", "concurrency", "network", "max_output_bytes"]
    static let exampleKeys = ["request", "image", "params", "expect"]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    /// Whether `name` is a valid skill name or alias: `[a-z][a-z0-9_+-]*`.
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, ("a"..."z").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || "_+-".unicodeScalars.contains($0) }
    }

    /// Loads the manifest at `url`. `displayPath` is how the file appears in messages (default:
    /// the path as given); `projectRoot` resolves relative commands (default: the parent of the
    /// manifest's folder).
    public func load(_ url: URL, displayPath: String? = nil, projectRoot: URL? = nil) -> Result<SkillManifest, ManifestProblems> {
        let shown = displayPath ?? url.path
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            return .failure(ManifestProblems([ManifestProblem(SourceLocation(file: shown, line: 1, column: 1), "",
                                                              "cannot read the file as UTF-8 text")]))
        }
        let root = projectRoot ?? url.standardizedFileURL.deletingLastPathComponent().deletingLastPathComponent()
        return parse(text, file: shown, url: url, projectRoot: root)
    }

    /// Validates manifest text. `file` names it in messages.
    public func parse(_ text: String, file: String, url: URL? = nil, projectRoot: URL?) -> Result<SkillManifest, ManifestProblems> {
        let root: Node
        switch YAMLReader.compose(text, file: file) {
        case .failure(let problem): return .failure(ManifestProblems([problem]))
        case .success(nil):
            return .failure(ManifestProblems([ManifestProblem(SourceLocation(file: file, line: 1, column: 1), "",
                                                              "the file is empty; expected a mapping with name, version, description, input_schema and transport")]))
        case .success(let node?): root = node
        }
        var reader = YAMLReader(file: file)
        let manifest = read(root, projectRoot: projectRoot, url: url, &reader)
        // File order, so the list reads top to bottom like the file (stable for equal places).
        let problems = reader.problems.enumerated().sorted {
            ($0.element.location.line, $0.element.location.column, $0.offset) < ($1.element.location.line, $1.element.location.column, $1.offset)
        }.map(\.element)
        if let manifest, problems.isEmpty { return .success(manifest) }
        return .failure(ManifestProblems(problems))
    }

    // MARK: - Fields

    private func read(_ root: Node, projectRoot: URL?, url: URL?, _ reader: inout YAMLReader) -> SkillManifest? {
        guard let fields = reader.mapping(root, "", allowed: Self.topLevelKeys,
                                          required: ["name", "version", "description", "input_schema", "transport"],
                                          what: "a mapping with name, version, description, input_schema and transport")
        else { return nil }

        var name: String?
        if let node = fields["name"], let value = reader.text(node, "name") {
            if Self.isValidName(value) { name = value } else {
                reader.fail(node, "name", "'\(value)' is not a valid skill name (expected [a-z][a-z0-9_+-]*: lowercase letters, digits, _, +, -)")
            }
        }

        var version: SemanticVersion?
        if let node = fields["version"], let value = reader.text(node, "version") {
            version = SemanticVersion(value)
            if version == nil {
                reader.fail(node, "version", "'\(value)' is not a semantic version (expected MAJOR.MINOR.PATCH, e.g. 1.0.0)")
            }
        }

        var aliases: [String] = []
        var aliasLocations: [SourceLocation] = []
        if let node = fields["aliases"], let values = reader.strings(node, "aliases"), case .sequence(let sequence) = node {
            for (index, alias) in values.enumerated() {
                let field = "aliases[\(index)]"
                if !Self.isValidName(alias) {
                    reader.fail(sequence[index], field, "'\(alias)' is not a valid skill name (expected [a-z][a-z0-9_+-]*: lowercase letters, digits, _, +, -)")
                } else if alias == name {
                    reader.fail(sequence[index], field, "'\(alias)' is the skill's own name")
                } else if aliases.contains(alias) {
                    reader.fail(sequence[index], field, "'\(alias)' is listed twice")
                } else {
                    aliases.append(alias)
                    aliasLocations.append(reader.location(sequence[index]))
                }
            }
        }

        let description = fields["description"].flatMap { reader.string($0, "description") }

        let inputSchema = fields["input_schema"].flatMap { SchemaChecker.check($0, "input_schema", topLevel: true, &reader) }
        let outputSchema = fields["output_schema"].flatMap { SchemaChecker.check($0, "output_schema", topLevel: false, &reader) }

        let resolver = ExecutableResolver(projectRoot: projectRoot, path: environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin")
        let transport = fields["transport"].flatMap { readTransport($0, resolver, &reader) }
        let limits = fields["limits"].map { readLimits($0, &reader) } ?? SkillManifest.Limits()

        var examples: [SkillManifest.Example] = []
        if let node = fields["examples"] {
            if case .sequence(let sequence) = node {
                for (index, element) in sequence.enumerated() {
                    if let example = readExample(element, "examples[\(index)]", inputSchema: inputSchema, &reader) {
                        examples.append(example)
                    }
                }
            } else {
                reader.fail(node, "examples", "expected a sequence of examples, found \(YAMLReader.kind(of: node))")
            }
        }

        guard let name, let version, let description, let inputSchema, let transport else { return nil }
        return SkillManifest(
            name: name, version: version, aliases: aliases, description: description,
            inputSchema: inputSchema, outputSchema: outputSchema, transport: transport, limits: limits,
            examples: examples,
            origin: .init(file: url, projectRoot: projectRoot,
                          nameLocation: reader.location(fields["name"]!), aliasLocations: aliasLocations))
    }

    private func readTransport(_ node: Node, _ resolver: ExecutableResolver, _ reader: inout YAMLReader) -> SkillManifest.Transport? {
        // The kind decides which keys are allowed, so read it before the rest.
        var kind: String?
        if case .mapping(let mapping) = node, let kindNode = mapping["kind"] {
            if let value = reader.string(kindNode, "transport.kind") {
                if Self.transportKinds.contains(value) { kind = value } else {
                    let hint = Suggestions.hint(for: value, in: Self.transportKinds)
                    reader.fail(kindNode, "transport.kind", "'\(value)' is not a transport kind (expected subprocess, http or mcp)" + hint)
                }
            }
        }
        let allowed = kind.map { Self.transportKeys[$0]! } ?? Array(Set(Self.transportKeys.values.joined())).sorted()
        let required: [String] = switch kind {
        case "subprocess": ["kind", "command"]
        case "http": ["kind", "url"]
        case "mcp": ["kind", "tool"]
        default: ["kind"]
        }
        let explain: (String) -> String? = { key in
            guard let kind else { return nil }
            let owners = Self.transportKinds.filter { $0 != kind && Self.transportKeys[$0]!.contains(key) }
            return owners.isEmpty ? nil : "'\(key)' belongs to \(owners.joined(separator: " and ")) transports, not \(kind)"
        }
        guard let fields = reader.mapping(node, "transport", allowed: allowed, required: required, explain: explain),
              let kind else { return nil }

        switch kind {
        case "subprocess":
            let command = fields["command"].flatMap { readCommand($0, "transport.command", resolver, &reader) }
            var persistent: Bool? = false  // nil once present but not a boolean
            if let node = fields["persistent"] { persistent = reader.bool(node, "transport.persistent") }
            guard let command, let persistent else { return nil }
            return .subprocess(command: command, persistent: persistent)
        case "http":
            let url = fields["url"].flatMap { readURL($0, "transport.url", &reader) }
            var complete = true  // false once an optional field is present but wrong
            var start: [String]?
            if let node = fields["start"] {
                start = readCommand(node, "transport.start", resolver, &reader)
                complete = complete && start != nil
            }
            var health: String?
            if let node = fields["health"] {
                health = reader.string(node, "transport.health")
                if let path = health, !path.hasPrefix("/") {
                    reader.fail(node, "transport.health", "expected a path starting with '/', found '\(path)'")
                    health = nil
                }
                complete = complete && health != nil
            }
            guard let url, complete else { return nil }
            return .http(url: url, start: start, health: health)
        default:  // mcp
            let tool = fields["tool"].flatMap { reader.string($0, "transport.tool") }
            switch (fields["command"], fields["url"]) {
            case (.some, .some):
                reader.fail(node, "transport", "give either command (stdio) or url (streamable HTTP), not both")
                return nil
            case (nil, nil):
                reader.fail(node, "transport.command", "required field is missing (give command for stdio or url for streamable HTTP)")
                return nil
            case (let commandNode?, nil):
                guard let command = readCommand(commandNode, "transport.command", resolver, &reader), let tool else { return nil }
                return .mcp(server: .command(command), tool: tool)
            case (nil, let urlNode?):
                guard let url = readURL(urlNode, "transport.url", &reader), let tool else { return nil }
                return .mcp(server: .url(url), tool: tool)
            }
        }
    }

    /// `[program, arguments...]`, with the program checked to exist.
    private func readCommand(_ node: Node, _ field: String, _ resolver: ExecutableResolver, _ reader: inout YAMLReader) -> [String]? {
        guard case .sequence(let sequence) = node else {
            // A shell string would need a shell to split it; commands are argument vectors.
            reader.fail(node, field, "expected a sequence of strings like [python3, skills/x/main.py], found \(YAMLReader.kind(of: node))")
            return nil
        }
        guard let command = reader.strings(node, field) else { return nil }
        guard let program = command.first else {
            reader.fail(node, field, "must not be empty; expected [program, arguments...]")
            return nil
        }
        if case .missing(let why) = resolver.resolve(program) {
            reader.fail(sequence[0], field + "[0]", why)
            return nil
        }
        return command
    }

    private func readURL(_ node: Node, _ field: String, _ reader: inout YAMLReader) -> String? {
        guard let text = reader.string(node, field) else { return nil }
        guard let url = URL(string: text), ["http", "https"].contains(url.scheme?.lowercased() ?? ""),
              let host = url.host, !host.isEmpty else {
            reader.fail(node, field, "expected an http:// or https:// URL, found '\(text)'")
            return nil
        }
        return text
    }

    private func readLimits(_ node: Node, _ reader: inout YAMLReader) -> SkillManifest.Limits {
        var limits = SkillManifest.Limits()
        guard let fields = reader.mapping(node, "limits", allowed: Self.limitKeys) else { return limits }
        if let n = fields["timeout_s"], let v = reader.positiveNumber(n, "limits.timeout_s") { limits.timeoutSeconds = v }
        if let n = fields["memory_mb"], let v = reader.integer(n, "limits.memory_mb", atLeast: 1) { limits.memoryMB = v }
        if let n = fields["concurrency"], let v = reader.integer(n, "limits.concurrency", atLeast: 1) { limits.concurrency = v }
        if let n = fields["network"], let v = reader.bool(n, "limits.network") { limits.network = v }
        if let n = fields["max_output_bytes"], let v = reader.integer(n, "limits.max_output_bytes", atLeast: 1) { limits.maxOutputBytes = v }
        return limits
    }

    private func readExample(_ node: Node, _ field: String, inputSchema: JSONValue?, _ reader: inout YAMLReader) -> SkillManifest.Example? {
        guard let fields = reader.mapping(node, field, allowed: Self.exampleKeys, required: ["request", "params"]) else { return nil }
        let request = fields["request"].flatMap { reader.string($0, field + ".request") }
        let image = fields["image"].flatMap { reader.string($0, field + ".image") }
        var params: JSONValue?
        if let node = fields["params"] {
            if case .mapping = node { params = reader.json(node, field + ".params") } else {
                reader.fail(node, field + ".params", "expected a mapping of parameter names to values, found \(YAMLReader.kind(of: node))")
            }
        }
        var expect: JSONValue?
        if let node = fields["expect"] {
            if case .mapping = node { expect = reader.json(node, field + ".expect") } else {
                reader.fail(node, field + ".expect", "expected a mapping, found \(YAMLReader.kind(of: node))")
            }
        }
        if let inputSchema, let params, let paramsNode = fields["params"] {
            // The example's `image` stands for every image-artifact parameter it leaves out,
            // as the runner will fill them from the conversation's current image.
            var call = params.objectValue ?? [:]
            if let image {
                for (name, schema) in inputSchema["properties"]?.objectValue ?? [:]
                where call[name] == nil && schema["format"] == "image-artifact" {
                    call[name] = .string(image)
                }
            }
            for violation in JSONSchemaValidator(schema: inputSchema).validate(.object(call)).violations {
                reader.fail(YAMLReader.node(at: violation.pointer, in: paramsNode),
                            YAMLReader.field(field + ".params", pointer: violation.pointer), violation.message)
            }
        }
        guard let request, let params else { return nil }
        return SkillManifest.Example(request: request, image: image, params: params, expect: expect)
    }
}
