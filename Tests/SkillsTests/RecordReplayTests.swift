import Foundation
import Testing
@testable import Skills

/// Recording a real call, then answering the same call in replay mode without running the
/// skill: the skill counts its runs in a file, so a replay that ran it would show.
@Suite struct RecordReplayTests {
    static let counter = """
        import json, os, sys
        params = json.load(sys.stdin)
        with open(params["log"], "a") as f:
            f.write("run\\n")
        out = os.environ["LLAVA_PLUS_OUTPUT_DIR"]
        with open(os.path.join(out, "copy.png"), "wb") as f:
            f.write(open(params["image"], "rb").read())
        print(json.dumps({"runs": sum(1 for _ in open(params["log"])), "artifacts": [{"path": "copy.png", "kind": "crop", "box": [0, 0, 0.5, 0.5]}]}))
        """

    @Test func replayAnswersTheRecordedCallWithoutRunningTheSkill() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("replay-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let manifests = folder.appendingPathComponent("manifests")
        try FileManager.default.createDirectory(at: manifests, withIntermediateDirectories: true)
        try """
            name: counter
            version: 2.0.0
            description: Counts its runs and copies its image.
            input_schema:
              type: object
              properties:
                image: {type: string, format: image-artifact}
                log: {type: string}
                note: {type: string, default: none}
              required: [image, log]
            transport: {kind: subprocess, command: [python3, -c, \(JSONValue.string(Self.counter).compactJSON)]}
            limits: {timeout_s: 20}
            """.write(to: manifests.appendingPathComponent("counter.yaml"), atomically: true, encoding: .utf8)
        let registry = SkillRegistry.discover(in: [manifests])
        #expect(registry.problems.isEmpty, "\(registry.problems)")
        let runs = folder.appendingPathComponent("runs.txt").path
        let record = folder.appendingPathComponent("record")

        // Live: the skill runs once; the call, its defaults, input hash and artifact are recorded.
        let liveStore = try ArtifactStore(directory: folder.appendingPathComponent("live"))
        let image = try liveStore.add(RuntimeTests.png, kind: .image)
        let live = SkillRunner(registry: registry, artifacts: liveStore, log: try CallLog(directory: record))
        let first = await live.call("counter", params: ["image": .string(image.id), "log": .string(runs)])
        await live.shutdown()
        let output = try first.result.get()
        #expect(output["runs"] == 1)
        let made = try #require(first.record.artifacts.first)
        #expect(made.kind == .crop && made.source == image.id && made.box == [0, 0, 0.5, 0.5])
        #expect(first.record.appliedDefaults == [AppliedDefault(pointer: "/note", value: "none")])
        #expect(first.record.inputs == ["image": image.sha256])

        // Replay, in a new conversation with the same image: same answer, the artifact is
        // restored under the same id, and the skill did not run again.
        let replayStore = try ArtifactStore(directory: folder.appendingPathComponent("replay"))
        try replayStore.add(RuntimeTests.png, kind: .image)
        let replay = SkillRunner(registry: registry, artifacts: replayStore, log: try CallLog(directory: record), mode: .replay)
        let again = await replay.call("counter", params: ["image": .string(image.id), "log": .string(runs)])
        #expect(try again.result.get() == output)
        #expect(replayStore.artifact(made.id).map { FileManager.default.contents(atPath: $0.url.path) } == FileManager.default.contents(atPath: made.url.path))
        #expect(try String(contentsOfFile: runs, encoding: .utf8) == "run\n")

        // Different parameters are not in the record.
        let other = await replay.call("counter", params: ["image": .string(image.id), "log": .string(runs), "note": "x"])
        #expect(other.result.failure?.kind == .notRecorded)
    }
}
