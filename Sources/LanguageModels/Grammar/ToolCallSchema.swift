/// The schema of the agent's JSON tool-call format (see design.md, "Tool-call formats"):
/// `{"thoughts": "...", "actions": [{"API_name": "...", "API_params": {...}}], "value": "..."}`.
extension JSONSchema {
    /// A tool call whose actions each name one of `skills` with that skill's parameters.
    ///
    /// Each action is an alternative (`anyOf`) of objects whose `API_name` is a constant, so the
    /// recogniser knows which parameters may follow once the name is written: `API_name` is in
    /// effect an enum of the skill names and `API_params` depends on it.
    ///
    /// - Parameters:
    ///   - skills: each skill's name and parameter schema (usually an ``object(_:)``; ``any``
    ///     when a skill does not declare one).
    ///   - textLength: maximum length of `thoughts` and `value`, which bounds how long a model
    ///     can ramble (nil = unbounded; the caller's `maxTokens` then bounds it).
    ///   - maxActions: maximum number of actions in one call.
    public static func toolCall(skills: [(name: String, parameters: JSONSchema)], textLength: Int? = nil,
                                maxActions: Int? = nil) -> JSONSchema {
        let actions: [JSONSchema] = skills.map { skill in
            .object([.init("API_name", .const(.string(skill.name))), .init("API_params", skill.parameters)])
        }
        let text = JSONSchema.string(maxLength: textLength)
        return .object([
            .init("thoughts", text),
            // With no skills the only valid list is empty.
            .init("actions", actions.isEmpty ? .array(items: .any, maxItems: 0)
                                             : .array(items: actions.count == 1 ? actions[0] : .anyOf(actions), maxItems: maxActions)),
            .init("value", text),
        ])
    }
}
