import Foundation
import Testing
@testable import Skills

/// The subprocess transports with real processes: `Fixtures/faults/skill.py` misbehaves on
/// request (crash, hang with a grandchild, garbage, endless output, wrong id, allocation,
/// network access) and every fault must come back as its structured error while the host
/// stays up. Each test runs against both transports unless the fault is specific to one.
@Suite struct SubprocessTransportTests {
    enum Kind: String, CaseIterable, CustomTestStringConvertible {
        case oneShot, persistent
        var testDescription: String { rawValue }
    }

    /// The system interpreter when there is one: version-manager shims add 0.2 s per start.
    static let python = FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : "python3"

    /// A manifest for the fault skill in the fixture project (relative paths resolve there).
    /// The default timeout is long: on a loaded 2-core machine (the model tests run alongside)
    /// a Python skill can take seconds to start, and only the hang tests wait for a timeout.
    static func manifest(_ kind: Kind, timeout: Double = 60, limits: [String] = [], arguments: [String] = [],
                         command: [String]? = nil) throws -> SkillManifest {
        let command = command ?? ([python, "faults/skill.py"] + (kind == .persistent ? ["--persistent"] : []) + arguments)
        let yaml = """
            name: faulty
            version: 1.0.0
            description: Misbehaves on request.
            input_schema: {type: object}
            transport:
              kind: subprocess
              command: [\(command.map { "\"\($0)\"" }.joined(separator: ", "))]
              persistent: \(kind == .persistent)
            limits: {\((["timeout_s: \(timeout)"] + limits).joined(separator: ", "))}
            """
        return try ManifestLoader().parse(yaml, file: "faulty.yaml", projectRoot: Fixtures.root).get()
    }

    /// Runs `body` with the manifest's transport and shuts it down afterwards.
    static func withTransport<R>(_ manifest: SkillManifest, _ body: (any SkillTransport) async throws -> R) async rethrows -> R {
        let transport = SkillRunner.standardTransport(for: manifest)
        do {
            let result = try await body(transport)
            await transport.shutdown()
            return result
        } catch {
            await transport.shutdown()
            throw error
        }
    }

    /// One call straight to the transport, with a fresh output folder.
    static func call(_ transport: any SkillTransport, _ manifest: SkillManifest, _ params: JSONValue) async -> Result<SkillReply, SkillError> {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("subprocess-call-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        do {
            return .success(try await transport.call(SkillInvocation(manifest: manifest, params: params, inputs: [:], outputDirectory: folder)))
        } catch {
            return .failure(error)
        }
    }

