import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where an `http://` URL points: host, port and the request target.
struct HTTPEndpoint: Sendable, Equatable {
    var host: String
    var port: Int
    /// Path and query, as sent in the request line (`/worker_generate`, `/mcp?x=1`).
    var target: String

    /// Parses `text`; an `unreachable` failure saying why when it is not a plain `http://` URL.
    static func parse(_ text: String) -> Result<HTTPEndpoint, HTTPFailure> {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
              let host = components.host, !host.isEmpty else {
            return .failure(.unreachable("'\(text)' is not an http:// URL"))
        }
        guard scheme == "http" else {
            return .failure(.unreachable("'\(text)': only plain http:// is supported (put a TLS-terminating proxy in front of an https service)"))
        }
        let path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        let target = path + (components.percentEncodedQuery.map { "?" + $0 } ?? "")
        return .success(HTTPEndpoint(host: host, port: components.port ?? 80, target: target))
    }

    /// The same server with another request target (a health path, say).
    func with(target: String) -> HTTPEndpoint {
        HTTPEndpoint(host: host, port: port, target: target)
    }

    var hostHeader: String { (host.contains(":") ? "[\(host)]" : host) + (port == 80 ? "" : ":\(port)") }
}

struct HTTPRequest: Sendable {
    var method: String
    var endpoint: HTTPEndpoint
    /// Extra header fields; Host, Content-Length and User-Agent are added.
    var headers: [(String, String)]
    var body: [UInt8]

    init(method: String, endpoint: HTTPEndpoint, headers: [(String, String)] = [], body: [UInt8] = []) {
        (self.method, self.endpoint, self.headers, self.body) = (method, endpoint, headers, body)
    }
}

struct HTTPResponse: Sendable {
    var status: Int
    /// Header fields by lowercased name; repeated fields are joined with ", ".
    var headers: [String: String]
    /// The body, unless a body handler consumed it.
    var body: [UInt8]

    /// The media type without parameters, lowercased (`application/json`).
    var mediaType: String? {
        headers["content-type"].map { $0.split(separator: ";").first.map(String.init) ?? "" }
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
    }
}

/// What the limits of one exchange are. Every wait is bounded by the time left, so a call ends
/// at its deadline (to the millisecond `poll` resolves) whatever the server does.
struct HTTPLimits: Sendable {
    var connectTimeout: Duration
    var deadline: ContinuousClock.Instant
    /// The body is abandoned (and the connection closed) as soon as it passes this size.
    var maxBodyBytes: Int
}

enum HTTPFailure: Error, Sendable, Equatable {
    /// Nothing listens there, or the name does not resolve, or the URL is not usable.
    case unreachable(String)
    case connectTimeout
    /// The deadline passed while sending or waiting for the answer.
    case timeout
    /// The body passed the cap; the length is known when the server declared it.
    case bodyTooLarge(declared: Int?)
    /// The server closed the connection (or reset it) before the response was complete.
    case closed(String)
    /// The bytes are not an HTTP/1.x response.
    case malformed(String)
    case cancelled
    case io(String)
}

/// A small HTTP/1.1 client over POSIX sockets, made for calling skills: keep-alive connections,
/// exact connect and total timeouts, a body cap enforced while reading, `Content-Length`,
/// chunked and read-to-close bodies, and cancellation that interrupts any wait.
///
/// Each exchange runs its blocking I/O on a thread of its own (``ExchangeThreads``), never on
/// Swift's cooperative pool (two threads on a two-core machine): waits are `poll` calls on the
/// socket and a per-exchange wake-up pipe, bounded by the time left before the deadline.
final class HTTPClient: Sendable {
    /// Idle keep-alive connections by `host:port`.
    private let idle = Mutex<[String: [Int32]]>([:])
    private static let maxIdlePerServer = 16
    static let maxHeadBytes = 64 << 10

    init() {}

    deinit { closeIdleConnections() }

