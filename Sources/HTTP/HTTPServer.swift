import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A request the server received: its head and its whole body.
public struct HTTPServerRequest: Sendable {
    public var method: String
    /// Path and query as sent in the request line (`/v1/models?x=1`).
    public var target: String
    /// Header fields by lowercased name; repeated fields are joined with ", ".
    public var headers: [String: String]
    public var body: [UInt8]
    /// The peer's address (`127.0.0.1:53412`).
    public var remote: String

    /// The target without its query.
    public var path: String { String(target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "") }
}

/// What a handler answers: a status, header fields and either a whole body (sent with
/// `Content-Length`) or a stream (sent chunked as the producer writes it, for Server-Sent Events).
public struct HTTPServerResponse: Sendable {
    public enum Body: Sendable {
        case bytes([UInt8])
        /// Called once the head is sent; what it writes goes to the client as it is written.
        case stream(@Sendable (HTTPResponseWriter) async -> Void)
    }

    public var status: Int
    /// Extra header fields; `Content-Length` or `Transfer-Encoding`, `Connection` and `Date` are added.
    public var headers: [(String, String)]
    public var body: Body

    public init(status: Int, headers: [(String, String)] = [], body: Body = .bytes([])) {
        (self.status, self.headers, self.body) = (status, headers, body)
    }

    /// A JSON body (`text` is already serialised).
    public static func json(_ status: Int, _ text: String) -> HTTPServerResponse {
        HTTPServerResponse(status: status, headers: [("Content-Type", "application/json")], body: .bytes(Array(text.utf8)))
    }

    /// A `text/event-stream` response whose events `produce` writes.
    public static func eventStream(_ produce: @escaping @Sendable (HTTPResponseWriter) async -> Void) -> HTTPServerResponse {
        HTTPServerResponse(status: 200, headers: [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")],
                           body: .stream(produce))
    }
}

/// Writes a streamed response's body, one chunk per call. A write to a client that went away
/// (or that does not read for `HTTPServer.Limits.writeTimeout`) fails, and every later one too.
public final class HTTPResponseWriter: Sendable {
    private let fd: Int32
    private let wake: WakePipe
    private let timeout: Duration
    private let failed = Atomic<Bool>(false)

    init(fd: Int32, wake: WakePipe, timeout: Duration) {
        (self.fd, self.wake, self.timeout) = (fd, wake, timeout)
    }

    /// Whether the client is still there (as far as the last write could tell).
    public var isConnected: Bool { !failed.load(ordering: .relaxed) }

    /// Sends `bytes` as one chunk; false if the client is gone.
    @discardableResult
    public func write(_ bytes: [UInt8]) -> Bool {
        guard !bytes.isEmpty else { return isConnected }
        return send(Array(String(bytes.count, radix: 16).utf8) + [13, 10] + bytes + [13, 10])
    }

    /// Sends one Server-Sent Event: each line of `data` as a `data:` field, then a blank line.
    @discardableResult
    public func writeEvent(data: String) -> Bool {
        write(Array((data.split(separator: "\n", omittingEmptySubsequences: false).map { "data: \($0)" }.joined(separator: "\n") + "\n\n").utf8))
    }

    /// The last chunk (zero length): ends the body.
    func finish() -> Bool { send(Array("0\r\n\r\n".utf8)) }

    private func send(_ bytes: [UInt8]) -> Bool {
        guard isConnected else { return false }
        do {
            try sendAll(fd, bytes, deadline: .now + timeout, wake: wake)
            return true
        } catch {
            failed.store(true, ordering: .relaxed)
            return false
        }
    }
}

/// A small HTTP/1.1 server over POSIX sockets: keep-alive, `Content-Length` request bodies
/// (a chunked request body is refused with 411), limits on the head (431) and the body (413),
/// `Expect: 100-continue`, whole or streamed (chunked) responses, and a clean shutdown.
///
/// Each connection is served by a thread of its own (the client's pool, see
/// ``ExchangeThreads``); the handler runs as a task, so it can `await` freely.
public final class HTTPServer: Sendable {
    public struct Limits: Sendable {
        /// Request line and header fields together.
        public var maxHeadBytes = 64 << 10
        public var maxBodyBytes = 32 << 20
        /// A request's head and body must arrive within this long of its first byte being awaited.
        public var requestTimeout: Duration = .seconds(60)
        /// How long a kept-alive connection may wait for its next request.
        public var idleTimeout: Duration = .seconds(30)
        /// How long one write of a response may wait for the client to read.
        public var writeTimeout: Duration = .seconds(60)
        /// Connections served at once; more are answered 503 and closed.
        public var maxConnections = 64

