import Foundation
import Synchronization

/// A server that a transport starts and owns: an HTTP skill's `start` command, or an MCP server
/// on stdio. It is a ``ChildProcess`` (own process group, scrubbed environment, memory limit,
/// stderr tail) launched like a subprocess skill, plus how it ended, readable at any time.
final class ServerProcess: Sendable {
    let child: ChildProcess
    /// The program as the manifest names it, for messages.
    let program: String
    private let ended: Ended

    private final class Ended: Sendable {
        let termination = Mutex<ProcessTermination?>(nil)
    }

    /// Starts `command` from `projectRoot` (relative programs resolve against it, bare ones on
    /// PATH) with `memoryMB` (0: none) and, if `isolateNetwork`, no network. Stdout goes to
    /// `onStdout` (return false to kill the server); `onExit` runs once it has exited, after the
    /// last `onStdout`.
    init(command: [String], projectRoot: URL?, memoryMB: Int, isolateNetwork: Bool, skill: String,
         onStdout: @escaping @Sendable (ArraySlice<UInt8>) -> Bool = { _ in true },
         onExit: @escaping @Sendable (ProcessTermination) -> Void = { _ in }) throws(SkillError) {
        let launch = try ProcessLaunch(server: command, projectRoot: projectRoot, memoryMB: memoryMB,
                                       isolateNetwork: isolateNetwork, skill: skill)
        let ended = Ended()
        child = try ChildProcess.start(launch, skill: skill, onStdout: onStdout) { termination in
            ended.termination.withLock { $0 = termination }
            onExit(termination)
        }
        (self.ended, program) = (ended, command.first ?? "")
    }

    var pid: Int32 { child.pid }

    /// How the server ended, nil while it runs.
    var termination: ProcessTermination? { ended.termination.withLock { $0 } }

    /// `'python3' exited with status 3; stderr ends: ...` (or `is running`), for messages.
    var exitReport: String {
        guard let termination else { return "'\(program)' is running" }
        return "'\(program)' " + child.crashMessage(termination)
    }

    /// Kills the server's process group and waits until it is reaped.
    func stop() async {
        child.killGroup()
        await child.waitForExit()
    }

    deinit { child.killGroup() }
}

extension ProcessLaunch {
    /// The launch of a server command, with the environment and working directory of a
    /// subprocess skill of the same project.
    init(server command: [String], projectRoot: URL?, memoryMB: Int, isolateNetwork: Bool, skill: String) throws(SkillError) {
        var limits = SkillManifest.Limits()
        (limits.memoryMB, limits.network) = (memoryMB, !isolateNetwork)
        let manifest = SkillManifest(name: skill, version: SemanticVersion("1.0.0")!, aliases: [], description: "",
                                     inputSchema: [:], outputSchema: nil, transport: .subprocess(command: command, persistent: true),
                                     limits: limits, examples: [],
                                     origin: .init(file: nil, projectRoot: projectRoot, nameLocation: SourceLocation(file: "", line: 0, column: 0),
                                                   aliasLocations: []))
        try self.init(manifest: manifest, outputDirectory: nil)
    }
}
