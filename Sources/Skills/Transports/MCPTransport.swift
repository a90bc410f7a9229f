import Foundation

/// Calls one tool of an MCP server (``MCPClient``), over stdio or streamable HTTP.
///
/// Arguments are the call's parameters. Artifact parameters are file paths for a stdio server
/// (it runs on this machine, from the project root) and base64 strings of the artifact's bytes
/// for a server reached by URL (it may run elsewhere). A stdio server runs under the skill's
/// memory limit and, unless `limits.network` is true, without network access where the kernel
/// allows it.
public final class MCPTransport: SkillTransport {
    public let manifest: SkillManifest
    private let client: MCPClient
    private let tool: String
    private let sendsBytes: Bool

    public init(manifest: SkillManifest) {
        self.manifest = manifest
        let server: SkillManifest.MCPServer
        switch manifest.transport {
        case .mcp(let s, let t): (server, tool) = (s, t)
        default: (server, tool) = (.command([]), "")
        }
        if case .url = server { sendsBytes = true } else { sendsBytes = false }
        client = MCPClient(server: server, projectRoot: manifest.origin.projectRoot, limits: manifest.limits, label: manifest.name)
    }

    public func call(_ invocation: SkillInvocation) async throws(SkillError) -> SkillReply {
        var arguments = invocation.params.objectValue ?? [:]
        if sendsBytes {
            for (name, artifact) in invocation.inputs {
                guard let bytes = FileManager.default.contents(atPath: artifact.url.path) else {
                    throw SkillError(.unavailable, skill: manifest.name, "cannot read artifact \(artifact.id) for /\(name)")
                }
                arguments[name] = .string(bytes.base64EncodedString())
            }
        }
        return try await client.callTool(tool, arguments: .object(arguments), limits: invocation.limits,
                                         outputDirectory: invocation.outputDirectory)
    }

    public func health() async -> SkillHealth { await client.health }

    public func shutdown() async { await client.close() }
}
