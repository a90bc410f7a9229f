import Foundation

/// Writes skill manifests from an MCP server's tool list (`llava-plus skills import-mcp`): one
/// manifest per tool, each checked by ``ManifestLoader`` before it is written, so that every
/// file written loads and a tool whose schema this project cannot enforce is reported instead.
public struct MCPImport: Sendable {
    /// A manifest that was (or, without `force`, would have been) written.
    public struct Entry: Sendable, Equatable {
        public var tool: String
        public var skill: String
        public var file: URL
        /// False when the file existed and `force` was not given.
        public var written: Bool
    }

    /// A tool left out, and why (the loader's messages).
    public struct Skipped: Sendable, Equatable {
        public var tool: String
        public var reasons: [String]
    }

    public struct Report: Sendable, Equatable {
        public var server: MCPServerInfo?
        public var entries: [Entry] = []
        public var skipped: [Skipped] = []
    }

    public var server: SkillManifest.MCPServer
    /// Where manifests go; its parent is the project root their commands resolve against.
    public var directory: URL
    public var namePrefix: String
    public var force: Bool
    public var loader: ManifestLoader

    public init(server: SkillManifest.MCPServer, directory: URL, namePrefix: String = "", force: Bool = false,
                loader: ManifestLoader = ManifestLoader()) {
        (self.server, self.directory, self.namePrefix, self.force, self.loader) = (server, directory, namePrefix, force, loader)
    }

    var projectRoot: URL { directory.standardizedFileURL.deletingLastPathComponent() }

    /// Starts (or reaches) the server, lists its tools and writes their manifests.
    public func run(timeout: Double = 30) async throws(SkillError) -> Report {
        let label: String = switch server {
        case .command(let command): command.joined(separator: " ")
        case .url(let url): url
        }
        // The manifests' folder exists before the server starts: its parent is the server's
        // working directory.
        try createDirectory()
        // Listing tools needs no limits beyond the timeout; the server may need the network.
        var limits = SkillManifest.Limits()
        (limits.memoryMB, limits.network) = (0, true)
        let client = MCPClient(server: server, projectRoot: projectRoot, limits: limits, label: label)
        let tools: [MCPTool]
        do { tools = try await client.listTools(timeout: timeout) } catch {
            await client.close()
            throw error
        }
        let info = await client.serverInfo
        await client.close()
        return try write(tools, server: info)
    }

    /// Writes the manifests of `tools` (separate from `run` so that it needs no server).
    public func write(_ tools: [MCPTool], server info: MCPServerInfo?) throws(SkillError) -> Report {
        try createDirectory()
        var report = Report(server: info)
        var used = Set<String>()
        for tool in tools {
            var name = Self.skillName(for: tool.name, prefix: namePrefix)
            if used.contains(name) {
                var number = 2
                while used.contains("\(name)_\(number)") { number += 1 }
                name = "\(name)_\(number)"
            }
            let file = directory.appendingPathComponent("\(name).yaml")
            let text = manifest(for: tool, name: name, info: info)
            switch loader.parse(text, file: file.lastPathComponent, url: file, projectRoot: projectRoot) {
            case .failure(let problems):
                report.skipped.append(Skipped(tool: tool.name, reasons: problems.problems.map(\.description)))
                continue
            case .success:
                used.insert(name)
            }
            let exists = FileManager.default.fileExists(atPath: file.path)
            if !exists || force {
                do { try Data(text.utf8).write(to: file, options: .atomic) } catch {
                    throw SkillError(.unavailable, skill: "import-mcp", "cannot write \(file.path): \(error.localizedDescription)")
                }
            }
            report.entries.append(Entry(tool: tool.name, skill: name, file: file, written: !exists || force))
        }
        return report
    }

    private func createDirectory() throws(SkillError) {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw SkillError(.unavailable, skill: "import-mcp", "cannot create \(directory.path): \(error.localizedDescription)")
        }
    }

    /// A valid skill name from a tool name: lowercase, other characters as `_`, starting with a
    /// letter (`Flip.Image` -> `flip_image`, `2d-detect` -> `mcp_2d-detect`).
    public static func skillName(for tool: String, prefix: String = "") -> String {
        var name = ""
        for scalar in (prefix + tool).lowercased().unicodeScalars {
            let keep = ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar) || "_+-".unicodeScalars.contains(scalar)
            if keep { name.unicodeScalars.append(scalar) } else if !name.hasSuffix("_") { name += "_" }
        }
        while name.hasSuffix("_") { name.removeLast() }
        if !ManifestLoader.isValidName(name) { name = "mcp_" + name }
        return name
    }

    /// The manifest text. Values are written as JSON, which is YAML's flow syntax, so that any
    /// description or schema survives quoting exactly.
    func manifest(for tool: MCPTool, name: String, info: MCPServerInfo?) -> String {
        let version = info.flatMap { SemanticVersion($0.version) }?.description ?? "1.0.0"
        var schema = tool.inputSchema.objectValue ?? [:]
        schema["$schema"] = nil  // a meta-schema URI: an annotation, nothing to enforce
        let description = [tool.description, tool.title].compactMap { $0?.trimmingCharacters(in: .whitespacesAndNewlines) }
            .first { !$0.isEmpty } ?? "The MCP tool \(tool.name)."
        let transport: String = switch server {
        case .command(let command): "command: \(JSONValue.array(command.map { .string($0) }).compactJSON)"
        case .url(let url): "url: \(JSONValue.string(url).compactJSON)"
        }
        let origin = info.map { "\($0.name) \($0.version)" } ?? "the server"
        return """
            # Written by `llava-plus skills import-mcp` from tools/list of \(origin).
            name: \(name)
            version: \(version)
            description: \(JSONValue.string(description).compactJSON)
            input_schema: \(JSONValue.object(schema).compactJSON)
            transport:
              kind: mcp
              \(transport)
              tool: \(JSONValue.string(tool.name).compactJSON)
            # A stdio server runs without network access unless network is true.
            limits: {timeout_s: 30, network: false}

            """
    }
}
