import Foundation
import Testing
@testable import Skills

/// Every broken manifest under `Fixtures/bad/` must produce exactly the messages in its
/// sidecar `.expected` file: location, field path and wording are part of the interface
/// (editors jump to them; people read them).
@Suite struct BadManifestCorpusTests {
    static let cases: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: Fixtures.url("bad").path)) ?? []
        return names.filter { $0.hasSuffix(".yaml") }.map { String($0.dropLast(5)) }.sorted()
    }()

    @Test func corpusIsLarge() {
        #expect(Self.cases.count >= 30)
    }

    @Test(arguments: cases)
    func reportsExactProblems(name: String) throws {
        let expected = try String(contentsOf: Fixtures.url("bad/\(name).expected"), encoding: .utf8)
            .split(separator: "\n").map(String.init)
        let result = Fixtures.load("bad/\(name).yaml")
        let actual = Fixtures.problems(result)
        #expect(!actual.isEmpty, "a bad manifest loaded")
        #expect(actual == expected)
    }

    @Test func reportsEveryProblemOfAFileAtOnce() {
        let actual = Fixtures.problems(Fixtures.parse("""
            name: Bad Name
            version: 1
            description: ""
            input_schema: {type: object, properties: {x: {type: strin}}}
            transport: {kind: subprocess, command: []}
            limits: {timeout_s: -1}
            extra: 1
            """))
        #expect(actual == [
            "inline.yaml:1:7: name: 'Bad Name' is not a valid skill name (expected [a-z][a-z0-9_+-]*: lowercase letters, digits, _, +, -)",
            "inline.yaml:2:10: version: '1' is not a semantic version (expected MAJOR.MINOR.PATCH, e.g. 1.0.0)",
            "inline.yaml:3:14: description: must not be empty",
            "inline.yaml:4:53: input_schema.properties.x.type: 'strin' is not a JSON Schema type; did you mean 'string'?",
            "inline.yaml:5:40: transport.command: must not be empty; expected [program, arguments...]",
            "inline.yaml:6:21: limits.timeout_s: expected a positive number, found -1",
            "inline.yaml:7:1: extra: unknown key (expected one of: name, version, aliases, description, input_schema, output_schema, transport, limits, examples)",
        ])
    }
}

@Suite struct GoodManifestTests {
    @Test func designExampleLoads() throws {
        let manifest = try Fixtures.load("good/detect.yaml").get()
        #expect(manifest.name == "detect")
        #expect(manifest.version == SemanticVersion("1.0.0"))
        #expect(manifest.aliases == ["grounding_dino"])
        #expect(manifest.description == "Finds the named objects and returns their boxes.")
        #expect(manifest.transport == .subprocess(command: ["sh", "skills/echo/main.sh"], persistent: true))
        #expect(manifest.limits.timeoutSeconds == 30)
        #expect(manifest.limits.memoryMB == 2048)
        #expect(manifest.limits.concurrency == 2)
        #expect(manifest.limits.network == false)
        #expect(manifest.limits.maxOutputBytes == 1_000_000)  // the default
        #expect(manifest.inputSchema["properties"]?["box_threshold"] == ["type": "number", "minimum": 0, "maximum": 1, "default": 0.3])
        #expect(manifest.inputSchema["required"] == ["image", "caption"])
        #expect(manifest.outputSchema?["properties"]?["boxes"] == ["type": "array"])
        #expect(manifest.examples == [SkillManifest.Example(
            request: "Where is the cat?", image: "skills/detect/examples/cat.png",
            params: ["caption": "cat"], expect: ["min_boxes": 1])])
        #expect(manifest.origin.nameLocation == SourceLocation(file: "good/detect.yaml", line: 2, column: 7))
        #expect(manifest.origin.aliasLocations == [SourceLocation(file: "good/detect.yaml", line: 4, column: 11)])
    }

    @Test func mcpManifestLoads() throws {
        let manifest = try Fixtures.load("good/ocr_mcp.yaml").get()
        #expect(manifest.transport == .mcp(server: .command(["skills/echo/main.sh", "--stdio"]), tool: "read_text"))
        #expect(manifest.version.description == "0.3.1")
        #expect(manifest.inputSchema["properties"]?["mode"]?["type"] == ["string", nil])
        #expect(manifest.limits == SkillManifest.Limits())
    }

    @Test func httpManifestLoads() throws {
        let manifest = try Fixtures.load("good/segment_http.yaml").get()
        #expect(manifest.name == "segment+sam")
        #expect(manifest.transport == .http(url: "http://127.0.0.1:8031", start: ["skills/echo/main.sh", "--port", "8031"], health: "/health"))
        #expect(manifest.limits.timeoutSeconds == 2.5)
        #expect(manifest.limits.maxOutputBytes == 4096)
        #expect(manifest.limits.network == true)
    }

    @Test func mcpOverURLAndQuotedScalarsLoad() throws {
        let manifest = try Fixtures.parse("""
            name: "remote"
            version: '1.2.3'
            description: "42"
            input_schema: {type: object}
            transport: {kind: mcp, url: "https://tools.example.com/mcp", tool: search}
            """).get()
        #expect(manifest.description == "42")
        #expect(manifest.transport == .mcp(server: .url("https://tools.example.com/mcp"), tool: "search"))
    }

    @Test func projectEchoManifestLoads() throws {
        // The checkout's own manifest, resolved against the checkout (manifests/..).
        let file = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("manifests/echo.yaml")
        let manifest = try ManifestLoader().load(file).get()
        #expect(manifest.name == "echo")
        #expect(manifest.aliases == ["repeat"])
        #expect(manifest.transport.kind == "subprocess")
    }
}

@Suite struct ManifestPieceTests {
    @Test(arguments: ["1.0.0", "0.0.1", "10.20.30", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-0.3.7", "1.0.0+20130313144700", "1.0.0-beta+exp.sha.5114f85"])
    func validVersions(text: String) {
        #expect(SemanticVersion(text)?.description == text)
    }

    @Test(arguments: ["1", "1.0", "1.0.0.0", "01.0.0", "1.01.0", "v1.0.0", "1.0.0-", "1.0.0-01", "1.0.0+", "1..0", "", "1.0.0-a..b", "a.b.c"])
    func invalidVersions(text: String) {
        #expect(SemanticVersion(text) == nil)
    }

    @Test func names() {
        for good in ["a", "detect", "grounding_dino", "seg+sam", "ocr-v2", "x9"] { #expect(ManifestLoader.isValidName(good)) }
        for bad in ["", "Detect", "9a", "_a", "a b", "a.b", "é", "a/b"] { #expect(!ManifestLoader.isValidName(bad)) }
    }

    @Test func suggestions() {
        #expect(Suggestions.closest(to: "descripton", in: ManifestLoader.topLevelKeys) == "description")
        #expect(Suggestions.closest(to: "nmae", in: ManifestLoader.topLevelKeys) == "name")
        #expect(Suggestions.closest(to: "colour", in: ManifestLoader.topLevelKeys) == nil)
    }
}
