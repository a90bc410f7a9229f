import Agent
import Foundation
import Imaging
import Skills

/// How `ask` and `chat` show an agent run as it happens and what they keep of it.
enum AgentRunOutput {
    /// Prints one event of the loop: the model's turns, the calls, their results, the answer.
    @Sendable static func show(_ event: AgentLoop.Event) {
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

    /// Writes `<name>.json`, `.md` and `.html` and, when a call found boxes or masks,
    /// `annotated<suffix>.png` into `folder`; says how the run stopped if it did not answer.
    static func save(_ transcript: Transcript, in folder: URL, name: String = "transcript", suffix: String = "") throws {
        try transcript.json.prettyJSON.write(to: folder.appendingPathComponent(name + ".json"), atomically: true, encoding: .utf8)
        try transcript.markdown.write(to: folder.appendingPathComponent(name + ".md"), atomically: true, encoding: .utf8)
        try transcript.html.write(to: folder.appendingPathComponent(name + ".html"), atomically: true, encoding: .utf8)
        if let annotated = try transcript.annotatedImage() {
            try annotated.writePNG(to: folder.appendingPathComponent("annotated\(suffix).png"))
            print("[annotated image: \(shown(folder))/annotated\(suffix).png]")
        }
        switch transcript.stopReason {
        case .answered: break
        case .repeatedCalls: print("(stopped: the model asked again for the calls it had just seen answered)")
        default: print("\nStopped: \(transcript.stopReason.text); last reply: \(transcript.answer)")
        }
        fflush(nil)  // every stdio stream: the summary on stderr comes after everything printed above
        FileHandle.standardError.write(Data(String(format: "[%d steps, %.1f s; transcript: %@/%@.html]\n",
                                                   transcript.steps.count, transcript.seconds, shown(folder), name).utf8))
    }

    /// A folder's path as short as it can be said: relative to the working directory when inside it.
    static func shown(_ folder: URL) -> String {
        let here = FileManager.default.currentDirectoryPath + "/"
        return folder.path.hasPrefix(here) ? String(folder.path.dropFirst(here.count)) : folder.path
    }

    /// A new run folder under `runs/` named by the time (or `explicit` when given).
    static func folder(_ explicit: String?, prefix: String = "") -> URL {
        let stamp = DateFormatter()
        stamp.dateFormat = "yyyy-MM-dd-HHmmss"
        return URL(fileURLWithPath: explicit ?? "runs/" + prefix + stamp.string(from: Date()))
    }
}
