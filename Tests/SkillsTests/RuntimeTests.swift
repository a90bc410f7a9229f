import Foundation
import ModelStore
import Testing
@testable import Skills

/// The parts of the runtime that need no transport: strict JSON, the artifact store, the
/// reply contract, the call log and the checks done before a skill runs.
@Suite struct RuntimeTests {
    static let png: Data = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + Array(repeating: 7, count: 40))

    @Test func jsonParsingIsStrict() throws {
        #expect(try JSONValue(parsing: #"{"a": [1, 2.5, "x", null, true]}"#) == ["a": [1, 2.5, "x", nil, true]])
        #expect(throws: JSONValue.ParseError(message: "/a: duplicate key")) { try JSONValue(parsing: #"{"a": 1, "a": 2}"#) }
        #expect(throws: JSONValue.ParseError(message: "not valid UTF-8")) { try JSONValue(parsing: [0x22, 0xFF, 0x22]) }
        #expect(throws: JSONValue.ParseError(message: "/x/0: the number 1e999 is out of range")) {
            try JSONValue(parsing: #"{"x": [1e999]}"#)
        }
        #expect(throws: JSONValue.ParseError.self) { try JSONValue(parsing: "{\"a\": 1,}") }
    }

    @Test func storeDeduplicatesByContentAndSurvivesReopening() throws {
        let store = try ArtifactStore.temporary()
        defer { try? FileManager.default.removeItem(at: store.directory) }
        let first = try store.add(Self.png, kind: .image, label: "photo.png")
        let again = try store.add(Self.png, kind: .image)
        #expect(first == again)
        #expect(first.id == "image-" + SHA256.hexDigest(of: Self.png).prefix(16))
        #expect(first.mediaType == "image/png")
        #expect(first.url.pathExtension == "png")
        let mask = try store.add(Data("mask".utf8), kind: .mask, source: first.id, box: [0.1, 0.2, 0.5, 0.75])
        #expect(mask.summary == ["id": .string(mask.id), "kind": "mask", "source": .string(first.id), "box": [0.1, 0.2, 0.5, 0.75]])

        let reopened = try ArtifactStore(directory: store.directory)
        #expect(reopened.all == store.all)
        #expect(FileManager.default.contents(atPath: reopened.artifact(first.id)!.url.path) == Self.png)
    }

    @Test func storeNamesTheDamagedIndexLine() throws {
        let store = try ArtifactStore.temporary()
        defer { try? FileManager.default.removeItem(at: store.directory) }
        try store.add(Self.png, kind: .image)
        let index = store.directory.appendingPathComponent("index.jsonl")
        try (String(contentsOf: index, encoding: .utf8) + "{\"id\": 3}\n").write(to: index, atomically: true, encoding: .utf8)
        #expect(throws: (any Error).self) { try ArtifactStore(directory: store.directory) }
        do { _ = try ArtifactStore(directory: store.directory) } catch {
            #expect("\(error)" == "index.jsonl line 2: expected an artifact record")
        }
    }

    @Test func replyContract() throws {
        let folder = URL(fileURLWithPath: "/tmp/call-1")
        let reply = try SkillReply.decode(Array(#"{"boxes": [[0, 0, 1, 1]], "artifacts": [{"path": "m.png", "kind": "mask", "box": [0, 0, 0.5, 0.5]}]}"#.utf8),
                                          skill: "s", outputDirectory: folder)
        #expect(reply.result == ["boxes": [[0, 0, 1, 1]]])
        #expect(reply.artifacts == [NewArtifact(content: .file(URL(fileURLWithPath: "/tmp/call-1/m.png")), kind: .mask, box: [0, 0, 0.5, 0.5])])

        func failure(_ text: String) -> SkillError? {
            do { _ = try SkillReply.decode(Array(text.utf8), skill: "s", outputDirectory: folder); return nil } catch { return error }
        }
        #expect(failure(#"{"error": "not an image: x.txt"}"#) == SkillError(.toolError, skill: "s", "not an image: x.txt"))
        #expect(failure("Traceback (most recent call last)") == SkillError(.badOutput, skill: "s",
            "the output is not JSON: unexpected character at byte 0; expected one JSON object (it began: Traceback (most recent call last))"))
        #expect(failure("[1]") == SkillError(.badOutput, skill: "s", "the output is an array; expected a JSON object"))
        #expect(failure(#"{"artifacts": [{"path": "../../etc/passwd"}]}"#)
            == SkillError(.badOutput, skill: "s", "/artifacts/0: '../../etc/passwd' is outside the call's output folder"))
        #expect(failure(#"{"artifacts": [{"path": "m.png", "box": [0.5, 0, 0.2, 1]}]}"#)?.message.hasPrefix("/artifacts/0: box: expected normalised") == true)
        #expect(failure(#"{"artifacts": [{"path": "m.png", "kind": "video"}]}"#)?.message
            == "/artifacts/0: kind 'video' is not one of image, mask, crop, boxes, file")
    }

    @Test func callLogRoundTripsAndFindsTheSameCall() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("calllog-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try ArtifactStore(directory: folder.appendingPathComponent("store"))
        let made = try store.add(Self.png, kind: .crop, source: "image-0123", box: [0, 0, 1, 1])
        let log = try CallLog(directory: folder.appendingPathComponent("log"))
        let record = CallRecord(skill: "edit", version: "1.0.0", params: ["op": "crop", "image": "image-0123"],
                                appliedDefaults: [AppliedDefault(pointer: "/op", value: "crop")], inputs: ["image": "ab"],
                                output: ["artifacts": [made.summary]], outcome: "ok", artifacts: [made],
                                milliseconds: 12.5, started: Date(timeIntervalSince1970: 1_800_000_000.25), log: "ok\n")
        try log.append(record)
        let reopened = try CallLog(directory: log.directory)
        let found = try #require(reopened.lookup(record.replayKey))
        #expect(found.output == record.output)
        #expect(found.appliedDefaults == record.appliedDefaults)
        #expect(found.started == record.started)
        #expect(found.artifacts.map(\.id) == [made.id])
        // The log keeps its own copy of the bytes, so a replay does not need the old store.
        try FileManager.default.removeItem(at: store.directory)
        #expect(FileManager.default.contents(atPath: found.artifacts[0].url.path) == Self.png)
        #expect(reopened.lookup(record.replayKey.replacingOccurrences(of: "crop", with: "blur")) == nil)
    }

    @Test func runnerRejectsBeforeRunning() async throws {
        let registry = SkillRegistry.discover(in: [Fixtures.url("good")], loader: Fixtures.loader)
        let store = try ArtifactStore.temporary()
        defer { try? FileManager.default.removeItem(at: store.directory) }
        let runner = SkillRunner(registry: registry, artifacts: store)

        let unknown = await runner.call("grounding_dnio", params: [:])
        #expect(unknown.result == .failure(SkillError(.unknownSkill, skill: "grounding_dnio",
            "no skill is called 'grounding_dnio'; did you mean 'grounding_dino'? (skills: detect, ocr, segment+sam)")))
        #expect(unknown.record.outcome == "unknown_skill")

        let invalid = await runner.call("detect", params: ["image": "image-1"])
        #expect(invalid.result == .failure(SkillError(.invalidParams, skill: "detect", "/caption: required property is missing")))

        let missing = await runner.call("detect", params: ["image": "image-1", "caption": "cat"])
        #expect(missing.result == .failure(SkillError(.invalidParams, skill: "detect", "/image: no artifact 'image-1' in this conversation (it has none)")))
        #expect(missing.output == ["error": "invalid_params", "message": "/image: no artifact 'image-1' in this conversation (it has none)"])
    }

    @Test func replayWithoutARecordSaysSo() async throws {
        let registry = SkillRegistry.discover(in: [Fixtures.url("good")], loader: Fixtures.loader)
        let store = try ArtifactStore.temporary()
        defer { try? FileManager.default.removeItem(at: store.directory) }
        let image = try store.add(Self.png, kind: .image)
        let log = try CallLog(directory: store.directory.appendingPathComponent("log"))
        let runner = SkillRunner(registry: registry, artifacts: store, log: log, mode: .replay)
        let outcome = await runner.call("detect", params: ["image": .string(image.id), "caption": "cat"])
        guard case .failure(let error) = outcome.result else { Issue.record("replay answered without a record"); return }
        #expect(error.kind == .notRecorded)
        #expect(outcome.record.params == ["image": .string(image.id), "caption": "cat", "box_threshold": 0.3])
        #expect(outcome.record.inputs == ["image": image.sha256])
        #expect(log.calls.isEmpty, "replay must not append to the record")
    }

    @Test func exampleExpectations() {
        let result: Result<JSONValue, SkillError> = .success(["boxes": [[0, 0, 1, 1]], "text": "Hello World", "n": 3])
        #expect(ExampleCheck.check(["min_boxes": 1, "contains_text": "world", "n": 3], against: result) == [])
        #expect(ExampleCheck.check(["min_boxes": 2, "max_boxes": 0, "n": 4, "contains_text": "moon"], against: result) == [
            "contains_text: 'text' does not contain \"moon\" (it is Hello World)", "max_boxes: 1 > 0", "min_boxes: 1 < 2",
            "n: expected 4, got 3",
        ])
        #expect(ExampleCheck.check(["error": "invalid_params"], against: .failure(SkillError(.invalidParams, skill: "s", "x"))) == [])
        #expect(ExampleCheck.check(nil, against: .failure(SkillError(.timeout, skill: "s", "slow"))) == ["the call failed: timeout: slow"])
    }
}
