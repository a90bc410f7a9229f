import Agent
import ArgumentParser
import Foundation
import Skills

extension ToolCallFormat: ExpressibleByArgument {}
extension SkillsPrompt.ResultWording: ExpressibleByArgument {}

/// `llava-plus ask`: one question about images, answered by the agent loop with skills.
struct AskCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ask",
        abstract: "Ask about images: the model calls skills until it can answer.",
        discussion: """
            Every run gets a folder (--out) with transcript.json, transcript.md, transcript.html (the images \
            with the skills' boxes and masks drawn), calls.jsonl and artifacts/. --replay answers skill calls \
            from an earlier run's folder instead of running the skills.
            """)

    @OptionGroup var options: LanguageModelOptions
    @OptionGroup var images: ImageOptions
    @OptionGroup var folders: SkillsCommand.Folders

    @Option(help: "How the model writes tool calls: json (grammar-constrained) or llava-plus (released checkpoints).")
    var format: ToolCallFormat = .json

    @Option(help: "Most model turns.")
    var maxSteps = 4

    @Option(help: "Wall-clock budget for the run, in seconds.")
    var budget = 300.0

    @Option(help: "Wording of the tool-result turn: training or serving (LLaVA-Plus's two).")
    var wording: SkillsPrompt.ResultWording = .training

    @Option(help: ArgumentHelp("The run's folder (default: runs/<date-time>).", valueName: "DIR"))
    var out: String?

    @Option(help: ArgumentHelp("Answer skill calls from an earlier run's folder.", valueName: "DIR"))
    var replay: String?

    @Argument(help: "The question.")
    var question: String

    func validate() throws {
        if images.image.isEmpty { throw ValidationError("give at least one --image") }
        if maxSteps < 1 { throw ValidationError("--max-steps must be at least 1") }
    }

    func run() async throws {
        let stamp = DateFormatter()
        stamp.dateFormat = "yyyy-MM-dd-HHmmss"
        let folder = URL(fileURLWithPath: out ?? "runs/" + stamp.string(from: Date()))
        let store = try ArtifactStore(directory: folder.appendingPathComponent("artifacts"))
        let runner: SkillRunner
        if let replay {
            runner = SkillRunner(registry: folders.registry(), artifacts: store, log: try CallLog(directory: URL(fileURLWithPath: replay)), mode: .replay)
        } else {
            runner = SkillRunner(registry: folders.registry(), artifacts: store, log: try CallLog(directory: folder))
        }
        var inputs: [Artifact] = []
        for path in images.image {
            do { inputs.append(try store.add(contentsOf: URL(fileURLWithPath: path))) } catch {
                throw ValidationError("--image \(path): \(error)")
            }
        }
        let model = try images.load(options)
        let backend = LocalBackend(name: model.name, llava: model.llava, generator: model.generator, format: format,
                                   sampling: options.sampling, maxTokens: options.maxTokens)
        let loop = AgentLoop(backend: backend, runner: runner, maxSteps: maxSteps, budget: .milliseconds(Int64(budget * 1000)),
                             wording: wording)
        let transcript = await loop.run(question: question, images: inputs) { event in
            switch event {
            case .modelOutput(let step, let text): print("[step \(step + 1)] \(text.trimmingCharacters(in: .whitespacesAndNewlines))")
            case .malformed(_, let error): print("  ! unreadable turn: \(error)")
            case .calling(_, let call): print("  → \(call.name) \(call.params.spacedJSON)")
            case .result(_, let outcome):
                print(String(format: "  ← %@ %@ (%.0f ms): ", outcome.record.skill, outcome.record.outcome, outcome.record.milliseconds)
                    + outcome.output.spacedJSON.prefix(400))
            case .answer(let text): print("\nAnswer: \(text)")
            }
        }
        await runner.shutdown()
        try transcript.json.prettyJSON.write(to: folder.appendingPathComponent("transcript.json"), atomically: true, encoding: .utf8)
        try transcript.markdown.write(to: folder.appendingPathComponent("transcript.md"), atomically: true, encoding: .utf8)
        try transcript.html.write(to: folder.appendingPathComponent("transcript.html"), atomically: true, encoding: .utf8)
        switch transcript.stopReason {
        case .answered: break
        case .repeatedCalls: print("(stopped: the model asked again for the calls it had just seen answered)")
        default: print("\nStopped: \(transcript.stopReason.text); last reply: \(transcript.answer)")
        }
        FileHandle.standardError.write(Data(String(format: "[%d steps, %.1f s; transcript: %@/transcript.html]\n",
                                                   transcript.steps.count, transcript.seconds, folder.path).utf8))
    }
}
