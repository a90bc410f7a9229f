import Foundation
import Testing
@testable import Skills

@Suite struct SkillRegistryTests {
    func goodRegistry() -> SkillRegistry {
        SkillRegistry.discover(in: [Fixtures.url("good")], loader: Fixtures.loader) { "good/" + $0.lastPathComponent }
    }

    @Test func discoversAndLooksUpByNameOrAlias() throws {
        let registry = goodRegistry()
        #expect(registry.problems == [])
        #expect(registry.manifests.map(\.name) == ["detect", "ocr", "segment+sam"])
        #expect(registry.manifest(named: "detect")?.name == "detect")
        #expect(registry.manifest(named: "grounding_dino")?.name == "detect")
        #expect(registry.manifest(named: "nothing") == nil)
        #expect(registry.callableNames == ["detect", "grounding_dino", "ocr", "segment+sam"])
    }

    @Test func validateCallResolvesAliasesAndAppliesDefaults() throws {
        let call = try goodRegistry().validateCall(name: "grounding_dino", params: ["image": "artifact://7", "caption": "cat"]).get()
        #expect(call.name == "detect")
        #expect(call.params == ["image": "artifact://7", "caption": "cat", "box_threshold": 0.3])
        #expect(call.appliedDefaults == [AppliedDefault(pointer: "/box_threshold", value: 0.3)])
    }

    @Test func validateCallReportsEveryViolation() {
        let result = goodRegistry().validateCall(name: "detect", params: ["caption": 3, "box_threshold": 1.5],
                                                 pointer: "/actions/0/API_params")
        #expect(result == .failure(.invalidParams(name: "detect", violations: [
            SchemaViolation(pointer: "/actions/0/API_params/image", message: "required property is missing"),
            SchemaViolation(pointer: "/actions/0/API_params/box_threshold", message: "1.5 is above the maximum 1"),
            SchemaViolation(pointer: "/actions/0/API_params/caption", message: "expected string, found integer 3"),
        ])))
        if case .failure(let error) = result {
            #expect(error.description == """
                invalid parameters for 'detect':
                  /actions/0/API_params/image: required property is missing
                  /actions/0/API_params/box_threshold: 1.5 is above the maximum 1
                  /actions/0/API_params/caption: expected string, found integer 3
                """)
        }
    }

    @Test func unknownSkillSuggestsAName() {
        #expect(goodRegistry().validateCall(name: "detcet", params: [:]) == .failure(.unknownSkill(name: "detcet", suggestion: "detect")))
        #expect(goodRegistry().validateCall(name: "paint", params: [:]) == .failure(.unknownSkill(name: "paint", suggestion: nil)))
        #expect(SkillRegistry.CallError.unknownSkill(name: "detcet", suggestion: "detect").description == "unknown skill 'detcet'; did you mean 'detect'?")
    }

    @Test func duplicateNamesAndAliasesNameBothFiles() {
        let registry = SkillRegistry.discover(in: [Fixtures.url("dupes"), Fixtures.url("good")], loader: Fixtures.loader) {
            $0.deletingLastPathComponent().lastPathComponent + "/" + $0.lastPathComponent
        }
        #expect(registry.problems.map(\.description) == [
            "dupes/b_locate.yaml:3:11: aliases[0]: 'find' is already an alias of skill 'detect' at dupes/a_detect.yaml:3:27",
            "dupes/c_detect.yaml:1:7: name: 'grounding_dino' is already an alias of skill 'detect' at dupes/a_detect.yaml:3:11",
            "good/detect.yaml:2:7: name: 'detect' is already the name of skill 'detect' at dupes/a_detect.yaml:1:7",
            "good/detect.yaml:4:11: aliases[0]: 'grounding_dino' is already an alias of skill 'detect' at dupes/a_detect.yaml:3:11",
        ])
        // The first manifest to claim a name keeps it; the clashing ones are left out.
        #expect(registry.manifests.map(\.name) == ["detect", "ocr", "segment+sam"])
        #expect(registry.manifest(named: "find")?.origin.file?.lastPathComponent == "a_detect.yaml")
    }

    @Test func badFilesAreReportedAndSkipped() {
        let registry = SkillRegistry.discover(in: [Fixtures.url("bad"), Fixtures.url("good")], loader: Fixtures.loader)
        #expect(registry.manifests.map(\.name) == ["detect", "ocr", "segment+sam"])
        #expect(registry.problems.count >= 44)
    }

    @Test func defaultDirectoriesComeFromProjectOptionAndEnvironment() {
        let root = URL(fileURLWithPath: "/project")
        let directories = SkillRegistry.defaultDirectories(projectRoot: root, extra: ["/extra"],
                                                           environment: ["LLAVA_PLUS_SKILLS": "/a:/b::"])
        #expect(directories.map(\.path) == ["/project/manifests", "/extra", "/a", "/b"])
        #expect(SkillRegistry.defaultDirectories(projectRoot: nil, environment: [:]) == [])
    }

    @Test func missingFoldersAreSkipped() {
        let registry = SkillRegistry.discover(in: [Fixtures.url("no-such-folder")])
        #expect(registry.manifests.isEmpty && registry.problems.isEmpty)
    }
}
