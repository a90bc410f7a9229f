import Foundation

/// A skill as its YAML manifest declares it (see design.md, "Skill manifest (YAML)").
///
/// Values here have passed `ManifestLoader`'s checks: the name is well formed, the version is
/// semantic, the input schema is a valid schema of the supported subset and every example's
/// parameters validate against it.
public struct SkillManifest: Sendable, Equatable {
    /// What the model calls (`API_name`): `[a-z][a-z0-9_+-]*`.
    public var name: String
    public var version: SemanticVersion
    /// Other names that resolve to this skill (for example the names released LLaVA-Plus
    /// checkpoints use).
    public var aliases: [String]
    public var description: String
    /// JSON Schema of the call's parameters; its top-level type is `object`.
    public var inputSchema: JSONValue
    /// JSON Schema of the result, when declared.
    public var outputSchema: JSONValue?
    public var transport: Transport
    public var limits: Limits
    public var examples: [Example]
    /// Where the manifest was read from and where its fields are (for cross-manifest messages).
    public var origin: Origin

    public struct Origin: Sendable, Equatable {
        /// The manifest file as loaded.
        public var file: URL?
        /// The project root that relative commands resolve against.
        public var projectRoot: URL?
        /// Where `name` is written.
        public var nameLocation: SourceLocation
        /// Where each alias is written, in order.
        public var aliasLocations: [SourceLocation]
    }

    /// How the runner reaches the skill.
    public enum Transport: Sendable, Equatable {
        /// A local process speaking JSON over stdin/stdout; `persistent` keeps it (and the
        /// model it loaded) between calls.
        case subprocess(command: [String], persistent: Bool)
        /// An HTTP service at `url`, optionally started by `start` and probed at `health`.
        case http(url: String, start: [String]?, health: String?)
        /// A tool of an MCP server, over stdio (`command`) or streamable HTTP (`url`).
        case mcp(server: MCPServer, tool: String)

        /// `subprocess`, `http` or `mcp`, as in the manifest.
        public var kind: String {
            switch self {
            case .subprocess: "subprocess"
            case .http: "http"
            case .mcp: "mcp"
            }
        }
    }

    public enum MCPServer: Sendable, Equatable {
        case command([String])
        case url(String)
    }

    /// Per-skill limits the runner enforces. Defaults are deliberately modest: a skill that
    /// needs more says so in its manifest.
    public struct Limits: Sendable, Equatable {
        public var timeoutSeconds: Double = 30
        public var memoryMB: Int = 1024
        public var concurrency: Int = 1
        public var network: Bool = false
        public var maxOutputBytes: Int = 1_000_000

        public init() {}
    }

    /// A self-test and a seed for tool-use training data.
    public struct Example: Sendable, Equatable {
        /// What a user might ask that leads to this call.
        public var request: String
        /// An image (path relative to the project root) that the call's `image-artifact`
        /// parameters refer to.
        public var image: String?
        /// The call's parameters, as written (defaults not filled in).
        public var params: JSONValue
        /// What the result must satisfy; its interpretation belongs to `skills test` (later).
        public var expect: JSONValue?
    }

    /// Every name that resolves to this skill: the name, then the aliases.
    public var allNames: [String] { [name] + aliases }
}
