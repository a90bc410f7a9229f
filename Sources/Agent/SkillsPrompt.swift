import Skills

/// The system prompt that tells the model which skills it has and how to call them.
public enum SkillsPrompt {
    /// A compact prompt: one line per skill with its signature and description, then the
    /// answer format. Parameter details stay in the grammar (local engine) or the native tool
    /// schema (OpenAI-compatible servers), not in the prompt.
    public static func system(tools: [ToolSpec], format: ToolCallFormat) -> String {
        var lines = [
            "You are a helpful assistant that answers questions about images.",
            "You can call these skills; they work on the latest image:",
        ]
        lines += tools.map { "- \($0.signature): \($0.description)" }
        switch format {
        case .llavaPlus:
            lines.append("Answer with \"thoughts🤔\" (your reasoning), \"actions🚀\" (a list of {\"API_name\": ..., \"API_params\": {...}}, "
                + "empty when no skill is needed) and \"value👉\" (your reply to the user).")
        case .json:
            lines.append("Answer with one JSON object: {\"thoughts\": your reasoning, \"actions\": a list of {\"API_name\": ..., "
                + "\"API_params\": {...}} (empty when no skill is needed), \"value\": your reply to the user}.")
        }
        return lines.joined(separator: "\n")
    }

    /// How a step's skill results are put to the model.
    public enum ResultWording: String, Sendable, CaseIterable {
        /// LLaVA-Plus training data: `<skill> output: {...}` then "Answer my first question: ...".
        case training
        /// The LLaVA-Plus demo server's wording.
        case serving
    }

    /// The user turn that carries a step's results back to the model.
    public static func results(_ results: [(skill: String, output: JSONValue)], question: String, wording: ResultWording) -> String {
        let outputs = results.map { "\($0.skill) output: \($0.output.spacedJSON)" }.joined(separator: "\n")
        switch wording {
        case .training:
            return "\(outputs)\n\nAnswer my first question: \(question)"
        case .serving:
            return "\(outputs)\n\nPlease summarize the model outputs and answer my first question: \(question)"
        }
    }
}
