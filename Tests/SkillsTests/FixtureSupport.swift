import Foundation
@testable import Skills

/// The copied `Fixtures` folder: a miniature project root (its `skills/echo/main.sh` is what
/// fixture manifests run), with manifest folders `good/`, `bad/` and `dupes/`.
enum Fixtures {
    static let root: URL = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!

    /// A loader with a fixed PATH, so "not found on PATH" does not depend on the machine.
    static let loader = ManifestLoader(environment: ["PATH": "/usr/bin:/bin"])

    static func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }

    /// Loads `relative` with messages naming it as `relative` and the fixture root as project.
    static func load(_ relative: String) -> Result<SkillManifest, ManifestProblems> {
        loader.load(url(relative), displayPath: relative, projectRoot: root)
    }

    /// Parses inline YAML as if it were `inline.yaml` in the fixture project.
    static func parse(_ yaml: String) -> Result<SkillManifest, ManifestProblems> {
        loader.parse(yaml, file: "inline.yaml", projectRoot: root)
    }

    static func problems(_ result: Result<SkillManifest, ManifestProblems>) -> [String] {
        if case .failure(let failure) = result { return failure.problems.map(\.description) }
        return []
    }
}

extension Result {
    /// The error of a failed result, for `#expect(result.failure?.kind == ...)`.
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
