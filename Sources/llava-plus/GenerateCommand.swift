import Agent
import ArgumentParser
import Foundation
import LanguageModels
import Skills
import Tokenizers

/// Options shared by `generate` and `chat`.
struct LanguageModelOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: "Model: an installed asset name, a GGUF file or a Hugging Face directory (default: smollm2-135m-instruct).")
    var model: String?

    @Option(name: .shortAndLong, help: "Threads (default: all cores).")
    var threads: Int?

    @Option(name: .long, help: "Context length in tokens.")
    var context = 4096

    @Option(name: [.customShort("n"), .long], help: "Most tokens to generate per answer.")
    var maxTokens = 256

    @Option(name: .long, help: "Sampling temperature; 0 is greedy.")
    var temperature: Float = 0

    @Option(name: .long, help: "Keep the k most likely tokens (0: all).")
    var topK = 40

    @Option(name: .long, help: "Nucleus sampling threshold.")
    var topP: Float = 0.95

    @Option(name: .long, help: "Drop tokens below this fraction of the best one's probability.")
    var minP: Float = 0.05

    @Option(name: .long, help: "Penalty for repeating recent tokens (1: off).")
    var repeatPenalty: Float = 1

    @Option(name: .long, help: "Random seed for sampling.")
    var seed: UInt64 = 0

    var sampling: SamplingParameters {
        SamplingParameters(temperature: temperature, topK: topK, topP: topP, minP: minP,
                           repetitionPenalty: repeatPenalty, seed: seed)
    }

    func load() throws -> TextGenerator {
        let url = try ModelResolution.url(for: model, default: ModelResolution.defaultLanguageModel)
        return try TextGenerator(contentsOf: url, threads: threads ?? defaultThreadCount(), contextLength: context)
    }
}

/// Images and the LLaVA model's parts, shared by `generate` and `chat`.
struct ImageOptions: ParsableArguments {
    @Option(name: .long, help: "An image to ask about (repeatable); uses a LLaVA model (default: llava-plus-tiny).")
    var image: [String] = []

    @Option(name: .long, help: "llama.cpp's multimodal projector file, with --model naming its language model GGUF.")
    var mmproj: String?

    @Option(name: .long, help: "The CLIP tower directory of an original LLaVA checkpoint (default: its mm_vision_tower).")
    var visionTower: String?

    /// Whether the question goes to a LLaVA model rather than a text-only one.
    var isMultimodal: Bool { !image.isEmpty || mmproj != nil || visionTower != nil }

    func load(_ options: LanguageModelOptions) throws -> MultimodalModel {
        try MultimodalModel(model: options.model, mmproj: mmproj, visionTower: visionTower,
                            threads: options.threads ?? defaultThreadCount(), context: options.context)
    }
}

/// Writes the text as it arrives, without waiting for a newline.
func stream(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
}

/// One line of timings on standard error, so that standard output holds only the text.
func reportTimings(_ s: TextGenerator.Statistics) {
    let line = String(format: "[prompt %d tokens, %.1f tokens/s | generated %d tokens, %.1f tokens/s | %@]\n",
                      s.promptTokens, s.promptTokensPerSecond, s.generatedTokens, s.generatedTokensPerSecond, s.finishReason)
    FileHandle.standardError.write(Data(line.utf8))
}

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Answer one prompt with a language model, streaming the text.")

    @OptionGroup var options: LanguageModelOptions

    @Flag(name: .long, help: "Continue the prompt as plain text instead of treating it as a user message.")
    var raw = false

    @Option(name: .long, help: "System prompt (chat mode).")
    var system: String?

    @OptionGroup var images: ImageOptions

    @Argument(help: "The prompt.")
    var prompt: String

    func run() throws {
        let messages: [ChatMessage] = (system.map { [.system($0)] } ?? []) + [.user(prompt)]
        if images.isMultimodal {
            let pictures = try MultimodalModel.readImages(images.image)
            let model = try images.load(options)
            let embeddings = model.encode(pictures)
            _ = try model.answer(MultimodalModel.placingImages(embeddings.count, in: messages), images: embeddings, options: options)
            return
        }
        let generator = try options.load()
        let tokens: [Int]
        if raw {
            tokens = generator.tokenizer.encode(prompt, addSpecialTokens: true)
        } else {
            tokens = generator.promptTokens(for: messages)
        }
        let (_, statistics) = try generator.generate(tokens, parameters: options.sampling,
                                                     maxTokens: options.maxTokens, onText: stream)
        stream("\n")
        reportTimings(statistics)
    }
}

