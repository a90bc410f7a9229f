import Agent
import ArgumentParser
import Foundation
import Skills

extension ToolCallFormat: ExpressibleByArgument {}
extension SkillsPrompt.ResultWording: ExpressibleByArgument {}

/// Which model writes the agent's turns.
enum AgentBackendKind: String, ExpressibleByArgument, CaseIterable {
    /// The local engine (`--model`).
    case local
    /// An OpenAI-compatible server (`--base-url`, `--remote-model`).
    case openai
}

/// `llava-plus ask`: one question about images, answered by the agent loop with skills.
struct AskCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ask",
        abstract: "Ask about images: the model calls skills until it can answer.",
        discussion: """
            Every run gets a folder (--out) with transcript.json, transcript.md, transcript.html (the images \
            with the skills' boxes and masks drawn), annotated.png (the last call's boxes and masks drawn on \
            its image), calls.jsonl and artifacts/. --replay answers skill calls \
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

    @Option(help: "Who writes the agent's turns: local (the model in --model) or openai (an OpenAI-compatible server).")
    var backend: AgentBackendKind = .local

    @Option(help: ArgumentHelp("The OpenAI-compatible API's root (http:// only), with --backend openai.", valueName: "URL"))
    var baseURL = "http://127.0.0.1:8080/v1"

    @Option(help: "The model name the server knows, with --backend openai.")
    var remoteModel = "llava-plus-tiny"

    @Option(help: ArgumentHelp("The environment variable holding the API key (sent as a bearer token, never printed).", valueName: "NAME"))
    var apiKeyEnv: String?

    @Flag(inversion: .prefixedNo, help: "Send the skills as native function tools (--backend openai); without, the prompt asks for the JSON format.")
    var nativeTools = true

    @Option(help: "Seconds one model turn may take, with --backend openai.")
    var requestTimeout = 300.0

    @Argument(help: "The question.")
    var question: String

    func validate() throws {
        if images.image.isEmpty { throw ValidationError("give at least one --image") }
        if maxSteps < 1 { throw ValidationError("--max-steps must be at least 1") }
        if backend == .openai && format != .json {
            throw ValidationError("--backend openai reads the json format (native tool calls are turned into it)")
        }
    }

    /// The backend `--backend` names.
    func makeBackend() throws -> any AgentBackend {
        switch backend {
        case .local:
            let model = try images.load(options)
            return LocalBackend(name: model.name, llava: model.llava, generator: model.generator, format: format,
                                sampling: options.sampling, maxTokens: options.maxTokens)
        case .openai:
            do {
                return try OpenAIBackend(baseURL: baseURL, model: remoteModel, apiKeyVariable: apiKeyEnv, useNativeTools: nativeTools,
                                         maxTokens: options.maxTokens, temperature: Double(options.temperature),
                                         seed: options.temperature > 0 ? Int(truncatingIfNeeded: options.seed) : nil, timeout: .milliseconds(Int64(requestTimeout * 1000)))
            } catch {
                throw InputError("--backend openai: \(error)")
            }
        }
    }

    func run() async throws {
        let folder = AgentRunOutput.folder(out)
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
        let backend = try makeBackend()
        let loop = AgentLoop(backend: backend, runner: runner, maxSteps: maxSteps, budget: .milliseconds(Int64(budget * 1000)),
                             wording: wording)
        let transcript = await loop.run(question: question, images: inputs, onEvent: AgentRunOutput.show)
        await runner.shutdown()
        try AgentRunOutput.save(transcript, in: folder)
    }
}