    /// Closes the kept-alive connections (calls in progress keep theirs).
    func closeIdleConnections() {
        let all = idle.withLock { idle in defer { idle.removeAll() }; return idle.values.flatMap { $0 } }
        for fd in all { close(fd) }
    }

    /// Sends `request` and reads the response within `limits`.
    ///
    /// With `onBody`, body bytes go to the handler as they arrive (after the status and headers
    /// are known) instead of into `HTTPResponse.body`; it returns false to stop reading, which
    /// closes the connection. It runs on the exchange's thread.
    func send(_ request: HTTPRequest, limits: HTTPLimits,
              onBody: (@Sendable (HTTPResponse, ArraySlice<UInt8>) -> Bool)? = nil) async throws(HTTPFailure) -> HTTPResponse {
        let wake = try WakePipe()
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<HTTPResponse, HTTPFailure>, Never>) in
                ExchangeThreads.shared.run { continuation.resume(returning: self.exchange(request, limits, wake, onBody)) }
            }
        } onCancel: {
            wake.fire()
        }
        return try result.get()
    }

    // MARK: - One exchange (on its own thread)

    private func exchange(_ request: HTTPRequest, _ limits: HTTPLimits, _ wake: WakePipe,
                          _ onBody: (@Sendable (HTTPResponse, ArraySlice<UInt8>) -> Bool)?) -> Result<HTTPResponse, HTTPFailure> {
        let key = "\(request.endpoint.host):\(request.endpoint.port)"
        var message = Array("\(request.method) \(request.endpoint.target) HTTP/1.1\r\nHost: \(request.endpoint.hostHeader)\r\nUser-Agent: llava-plus\r\nContent-Length: \(request.body.count)\r\n".utf8)
        for (name, value) in request.headers { message += Array("\(name): \(value)\r\n".utf8) }
        message += Array("\r\n".utf8)
        message += request.body
        // A kept-alive connection the server closed meanwhile fails before any response byte:
        // then (only then) the request is sent again on a fresh connection. If no fresh
        // connection can be made, the server died on this request: that is the failure.
        var staleFailure: HTTPFailure?
        while true {
            let pooled = checkout(key)
            let fd: Int32
            if let pooled { fd = pooled } else {
                switch openSocket(request.endpoint, limits, wake) {
                case .success(let opened): fd = opened
                case .failure(let failure): return .failure(staleFailure ?? failure)
                }
            }
            var connection = SocketConnection(fd: fd, deadline: limits.deadline, wake: wake)
            do {
                try connection.write(message)
                let (response, reusable) = try connection.readResponse(method: request.method, maxBodyBytes: limits.maxBodyBytes, onBody: onBody)
                if reusable { checkin(fd, key) } else { close(fd) }
                return .success(response)
            } catch {
                close(fd)
                if pooled != nil, staleFailure == nil, connection.received == 0, case .closed = error {
                    staleFailure = error
                    continue
                }
                return .failure(error)
            }
        }
    }

    private func checkout(_ key: String) -> Int32? {
        while let fd = idle.withLock({ $0[key]?.popLast() }) {
            // An idle connection that is readable was closed by the server (or sent junk).
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&entry, 1, 0) == 0 { return fd }
            close(fd)
        }
        return nil
    }

    private func checkin(_ fd: Int32, _ key: String) {
        let kept = idle.withLock { idle in
            guard idle[key, default: []].count < Self.maxIdlePerServer else { return false }
            idle[key, default: []].append(fd)
            return true
        }
        if !kept { close(fd) }
    }

    private func openSocket(_ endpoint: HTTPEndpoint, _ limits: HTTPLimits, _ wake: WakePipe) -> Result<Int32, HTTPFailure> {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Self.streamType
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(endpoint.host, String(endpoint.port), &hints, &list)
        guard status == 0, let first = list else {
            return .failure(.unreachable("cannot resolve '\(endpoint.host)': \(String(cString: gai_strerror(status)))"))
        }
        defer { freeaddrinfo(list) }
        let connectDeadline = min(limits.deadline, .now + limits.connectTimeout)
        var lastError = HTTPFailure.unreachable("no address for '\(endpoint.host)'")
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let address = cursor {
            cursor = address.pointee.ai_next
            let fd = socket(address.pointee.ai_family, Self.streamType, 0)
            guard fd >= 0 else { lastError = .io("socket: \(Self.errorText())"); continue }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            var on: Int32 = 1
            // Requests are written in one piece; Nagle would only delay them.
            _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
            #if canImport(Darwin)
            _ = setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &on, socklen_t(MemoryLayout<Int32>.size))
            #endif
            var result = connect(fd, address.pointee.ai_addr, address.pointee.ai_addrlen)
            if result != 0, errno == EINPROGRESS {
                do {
                    try wait(fd, for: Int16(POLLOUT), until: connectDeadline, wake: wake, timeout: .connectTimeout)
                } catch {
                    close(fd)
                    // The connect timeout is its own failure unless the overall deadline came first.
                    return .failure(error == .connectTimeout && connectDeadline >= limits.deadline ? .timeout : error)
                }
                var code: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &length)
                result = code == 0 ? 0 : -1
                errno = code
            }
            if result == 0 { return .success(fd) }
            let code = errno
            close(fd)
            lastError = code == ECONNREFUSED
                ? .unreachable("connection refused by \(endpoint.host):\(endpoint.port) (nothing is listening)")
                : .unreachable("cannot connect to \(endpoint.host):\(endpoint.port): \(String(cString: strerror(code)))")
        }
        return .failure(lastError)
    }

    #if os(Linux)
    static let streamType = Int32(SOCK_STREAM.rawValue)
    #else
    static let streamType = SOCK_STREAM
    #endif

    static func errorText() -> String { String(cString: strerror(errno)) }
}

