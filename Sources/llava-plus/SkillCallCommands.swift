import ArgumentParser
import Foundation
import Skills

/// Where a command's skill calls keep their artifacts and records.
struct RunnerOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Folder for the conversation's artifacts (default: a new temporary folder).", valueName: "DIR"))
    var artifacts: String?

    @Option(name: .long, help: ArgumentHelp("Record every call (calls.jsonl + artifacts) into this folder.", valueName: "DIR"))
    var record: String?

    @Option(name: .long, help: ArgumentHelp("Answer calls from a record made with --record instead of running skills.", valueName: "DIR"))
    var replay: String?

    func validate() throws {
        if record != nil && replay != nil { throw ValidationError("--record and --replay exclude each other") }
    }

    func runner(_ registry: SkillRegistry) throws -> SkillRunner {
        let store = try artifacts.map { try ArtifactStore(directory: URL(fileURLWithPath: $0)) } ?? ArtifactStore.temporary()
        if let replay {
            guard FileManager.default.fileExists(atPath: URL(fileURLWithPath: replay).appendingPathComponent("calls.jsonl").path) else {
                throw ValidationError("--replay \(replay): no calls.jsonl there (make one with --record)")
            }
            return SkillRunner(registry: registry, artifacts: store, log: try CallLog(directory: URL(fileURLWithPath: replay)), mode: .replay)
        }
        return SkillRunner(registry: registry, artifacts: store, log: try record.map { try CallLog(directory: URL(fileURLWithPath: $0)) })
    }
}

extension SkillsCommand {
    struct Call: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Call one skill with JSON parameters and print its result.",
            discussion: """
                Images given with --image become artifacts of the call's conversation; the first one fills the \
                skill's required image parameter when PARAMS leaves it out. Exit status 1 when the call fails.
                """)

        @OptionGroup var folders: Folders
        @OptionGroup var runnerOptions: RunnerOptions

        @Argument(help: "The skill's name or alias.")
        var name: String

        @Argument(help: "The parameters as a JSON object.")
        var params: String = "{}"

        @Option(name: .long, help: "An input image (repeatable).")
        var image: [String] = []

        func run() async throws {
            let registry = folders.registry()
            let runner = try runnerOptions.runner(registry)
            var parameters: [String: JSONValue]
            do {
                guard let object = try JSONValue(parsing: params).objectValue else { throw ValidationError("PARAMS: expected a JSON object") }
                parameters = object
            } catch let error as JSONValue.ParseError {
                throw ValidationError("PARAMS: \(error.message)")
            }
            var ids: [String] = []
            for path in image {
                do { ids.append(try runner.artifacts.add(contentsOf: URL(fileURLWithPath: path)).id) } catch {
                    throw ValidationError("--image \(path): \(error)")
                }
            }
            if let manifest = registry.manifest(named: name), let first = ids.first {
                parameters = SkillRunner.fillingImage(parameters, with: first, for: manifest)
            }
            let outcome = await runner.call(name, params: .object(parameters))
            await runner.shutdown()
            report(outcome, store: runner.artifacts)
            if case .failure = outcome.result { throw ExitCode(1) }
        }
    }

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run skills' manifest examples and check their expectations; exit 1 if any fails.")

        @OptionGroup var folders: Folders
        @OptionGroup var runnerOptions: RunnerOptions

        @Argument(help: "Skills to test (default: all).")
        var names: [String] = []

        func run() async throws {
            let registry = folders.registry()
            let runner = try runnerOptions.runner(registry)
            var manifests: [SkillManifest] = []
            for name in names {
                guard let manifest = registry.manifest(named: name) else { throw ValidationError("unknown skill '\(name)'") }
                manifests.append(manifest)
            }
            if names.isEmpty { manifests = registry.manifests }
            var passed = 0, failed = 0
            for manifest in manifests {
                for outcome in await ExampleCheck.run(manifest, with: runner) {
                    let time = outcome.call.map { String(format: "%.0f ms", $0.record.milliseconds) } ?? "-"
                    print("\(outcome.passed ? "PASS" : "FAIL")  \(manifest.name)  \"\(outcome.example.request)\"  (\(time))")
                    for failure in outcome.failures { print("      \(failure)") }
                    if outcome.passed { passed += 1 } else { failed += 1 }
                }
            }
            await runner.shutdown()
            print("\(passed + failed) example\(passed + failed == 1 ? "" : "s"): \(passed) passed, \(failed) failed")
            if failed > 0 { throw ExitCode(1) }
        }
    }
}

/// The call's output on stdout; what the runner added (defaults, artifacts, time, log) on stderr.
private func report(_ outcome: SkillCallOutcome, store: ArtifactStore) {
    let record = outcome.record
    var notes: [String] = []
    for applied in record.appliedDefaults { notes.append("default \(applied)") }
    for artifact in record.artifacts { notes.append("artifact \(artifact.id) (\(artifact.mediaType)) \(artifact.url.path)") }
    notes.append(String(format: "%@ %@ in %.1f ms: %@", record.skill, record.version, record.milliseconds, record.outcome))
    if !record.log.isEmpty { notes.append("log:\n" + record.log.trimmingCharacters(in: .newlines)) }
    FileHandle.standardError.write(Data(notes.map { "[\($0)]\n" }.joined().utf8))
    print(outcome.output.prettyJSON)
}