    static func temporaryFolder() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("subprocess-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    /// Whether `pid` is a live process (a zombie waiting for its reaper is not).
    static func isRunning(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let end = stat.lastIndex(of: ")") else { return false }
        let state = stat[stat.index(end, offsetBy: 2)...].prefix(1)
        return state != "Z" && state != "X"
    }

    /// Polls `condition` every 20 ms for up to `seconds`.
    static func eventually(within seconds: Double, _ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition()
    }

    /// The skill pid and the grandchild pid a `hang` call writes to its file.
    static func hangPids(_ file: URL) -> [Int32]? {
        guard let text = try? String(contentsOf: file, encoding: .utf8) else { return nil }
        let pids = text.split(separator: " ").compactMap { Int32($0) }
        return pids.count == 2 ? pids : nil
    }

    static func pid(of reply: Result<SkillReply, SkillError>) -> Int? {
        guard case .success(let reply) = reply, let pid = reply.result["pid"]?.numberValue else { return nil }
        return Int(pid)
    }

    // MARK: - Faults, both transports

    @Test(arguments: Kind.allCases) func answersAndKeepsStderrAsLog(kind: Kind) async throws {
        let manifest = try Self.manifest(kind)
        let reply = try await Self.withTransport(manifest) { try await Self.call($0, manifest, ["mode": "echo", "text": "héllo \"quoted\""]).get() }
        #expect(reply.result["echo"] == ["mode": "echo", "text": "héllo \"quoted\""])
        #expect(reply.result["pid"]?.numberValue != nil)
        #expect(reply.artifacts.isEmpty)
    }

    @Test(arguments: Kind.allCases) func largeRequestsAndAnswersDoNotDeadlock(kind: Kind) async throws {
        // Several pipe buffers each way: the request is written as the skill reads it, and the
        // answer is read while the skill writes it.
        let text = String(repeating: "0123456789", count: 40_000)
        let manifest = try Self.manifest(kind)
        let reply = try await Self.withTransport(manifest) { try await Self.call($0, manifest, ["mode": "echo", "text": .string(text)]).get() }
        #expect(reply.result["echo"]?["text"]?.stringValue == text)
    }

    @Test(arguments: Kind.allCases) func crashIsCrashedWithTheStatusAndStderr(kind: Kind) async throws {
        let manifest = try Self.manifest(kind)
        let result = await Self.withTransport(manifest) { await Self.call($0, manifest, ["mode": "crash"]) }
        guard case .failure(let error) = result else { Issue.record("a crash answered \(result)"); return }
        #expect(error.kind == .crashed)
        #expect(error.skill == "faulty")
        #expect(error.message.contains("exited with status 3"))
        #expect(error.message.contains("boom: the skill failed on purpose"))
    }

    @Test(arguments: Kind.allCases) func hangTimesOutAndKillsTheGrandchild(kind: Kind) async throws {
        // Long enough for python to start and write its pids on a busy machine.
        let manifest = try Self.manifest(kind, timeout: 5)
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let pidFile = folder.appendingPathComponent("pids")
        try await Self.withTransport(manifest) { transport in
            let started = ContinuousClock.now
            let result = await Self.call(transport, manifest, ["mode": "hang", "pid_file": .string(pidFile.path)])
            // Far below the skill's 300 s sleep (generous: a loaded CI machine delayed this by 20 s).
            #expect(ContinuousClock.now - started < .seconds(90))
            guard case .failure(let error) = result else { Issue.record("a hang answered \(result)"); return }
            #expect(error.kind == .timeout)
            #expect(error.message.contains("no answer within 5.0 s; the process group was killed"))
            let pids = try #require(Self.hangPids(pidFile))
            #expect(await Self.eventually(within: 10) { !pids.contains(where: Self.isRunning) }, "skill \(pids[0]) or grandchild \(pids[1]) survived")
            if kind == .persistent {
                // The killed process is replaced by a new one on the next call.
                let next = await Self.call(transport, manifest, ["mode": "echo"])
                #expect(Self.pid(of: next).map { Int32($0) != pids[0] } == true)
            }
        }
    }

    @Test(arguments: Kind.allCases) func garbageIsBadOutput(kind: Kind) async throws {
        let manifest = try Self.manifest(kind)
        let result = await Self.withTransport(manifest) { await Self.call($0, manifest, ["mode": "garbage"]) }
        guard case .failure(let error) = result else { Issue.record("garbage answered \(result)"); return }
        #expect(error.kind == .badOutput)
        #expect(error.message.contains("this is not json"))
    }

    @Test(arguments: Kind.allCases) func endlessOutputIsTooLargeWithoutReadingItAll(kind: Kind) async throws {
        // The skill writes forever: only stopping at the limit can end this call before its timeout.
        let manifest = try Self.manifest(kind, timeout: 60, limits: ["max_output_bytes: 100000"])
        let started = ContinuousClock.now
        let result = await Self.withTransport(manifest) { await Self.call($0, manifest, ["mode": "flood"]) }
        #expect(ContinuousClock.now - started < .seconds(45))
        guard case .failure(let error) = result else { Issue.record("a flood answered \(result)"); return }
        #expect(error.kind == .tooLarge)
        #expect(error.message.contains("max_output_bytes (100000 bytes)"))
    }

    @Test(arguments: Kind.allCases) func environmentIsScrubbed(kind: Kind) async throws {
        setenv("LLAVA_PLUS_TEST_SECRET", "hunter2", 1)
        let manifest = try Self.manifest(kind)
        let reply = try await Self.withTransport(manifest) { try await Self.call($0, manifest, ["mode": "environment"]).get() }
        let environment = try #require(reply.result["environment"]?.objectValue)
        #expect(environment["LLAVA_PLUS_TEST_SECRET"] == nil)
        // LC_CTYPE: Python sets it itself when it coerces a C locale (PEP 538).
        let allowed = Set(ProcessLaunch.inheritedVariables + [ProcessLaunch.projectRootVariable, ProcessLaunch.outputDirectoryVariable, "LC_CTYPE"])
        #expect(Set(environment.keys).isSubset(of: allowed), "unexpected variables: \(Set(environment.keys).subtracting(allowed).sorted())")
        let root = Fixtures.root.resolvingSymlinksInPath().path
        #expect(environment[ProcessLaunch.projectRootVariable]?.stringValue.map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path } == root)
        #expect(reply.result["cwd"]?.stringValue.map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path } == root)
        // A persistent process serves many calls: each call's folder comes in its request instead.
        #expect((environment[ProcessLaunch.outputDirectoryVariable] != nil) == (kind == .oneShot))
    }

    @Test(arguments: Kind.allCases) func memoryLimitFailsTheSkillNotTheHost(kind: Kind) async throws {
        let manifest = try Self.manifest(kind, limits: ["memory_mb: 200"])
        try await Self.withTransport(manifest) { transport in
            let result = await Self.call(transport, manifest, ["mode": "allocate", "mb": 400])
            guard case .failure(let error) = result else { Issue.record("allocating 400 MB under a 200 MB limit answered \(result)"); return }
            #expect(error.kind == .crashed)
            #expect(error.message.contains("MemoryError"))
            // Within the limit the same skill works.
            let small = try await Self.call(transport, manifest, ["mode": "allocate", "mb": 20]).get()
            #expect(small.result["allocated"] == .number(Double(20 << 20)))
        }
    }

    @Test(arguments: Kind.allCases) func noNetworkMeansNoConnection(kind: Kind) async throws {
        let listener = try LoopbackListener()
        defer { listener.close() }
        let params: JSONValue = ["mode": "connect", "port": .number(Double(listener.port))]

        // The control: with network allowed, the listener is reachable.
        let open = try Self.manifest(kind, limits: ["network: true"])
        let allowed = try await Self.withTransport(open) { try await Self.call($0, open, params).get() }
        #expect(allowed.result["connected"] == true)

        let closed = try Self.manifest(kind, limits: ["network: false"])
        let (reply, health) = try await Self.withTransport(closed) { transport in
            (try await Self.call(transport, closed, params).get(), await transport.health())
        }
        if reply.log.contains("network isolation unavailable") {
            withKnownIssue("user and network namespaces are unavailable on this machine: network: false is not enforced") {
                Issue.record("isolation unavailable: \(reply.log.split(separator: "\n").first ?? "")")
            }
            #expect(health.description.contains("network isolation unavailable"))
            return
        }
        #expect(reply.result["connected"] == false, "a skill with network: false reached 127.0.0.1:\(listener.port)")
    }

    @Test(arguments: Kind.allCases) func cancellingTheCallerKillsTheProcess(kind: Kind) async throws {
        let manifest = try Self.manifest(kind, timeout: 60)
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let pidFile = folder.appendingPathComponent("pids")
        try await Self.withTransport(manifest) { transport in
            let call = Task { await Self.call(transport, manifest, ["mode": "hang", "pid_file": .string(pidFile.path)]) }
            #expect(await Self.eventually(within: 30) { Self.hangPids(pidFile) != nil })
            let started = ContinuousClock.now
            call.cancel()
            let result = await call.value
            #expect(ContinuousClock.now - started < .seconds(20))
            guard case .failure(let error) = result else { Issue.record("a cancelled call answered \(result)"); return }
            #expect(error.kind == .cancelled)
            let pids = try #require(Self.hangPids(pidFile))
            #expect(await Self.eventually(within: 10) { !pids.contains(where: Self.isRunning) }, "skill \(pids[0]) or grandchild \(pids[1]) survived")
        }
    }

    @Test(arguments: Kind.allCases) func unexecutableProgramIsUnavailable(kind: Kind) async throws {
        let manifest = try Self.manifest(kind, command: ["faults/bad-interpreter.sh"])
        let result = await Self.withTransport(manifest) { await Self.call($0, manifest, [:]) }
        guard case .failure(let error) = result else { Issue.record("a bad interpreter answered \(result)"); return }
        #expect(error.kind == .unavailable)
        #expect(error.message.hasPrefix("cannot execute '"))
        #expect(error.message.hasSuffix("faults/bad-interpreter.sh': No such file or directory"))

        var missing = manifest
        missing.transport = .subprocess(command: ["faults/removed.py"], persistent: kind == .persistent)
        let health = await Self.withTransport(missing) { await $0.health() }
        #expect(health == .down("cannot start the skill: 'faults/removed.py' does not exist (relative paths resolve against the project root, the manifest folder's parent)"))
        let call = await Self.withTransport(missing) { await Self.call($0, missing, [:]) }
        #expect(call.failure?.kind == .unavailable)
    }

    @Test(arguments: Kind.allCases) func artifactsComeBackThroughTheRunner(kind: Kind) async throws {
        let manifest = try Self.manifest(kind)
        var registry = SkillRegistry()
        registry.add(manifest)
        let store = try ArtifactStore.temporary()
        defer { try? FileManager.default.removeItem(at: store.directory) }
        let runner = SkillRunner(registry: registry, artifacts: store)
        let outcome = await runner.call("faulty", params: ["mode": "artifact", "text": "written by the skill"])
        await runner.shutdown()
        let output = try outcome.result.get()
        #expect(output["written"] == true)
        let made = try #require(store.all.first)
        #expect(output["artifacts"] == [made.summary])
        #expect(FileManager.default.contents(atPath: made.url.path) == Data("written by the skill".utf8))
    }

    // MARK: - Persistent only

    @Test func persistentKeepsOneProcessAndRestartsAfterACrash() async throws {
        let manifest = try Self.manifest(.persistent)
        try await Self.withTransport(manifest) { transport in
            #expect(await transport.health() == .ready("ready (starts on first call)"))
            var pids: [Int] = []
            for _ in 0..<3 { pids.append(try #require(Self.pid(of: await Self.call(transport, manifest, ["mode": "echo"])))) }
            #expect(Set(pids).count == 1)
            #expect(await transport.health() == .ready("running (pid \(pids[0]))"))

            #expect(await Self.call(transport, manifest, ["mode": "crash"]).failure?.kind == .crashed)
            let restarted = try #require(Self.pid(of: await Self.call(transport, manifest, ["mode": "echo"])))
            #expect(restarted != pids[0])
            #expect(await transport.health() == .ready("running (pid \(restarted))"))

            await transport.shutdown()
            #expect(await transport.health() == .ready("ready (starts on first call)"))
            #expect(await Self.eventually(within: 10) { !Self.isRunning(Int32(restarted)) })
        }
    }

    @Test func persistentSlowStartIsCoveredByTheFirstCallsTimeout() async throws {
        let slow = try Self.manifest(.persistent, timeout: 8, arguments: ["--slow-start", "0.4"])
        try await Self.withTransport(slow) { transport in
            let first = ContinuousClock.now
            let pid = Self.pid(of: await Self.call(transport, slow, ["mode": "echo"]))
            #expect(pid != nil)
            #expect(ContinuousClock.now - first >= .milliseconds(400))
            // The same process answers: the second call does not pay for the start again.
            #expect(Self.pid(of: await Self.call(transport, slow, ["mode": "echo"])) == pid)
        }
        let tooSlow = try Self.manifest(.persistent, timeout: 0.3, arguments: ["--slow-start", "5"])
        let result = await Self.withTransport(tooSlow) { await Self.call($0, tooSlow, ["mode": "echo"]) }
        #expect(result.failure?.kind == .timeout)
    }

    @Test func persistentWrongIdIsBadOutputAndRestarts() async throws {
        let manifest = try Self.manifest(.persistent)
        try await Self.withTransport(manifest) { transport in
            let first = Self.pid(of: await Self.call(transport, manifest, ["mode": "echo"]))
            let wrong = await Self.call(transport, manifest, ["mode": "wrong_id"])
            #expect(wrong.failure?.kind == .badOutput)
            #expect(wrong.failure?.message == "the answer has id 3 but request 2 is in flight; the process group was killed")
            let next = Self.pid(of: await Self.call(transport, manifest, ["mode": "echo"]))
            #expect(next != nil && next != first)
        }
    }

    // MARK: - Concurrency through the runner

    @Test func fiftyCallsNeverRunMoreThanTheLimit() async throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let manifests = folder.appendingPathComponent("manifests")
        let probes = folder.appendingPathComponent("running")
        try FileManager.default.createDirectory(at: manifests, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: probes, withIntermediateDirectories: true)
        try """
            name: count
            version: 1.0.0
            description: Reports how many of its calls are running.
            input_schema: {type: object, properties: {dir: {type: string}}, required: [dir]}
            transport: {kind: subprocess, command: ["\(Fixtures.url("faults/count.sh").path)"]}
            limits: {timeout_s: 10, concurrency: 4}
            """.write(to: manifests.appendingPathComponent("count.yaml"), atomically: true, encoding: .utf8)
        try """
            name: warm
            version: 1.0.0
            description: The fault skill, kept warm.
            input_schema: {type: object}
            transport: {kind: subprocess, command: ["\(Self.python)", "\(Fixtures.url("faults/skill.py").path)", "--persistent"], persistent: true}
            limits: {timeout_s: 10, concurrency: 4}
            """.write(to: manifests.appendingPathComponent("warm.yaml"), atomically: true, encoding: .utf8)
        let registry = SkillRegistry.discover(in: [manifests])
        #expect(registry.problems.isEmpty, "\(registry.problems)")
        let store = try ArtifactStore.temporary()
        defer { try? FileManager.default.removeItem(at: store.directory) }
        let runner = SkillRunner(registry: registry, artifacts: store)

        let counts = await withTaskGroup(of: Result<JSONValue, SkillError>.self) { group in
            for _ in 0..<50 { group.addTask { await runner.call("count", params: ["dir": .string(probes.path)]).result } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        let running = counts.compactMap { try? $0.get()["running"]?.numberValue }
        #expect(running.count == 50, "failures: \(counts.compactMap(\.failure))")
        #expect(running.max() ?? 0 <= 4)
        #expect(running.max() ?? 0 > 1, "the calls never overlapped, so the limit was not exercised")

        let pids = await withTaskGroup(of: Int?.self) { group in
            for _ in 0..<50 { group.addTask { (try? await runner.call("warm", params: [:]).result.get())?["pid"]?.numberValue.map { Int($0) } } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        await runner.shutdown()
        #expect(pids.allSatisfy { $0 != nil })
        #expect((1...4).contains(Set(pids.compactMap { $0 }).count), "a pool of at most 4 warm processes served the calls")
    }
}


/// A TCP listener on 127.0.0.1 with a kernel-chosen port (connections complete in its backlog).
fileprivate struct LoopbackListener {
    let fd: Int32
    let port: UInt16

    init() throws {
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socketFD, $0, length) == 0 && listen(socketFD, 16) == 0 && getsockname(socketFD, $0, &length) == 0
            }
        }
        guard socketFD >= 0, bound else { throw POSIXError(.EADDRNOTAVAIL) }
        fd = socketFD
        port = UInt16(bigEndian: address.sin_port)
    }

    func close() { _ = Glibc.close(fd) }
}