struct ChatCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "Talk with the agent about images (skills, /image, /skills), or with a plain model; /reset starts over, /quit or end of input leaves.",
        discussion: """
            By default the conversation is with the agent (llava-plus-tiny and the skills): the model calls \
            skills and sees their results, /image PATH attaches an image to the next question, /skills lists \
            the skills; each turn's transcript and annotated image go to the session's folder (--out). With \
            --model and no images (or with --no-agent) it is a plain conversation with that model.
            """)

    @OptionGroup var options: LanguageModelOptions

    @Option(name: .long, help: "System prompt (plain conversations).")
    var system: String?

    @OptionGroup var images: ImageOptions
    @OptionGroup var folders: SkillsCommand.Folders

    @Flag(inversion: .prefixedNo, help: "Talk with the agent and its skills (default: unless --model names a model and no image is given).")
    var agent: Bool?

    /// Whether this session is with the agent.
    var withAgent: Bool { agent ?? (images.isMultimodal || options.model == nil) }

    func validate() throws {
        if withAgent && system != nil { throw ValidationError("--system is for plain conversations (--no-agent)") }
    }

    @Option(help: "Most model turns per question (agent).")
    var maxSteps = 4

    @Option(help: ArgumentHelp("The session's folder (default: runs/chat-<date-time>).", valueName: "DIR"))
    var out: String?

    @Argument(help: "The first message (then the conversation goes on from standard input).")
    var question: String?

    func run() async throws {
        if withAgent {
            let model = try images.load(options)
            let folder = AgentRunOutput.folder(out, prefix: "chat-")
            let artifacts = try ArtifactStore(directory: folder.appendingPathComponent("artifacts"))
            let runner = SkillRunner(registry: folders.registry(), artifacts: artifacts, log: try CallLog(directory: folder))
            let backend = LocalBackend(name: model.name, llava: model.llava, generator: model.generator, format: .json,
                                       sampling: options.sampling, maxTokens: options.maxTokens)
            FileHandle.standardError.write(Data("chat with \(model.name) and \(runner.registry.manifests.count) skills; \(AgentChat.help)\n".utf8))
            await AgentChat(loop: AgentLoop(backend: backend, runner: runner, maxSteps: maxSteps), artifacts: artifacts, folder: folder)
                .run(first: question, images: images.image)
            await runner.shutdown()
            return
        }
        try plainChat()
    }

    private func plainChat() throws {
        let initial: [ChatMessage] = system.map { [.system($0)] } ?? []
        // Both kinds of model answer a conversation the same way: stream, then timings.
        let reply: ([ChatMessage]) throws -> String
        let imageCount: Int
        let banner: String
        if images.isMultimodal {
            let pictures = try MultimodalModel.readImages(images.image)
            let model = try images.load(options)
            let embeddings = model.encode(pictures)
            reply = { try model.answer($0, images: embeddings, options: options) }
            (imageCount, banner) = (embeddings.count, "\(model.name) (template \(model.generator.template.name))")
        } else {
            let generator = try options.load()
            reply = { messages in
                let (answer, statistics) = try generator.generate(generator.promptTokens(for: messages), parameters: options.sampling,
                                                                  maxTokens: options.maxTokens, onText: stream)
                stream("\n")
                reportTimings(statistics)
                return answer
            }
            (imageCount, banner) = (0, "\(options.model ?? ModelResolution.defaultLanguageModel) (template \(generator.template.name))")
        }
        FileHandle.standardError.write(Data("chat with \(banner); /reset, /quit\n".utf8))
        var messages = initial
        var turns = ChatInput(first: question)
        while let input = turns.next() {
            if input == "/quit" { return }
            if input == "/reset" { messages = initial; continue }
            if input.hasPrefix("/image") || input == "/skills" {
                FileHandle.standardError.write(Data("\(input.split(separator: " ")[0]) needs the agent: start chat with --agent or --image\n".utf8))
                continue
            }
            // The images go with the conversation's first question.
            messages = MultimodalModel.placingImages(imageCount, in: messages + [.user(input)])
            do {
                messages.append(.assistant(try reply(messages)))
            } catch {
                // A full context ends this conversation, not the program.
                FileHandle.standardError.write(Data("error: \(error)\n".utf8))
                messages = initial
            }
        }
    }
}
