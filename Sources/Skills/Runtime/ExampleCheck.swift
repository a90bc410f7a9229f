import Foundation

/// `skills test`: runs a manifest's examples through the runner and checks their `expect`.
///
/// `expect` keys:
/// - `min_<field>: n`, `max_<field>: n`: the result's array `field` has at least / at most n items;
/// - `contains_<field>: "text"`: the result's string `field` contains the text (case-insensitive);
/// - `error: <kind>`: the call fails with that ``SkillError/Kind`` (examples of rejected input);
/// - any other key: the result's member equals the value.
/// Without `expect`, the call must succeed.
public enum ExampleCheck {
    /// One example's outcome.
    public struct Outcome: Sendable {
        public var example: SkillManifest.Example
        public var call: SkillCallOutcome?
        /// Why the example failed; empty when it passed.
        public var failures: [String]
        public var passed: Bool { failures.isEmpty }
    }

    /// Runs every example of `manifest`. An example's `image` is added to the runner's
    /// artifact store and fills the required image parameter the example leaves out.
    public static func run(_ manifest: SkillManifest, with runner: SkillRunner) async -> [Outcome] {
        var outcomes: [Outcome] = []
        for example in manifest.examples {
            var params = example.params.objectValue ?? [:]
            if let image = example.image {
                let root = manifest.origin.projectRoot ?? URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
                let url = image.hasPrefix("/") ? URL(fileURLWithPath: image) : root.appendingPathComponent(image)
                do {
                    let artifact = try runner.artifacts.add(contentsOf: url)
                    params = SkillRunner.fillingImage(params, with: artifact.id, for: manifest)
                } catch {
                    outcomes.append(Outcome(example: example, call: nil, failures: ["image \(image): \(error)"]))
                    continue
                }
            }
            let call = await runner.call(manifest.name, params: .object(params))
            outcomes.append(Outcome(example: example, call: call, failures: check(example.expect, against: call.result)))
        }
        return outcomes
    }

    /// The ways `result` misses `expect` (empty: it meets it).
    public static func check(_ expect: JSONValue?, against result: Result<JSONValue, SkillError>) -> [String] {
        let expectations = expect?.objectValue ?? [:]
        if let kind = expectations["error"]?.stringValue {
            switch result {
            case .failure(let error) where error.kind.rawValue == kind: return []
            case .failure(let error): return ["expected a \(kind) error, got \(error.kind.rawValue): \(error.message)"]
            case .success(let value): return ["expected a \(kind) error, got a result: \(value.compactJSON)"]
            }
        }
        let value: JSONValue
        switch result {
        case .failure(let error): return ["the call failed: \(error.kind.rawValue): \(error.message)"]
        case .success(let result): value = result
        }
        var failures: [String] = []
        for key in expectations.keys.sorted() {
            let wanted = expectations[key]!
            if let field = key.dropPrefix("min_") ?? key.dropPrefix("max_") {
                guard let items = value[field]?.arrayValue else {
                    failures.append("\(key): the result has no array '\(field)'")
                    continue
                }
                let bound = Int(wanted.numberValue ?? 0)
                if key.hasPrefix("min_"), items.count < bound { failures.append("\(key): \(items.count) < \(bound)") }
                if key.hasPrefix("max_"), items.count > bound { failures.append("\(key): \(items.count) > \(bound)") }
            } else if let field = key.dropPrefix("contains_") {
                let text = value[field]?.stringValue ?? value[field]?.compactJSON ?? ""
                if let needle = wanted.stringValue, !text.lowercased().contains(needle.lowercased()) {
                    failures.append("\(key): '\(field)' does not contain \(JSONValue.string(needle).compactJSON) (it is \(text.prefix(120)))")
                }
            } else if !approximatelyEqual(value[key], wanted) {
                failures.append("\(key): expected \(wanted.compactJSON), got \(value[key]?.compactJSON ?? "nothing")")
            }
        }
        return failures
    }

    private static func approximatelyEqual(_ actual: JSONValue?, _ wanted: JSONValue) -> Bool {
        switch (actual, wanted) {
        case (.number(let a)?, .number(let b)): return abs(a - b) <= 1e-9 * max(1, abs(b))
        case (.array(let a)?, .array(let b)): return a.count == b.count && zip(a, b).allSatisfy { approximatelyEqual($0, $1) }
        default: return actual == wanted
        }
    }
}

private extension String {
    func dropPrefix(_ prefix: String) -> String? {
        hasPrefix(prefix) && count > prefix.count ? String(dropFirst(prefix.count)) : nil
    }
}
