import Foundation
import Testing
@testable import Skills

/// The MCP client and transport against a real MCP server (`Fixtures/servers/mcp_server.py`),
/// over stdio and over streamable HTTP.
@Suite(.serialized) struct MCPTransportTests {
    static let stdio = "[python3, servers/mcp_server.py]"

    static func manifest(tool: String, server: String = stdio, timeout: Double = 60,
                         schema: String = "{type: object}", network: Bool = false) throws -> SkillManifest {
        let key = server.hasPrefix("http") ? "url: \"\(server)\"" : "command: \(server)"
        return try TransportFixtures.manifest("""
            name: tool
            version: 1.0.0
            description: An MCP tool.
            input_schema: \(schema)
            transport: {kind: mcp, \(key), tool: "\(tool)"}
            limits: {timeout_s: \(timeout), network: \(network)}
            """)
    }

    static func call(_ transport: MCPTransport, _ params: JSONValue = [:]) async -> Result<SkillReply, SkillError> {
        await TransportFixtures.call(transport, TransportFixtures.invocation(transport.manifest, params))
    }

    /// A client of the fixture server, started from the fixture project.
    static func client(_ server: SkillManifest.MCPServer) -> MCPClient {
        MCPClient(server: server, projectRoot: Fixtures.root, limits: SkillManifest.Limits(), label: "tools")
    }

