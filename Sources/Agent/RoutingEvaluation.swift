import Foundation
import Skills

/// Scores how a model routes questions to skills on a labelled set (`data/routing.jsonl`):
/// only the first step is run, and no skill is called.
public enum RoutingEvaluation {
    /// One labelled question.
    public struct Case: Sendable, Equatable {
        public var id: String
        public var image: URL
        public var question: String
        /// The expected skill, or nil for "answer without tools".
        public var skill: String?
        /// A word the call's parameters must contain.
        public var key: String?
    }

    /// What the model did with one case.
    public struct Result: Sendable {
        public var item: Case
        public var raw: String
        /// Parsed, and every action validated against its skill's schema.
        public var valid: Bool
        /// The first action's skill (canonical name), nil when the model answered directly.
        public var chosen: String?
        public var keyFound: Bool
        public var problem: String?
        public var correct: Bool { valid && chosen == item.skill }
    }

    /// The totals over a run.
    public struct Score: Sendable {
        public var results: [Result]
        public var validRate: Double { rate(results.filter(\.valid).count, results.count) }
        public var accuracy: Double { rate(results.filter(\.correct).count, results.count) }
        /// Among correctly routed cases with a key: how often the parameters hold it.
        public var keyRate: Double {
            let keyed = results.filter { $0.correct && $0.item.key != nil }
            return rate(keyed.filter(\.keyFound).count, keyed.count)
        }
        /// Per expected skill (`none` for direct answers): cases and correct ones.
        public var perSkill: [(skill: String, total: Int, correct: Int)] {
            Dictionary(grouping: results) { $0.item.skill ?? "none" }
                .map { ($0.key, $0.value.count, $0.value.filter(\.correct).count) }.sorted { $0.skill < $1.skill }
        }

        private func rate(_ part: Int, _ whole: Int) -> Double { whole == 0 ? 0 : Double(part) / Double(whole) }
    }

    /// A routing set that cannot be read, with the file and line.
    public struct SetError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Reads a routing set; images are paths inside `imageRoot` (the model store).
    public static func load(_ url: URL, imageRoot: URL) throws -> [Case] {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw SetError(description: "\(url.path): cannot read the routing set")
        }
        return try data.split(separator: UInt8(ascii: "\n")).enumerated().map { number, line in
            let value: JSONValue
            do throws(JSONValue.ParseError) { value = try JSONValue(parsing: line) } catch {
                throw SetError(description: "\(url.lastPathComponent):\(number + 1): \(error.message)")
            }
            guard let id = value["id"]?.stringValue, let image = value["image"]?.stringValue,
                  let question = value["question"]?.stringValue
            else { throw SetError(description: "\(url.lastPathComponent):\(number + 1): expected id, image and question strings") }
            return Case(id: id, image: imageRoot.appendingPathComponent(image), question: question,
                        skill: value["skill"]?.stringValue, key: value["key"]?.stringValue)
        }
    }

    /// Runs the first step of every case. `progress` gets (done, total) after each.
    public static func run(_ cases: [Case], backend: any AgentBackend, registry: SkillRegistry, artifacts: ArtifactStore,
                           progress: (Int, Int) -> Void = { _, _ in }) async throws -> Score {
        let tools = registry.manifests.map(ToolSpec.init)
        let system = AgentMessage(.system, SkillsPrompt.system(tools: tools, format: backend.format))
        var results: [Result] = []
        for (index, item) in cases.enumerated() {
            let image = try artifacts.add(contentsOf: item.image)
            let reply = try await backend.complete([system, AgentMessage(.user, item.question, images: [image])], tools: tools)
            results.append(judge(item, reply: reply.text, format: backend.format, registry: registry, image: image))
            progress(index + 1, cases.count)
        }
        return Score(results: results)
    }

    static func judge(_ item: Case, reply: String, format: ToolCallFormat, registry: SkillRegistry, image: Artifact) -> Result {
        var result = Result(item: item, raw: reply, valid: false, chosen: nil, keyFound: false, problem: nil)
        let turn: AssistantTurn
        switch ToolCallCodec.parse(reply, format: format) {
        case .failure(let error):
            result.problem = error.description
            return result
        case .success(let parsed): turn = parsed
        }
        for action in turn.actions {
            let call = registry.manifest(named: action.name).map { AgentLoop.fillingImage(action, manifest: $0, with: image) } ?? action
            if case .failure(let error) = registry.validateCall(name: call.name, params: call.params) {
                result.problem = "\(error)"
                return result
            }
        }
        result.valid = true
        if let first = turn.actions.first {
            result.chosen = registry.manifest(named: first.name)?.name
            if let key = item.key?.lowercased() {
                result.keyFound = strings(in: first.params).contains { $0.lowercased().contains(key) }
            }
        }
        return result
    }

    private static func strings(in value: JSONValue) -> [String] {
        switch value {
        case .string(let text): [text]
        case .array(let items): items.flatMap(strings)
        case .object(let members): members.values.flatMap(strings)
        default: []
        }
    }
}