/// One socket's reads and writes during an exchange, with the bytes read ahead.
private struct SocketConnection {
    let fd: Int32
    let deadline: ContinuousClock.Instant
    let wake: WakePipe
    var buffer: [UInt8] = []
    var position = 0
    /// What `recv` reads into, allocated on the first read.
    var chunk: [UInt8] = []
    /// Response bytes read so far (zero means the server never started answering).
    var received = 0

    mutating func write(_ bytes: [UInt8]) throws(HTTPFailure) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { raw in
                send(fd, raw.baseAddress! + offset, raw.count - offset, Self.sendFlags)
            }
            if sent > 0 { offset += sent; continue }
            switch errno {
            case EAGAIN, EWOULDBLOCK: try wait(fd, for: Int16(POLLOUT), until: deadline, wake: wake, timeout: .timeout)
            case EINTR: continue
            case EPIPE, ECONNRESET: throw .closed("the server closed the connection while the request was sent")
            default: throw .io("send: \(HTTPClient.errorText())")
            }
        }
    }

    #if os(Linux)
    static let sendFlags = Int32(MSG_NOSIGNAL)
    #else
    static let sendFlags: Int32 = 0
    #endif

    /// Reads more bytes into the buffer; false at end of stream.
    mutating func fill() throws(HTTPFailure) -> Bool {
        if position == buffer.count { buffer.removeAll(keepingCapacity: true); position = 0 }
        if chunk.isEmpty { chunk = [UInt8](repeating: 0, count: 64 << 10) }
        let fd = self.fd  // not `self` inside the closure: `chunk` is being mutated
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                buffer += chunk[..<count]
                received += count
                return true
            }
            if count == 0 { return false }
            switch errno {
            case EAGAIN, EWOULDBLOCK: try wait(fd, for: Int16(POLLIN), until: deadline, wake: wake, timeout: .timeout)
            case EINTR: continue
            case ECONNRESET: throw .closed("the server reset the connection")
            default: throw .io("recv: \(HTTPClient.errorText())")
            }
        }
    }

    /// The next line without its CRLF (or LF).
    mutating func line(limit: Int) throws(HTTPFailure) -> String {
        while true {
            if let end = buffer[position...].firstIndex(of: UInt8(ascii: "\n")) {
                var stop = end
                if stop > position, buffer[stop - 1] == UInt8(ascii: "\r") { stop -= 1 }
                let text = String(decoding: buffer[position..<stop], as: UTF8.self)
                position = end + 1
                return text
            }
            guard buffer.count - position < limit else { throw .malformed("a header line is longer than \(limit) bytes") }
            guard try fill() else { throw .closed(received == 0 ? "the server closed the connection without answering" : "the response ended early") }
        }
    }

    /// Up to `count` buffered (or newly read) bytes.
    mutating func take(upTo count: Int) throws(HTTPFailure) -> ArraySlice<UInt8>? {
        if position == buffer.count, try !fill() { return nil }
        let end = min(buffer.count, position + count)
        defer { position = end }
        return buffer[position..<end]
    }

    mutating func readResponse(method: String, maxBodyBytes: Int,
                               onBody: (@Sendable (HTTPResponse, ArraySlice<UInt8>) -> Bool)?) throws(HTTPFailure) -> (HTTPResponse, Bool) {
        var head: HTTPResponse
        var version: Substring
        repeat {  // 1xx interim responses precede the real one
            let status = try line(limit: HTTPClient.maxHeadBytes)
            let parts = status.split(separator: " ", maxSplits: 2)
            guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let code = Int(parts[1]), (100...599).contains(code) else {
                throw .malformed("not an HTTP/1.x status line: '\(status.prefix(60))'")
            }
            version = parts[0]
            head = HTTPResponse(status: code, headers: [:], body: [])
            var total = status.utf8.count
            while true {
                let field = try line(limit: HTTPClient.maxHeadBytes)
                if field.isEmpty { break }
                total += field.utf8.count
                guard total <= HTTPClient.maxHeadBytes else { throw .malformed("the headers are larger than \(HTTPClient.maxHeadBytes) bytes") }
                guard let colon = field.firstIndex(of: ":") else { throw .malformed("header line without a colon: '\(field.prefix(60))'") }
                let name = field[..<colon].lowercased()
                let value = field[field.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                head.headers[name] = head.headers[name].map { $0 + ", " + value } ?? value
            }
        } while head.status < 200
        let connectionTokens = (head.headers["connection"] ?? "").lowercased()
        var reusable = version == "HTTP/1.1" ? !connectionTokens.contains("close") : connectionTokens.contains("keep-alive")

        var response = head
        var total = 0
        var stopped = false
        func deliver(_ bytes: ArraySlice<UInt8>) throws(HTTPFailure) {
            total += bytes.count
            guard total <= maxBodyBytes else { throw .bodyTooLarge(declared: nil) }
            if let onBody { stopped = !onBody(head, bytes) } else { response.body += bytes }
        }

        if method == "HEAD" || head.status == 204 || head.status == 304 {
            // No body.
        } else if (head.headers["transfer-encoding"] ?? "").lowercased().contains("chunked") {
            while !stopped {
                let sizeLine = try line(limit: 1024)
                let digits = sizeLine.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
                guard let size = Int(digits, radix: 16), size >= 0 else { throw .malformed("bad chunk size '\(sizeLine.prefix(20))'") }
                if size == 0 {
                    while try !line(limit: HTTPClient.maxHeadBytes).isEmpty {}  // trailer fields
                    break
                }
                guard total + size <= maxBodyBytes else { throw .bodyTooLarge(declared: nil) }
                var left = size
                while left > 0, !stopped {
                    guard let bytes = try take(upTo: left) else { throw .closed("the response ended inside a chunk") }
                    left -= bytes.count
                    try deliver(bytes)
                }
                if !stopped, try !line(limit: 2).isEmpty { throw .malformed("a chunk is not followed by CRLF") }
            }
        } else if let declared = head.headers["content-length"] {
            guard let length = Int(declared.split(separator: ",").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""), length >= 0 else {
                throw .malformed("bad Content-Length '\(declared)'")
            }
            guard length <= maxBodyBytes else { throw .bodyTooLarge(declared: length) }
            if onBody == nil { response.body.reserveCapacity(length) }
            var left = length
            while left > 0, !stopped {
                guard let bytes = try take(upTo: left) else { throw .closed("the response ended after \(length - left) of \(length) body bytes") }
                left -= bytes.count
                try deliver(bytes)
            }
        } else {
            reusable = false  // the body ends when the server closes
            while !stopped, let bytes = try take(upTo: Int.max) { try deliver(bytes) }
        }
        // Leftover bytes would be an unrequested response: such a connection is not reused.
        return (response, reusable && !stopped && position == buffer.count)
    }
}

