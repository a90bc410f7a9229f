import Foundation
import Skills

/// Everything one agent run did, step by step: what the model saw and wrote, each skill call
/// (defaults applied) with its result, artifacts, timings and token counts.
public struct Transcript: Sendable {
    public enum StopReason: Sendable, Equatable {
        /// The model answered with no action.
        case answered
        /// The step limit was reached while the model still called skills.
        case stepLimit
        /// The model asked for exactly the calls it had just seen the results of; its `value`
        /// is taken as the answer rather than running them again.
        case repeatedCalls
        /// The wall-clock budget ran out.
        case budget
        /// The backend failed; the message says how.
        case backendError(String)

        public var text: String {
            switch self {
            case .answered: "answered"
            case .stepLimit: "step limit"
            case .repeatedCalls: "repeated calls"
            case .budget: "time budget"
            case .backendError(let message): "backend error: \(message)"
            }
        }
    }

    public struct Step: Sendable {
        /// The turns added to the conversation since the previous step (the first step's
        /// include the system prompt and the question).
        public var newMessages: [AgentMessage]
        /// The model's output as generated.
        public var raw: String
        public var turn: AssistantTurn?
        public var malformed: ToolCallError?
        public var calls: [CallRecord]
        public var promptTokens: Int
        public var generatedTokens: Int
        public var modelSeconds: Double
        /// Wall time of the step's skill calls (they run in parallel).
        public var skillSeconds: Double
        /// Everything else: parsing, validation, prompt building, bookkeeping.
        public var overheadSeconds: Double
    }

    public var question: String
    public var backend: String
    public var format: ToolCallFormat
    /// The user's images.
    public var images: [Artifact]
    public var steps: [Step] = []
    public var answer: String = ""
    public var stopReason: StopReason = .answered
    public var seconds: Double = 0
    /// The conversation after the run, without the system prompt: what a follow-up question
    /// continues from (`AgentLoop.run(question:images:after:)`). Not part of `json`: the steps
    /// already hold every turn.
    public var conversation: [AgentMessage] = []
    /// The image a later call without one defaults to.
    public var latestImage: Artifact?

    /// Every artifact the run touched, by id (inputs and what skills made).
    public var artifacts: [String: Artifact] {
        var all = Dictionary(images.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        // A follow-up's calls may read images of the conversation before it.
        for message in conversation { for image in message.images { all[image.id] = image } }
        if let latestImage { all[latestImage.id] = latestImage }
        for step in steps {
            for call in step.calls { for artifact in call.artifacts { all[artifact.id] = artifact } }
        }
        return all
    }

    /// The transcript as one JSON document (see README, "Transcripts").
    public var json: JSONValue {
        .object([
            "question": .string(question), "backend": .string(backend), "format": .string(format.rawValue),
            "images": .array(images.map(\.summary)), "answer": .string(answer), "stop_reason": .string(stopReason.text),
            "seconds": Self.rounded(seconds),
            "steps": .array(steps.map { step in
                var object: [String: JSONValue] = [
                    "messages": .array(step.newMessages.map { message in
                        .object(["role": .string(message.role.rawValue), "text": .string(message.text),
                                 "images": .array(message.images.map { .string($0.id) })])
                    }),
                    "raw": .string(step.raw),
                    "calls": .array(step.calls.map(\.json)),
                    "prompt_tokens": .number(Double(step.promptTokens)), "generated_tokens": .number(Double(step.generatedTokens)),
                    "model_seconds": Self.rounded(step.modelSeconds), "skill_seconds": Self.rounded(step.skillSeconds),
                    "overhead_seconds": Self.rounded(step.overheadSeconds),
                ]
                if let turn = step.turn {
                    object["parsed"] = .object([
                        "thoughts": .string(turn.thoughts), "value": .string(turn.value),
                        "actions": .array(turn.actions.map { .object(["API_name": .string($0.name), "API_params": $0.params]) }),
                    ])
                }
                if let malformed = step.malformed { object["malformed"] = .string(malformed.description) }
                return .object(object)
            }),
        ])
    }

    private static func rounded(_ seconds: Double) -> JSONValue { .number((seconds * 1e6).rounded() / 1e6) }
}
