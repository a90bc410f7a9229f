import ArgumentParser
import Foundation
import HTTP
import Server

/// `llava-plus serve`: the model behind an OpenAI-compatible chat-completions API.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a LLaVA model over an OpenAI-compatible chat-completions API.",
        discussion: """
            GET /v1/models and POST /v1/chat/completions (messages with text and image_url parts as data: URLs, \
            max_tokens, temperature, top_p, seed, stop, stream, tools). With tools, the reply is generated under \
            the grammar of their parameter schemas and calls come back as tool_calls. Requests are served one at \
            a time, in order of arrival; one line per request goes to standard error.
            """)

    @Option(name: .shortAndLong, help: "Model: llava-plus-tiny (default), a LLaVA checkpoint directory, or a language model GGUF with --mmproj.")
    var model: String?

    @Option(name: .long, help: "llama.cpp's multimodal projector file, with --model naming its language model GGUF.")
    var mmproj: String?

    @Option(name: .long, help: "The CLIP tower directory of an original LLaVA checkpoint (default: its mm_vision_tower).")
    var visionTower: String?

    @Option(name: .shortAndLong, help: "Threads (default: all cores).")
    var threads: Int?

    @Option(name: .long, help: "Context length in tokens.")
    var context = 4096

    @Option(name: .long, help: "Tokens generated when a request sets no max_tokens.")
    var maxTokens = 256

    @Option(name: .long, help: "Address to listen on (0.0.0.0: every interface).")
    var host = "127.0.0.1"

    @Option(name: .long, help: "Port to listen on (0: any free port).")
    var port = 8080

    func validate() throws {
        if !(0...65535).contains(port) { throw ValidationError("--port must be within 0...65535") }
    }

    func run() async throws {
        let loaded = try MultimodalModel(model: model, mmproj: mmproj, visionTower: visionTower,
                                         threads: threads ?? defaultThreadCount(), context: context)
        let chat = ChatServer(llava: loaded.llava, generator: loaded.generator, modelName: loaded.name, defaultMaxTokens: maxTokens) { line in
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
        let server: HTTPServer
        do { server = try chat.listen(host: host, port: port) } catch {
            throw InputError("cannot serve on \(host):\(port): \(error)")
        }
        FileHandle.standardOutput.write(Data("serving \(loaded.name) at \(server.url)/v1 (POST /v1/chat/completions, GET /v1/models); Ctrl-C stops\n".utf8))
        // Serve until interrupted: SIGINT and SIGTERM end the process after a clean shutdown.
        let (signals, continuation) = AsyncStream.makeStream(of: Int32.self)
        let sources = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            return source
        }
        for await _ in signals { break }
        withExtendedLifetime(sources) {}
        FileHandle.standardError.write(Data("stopping: finishing the requests in progress\n".utf8))
        await server.shutdown()
        chat.stop()
    }
}
