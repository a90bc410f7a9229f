import Foundation
import HTTP
import Synchronization

/// MCP over streamable HTTP: each message is a POST to the server's endpoint, accepting
/// `application/json` and `text/event-stream`. A request is answered either by one JSON
/// message or by an SSE stream carrying notifications (progress) and then the response; the
/// stream is read only until the response arrives. The `Mcp-Session-Id` the server assigns at
/// initialize is sent back on every later message, with the negotiated `MCP-Protocol-Version`.
final class MCPHTTPChannel: MCPChannel {
    let endpoint: HTTPEndpoint
    private let client = HTTPClient()
    private let session = Mutex<(id: String?, version: String?)>((nil, nil))

    init(url: String) throws(MCPFailure) {
        switch HTTPEndpoint.parse(url) {
        case .success(let endpoint): self.endpoint = endpoint
        case .failure(let failure):
            if case .unreachable(let why) = failure { throw .unavailable(why) }
            throw .unavailable("'\(url)' is not usable")
        }
    }

    var isAlive: Bool { true }

    /// Records the protocol version agreed at initialize, sent as a header from then on.
    func setProtocolVersion(_ version: String) {
        session.withLock { $0.version = version }
    }

    func request(_ message: JSONValue, id: Int, deadline: ContinuousClock.Instant, maxBytes: Int,
                 onNotification: @escaping @Sendable (JSONValue) -> Void) async throws(MCPFailure) -> JSONValue {
        let stream = EventStream(id: id, onNotification: onNotification) { [self] request in
            // A server request inside the stream is answered with a POST of its own.
            Task { _ = try? await post(mcpAnswer(toServerRequest: request), deadline: .now + .seconds(5), maxBytes: 64 << 10, stream: nil) }
        }
        let response = try await post(message, deadline: deadline, maxBytes: maxBytes, stream: stream)
        if response.mediaType == "text/event-stream" {
            guard let answer = stream.answer else {
                throw .badOutput("the event stream ended without the response to request \(id)")
            }
            return answer
        }
        guard response.mediaType == "application/json" else {
            throw .badOutput("the answer's Content-Type is '\(response.mediaType ?? "missing")'; expected application/json or text/event-stream")
        }
        let value: JSONValue
        do { value = try JSONValue(parsing: response.body) } catch {
            throw .badOutput("the answer is \(error.message)" + SkillReply.excerpt(response.body))
        }
        // A batch may carry the response among other messages.
        for item in value.arrayValue ?? [value] {
            switch MCPMessageKind(item) {
            case .response(let answered) where answered == id: return item
            case .notification: onNotification(item)
            default: continue
            }
        }
        throw .badOutput("the answer does not contain the response to request \(id)" + SkillReply.excerpt(response.body))
    }

    func notify(_ message: JSONValue) async {
        _ = try? await post(message, deadline: .now + .seconds(2), maxBytes: 64 << 10, stream: nil)
    }

    func close() async {
        client.closeIdleConnections()
    }

    /// One POST; non-2xx statuses become failures, a new session id is kept.
    @discardableResult
    private func post(_ message: JSONValue, deadline: ContinuousClock.Instant, maxBytes: Int,
                      stream: EventStream?) async throws(MCPFailure) -> HTTPResponse {
        let (sessionID, version) = session.withLock { $0 }
        var headers = [("Content-Type", "application/json"), ("Accept", "application/json, text/event-stream")]
        if let sessionID { headers.append(("Mcp-Session-Id", sessionID)) }
        if let version { headers.append(("MCP-Protocol-Version", version)) }
        let request = HTTPRequest(method: "POST", endpoint: endpoint, headers: headers, body: Array(message.compactJSON.utf8))
        let limits = HTTPLimits(connectTimeout: HTTPTransport.connectTimeout, deadline: deadline, maxBodyBytes: maxBytes)
        var response: HTTPResponse
        do {
            if let stream {
                response = try await client.send(request, limits: limits) { head, bytes in stream.consume(head, bytes) }
                if response.mediaType != "text/event-stream" {
                    response.body = stream.buffered
                }
            } else {
                response = try await client.send(request, limits: limits)
            }
        } catch {
            throw Self.failure(error, endpoint)
        }
        if let assigned = response.headers["mcp-session-id"] { session.withLock { $0.id = assigned } }
        guard (200..<300).contains(response.status) else {
            let excerpt = String(decoding: response.body.prefix(200), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw .httpStatus(response.status, excerpt)
        }
        return response
    }

    private static func failure(_ failure: HTTPFailure, _ endpoint: HTTPEndpoint) -> MCPFailure {
        switch failure {
        case .unreachable(let why), .io(let why): .unavailable(why)
        case .connectTimeout, .timeout: .timeout
        case .cancelled: .cancelled
        case .bodyTooLarge: .tooLarge("the answer passed its size limit")
        case .closed(let why): .crashed("\(why) (\(endpoint.host):\(endpoint.port))")
        case .malformed(let why): .badOutput("not an HTTP response: \(why)")
        }
    }
}

/// Reads a `text/event-stream` body as it arrives (or buffers any other body): each event's
/// data is a JSON-RPC message; the response to `id` ends the reading.
private final class EventStream: Sendable {
    private struct State {
        var line: [UInt8] = []
        var data: [String] = []
        var answer: JSONValue?
        var buffered: [UInt8] = []
    }

    let id: Int
    private let onNotification: @Sendable (JSONValue) -> Void
    private let onServerRequest: @Sendable (JSONValue) -> Void
    private let state = Mutex(State())

    init(id: Int, onNotification: @escaping @Sendable (JSONValue) -> Void, onServerRequest: @escaping @Sendable (JSONValue) -> Void) {
        (self.id, self.onNotification, self.onServerRequest) = (id, onNotification, onServerRequest)
    }

    var answer: JSONValue? { state.withLock { $0.answer } }
    var buffered: [UInt8] { state.withLock { $0.buffered } }

    /// Takes body bytes; false once the response has arrived.
    func consume(_ head: HTTPResponse, _ bytes: ArraySlice<UInt8>) -> Bool {
        guard head.mediaType == "text/event-stream", (200..<300).contains(head.status) else {
            state.withLock { $0.buffered += bytes }
            return true
        }
        var messages: [JSONValue] = []
        state.withLock { state in
            for byte in bytes {
                guard byte == UInt8(ascii: "\n") else { state.line.append(byte); continue }
                if state.line.last == UInt8(ascii: "\r") { state.line.removeLast() }
                let line = String(decoding: state.line, as: UTF8.self)
                state.line.removeAll(keepingCapacity: true)
                if line.isEmpty {
                    // End of an event: its data lines joined are one message.
                    if !state.data.isEmpty, let message = try? JSONValue(parsing: state.data.joined(separator: "\n")) {
                        messages.append(message)
                    }
                    state.data.removeAll()
                } else if line.hasPrefix("data:") {
                    let value = line.dropFirst(5)
                    state.data.append(String(value.hasPrefix(" ") ? value.dropFirst() : value))
                }  // event:, id:, retry: and comments carry nothing this client needs
            }
        }
        for message in messages {
            switch MCPMessageKind(message) {
            case .response(let answered) where answered == id:
                state.withLock { $0.answer = message }
                return false
            case .notification: onNotification(message)
            case .serverRequest: onServerRequest(message)
            default: continue
            }
        }
        return true
    }
}
