import ArgumentParser
import Foundation
import Skills

/// `llava-plus skills import-mcp [--out DIR] [--name-prefix P] -- COMMAND...` (or `--url URL`):
/// one manifest per tool of an MCP server.
struct ImportMCPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-mcp",
        abstract: "Write a skill manifest for each tool of an MCP server.",
        discussion: """
            Starts the server (COMMAND, over stdio) or reaches it (--url, streamable HTTP), asks for its tools and \
            writes DIR/NAME.yaml for each: the name derived from the tool's, the version from the server's if it is \
            semantic, the tool's description and input schema. A tool whose schema the skill validator cannot \
            enforce is reported and skipped. Existing files are kept unless --force is given. Relative paths in \
            COMMAND resolve against DIR's parent, the project root that the manifests run from.
            """)

    @Option(name: .long, help: ArgumentHelp("Folder to write the manifests into.", valueName: "DIR"))
    var out = "manifests"

    @Option(name: .long, help: ArgumentHelp("Put this before every skill name (e.g. 'fs_').", valueName: "P"))
    var namePrefix = ""

    @Option(name: .long, help: ArgumentHelp("A streamable HTTP server's MCP endpoint instead of a command.", valueName: "URL"))
    var url: String?

    @Flag(name: .long, help: "Overwrite manifests that already exist.")
    var force = false

    @Option(name: .long, help: ArgumentHelp("Seconds to wait for the server to start and list its tools.", valueName: "S"))
    var timeout: Double = 30

    @Argument(parsing: .postTerminator, help: ArgumentHelp("The stdio server's command and arguments, after --.", valueName: "COMMAND"))
    var command: [String] = []

    func validate() throws {
        if command.isEmpty == (url == nil) { throw ValidationError("give either -- COMMAND... (stdio) or --url URL (streamable HTTP)") }
        if timeout <= 0 { throw ValidationError("--timeout must be positive") }
    }

    func run() async throws {
        let server: SkillManifest.MCPServer = url.map { .url($0) } ?? .command(command)
        let importer = MCPImport(server: server, directory: URL(fileURLWithPath: out), namePrefix: namePrefix, force: force)
        let report: MCPImport.Report
        do { report = try await importer.run(timeout: timeout) } catch {
            FileHandle.standardError.write(Data("import-mcp: \(error.message)\n".utf8))
            throw ExitCode(1)
        }
        if let server = report.server { print("\(server.name) \(server.version): \(report.entries.count + report.skipped.count) tool(s)") }
        for entry in report.entries {
            let file = (out as NSString).appendingPathComponent(entry.file.lastPathComponent)
            print(entry.written ? "wrote    \(file)  (\(entry.skill) <- \(entry.tool))"
                                : "kept     \(file)  (exists; --force overwrites it)")
        }
        for skipped in report.skipped {
            print("skipped  \(skipped.tool): its manifest would not load:")
            for reason in skipped.reasons { print("         \(reason)") }
        }
        if report.entries.isEmpty { throw ExitCode(1) }
    }
}
