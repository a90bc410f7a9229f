import Foundation

/// The turns a user types in `chat`: the question given on the command line first, then lines
/// of standard input after a `> ` prompt, trimmed; blank lines are skipped. Nil at end of input.
struct ChatInput {
    private var queued: String?

    init(first question: String?) { queued = question }

    mutating func next() -> String? {
        while true {
            let input: String
            if let first = queued {
                (input, queued) = (first, nil)
            } else {
                stream("> ")
                guard let line = readLine(strippingNewline: true) else { stream("\n"); return nil }
                input = line.trimmingCharacters(in: .whitespaces)
            }
            if !input.isEmpty { return input }
        }
    }
}
