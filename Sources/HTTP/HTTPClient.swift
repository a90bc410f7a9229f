import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where an `http://` URL points: host, port and the request target.
public struct HTTPEndpoint: Sendable, Equatable {
    public var host: String
    public var port: Int
    /// Path and query, as sent in the request line (`/worker_generate`, `/mcp?x=1`).
    public var target: String

    public init(host: String, port: Int, target: String) {
        (self.host, self.port, self.target) = (host, port, target)
    }

    /// Parses `text`; an `unreachable` failure saying why when it is not a plain `http://` URL.
    public static func parse(_ text: String) -> Result<HTTPEndpoint, HTTPFailure> {
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
    public func with(target: String) -> HTTPEndpoint {
        HTTPEndpoint(host: host, port: port, target: target)
    }

    /// The `Host` header field's value: the host (bracketed if IPv6) and a port other than 80.
    public var hostHeader: String { (host.contains(":") ? "[\(host)]" : host) + (port == 80 ? "" : ":\(port)") }
}

/// A request the client sends.
public struct HTTPRequest: Sendable {
    public var method: String
    public var endpoint: HTTPEndpoint
    /// Extra header fields; Host, Content-Length and User-Agent are added.
    public var headers: [(String, String)]
    public var body: [UInt8]

    public init(method: String, endpoint: HTTPEndpoint, headers: [(String, String)] = [], body: [UInt8] = []) {
        (self.method, self.endpoint, self.headers, self.body) = (method, endpoint, headers, body)
    }
}

/// A response the client received.
public struct HTTPResponse: Sendable {
    public var status: Int
    /// Header fields by lowercased name; repeated fields are joined with ", ".
    public var headers: [String: String]
    /// The body, unless a body handler consumed it.
    public var body: [UInt8]

    public init(status: Int, headers: [String: String] = [:], body: [UInt8] = []) {
        (self.status, self.headers, self.body) = (status, headers, body)
    }

    /// The media type without parameters, lowercased (`application/json`).
    public var mediaType: String? {
        headers["content-type"].map { $0.split(separator: ";").first.map(String.init) ?? "" }
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
    }
}

/// What the limits of one exchange are. Every wait is bounded by the time left, so a call ends
/// at its deadline (to the millisecond `poll` resolves) whatever the server does.
public struct HTTPLimits: Sendable {
    public var connectTimeout: Duration
    public var deadline: ContinuousClock.Instant
    /// The body is abandoned (and the connection closed) as soon as it passes this size.
    public var maxBodyBytes: Int

    public init(connectTimeout: Duration, deadline: ContinuousClock.Instant, maxBodyBytes: Int) {
        (self.connectTimeout, self.deadline, self.maxBodyBytes) = (connectTimeout, deadline, maxBodyBytes)
    }
}

/// Why an exchange failed.
public enum HTTPFailure: Error, Sendable, Equatable {
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
public final class HTTPClient: Sendable {
    /// Idle keep-alive connections by `host:port`.
    private let idle = Mutex<[String: [Int32]]>([:])
    private static let maxIdlePerServer = 16
    static let maxHeadBytes = 64 << 10

    public init() {}

    deinit { closeIdleConnections() }

    /// Closes the kept-alive connections (calls in progress keep theirs).
    public func closeIdleConnections() {
        let all = idle.withLock { idle in defer { idle.removeAll() }; return idle.values.flatMap { $0 } }
        for fd in all { close(fd) }
    }

    /// Sends `request` and reads the response within `limits`.
    ///
    /// With `onBody`, body bytes go to the handler as they arrive (after the status and headers
    /// are known) instead of into `HTTPResponse.body`; it returns false to stop reading, which
    /// closes the connection. It runs on the exchange's thread.
    public func send(_ request: HTTPRequest, limits: HTTPLimits,
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


// MARK: - Reading a response

extension SocketConnection {
    mutating func readResponse(method: String, maxBodyBytes: Int,
                               onBody: (@Sendable (HTTPResponse, ArraySlice<UInt8>) -> Bool)?) throws(HTTPFailure) -> (HTTPResponse, Bool) {
        var head: HTTPResponse
        var version: Substring
        repeat {  // 1xx interim responses precede the real one
            let (status, fields) = try readHead(maxBytes: HTTPClient.maxHeadBytes)
            let parts = status.split(separator: " ", maxSplits: 2)
            guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let code = Int(parts[1]), (100...599).contains(code) else {
                throw .malformed("not an HTTP/1.x status line: '\(status.prefix(60))'")
            }
            version = parts[0]
            head = HTTPResponse(status: code, headers: fields, body: [])
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
