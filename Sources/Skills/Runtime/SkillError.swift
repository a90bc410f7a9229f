import Foundation

/// Why a skill call produced no result, in a form the agent can show the model and the user.
///
/// Every failure a call can meet maps to one kind, so that the model sees a short, stable
/// `{"error": kind, "message": ...}` instead of a stack trace, and tests can assert the kind.
public struct SkillError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable {
        /// No skill has that name or alias.
        case unknownSkill = "unknown_skill"
        /// The parameters do not match the skill's input schema (or name a missing artifact).
        case invalidParams = "invalid_params"
        /// The call ran past `limits.timeout_s`; the process group was killed.
        case timeout
        /// The skill's process exited with a failure status or a signal (memory limit included).
        case crashed
        /// The skill cannot be reached: a missing program, a refused connection, a failed start.
        case unavailable
        /// The output passed `limits.max_output_bytes`.
        case tooLarge = "too_large"
        /// The skill answered, but not with what the protocol expects (not JSON, wrong shape).
        case badOutput = "bad_output"
        /// The skill ran and reported a failure itself (`{"error": "..."}`, MCP `isError`).
        case toolError = "tool_error"
        /// The caller gave up on the call.
        case cancelled
        /// Replay mode found no recorded call with these parameters and inputs.
        case notRecorded = "not_recorded"
    }

    public var kind: Kind
    /// The skill's canonical name, or the name the call used when none matched.
    public var skill: String
    public var message: String

    public init(_ kind: Kind, skill: String, _ message: String) {
        (self.kind, self.skill, self.message) = (kind, skill, message)
    }

    /// What the model sees in the tool-result turn.
    public var json: JSONValue { ["error": .string(kind.rawValue), "message": .string(message)] }

    public var description: String { "\(skill): \(kind.rawValue): \(message)" }
}
