import Foundation

/// Finds the program a command runs, the way the runner will start it, so that a manifest
/// naming a missing script or tool fails at load time rather than at the first call.
///
/// A program with a `/` is a path: absolute, or relative to the project root (the parent of
/// the manifest's folder, so `manifests/x.yaml` runs `skills/x/main.py` from the checkout).
/// A bare name is looked up in `PATH`, as `execvp` would.
struct ExecutableResolver: Sendable {
    var projectRoot: URL?
    var path: String

    enum Outcome: Equatable {
        case found(URL)
        case missing(String)
    }

    func resolve(_ program: String) -> Outcome {
        let files = FileManager.default
        if program.contains("/") {
            let url = program.hasPrefix("/")
                ? URL(fileURLWithPath: program)
                : (projectRoot ?? URL(fileURLWithPath: files.currentDirectoryPath)).appendingPathComponent(program)
            var isDirectory: ObjCBool = false
            guard files.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue else {
                return .missing(program.hasPrefix("/")
                    ? "'\(program)' does not exist"
                    : "'\(program)' does not exist (relative paths resolve against the project root, the manifest folder's parent)")
            }
            guard files.isExecutableFile(atPath: url.path) else {
                return .missing("'\(program)' is not executable (chmod +x it, or run it through its interpreter)")
            }
            return .found(url)
        }
        for directory in path.split(separator: ":") where !directory.isEmpty {
            let candidate = URL(fileURLWithPath: String(directory)).appendingPathComponent(program)
            var isDirectory: ObjCBool = false
            if files.fileExists(atPath: candidate.path, isDirectory: &isDirectory), !isDirectory.boolValue,
               files.isExecutableFile(atPath: candidate.path) {
                return .found(candidate)
            }
        }
        return .missing("'\(program)' is not found on PATH")
    }
}
