import ArgumentParser
import Foundation
import Skills

/// `llava-plus skills ...`: the skill manifests the agent can call.
struct SkillsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "skills",
        abstract: "Check, list and describe the skills declared by manifests.",
        subcommands: [List.self, Info.self, Validate.self, Call.self, Test.self, ImportMCPCommand.self],
        defaultSubcommand: List.self
    )

    struct Folders: ParsableArguments {
        @Option(name: .customLong("skills"), help: ArgumentHelp(
            "Another folder of manifests (repeatable); searched after the project's manifests/ and before $LLAVA_PLUS_SKILLS.",
            valueName: "DIR"))
        var folders: [String] = []

        func directories() -> [URL] {
            SkillRegistry.defaultDirectories(projectRoot: SkillRegistry.locateProjectRoot(), extra: folders)
        }

        func registry() -> SkillRegistry {
            SkillRegistry.discover(in: directories(), displayPath: shownPath)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the skills: name, version, transport, health, aliases.")

        @OptionGroup var folders: Folders

        func run() async throws {
            let registry = folders.registry()
            // Health checks start nothing: a persistent skill not yet running is "ready", an
            // HTTP service is probed at its health path.
            let runner = SkillRunner(registry: registry, artifacts: try ArtifactStore.temporary())
            defer { try? FileManager.default.removeItem(at: runner.artifacts.directory) }
            var rows = [["NAME", "VERSION", "TRANSPORT", "HEALTH", "ALIASES"]]
            for manifest in registry.manifests {
                rows.append([manifest.name, manifest.version.description, manifest.transport.kind,
                             await runner.health(of: manifest.name).description, manifest.aliases.joined(separator: ", ")])
            }
            print(table(rows))
            // Listing shows what is usable; broken manifests are flagged, not fatal here
            // (`skills validate` is the command that fails on them).
            if !registry.problems.isEmpty {
                printProblems(registry.problems, to: .standardError)
                FileHandle.standardError.write(Data("\(registry.problems.count) problem(s) in manifests: those skills are left out (see llava-plus skills validate)\n".utf8))
            }
        }
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Describe one skill and its parameters.")

        @OptionGroup var folders: Folders

        @Argument(help: "The skill's name or one of its aliases.")
        var name: String

        func run() throws {
            let registry = folders.registry()
            guard let manifest = registry.manifest(named: name) else {
                let hint = registry.callableNames.isEmpty ? "no skills are installed"
                    : "known: " + registry.callableNames.joined(separator: ", ")
                FileHandle.standardError.write(Data("unknown skill '\(name)' (\(hint))\n".utf8))
                throw ExitCode(1)
            }
            print("\(manifest.name) \(manifest.version)")
            print(manifest.description)
            if !manifest.aliases.isEmpty { print("aliases: \(manifest.aliases.joined(separator: ", "))") }
            print("transport: \(describe(manifest.transport))")
            let limits = manifest.limits
            print("limits: timeout \(formatNumber(limits.timeoutSeconds)) s, memory \(limits.memoryMB) MB, "
                + "concurrency \(limits.concurrency), network \(limits.network ? "yes" : "no"), "
                + "output \(formatBytes(limits.maxOutputBytes))")
            if let file = manifest.origin.file { print("manifest: \(shownPath(file))") }
            print("")
            let properties = manifest.inputSchema["properties"]?.objectValue ?? [:]
            let required = Set((manifest.inputSchema["required"]?.arrayValue ?? []).compactMap(\.stringValue))
            var rows = [["PARAMETER", "TYPE", "REQUIRED", "DEFAULT", "DESCRIPTION"]]
            for (property, schema) in properties.sorted(by: { $0.key < $1.key }) {
                rows.append([property, typeSummary(schema), required.contains(property) ? "yes" : "no",
                             schema["default"]?.compactJSON ?? "", schema["description"]?.stringValue ?? ""])
            }
            print(table(rows))
            if !manifest.examples.isEmpty {
                print("\nexamples:")
                for example in manifest.examples {
                    print("  \"\(example.request)\" -> \(example.params.compactJSON)"
                        + (example.image.map { " (image \($0))" } ?? ""))
                }
            }
        }
    }

    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check manifests and print every problem as file:line:column; exit 1 if any.")

        @OptionGroup var folders: Folders

        @Argument(help: "Manifest files or folders (default: every folder the registry searches).")
        var paths: [String] = []

        func run() throws {
            var files: [URL] = []
            for path in paths {
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                    throw ValidationError("\(path): no such file or folder")
                }
                let url = URL(fileURLWithPath: path)
                files += isDirectory.boolValue ? SkillRegistry.manifestFiles(in: url) : [url]
            }
            var registry = SkillRegistry()
            if paths.isEmpty {
                registry = folders.registry()
                files = folders.directories().flatMap(SkillRegistry.manifestFiles(in:))
            } else {
                for file in files { registry.load(file, displayPath: shownPath(file)) }
            }
            printProblems(registry.problems, to: .standardOutput)
            let count = registry.problems.count
            print("\(files.count) manifest\(files.count == 1 ? "" : "s"), \(registry.manifests.count) valid, "
                + "\(count) problem\(count == 1 ? "" : "s")")
            if count > 0 { throw ExitCode(1) }
        }
    }
}

private enum Stream { case standardOutput, standardError }

private func printProblems(_ problems: [ManifestProblem], to stream: Stream) {
    for problem in problems {
        switch stream {
        case .standardOutput: print(problem)
        case .standardError: FileHandle.standardError.write(Data("\(problem)\n".utf8))
        }
    }
}

/// Paths under the current directory print relative to it, as compilers print them.
private func shownPath(_ url: URL) -> String {
    let path = url.standardizedFileURL.path
    let current = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).standardizedFileURL.path + "/"
    return path.hasPrefix(current) ? String(path.dropFirst(current.count)) : path
}

private func formatNumber(_ value: Double) -> String {
    value.rounded() == value ? String(Int(value)) : String(value)
}

private func describe(_ transport: SkillManifest.Transport) -> String {
    switch transport {
    case .subprocess(let command, let persistent):
        return "subprocess \(command.joined(separator: " "))\(persistent ? " (persistent)" : "")"
    case .http(let url, let start, let health):
        return "http \(url)" + (health.map { " health \($0)" } ?? "") + (start.map { " start: \($0.joined(separator: " "))" } ?? "")
    case .mcp(.command(let command), let tool):
        return "mcp stdio \(command.joined(separator: " ")) tool \(tool)"
    case .mcp(.url(let url), let tool):
        return "mcp \(url) tool \(tool)"
    }
}

/// `number 0..1`, `string (image-artifact)`, `string: a|b`, `array of string`.
private func typeSummary(_ schema: JSONValue) -> String {
    var text = schema["type"]?.stringValue
        ?? schema["type"]?.arrayValue?.map { $0.stringValue ?? "null" }.joined(separator: "|") ?? "any"
    if let format = schema["format"]?.stringValue { text += " (\(format))" }
    if let items = schema["items"] { text += " of " + typeSummary(items) }
    if let options = schema["enum"]?.arrayValue { text += ": " + options.map(\.compactJSON).joined(separator: "|") }
    let low = schema["minimum"]?.numberValue, high = schema["maximum"]?.numberValue
    if low != nil || high != nil {
        text += " " + (low.map(formatNumber) ?? "") + ".." + (high.map(formatNumber) ?? "")
    }
    return text
}
