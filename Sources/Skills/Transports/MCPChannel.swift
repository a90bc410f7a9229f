import Foundation

/// How an exchange with an MCP server failed, before it is worded for a skill.
enum MCPFailure: Error, Sendable, Equatable {
    case timeout
    case cancelled
    /// The server process ended, or the connection broke.
    case crashed(String)
    /// The server could not be started or reached.
    case unavailable(String)
    case tooLarge(String)
    /// Not the JSON-RPC the protocol expects.
    case badOutput(String)
    /// A JSON-RPC error response.
    case rpcError(code: Int, message: String)
    /// A streamable HTTP server answered with a non-2xx status.
    case httpStatus(Int, String)
}

/// A JSON-RPC 2.0 link to one MCP server: stdio (``MCPStdioChannel``) or streamable HTTP
/// (``MCPHTTPChannel``).
protocol MCPChannel: Sendable {
    /// Sends the request `message` (which has `id`) and returns the response message with that
    /// id. Notifications and server requests that arrive meanwhile go to `onNotification`.
    func request(_ message: JSONValue, id: Int, deadline: ContinuousClock.Instant, maxBytes: Int,
                 onNotification: @escaping @Sendable (JSONValue) -> Void) async throws(MCPFailure) -> JSONValue
    /// Sends a notification; best effort (a failure shows up on the next request).
    func notify(_ message: JSONValue) async
    /// Whether requests can still be sent (false once a stdio server died).
    var isAlive: Bool { get }
    func close() async
}

/// What a client answers to a request the server sends it: `ping` is answered, everything
/// else (sampling, roots, elicitation: capabilities this client does not declare) is refused.
func mcpAnswer(toServerRequest message: JSONValue) -> JSONValue {
    let id = message["id"] ?? .null
    if message["method"]?.stringValue == "ping" {
        return ["jsonrpc": "2.0", "id": id, "result": [:]]
    }
    return ["jsonrpc": "2.0", "id": id,
            "error": ["code": -32601, "message": .string("llava-plus does not support \(message["method"]?.stringValue ?? "that method")")]]
}

/// What kind of JSON-RPC message `value` is.
enum MCPMessageKind {
    case response(id: Int)
    case notification
    case serverRequest
    case invalid

    init(_ value: JSONValue) {
        guard value.objectValue != nil else { self = .invalid; return }
        let hasMethod = value["method"]?.stringValue != nil
        if !hasMethod, let id = value["id"]?.numberValue, value["result"] != nil || value["error"] != nil {
            self = .response(id: Int(id))
        } else if hasMethod {
            self = value["id"] == nil ? .notification : .serverRequest
        } else {
            self = .invalid
        }
    }
}
