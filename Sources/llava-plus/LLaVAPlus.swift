import ArgumentParser

@main
struct LLaVAPlus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "llava-plus",
        abstract: "A LLaVA-Plus style multimodal agent.",
        subcommands: [AskCommand.self, ServeCommand.self, EvalRoutingCommand.self, ModelsCommand.self, GenerateCommand.self, ChatCommand.self, ClassifyCommand.self, IndexCommand.self, SkillsCommand.self]
    )
}
