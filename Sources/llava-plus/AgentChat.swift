import Agent
import Foundation
import Skills

/// `chat` with skills: a conversation with the agent. Each question is one agent run that
/// continues the conversation so far; `/image PATH` attaches an image to the next question,
/// `/skills` lists what the model can call, `/reset` starts over, `/quit` leaves. Each turn's
/// transcript (and annotated image) is saved in the session's folder.
struct AgentChat {
    let loop: AgentLoop
    let artifacts: ArtifactStore
    let folder: URL

    static let help = "/image PATH attaches an image, /skills lists the skills, /reset starts over, /quit leaves"

    func run(first question: String?, images: [String]) async {
        var pending: [Artifact] = []
        for path in images { if let image = attach(path) { pending.append(image) } }
        var previous: Transcript?
        var turn = 0
        var turns = ChatInput(first: question)
        while let input = turns.next() {
            switch input.split(separator: " ", maxSplits: 1).first.map(String.init) {
            case "/quit": return
            case "/reset":
                (previous, pending) = (nil, [])
                print("(conversation cleared)")
            case "/skills":
                for tool in loop.tools { print("  \(tool.signature): \(tool.description)") }
            case "/image":
                let path = input.dropFirst("/image".count).trimmingCharacters(in: .whitespaces)
                if path.isEmpty { print("usage: /image PATH") } else if let image = attach(path) {
                    pending.append(image)
                    print("(\(image.id) attached to your next question)")
                }
            case let command? where command.hasPrefix("/"):
                print("unknown command \(command); \(Self.help)")
            default:
                if pending.isEmpty && previous?.latestImage == nil {
                    print("(no image yet: attach one with /image PATH)")
                    continue
                }
                turn += 1
                let transcript = await loop.run(question: input, images: pending, after: previous, onEvent: AgentRunOutput.show)
                pending = []
                previous = transcript
                do {
                    try AgentRunOutput.save(transcript, in: folder, name: "turn-\(turn)", suffix: "-\(turn)")
                } catch {
                    FileHandle.standardError.write(Data("error: cannot save turn \(turn): \(error)\n".utf8))
                }
            }
        }
    }

    private func attach(_ path: String) -> Artifact? {
        do {
            return try artifacts.add(contentsOf: URL(fileURLWithPath: path))
        } catch {
            print("cannot attach \(path): \(error)")
            return nil
        }
    }
}
