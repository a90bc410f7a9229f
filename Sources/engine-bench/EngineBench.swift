// Measures the LLaMA decoder the way llama-bench does: prompt processing (`pp`: N tokens from
// an empty context in one call) and generation (`tg`: N single-token calls from an empty
// context). Prints one JSON object, with the process's peak memory before the model opens and
// at the end; scripts/bench-engine.sh runs it beside llama.cpp.

import ArgumentParser
import Foundation
import LanguageModels

@main
struct EngineBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine-bench", abstract: "Prompt-processing and generation speed of the LLaMA decoder.")

    @Option(name: .shortAndLong, help: "GGUF model file.") var model: String
    @Option(name: .shortAndLong, help: "Threads.") var threads = 2
    @Option(name: .long, help: "Prompt tokens.") var prompt = 512
    @Option(name: .long, help: "Generated tokens.") var generate = 128
    @Option(name: .shortAndLong, help: "Repetitions (the median is reported).") var repetitions = 3
    @Option(name: .long, help: "Most tokens per forward pass; longer prompts go in chunks (llama-bench's -ub). Default: the session's (512, fewer for small models).")
    var ubatch: Int?

    func run() throws {
        let residentBeforeModel = try peakResidentKiB()
        let llama = try Llama(gguf: URL(fileURLWithPath: model), threads: threads)
        let vocabulary = llama.configuration.vocabularySize
        // Deterministic pseudo-random tokens: timing does not depend on which tokens they are.
        let tokens = (0..<max(prompt, generate)).map { ($0 &* 7919 &+ 13) % vocabulary }
        let session = LlamaSession(model: llama, capacity: max(prompt, generate) + 1, maxBatch: ubatch)

        func median(_ seconds: [Double]) -> Double { seconds.sorted()[seconds.count / 2] }
        var promptSeconds: [Double] = [], generateSeconds: [Double] = []
        try session.evaluate(Array(tokens.prefix(16)))  // warm up: page in the weights
        for _ in 0..<repetitions {
            session.truncate(to: 0)
            let start = DispatchTime.now().uptimeNanoseconds
            try session.evaluate(Array(tokens.prefix(prompt)))
            promptSeconds.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)

            session.truncate(to: 0)
            let begin = DispatchTime.now().uptimeNanoseconds
            for token in tokens.prefix(generate) { try session.evaluate([token]) }
            generateSeconds.append(Double(DispatchTime.now().uptimeNanoseconds - begin) / 1e9)
        }
        let result = Result(
            model: URL(fileURLWithPath: model).lastPathComponent, threads: threads,
            pp_tokens: prompt, pp_tokens_per_second: Double(prompt) / median(promptSeconds),
            tg_tokens: generate, tg_tokens_per_second: Double(generate) / median(generateSeconds), ubatch: session.maxBatch,
            model_bytes: try FileManager.default.attributesOfItem(atPath: model)[.size] as! Int,
            kv_cache_bytes: session.cache.byteCount,
            peak_rss_before_model_kib: residentBeforeModel, peak_rss_kib: try peakResidentKiB())
        // JSONEncoder rather than JSONSerialization: sorting keys there goes through ICU collation,
        // which pages in ~4 MB of ICU and would show in this process's peak memory.
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        print(String(decoding: try encoder.encode(result), as: UTF8.self))
    }

    private struct Result: Encodable {
        var engine = "llava-plus"
        let model: String
        let threads: Int
        let pp_tokens: Int
        let pp_tokens_per_second: Double
        let tg_tokens: Int
        let tg_tokens_per_second: Double
        let ubatch: Int
        let model_bytes: Int
        let kv_cache_bytes: Int
        let peak_rss_before_model_kib: Int
        let peak_rss_kib: Int
    }

    /// The process's peak resident memory so far (`VmHWM` in /proc/self/status), in KiB.
    private func peakResidentKiB() throws -> Int {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) else {
            throw ValidationError("/proc/self/status has no VmHWM line")
        }
        return kib
    }
}
