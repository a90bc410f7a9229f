import Agent
import ArgumentParser
import Foundation
import ModelStore
import Skills

/// `llava-plus eval-routing`: how well a model picks skills, on the labelled routing set.
struct EvalRoutingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval-routing",
        abstract: "Score a model's first step on the labelled routing set: valid calls and the skill chosen.")

    @OptionGroup var options: LanguageModelOptions
    @OptionGroup var images: ImageOptions
    @OptionGroup var folders: SkillsCommand.Folders

    @Option(help: "The routing set (JSON lines; see data/README.md).")
    var set = "data/routing.jsonl"

    @Option(help: "Only the first N questions.")
    var limit: Int?

    @Option(help: "Tool-call format: json (grammar-constrained) or llava-plus.")
    var format: ToolCallFormat = .json

    @Option(help: ArgumentHelp("Write every case's output and verdict to this JSON-lines file.", valueName: "FILE"))
    var report: String?

    func run() async throws {
        let store = try ModelStore.locate()
        var cases = try RoutingEvaluation.load(URL(fileURLWithPath: set), imageRoot: store.root)
        if let limit { cases = Array(cases.prefix(limit)) }
        let model = try images.load(options)
        let backend = LocalBackend(name: model.name, llava: model.llava, generator: model.generator, format: format,
                                   sampling: options.sampling, maxTokens: options.maxTokens)
        let artifacts = try ArtifactStore.temporary()
        defer { try? FileManager.default.removeItem(at: artifacts.directory) }
        let registry = folders.registry()
        let start = ContinuousClock.now
        let score = try await RoutingEvaluation.run(cases, backend: backend, registry: registry, artifacts: artifacts) { done, total in
            let elapsed = ContinuousClock.now - start
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let rate = Double(done) / max(seconds, 1e-9)
            FileHandle.standardError.write(Data(String(format: "\r[%d/%d] %.2f questions/s, ETA %.0f s   ",
                                                       done, total, rate, Double(total - done) / rate).utf8))
        }
        FileHandle.standardError.write(Data("\n".utf8))
        print("model \(model.name), format \(format.rawValue), \(score.results.count) questions, skills: "
            + registry.manifests.map(\.name).joined(separator: ", "))
        print(String(format: "valid calls %.1f%%, routing accuracy %.1f%%, key parameter %.1f%%",
                     score.validRate * 100, score.accuracy * 100, score.keyRate * 100))
        var rows = [["EXPECTED", "QUESTIONS", "CORRECT"]]
        for entry in score.perSkill { rows.append([entry.skill, String(entry.total), String(entry.correct)]) }
        print(table(rows))
        if let report {
            let lines = score.results.map { result -> String in
                JSONValue.object([
                    "id": .string(result.item.id), "expected": result.item.skill.map(JSONValue.string) ?? .null,
                    "chosen": result.chosen.map(JSONValue.string) ?? .null, "valid": .bool(result.valid),
                    "key_found": .bool(result.keyFound), "raw": .string(result.raw),
                    "problem": result.problem.map(JSONValue.string) ?? .null,
                ]).compactJSON
            }
            try (lines.joined(separator: "\n") + "\n").write(toFile: report, atomically: true, encoding: .utf8)
        }
    }
}
