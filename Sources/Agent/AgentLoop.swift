import Foundation
import Skills

/// The agent: asks the model, runs the skills it calls, shows it the results (and the images
/// the skills made), and repeats until it answers without calling anything.
///
/// Better than the reference on the points LLaVA-Plus was weak: several steps, several
/// actions per step run in parallel, every call validated and time-limited by the runner,
/// errors returned to the model as results so it can correct itself, tool images shown to the
/// model, defaults visible in the transcript, model output never evaluated.
public struct AgentLoop: Sendable {
    public var backend: any AgentBackend
    public var runner: SkillRunner
    /// Most model turns in one run.
    public var maxSteps: Int
    /// Wall-clock budget for the whole run; checked before each step.
    public var budget: Duration
    public var wording: SkillsPrompt.ResultWording

    /// What happens, as it happens (for streaming output).
    public enum Event: Sendable {
        case modelOutput(step: Int, text: String)
        case malformed(step: Int, ToolCallError)
        case calling(step: Int, ToolCall)
        case result(step: Int, SkillCallOutcome)
        case answer(String)
    }

    public init(backend: any AgentBackend, runner: SkillRunner, maxSteps: Int = 4, budget: Duration = .seconds(300),
                wording: SkillsPrompt.ResultWording = .training) {
        (self.backend, self.runner, self.maxSteps, self.budget, self.wording) = (backend, runner, maxSteps, budget, wording)
    }

    /// The skills as the model is shown them.
    public var tools: [ToolSpec] { runner.registry.manifests.map(ToolSpec.init) }

    /// Answers `question` about `images`; with `previous`, as a follow-up in that run's
    /// conversation (its images and results stay in view; a call without an image uses the
    /// latest one).
    public func run(question: String, images: [Artifact], after previous: Transcript? = nil,
                    onEvent: @Sendable (Event) -> Void = { _ in }) async -> Transcript {
        let clock = ContinuousClock()
        let start = clock.now
        let tools = self.tools
        var transcript = Transcript(question: question, backend: backend.name, format: backend.format, images: images)
        var messages = [AgentMessage(.system, SkillsPrompt.system(tools: tools, format: backend.format))]
            + (previous?.conversation ?? []) + [AgentMessage(.user, question, images: images)]
        var shown = 0
        var latestImage = images.last ?? previous?.latestImage
        transcript.stopReason = .stepLimit
        for index in 0..<maxSteps {
            guard clock.now - start < budget else {
                transcript.stopReason = .budget
                break
            }
            let stepStart = clock.now
            let reply: BackendReply
            do {
                reply = try await backend.complete(messages, tools: tools)
            } catch {
                transcript.stopReason = .backendError("\(error)")
                break
            }
            onEvent(.modelOutput(step: index, text: reply.text))
            var step = Transcript.Step(newMessages: Array(messages[shown...]), raw: reply.text, turn: nil, malformed: nil,
                                       calls: [], promptTokens: reply.promptTokens, generatedTokens: reply.generatedTokens,
                                       modelSeconds: reply.seconds, skillSeconds: 0, overheadSeconds: 0)
            shown = messages.count
            messages.append(AgentMessage(.assistant, reply.text))
            var finished = false
            switch ToolCallCodec.parse(reply.text, format: backend.format) {
            case .failure(let error):
                onEvent(.malformed(step: index, error))
                step.malformed = error
                messages.append(AgentMessage(.user, "Your answer could not be read (\(error)). Answer again in the required format."))
            case .success(let turn):
                step.turn = turn
                if turn.actions.isEmpty {
                    transcript.answer = turn.value
                    transcript.stopReason = .answered
                    onEvent(.answer(turn.value))
                    finished = true
                } else if let previous = transcript.steps.last?.turn?.actions, Set(previous) == Set(turn.actions) {
                    transcript.answer = turn.value
                    transcript.stopReason = .repeatedCalls
                    onEvent(.answer(turn.value))
                    finished = true
                } else {
                    let skillStart = clock.now
                    let (outcomes, distinct) = await call(turn.actions, latestImage: latestImage, step: index, onEvent: onEvent)
                    step.skillSeconds = Self.seconds(clock.now - skillStart)
                    step.calls = distinct.map(\.record)
                    let made = distinct.flatMap(\.record.artifacts).filter { $0.kind == .image || $0.kind == .crop }
                    latestImage = made.last ?? latestImage
                    messages.append(AgentMessage(.user, SkillsPrompt.results(
                        zip(turn.actions, outcomes).map { ($0.name, $1.output) }, question: question, wording: wording), images: made))
                    transcript.answer = turn.value
                }
            }
            step.overheadSeconds = max(0, Self.seconds(clock.now - stepStart) - step.modelSeconds - step.skillSeconds)
            transcript.steps.append(step)
            if finished { break }
        }
        transcript.seconds = Self.seconds(clock.now - start)
        transcript.conversation = Array(messages.dropFirst())
        transcript.latestImage = latestImage
        return transcript
    }

    /// Runs one step's distinct actions in parallel; returns the outcome of each action in
    /// order, and of each distinct call. An artifact parameter the model left out names the
    /// latest image.
    private func call(_ actions: [ToolCall], latestImage: Artifact?, step: Int,
                      onEvent: @Sendable (Event) -> Void) async -> (perAction: [SkillCallOutcome], distinct: [SkillCallOutcome]) {
        let runner = self.runner
        let prepared = actions.map { action in
            guard let latestImage, let manifest = runner.registry.manifest(named: action.name) else { return action }
            return Self.fillingImage(action, manifest: manifest, with: latestImage)
        }
        // The same call twice in one step runs once (small models repeat themselves).
        var unique: [ToolCall] = []
        for action in prepared where !unique.contains(action) { unique.append(action) }
        for action in unique { onEvent(.calling(step: step, action)) }
        let outcomes = await withTaskGroup(of: (Int, SkillCallOutcome).self) { group in
            for (index, action) in unique.enumerated() {
                group.addTask { (index, await runner.call(action.name, params: action.params)) }
            }
            var results = [SkillCallOutcome?](repeating: nil, count: unique.count)
            for await (index, outcome) in group { results[index] = outcome }
            return results.map { $0! }
        }
        for outcome in outcomes { onEvent(.result(step: step, outcome)) }
        return (prepared.map { outcomes[unique.firstIndex(of: $0)!] }, outcomes)
    }

    /// `call` with its required image parameters that the model left out (the model is not
    /// shown them, see ``ToolSpec``) set to `image`.
    static func fillingImage(_ call: ToolCall, manifest: SkillManifest, with image: Artifact) -> ToolCall {
        guard let params = call.params.objectValue else { return call }
        return ToolCall(name: call.name, params: .object(SkillRunner.fillingImage(params, with: image.id, for: manifest)))
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
