import Foundation
import Testing
@testable import Skills

/// A fixture server (`Fixtures/servers/SCRIPT`) that a test starts on a free port: the script
/// prints `PORT <n>` first. Stopped by `stop()` (or when released).
final class FixtureServer: Sendable {
    private let process: Process
    let port: Int

    init(_ script: String, _ arguments: [String] = []) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [Fixtures.url("servers/\(script)").path] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        var line = Data()
        while let byte = try output.fileHandleForReading.read(upToCount: 1), !byte.isEmpty, byte != Data("\n".utf8) {
            line += byte
        }
        guard let text = String(data: line, encoding: .utf8), text.hasPrefix("PORT "), let port = Int(text.dropFirst(5)) else {
            kill(process.processIdentifier, SIGKILL)
            throw FixtureError("\(script) did not print its port (it printed '\(String(decoding: line, as: UTF8.self))')")
        }
        (self.process, self.port) = (process, port)
    }

    func stop() {
        guard process.isRunning else { return }
        // SIGKILL: Foundation's Process starts children with the spawning thread's signal mask,
        // and the test threads block SIGTERM.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Waits for a server that is exiting by itself (after a crash request).
    func waitForExit() { process.waitUntilExit() }

    deinit { stop() }
}

struct FixtureError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

enum TransportFixtures {
    /// A real 1x1 PNG (red pixel).
    static let png: [UInt8] = [
        0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
        0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53,
        0xDE, 0x00, 0x00, 0x00, 0x0C, 0x49, 0x44, 0x41, 0x54, 0x08, 0xD7, 0x63, 0xF8, 0xCF, 0xC0, 0x00,
        0x00, 0x03, 0x01, 0x01, 0x00, 0x18, 0xDD, 0x8D, 0xB0, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E,
        0x44, 0xAE, 0x42, 0x60, 0x82,
    ]

    /// What the fixture servers return as the "edited" image: the signature, then the rest reversed.
    static func edited(_ image: [UInt8]) -> [UInt8] { Array(image[..<8]) + image[8...].reversed() }

    static func manifest(_ yaml: String) throws -> SkillManifest {
        try Fixtures.parse(yaml).get()
    }

    static func invocation(_ manifest: SkillManifest, _ params: JSONValue = [:], inputs: [String: Artifact] = [:]) -> SkillInvocation {
        SkillInvocation(manifest: manifest, params: params, inputs: inputs,
                        outputDirectory: FileManager.default.temporaryDirectory.appendingPathComponent("call-\(UUID().uuidString)"))
    }

    /// The transport's answer or its error, for `#expect`.
    static func call(_ transport: some SkillTransport, _ invocation: SkillInvocation) async -> Result<SkillReply, SkillError> {
        do throws(SkillError) { return .success(try await transport.call(invocation)) } catch { return .failure(error) }
    }

    /// A loopback port nothing listens on now.
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        _ = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Times `count` calls of `body` after `warmup` untimed ones and prints p50 and p99 in ms
    /// (the numbers for BENCHMARKS.md); returns p50.
    static func measure(_ label: String, count: Int = 300, warmup: Int = 20, _ body: () async throws -> Void) async throws -> Double {
        for _ in 0..<warmup { try await body() }
        var samples: [Double] = []
        for _ in 0..<count {
            let start = ContinuousClock.now
            try await body()
            samples.append(seconds(since: start) * 1000)
        }
        samples.sort()
        let (p50, p99) = (samples[samples.count / 2], samples[samples.count * 99 / 100])
        print("\(label): p50 \(String(format: "%.3f", p50)) ms, p99 \(String(format: "%.3f", p99)) ms (\(count) calls)")
        return p50
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}

extension Result where Failure == SkillError {
    /// The error's kind, nil on success.
    var errorKind: SkillError.Kind? { if case .failure(let error) = self { error.kind } else { nil } }
    var errorMessage: String { if case .failure(let error) = self { error.message } else { "" } }
}