    @Test func listsToolsAndMapsEachKindOfContent() async throws {
        let client = Self.client(.command(["python3", "servers/mcp_server.py"]))
        let tools = try await client.listTools(timeout: 60)
        #expect(tools.map(\.name) == ["add", "describe", "json_text", "Flip.Image", "fail", "count", "sleep", "cancellations", "crash",
                                      "garbage", "big", "choose"])
        #expect(tools[0].inputSchema["required"] == ["a", "b"])
        #expect(await client.serverInfo == MCPServerInfo(name: "test-tools", version: "2.1.0"))
        let limits = SkillManifest.Limits()
        let folder = FileManager.default.temporaryDirectory
        // structuredContent, a text block holding an object, plain text, isError, a JSON-RPC error.
        #expect(try await client.callTool("add", arguments: ["a": 2, "b": 3.5], limits: limits, outputDirectory: folder).result == ["sum": 5.5])
        #expect(try await client.callTool("json_text", arguments: [:], limits: limits, outputDirectory: folder).result == ["count": 3, "unit": "cats"])
        #expect(try await client.callTool("describe", arguments: ["text": "hello"], limits: limits, outputDirectory: folder).result
            == ["text": "a text of 5 characters"])
        do {
            _ = try await client.callTool("fail", arguments: [:], limits: limits, outputDirectory: folder)
            Issue.record("isError must fail the call")
        } catch {
            #expect(error == SkillError(.toolError, skill: "tools", "the tool failed on purpose"))
        }
        do {
            _ = try await client.callTool("nothing", arguments: [:], limits: limits, outputDirectory: folder)
            Issue.record("an unknown tool must fail the call")
        } catch {
            #expect(error.kind == .toolError)
            #expect(error.message.contains("-32602"))
        }
        await client.close()
    }

    @Test func imageContentBecomesAnArtifactAndArtifactParametersArePaths() async throws {
        let manifest = try Self.manifest(tool: "Flip.Image", schema: "{type: object, properties: {path: {type: string, format: image-artifact}}, required: [path]}")
        let store = try ArtifactStore.temporary()
        let input = try store.add(Data(TransportFixtures.png), kind: .image)
        let runner = SkillRunner(registry: SkillRegistry(manifests: [manifest]), artifacts: store)
        let output = try await runner.call("tool", params: ["path": .string(input.id)]).result.get()
        #expect(output["text"] == .string("flipped \(TransportFixtures.png.count) bytes"))
        let made = try #require(output["artifacts"]?.arrayValue?.first)
        let artifact = try #require(store.artifact(made["id"]?.stringValue ?? ""))
        #expect(Array(try Data(contentsOf: artifact.url)) == TransportFixtures.edited(TransportFixtures.png))
        #expect(made["label"] == "image/png")
        await runner.shutdown()
    }

    @Test func progressGoesToTheLogAndATimeoutCancelsAtTheServer() async throws {
        let counting = MCPTransport(manifest: try Self.manifest(tool: "count"))
        let reply = try await counting.call(TransportFixtures.invocation(counting.manifest, ["n": 3]))
        #expect(reply.result == ["counted": 3])
        #expect(reply.log == "progress 1/3: step 1\nprogress 2/3: step 2\nprogress 3/3: step 3")
        await counting.shutdown()

        let client = Self.client(.command(["python3", "servers/mcp_server.py"]))
        _ = try await client.listTools(timeout: 60)  // started, so that the timeout falls on the call
        var limits = SkillManifest.Limits()
        limits.timeoutSeconds = 0.3
        let folder = FileManager.default.temporaryDirectory
        let start = ContinuousClock.now
        do {
            _ = try await client.callTool("sleep", arguments: ["seconds": 20], limits: limits, outputDirectory: folder)
            Issue.record("the call must time out")
        } catch {
            #expect(error.kind == .timeout)
        }
        #expect(TransportFixtures.seconds(since: start) < 5)
        // The cancellation is sent without holding up the caller: wait for the server to see it.
        var cancelled: [JSONValue] = []
        for _ in 0..<50 where cancelled.isEmpty {
            cancelled = try await client.callTool("cancellations", arguments: [:], limits: SkillManifest.Limits(),
                                                  outputDirectory: folder).result["cancelled"]?.arrayValue ?? []
            if cancelled.isEmpty { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(cancelled.count == 1 && cancelled.first?.numberValue != nil, "the server saw \(cancelled)")
        await client.close()
    }

    @Test func stdioFaultsCrashRestartGarbageAndOversizedAnswers() async throws {
        let crashing = MCPTransport(manifest: try Self.manifest(tool: "crash"))
        let crash = await Self.call(crashing)
        #expect(crash.errorKind == .crashed)
        #expect(crash.errorMessage.contains("exited with status 7"), "\(crash)")
        #expect(crash.errorMessage.contains("mcp test server on stdio"), "the server's stderr should be quoted")
        #expect(await crashing.health() == .ready("not connected (connects on first call)"))
        await crashing.shutdown()

        let client = Self.client(.command(["python3", "servers/mcp_server.py"]))
        let folder = FileManager.default.temporaryDirectory
        do {
            _ = try await client.callTool("crash", arguments: [:], limits: SkillManifest.Limits(), outputDirectory: folder)
            Issue.record("the crash must fail the call")
        } catch {
            #expect(error.kind == .crashed)
        }
        // The next call starts a new server.
        #expect(try await client.callTool("add", arguments: ["a": 1, "b": 1], limits: SkillManifest.Limits(),
                                          outputDirectory: folder).result == ["sum": 2])

        var small = SkillManifest.Limits()
        small.maxOutputBytes = 100_000
        do {
            _ = try await client.callTool("big", arguments: [:], limits: small, outputDirectory: folder)
            Issue.record("an answer over max_output_bytes must fail")
        } catch {
            #expect(error.kind == .tooLarge)
        }
        do {
            _ = try await client.callTool("garbage", arguments: [:], limits: SkillManifest.Limits(), outputDirectory: folder)
            Issue.record("a line that is not JSON-RPC must fail the call")
        } catch {
            #expect(error.kind == .badOutput)
            #expect(error.message.contains("this is {not json"))
        }
        await client.close()

        let missing = MCPTransport(manifest: try Self.manifest(tool: "add", server: "[python3, servers/no_such_server.py]"))
        let failed = await Self.call(missing, ["a": 1, "b": 2])
        #expect(failed.errorKind == .crashed)
        #expect(failed.errorMessage.contains("exited with status 2"), "\(failed)")
    }

    @Test func streamableHTTPWithJSONAndEventStreamAnswers() async throws {
        let server = try FixtureServer("mcp_server.py", ["--http"])
        defer { server.stop() }
        let url = "http://127.0.0.1:\(server.port)/mcp"
        let client = Self.client(.url(url))
        #expect(try await client.listTools(timeout: 60).count == 12)
        let folder = FileManager.default.temporaryDirectory
        // tools/call answers as an SSE stream: progress events, then the response.
        let counted = try await client.callTool("count", arguments: ["n": 2], limits: SkillManifest.Limits(), outputDirectory: folder)
        #expect(counted.result == ["counted": 2])
        #expect(counted.log == "progress 1/2: step 1\nprogress 2/2: step 2")
        var small = SkillManifest.Limits()
        small.maxOutputBytes = 100_000
        do {
            _ = try await client.callTool("big", arguments: [:], limits: small, outputDirectory: folder)
            Issue.record("an event stream over max_output_bytes must fail")
        } catch {
            #expect(error.kind == .tooLarge)
        }
        await client.close()

        let transport = MCPTransport(manifest: try Self.manifest(tool: "add", server: url))
        #expect(try await transport.call(TransportFixtures.invocation(transport.manifest, ["a": 1, "b": 2])).result == ["sum": 3])
        let failing = MCPTransport(manifest: try Self.manifest(tool: "fail", server: url))
        #expect(await Self.call(failing).errorMessage == "the tool failed on purpose")
    }

    @Test func importWritesManifestsThatLoadAndCall() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("import-\(UUID().uuidString)/manifests")
        let script = Fixtures.url("servers/mcp_server.py").path
        let importer = MCPImport(server: .command(["python3", script]), directory: folder, namePrefix: "t_", loader: Fixtures.loader)
        let report = try await importer.run(timeout: 60)
        #expect(report.server == MCPServerInfo(name: "test-tools", version: "2.1.0"))
        #expect(report.entries.map(\.skill) == ["t_add", "t_describe", "t_json_text", "t_flip_image", "t_fail", "t_count", "t_sleep",
                                                "t_cancellations", "t_crash", "t_garbage", "t_big"])
        #expect(report.skipped.map(\.tool) == ["choose"])
        #expect(report.skipped.first?.reasons.first?.contains("oneOf") == true, "\(report.skipped)")

        let loaded = try Fixtures.loader.load(folder.appendingPathComponent("t_flip_image.yaml")).get()
        #expect(loaded.version.description == "2.1.0")
        #expect(loaded.transport == .mcp(server: .command(["python3", script]), tool: "Flip.Image"))
        #expect(loaded.description == "Reads a PNG file and returns it edited.")
        let add = try Fixtures.loader.load(folder.appendingPathComponent("t_add.yaml")).get()
        let runner = SkillRunner(registry: SkillRegistry(manifests: [add]), artifacts: try ArtifactStore.temporary())
        #expect(try await runner.call("t_add", params: ["a": 20, "b": 22]).result.get() == ["sum": 42])
        #expect(await runner.call("t_add", params: ["a": 1]).result.errorKind == .invalidParams, "the imported schema is enforced")
        await runner.shutdown()

        // A second import keeps the files; --force rewrites them.
        try Data("edited by hand\n".utf8).write(to: folder.appendingPathComponent("t_add.yaml"))
        let again = try await importer.run(timeout: 60)
        #expect(again.entries.allSatisfy { !$0.written })
        #expect(try String(contentsOf: folder.appendingPathComponent("t_add.yaml"), encoding: .utf8) == "edited by hand\n")
        var forced = importer
        forced.force = true
        #expect(try await forced.run(timeout: 60).entries.allSatisfy(\.written))
        #expect(try String(contentsOf: folder.appendingPathComponent("t_add.yaml"), encoding: .utf8).hasPrefix("# Written by"))
    }

    /// Dispatch overhead of a tool call over stdio (printed for BENCHMARKS.md; loose bound).
    @Test func callOverheadOverStdio() async throws {
        let client = Self.client(.command(["python3", "servers/mcp_server.py"]))
        let folder = FileManager.default.temporaryDirectory
        let p50 = try await TransportFixtures.measure("mcp stdio tools/call") {
            _ = try await client.callTool("add", arguments: ["a": 1, "b": 2], limits: SkillManifest.Limits(), outputDirectory: folder)
        }
        #expect(p50 < 10)
        await client.close()
    }

    @Test func skillNamesAreDerivedFromToolNames() {
        #expect(MCPImport.skillName(for: "Flip.Image") == "flip_image")
        #expect(MCPImport.skillName(for: "read file (fast)") == "read_file_fast")
        #expect(MCPImport.skillName(for: "2d-detect") == "mcp_2d-detect")
        #expect(MCPImport.skillName(for: "get", prefix: "fs.") == "fs_get")
    }
}