        public init() {}
    }

    public typealias Handler = @Sendable (HTTPServerRequest) async -> HTTPServerResponse
    /// The response to a request the server refuses before the handler sees it (malformed,
    /// too large, too slow): the status and a message saying why.
    public typealias Refusal = @Sendable (_ status: Int, _ message: String) -> HTTPServerResponse

    /// The port the server listens on (the one the system chose when asked for port 0).
    public let port: Int
    public let host: String
    private let listener: Int32
    private let limits: Limits
    private let handler: Handler
    private let refusal: Refusal
    /// Fired at shutdown: stops the accept loop and interrupts waits for a next request.
    private let stopping: WakePipe
    /// Fired only when shutdown's grace period ends: interrupts writes of responses in progress.
    private let aborting: WakePipe
    private let state = Mutex<(connections: Int, acceptLoopDone: Bool, stopped: Bool)>((0, false, false))

    /// Binds `host:port` (port 0: any free port, see ``port``) and starts accepting.
    /// `host` is an address or a name (`127.0.0.1`, `0.0.0.0`, `::1`, `localhost`).
    /// `refusal` shapes the server's own error responses (plain text by default; an API server
    /// answers in its error format).
    public init(host: String = "127.0.0.1", port: Int, limits: Limits = Limits(), refusal: @escaping Refusal = HTTPServer.plainRefusal,
                handler: @escaping Handler) throws(HTTPFailure) {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = HTTPClient.streamType
        hints.ai_flags = AI_PASSIVE
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw .unreachable("cannot resolve '\(host)': \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }
        let fd = socket(first.pointee.ai_family, HTTPClient.streamType, 0)
        guard fd >= 0 else { throw .io("socket: \(HTTPClient.errorText())") }
        var on: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        guard bind(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0 else {
            let why = HTTPClient.errorText()
            close(fd)
            throw .unreachable("cannot listen on \(host):\(port): \(why)")
        }
        guard listen(fd, 128) == 0 else {
            let why = HTTPClient.errorText()
            close(fd)
            throw .io("listen: \(why)")
        }
        var address = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        self.port = Self.describe(address).port
        self.host = host
        listener = fd
        self.limits = limits
        self.handler = handler
        self.refusal = refusal
        stopping = try WakePipe()
        aborting = try WakePipe()
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "http-accept"
        thread.start()
    }

    /// `http://host:port` (IPv6 hosts bracketed).
    public var url: String { "http://\(host.contains(":") ? "[\(host)]" : host):\(port)" }

    /// Stops accepting, closes idle connections, lets responses in progress finish for up to
    /// `grace`, then interrupts what is left and returns once every connection is closed.
    public func shutdown(grace: Duration = .seconds(5)) async {
        guard state.withLock({ state in defer { state.stopped = true }; return !state.stopped }) else { return }
        stopping.fire()
        let deadline = ContinuousClock.now + grace
        while state.withLock({ $0.connections > 0 || !$0.acceptLoopDone }) {
            if ContinuousClock.now >= deadline { aborting.fire() }
            try? await Task.sleep(for: .milliseconds(5))
        }
        close(listener)
    }

    // MARK: - Accepting

    private func acceptLoop() {
        defer { state.withLock { $0.acceptLoopDone = true } }
        while true {
            var entries = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0), pollfd(fd: stopping.readEnd, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&entries, 2, -1)
            if ready < 0 { if errno == EINTR { continue } else { return } }
            if entries[1].revents != 0 { return }
            var address = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(listener, $0, &length) } }
            guard fd >= 0 else { continue }  // EAGAIN (another wake-up took it), ECONNABORTED, EMFILE...
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            var on: Int32 = 1
            _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
            #if canImport(Darwin)
            _ = setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &on, socklen_t(MemoryLayout<Int32>.size))
            #endif
            let remote = Self.describe(address)
            let admitted = state.withLock { state in
                guard state.connections < limits.maxConnections else { return false }
                state.connections += 1
                return true
            }
            guard admitted else {
                try? sendAll(fd, Self.head(503, [("Content-Type", "application/json")], length: 0, close: true), deadline: .now + .milliseconds(100), wake: aborting)
                close(fd)
                continue
            }
            ExchangeThreads.shared.run { [self] in
                serve(fd, remote: "\(remote.host):\(remote.port)")
                close(fd)
                state.withLock { $0.connections -= 1 }
            }
        }
    }

    // MARK: - One connection (on its own thread)

    private func serve(_ fd: Int32, remote: String) {
        var connection = SocketConnection(fd: fd, deadline: .now, wake: stopping)
        var first = true
        while true {
            // Wait for the next request (the stop pipe ends an idle wait), then give it its time.
            if connection.position == connection.buffer.count {
                connection.deadline = .now + (first ? limits.requestTimeout : limits.idleTimeout)
                do { guard try connection.fill() else { return } } catch { return }
            }
            first = false
            connection.deadline = .now + limits.requestTimeout
            let request: HTTPServerRequest
            let keepAlive: Bool
            switch readRequest(&connection, remote: remote) {
            case .failure(let refusal):
                if let response = refusal.response { respond(fd, response, keepAlive: false, isHead: false) }
                return
            case .success(let read): (request, keepAlive) = read
            }
            let response = wait { [handler] in await handler(request) }
            let stopped = state.withLock { $0.stopped }
            guard respond(fd, response, keepAlive: keepAlive && !stopped, isHead: request.method == "HEAD"), keepAlive, !stopped else { return }
        }
    }

    /// The next request, or the response that refuses it (nil: the connection just ends).
    private func readRequest(_ connection: inout SocketConnection, remote: String) -> Result<(HTTPServerRequest, Bool), RefusalBox> {
        func refuse(_ status: Int, _ message: String) -> Result<(HTTPServerRequest, Bool), RefusalBox> {
            .failure(RefusalBox(refusal(status, message)))
        }
        let head: (startLine: String, fields: [String: String])
        do { head = try connection.readHead(maxBytes: limits.maxHeadBytes) } catch {
            if case .malformed(let why) = error {
                return why.hasPrefix(SocketConnection.headTooLarge)
                    ? refuse(431, "the request head is larger than \(limits.maxHeadBytes) bytes")
                    : refuse(400, "malformed request: \(why)")
            }
            if case .timeout = error { return refuse(408, "the request did not arrive within its time limit") }
            return .failure(RefusalBox(nil))
        }
        let parts = head.startLine.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, parts[1].hasPrefix("/") || parts[1] == "*", parts[2].hasPrefix("HTTP/1.") else {
            return refuse(400, "not an HTTP/1.x request line: '\(head.startLine.prefix(60))'")
        }
        let connectionTokens = (head.fields["connection"] ?? "").lowercased()
        let keepAlive = parts[2] == "HTTP/1.1" ? !connectionTokens.contains("close") : connectionTokens.contains("keep-alive")
        if head.fields["transfer-encoding"] != nil {
            return refuse(411, "chunked request bodies are not supported: send the body with a Content-Length")
        }
        var length = 0
        if let declared = head.fields["content-length"] {
            let values = Set(declared.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
            guard values.count == 1, let value = values.first, let parsed = Int(value), parsed >= 0 else {
                return refuse(400, "bad Content-Length '\(declared.prefix(40))'")
            }
            length = parsed
        }
        guard length <= limits.maxBodyBytes else {
            return refuse(413, "the request body (\(length) bytes) is larger than the limit of \(limits.maxBodyBytes) bytes")
        }
        if length > 0, (head.fields["expect"] ?? "").lowercased() == "100-continue", connection.position == connection.buffer.count {
            try? sendAll(connection.fd, Array("HTTP/1.1 100 Continue\r\n\r\n".utf8), deadline: .now + limits.writeTimeout, wake: aborting)
        }
        var body: [UInt8] = []
        body.reserveCapacity(length)
        do {
            while body.count < length {
                guard let bytes = try connection.take(upTo: length - body.count) else { return .failure(RefusalBox(nil)) }
                body += bytes
            }
        } catch {
            if case .timeout = error { return refuse(408, "the request body did not arrive within its time limit") }
            return .failure(RefusalBox(nil))
        }
        let request = HTTPServerRequest(method: String(parts[0]), target: String(parts[1]), headers: head.fields, body: body, remote: remote)
        return .success((request, keepAlive))
    }

    /// Sends `response`; false if the connection cannot carry another one.
    @discardableResult
    private func respond(_ fd: Int32, _ response: HTTPServerResponse, keepAlive: Bool, isHead: Bool) -> Bool {
        let deadline = ContinuousClock.now + limits.writeTimeout
        switch response.body {
        case .bytes(let body):
            do {
                try sendAll(fd, Self.head(response.status, response.headers, length: body.count, close: !keepAlive)
                    + (isHead ? [] : body), deadline: deadline, wake: aborting)
                return keepAlive
            } catch { return false }
        case .stream(let produce):
            do { try sendAll(fd, Self.head(response.status, response.headers, length: nil, close: !keepAlive), deadline: deadline, wake: aborting) } catch { return false }
            let writer = HTTPResponseWriter(fd: fd, wake: aborting, timeout: limits.writeTimeout)
            wait { await produce(writer) }
            return writer.finish() && keepAlive
        }
    }

    /// Runs `work` as a task and blocks this (connection) thread until it is done.
    private func wait<T: Sendable>(_ work: @escaping @Sendable () async -> T) -> T {
        let result = Mutex<T?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            let value = await work()
            result.withLock { $0 = value }
            done.signal()
        }
        done.wait()
        return result.withLock { $0! }
    }

    // MARK: - Formatting

    static func head(_ status: Int, _ headers: [(String, String)], length: Int?, close: Bool) -> [UInt8] {
        var text = "HTTP/1.1 \(status) \(reason(status))\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        text += length.map { "Content-Length: \($0)\r\n" } ?? "Transfer-Encoding: chunked\r\n"
        if close { text += "Connection: close\r\n" }
        text += "\r\n"
        return Array(text.utf8)
    }

    /// A `text/plain` refusal: the message and a newline.
    public static let plainRefusal: Refusal = { status, message in
        HTTPServerResponse(status: status, headers: [("Content-Type", "text/plain; charset=utf-8")], body: .bytes(Array((message + "\n").utf8)))
    }

    public static func reason(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 200: "OK"
        case 204: "No Content"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 411: "Length Required"
        case 413: "Content Too Large"
        case 415: "Unsupported Media Type"
        case 422: "Unprocessable Content"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 503: "Service Unavailable"
        default: "Status \(status)"
        }
    }

    private static func describe(_ address: sockaddr_storage) -> (host: String, port: Int) {
        var copy = address
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        var service = [CChar](repeating: 0, count: Int(NI_MAXSERV))
        let length = socklen_t(Int32(address.ss_family) == AF_INET6 ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size)
        let status = withUnsafePointer(to: &copy) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getnameinfo($0, length, &host, socklen_t(host.count), &service, socklen_t(service.count), NI_NUMERICHOST | NI_NUMERICSERV)
            }
        }
        guard status == 0 else { return ("?", 0) }
        return (String(cString: host), Int(String(cString: service)) ?? 0)
    }
}

/// A refusal to send before closing (nil: close without answering).
private struct RefusalBox: Error {
    let response: HTTPServerResponse?
    init(_ response: HTTPServerResponse?) { self.response = response }
}
