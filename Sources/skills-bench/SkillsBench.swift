// Dispatch overhead of the skill runner: an echo skill over each transport, called one at a
// time through `SkillRunner` (validation, artifact resolution, queueing, transport, recording
// off). Prints p50, p99 and mean per call. See BENCHMARKS.md.

import ArgumentParser
import Foundation
import Skills

@main
struct SkillsBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "skills-bench", abstract: "Measure per-call dispatch overhead of each skill transport.")

    @Option(help: "Measured calls per transport.")
    var calls = 500

    @Option(help: "Unmeasured calls first (process start, connection, caches).")
    var warmup = 20

    func run() async throws {
        guard let root = SkillRegistry.locateProjectRoot() else {
            throw ValidationError("run from the checkout (needs skills/echo/)")
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("skills-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let echo = root.appendingPathComponent("skills/echo").path
        let port = try freePort()
        let transports = [
            ("echo-oneshot", "{kind: subprocess, command: [\(echo)/main.sh], persistent: false}"),
            ("echo-persistent", "{kind: subprocess, command: [python3, \(echo)/serve.py], persistent: true}"),
            ("echo-http", "{kind: http, url: \"http://127.0.0.1:\(port)/\", health: /health, start: [python3, \(echo)/http_server.py, \"\(port)\"]}"),
        ]
        for (name, transport) in transports {
            try """
                name: \(name)
                version: 1.0.0
                description: echo over one transport, for the benchmark
                input_schema: {type: object, properties: {text: {type: string}, times: {type: integer, default: 1}}, required: [text]}
                transport: \(transport)
                limits: {timeout_s: 10, memory_mb: 512, concurrency: 1, network: true}
                """.write(to: folder.appendingPathComponent("\(name).yaml"), atomically: true, encoding: .utf8)
        }
        let registry = SkillRegistry.discover(in: [folder])
        guard registry.problems.isEmpty else { throw ValidationError(registry.problems.map(\.description).joined(separator: "\n")) }
        let runner = SkillRunner(registry: registry, artifacts: try ArtifactStore(directory: folder.appendingPathComponent("artifacts")))
        print("transport          calls   p50 ms   p99 ms  mean ms")
        for (name, _) in transports {
            var times: [Double] = []
            for index in 0..<(warmup + calls) {
                let outcome = await runner.call(name, params: ["text": "hello"])
                guard case .success(let value) = outcome.result, value["text"] == "hello" else {
                    throw ValidationError("\(name): \(outcome.output.compactJSON)")
                }
                if index >= warmup { times.append(outcome.record.milliseconds) }
            }
            times.sort()
            let p50 = times[times.count / 2], p99 = times[min(times.count - 1, Int(Double(times.count) * 0.99))]
            let mean = times.reduce(0, +) / Double(times.count)
            print(String(format: "%-17@ %6d %8.3f %8.3f %8.3f", name as NSString, calls, p50, p99, mean))
        }
        await runner.shutdown()
    }

    /// A loopback port nothing listens on now (the kernel's choice for port 0).
    private func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ValidationError("socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw ValidationError("cannot bind a loopback port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
