import CProcess
import Foundation

/// How a subprocess skill is started: exactly the manifest's command (no shell), in the project
/// root, with a scrubbed environment and the manifest's memory and network limits.
struct ProcessLaunch: Sendable {
    /// The resolved program (`argv[0]` stays as the manifest wrote it).
    var executable: URL
    var arguments: [String]
    var environment: [String: String]
    var directory: URL
    var memoryMB: Int
    var isolateNetwork: Bool

    /// The host variables a skill inherits (when the host has them); nothing else of the
    /// host's environment (tokens, keys, proxies) reaches a skill. `LLAVA_PLUS_MODELS` tells
    /// skills where a relocated model store is.
    static let inheritedVariables = ["PATH", "HOME", "LANG", "TMPDIR", "LLAVA_PLUS_MODELS"]
    /// Where a one-shot call may write new files (its output folder).
    static let outputDirectoryVariable = "LLAVA_PLUS_OUTPUT_DIR"
    /// The project root, which is also the working directory.
    static let projectRootVariable = "LLAVA_PLUS_PROJECT_ROOT"
    /// PATH when the host has none.
    static let fallbackPath = "/usr/local/bin:/usr/bin:/bin"

    /// The launch of `manifest`'s command, or `unavailable` if its program cannot be found.
    /// `outputDirectory` is set in the environment of one-shot calls only (a persistent
    /// process gets each call's folder in the request).
    init(manifest: SkillManifest, outputDirectory: URL?,
         host: [String: String] = ProcessInfo.processInfo.environment) throws(SkillError) {
        guard case .subprocess(let command, _) = manifest.transport, let program = command.first else {
            throw SkillError(.unavailable, skill: manifest.name, "the manifest declares no subprocess command")
        }
        let path = host["PATH"] ?? Self.fallbackPath
        switch ExecutableResolver(projectRoot: manifest.origin.projectRoot, path: path).resolve(program) {
        case .missing(let why):
            throw SkillError(.unavailable, skill: manifest.name, "cannot start the skill: \(why)")
        case .found(let url):
            executable = url
        }
        let root = manifest.origin.projectRoot ?? URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        var environment: [String: String] = ["PATH": path, Self.projectRootVariable: root.path]
        for name in Self.inheritedVariables where name != "PATH" { environment[name] = host[name] }
        if let outputDirectory { environment[Self.outputDirectoryVariable] = outputDirectory.path }
        arguments = command
        self.environment = environment
        directory = root
        memoryMB = manifest.limits.memoryMB
        isolateNetwork = !manifest.limits.network
    }

    /// Why `manifest`'s command cannot start, or nil if it resolves (for `health()`).
    static func problem(with manifest: SkillManifest) -> String? {
        do { _ = try ProcessLaunch(manifest: manifest, outputDirectory: nil) } catch { return error.message }
        return nil
    }
}

/// Whether a process asked to run without network got it.
enum NetworkIsolation: Sendable, Equatable {
    /// The manifest allows network.
    case notRequested
    /// New user and network namespaces (or, where user namespaces are refused, a network
    /// namespace alone): the process sees only a loopback device that is down.
    case isolated
    /// The kernel refused both namespaces; the process ran with the host's network.
    case unavailable(String)

    /// The line that goes into the call's log and the skill's health when isolation failed.
    var warning: String? {
        guard case .unavailable(let why) = self else { return nil }
        return "network isolation unavailable (\(why)); the skill ran with the host's network"
    }
}

/// How a skill process ended.
enum ProcessTermination: Sendable, Equatable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    var description: String {
        switch self {
        case .exited(let status): "exited with status \(status)"
        case .signaled(let signal): "was killed by \(ProcessTermination.signalName(signal))"
        }
    }

    /// `SIGKILL`, `SIGSEGV`, ... or `signal N`.
    static func signalName(_ signal: Int32) -> String {
        guard let name = cprocess_signal_name(signal) else { return "signal \(signal)" }
        return "SIG" + String(cString: name)
    }
}