/// Waits until `fd` is ready for `events`, the deadline passes (`timeout` is thrown) or the
/// exchange is cancelled.
private func wait(_ fd: Int32, for events: Int16, until deadline: ContinuousClock.Instant, wake: WakePipe,
                  timeout: HTTPFailure) throws(HTTPFailure) {
    while true {
        let left = deadline - .now
        guard left > .zero else { throw timeout }
        // poll counts milliseconds: round up so that it never returns before the deadline.
        let milliseconds = left.components.seconds * 1000 + (left.components.attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        var entries = [pollfd(fd: fd, events: events, revents: 0), pollfd(fd: wake.readEnd, events: Int16(POLLIN), revents: 0)]
        let ready = poll(&entries, 2, Int32(clamping: milliseconds))
        if ready < 0, errno == EINTR { continue }
        guard ready >= 0 else { throw .io("poll: \(HTTPClient.errorText())") }
        if entries[1].revents != 0 { throw .cancelled }
        if entries[0].revents != 0 { return }
    }
}

/// Threads for blocking exchanges, one per exchange in flight, kept idle for a while after use.
///
/// Why not a new thread per exchange: on a loaded machine the scheduler starts a new thread
/// behind the running ones, which cost up to a scheduler tick (4 ms) per call; waking a
/// sleeping thread does not. Why not dispatch: its global queues are sized to the cores, and
/// exchanges block for as long as a skill takes.
private final class ExchangeThreads: @unchecked Sendable {
    static let shared = ExchangeThreads()
    /// How long a thread without work waits before it ends.
    private static let idleSeconds = 30.0
    // Guarded by `condition`.
    private let condition = NSCondition()
    private var jobs: [@Sendable () -> Void] = []
    private var idle = 0

    func run(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        jobs.append(job)
        // Each idle thread takes one job; a job beyond them gets a new thread.
        let spawn = idle < jobs.count
        if !spawn { condition.signal() }
        condition.unlock()
        if spawn {
            let thread = Thread { [self] in work() }
            thread.name = "http-exchange"
            thread.start()
        }
    }

    private func work() {
        condition.lock()
        while true {
            while jobs.isEmpty {
                idle += 1
                let signalled = condition.wait(until: Date(timeIntervalSinceNow: Self.idleSeconds))
                idle -= 1
                if !signalled, jobs.isEmpty { condition.unlock(); return }
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job()
            condition.lock()
        }
    }
}

/// A pipe whose read end becomes readable when the exchange is cancelled: `poll` watches it next
/// to the socket, so cancellation interrupts any wait, including a connect in progress.
private final class WakePipe: Sendable {
    let readEnd: Int32
    let writeEnd: Int32
    private let fired = Atomic<Bool>(false)

    init() throws(HTTPFailure) {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { throw .io("pipe: \(HTTPClient.errorText())") }
        (readEnd, writeEnd) = (ends[0], ends[1])
        _ = fcntl(readEnd, F_SETFD, FD_CLOEXEC)
        _ = fcntl(writeEnd, F_SETFD, FD_CLOEXEC)
    }

    func fire() {
        guard !fired.exchange(true, ordering: .relaxed) else { return }
        var byte: UInt8 = 1
        _ = write(writeEnd, &byte, 1)
    }

    deinit {
        close(readEnd)
        close(writeEnd)
    }
}
