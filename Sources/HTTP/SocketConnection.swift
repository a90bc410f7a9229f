import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// What the client and the server share: a socket's buffered reads and bounded writes, the one
// parser of a message head (start line and header fields), waits that a wake pipe interrupts,
// and the threads blocking I/O runs on.

/// One socket's reads and writes during an exchange, with the bytes read ahead.
struct SocketConnection {
    let fd: Int32
    /// When the current exchange must be over; the server moves it per request.
    var deadline: ContinuousClock.Instant
    let wake: WakePipe
    var buffer: [UInt8] = []
    var position = 0
    /// What `recv` reads into, allocated on the first read.
    var chunk: [UInt8] = []
    /// Response bytes read so far (zero means the server never started answering).
    var received = 0

    mutating func write(_ bytes: [UInt8]) throws(HTTPFailure) {
        do { try sendAll(fd, bytes, deadline: deadline, wake: wake) } catch {
            if case .closed = error { throw .closed("the server closed the connection while the request was sent") }
            throw error
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

    /// How an oversized head's `malformed` failure begins (the server answers it with 431).
    static let headTooLarge = "the head is larger than"

    private mutating func headLine(_ maxBytes: Int) throws(HTTPFailure) -> String {
        do { return try line(limit: maxBytes) } catch {
            if case .malformed = error { throw .malformed("\(Self.headTooLarge) \(maxBytes) bytes") }
            throw error
        }
    }

    /// Reads a message head: the start line (a request or status line) and the header fields
    /// up to the empty line, at most `maxBytes` in all. Fields are keyed by lowercased name;
    /// a repeated field's values are joined with ", " (RFC 9110, 5.3). Used by the client for
    /// responses and by the server for requests.
    mutating func readHead(maxBytes: Int) throws(HTTPFailure) -> (startLine: String, fields: [String: String]) {
        let start = try headLine(maxBytes)
        var fields: [String: String] = [:]
        var total = start.utf8.count
        while true {
            let field = try headLine(maxBytes)
            if field.isEmpty { break }
            total += field.utf8.count
            guard total <= maxBytes else { throw .malformed("\(Self.headTooLarge) \(maxBytes) bytes") }
            guard let colon = field.firstIndex(of: ":") else { throw .malformed("header line without a colon: '\(field.prefix(60))'") }
            let name = field[..<colon].lowercased()
            guard !name.isEmpty, !name.contains(where: { $0 == " " || $0 == "\t" }) else {
                throw .malformed("bad header field name '\(name.prefix(60))'")
            }
            let value = field[field.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            fields[name] = fields[name].map { $0 + ", " + value } ?? value
        }
        return (start, fields)
    }
}

/// Writes all of `bytes` to the non-blocking socket `fd` before `deadline`.
func sendAll(_ fd: Int32, _ bytes: [UInt8], deadline: ContinuousClock.Instant, wake: WakePipe) throws(HTTPFailure) {
    var offset = 0
    while offset < bytes.count {
        let sent = bytes.withUnsafeBytes { raw in
            send(fd, raw.baseAddress! + offset, raw.count - offset, SocketConnection.sendFlags)
        }
        if sent > 0 { offset += sent; continue }
        switch errno {
        case EAGAIN, EWOULDBLOCK: try wait(fd, for: Int16(POLLOUT), until: deadline, wake: wake, timeout: .timeout)
        case EINTR: continue
        case EPIPE, ECONNRESET: throw .closed("the peer closed the connection")
        default: throw .io("send: \(HTTPClient.errorText())")
        }
    }
}

/// Waits until `fd` is ready for `events`, the deadline passes (`timeout` is thrown) or the
/// exchange is cancelled.
func wait(_ fd: Int32, for events: Int16, until deadline: ContinuousClock.Instant, wake: WakePipe,
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
final class ExchangeThreads: @unchecked Sendable {
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
final class WakePipe: Sendable {
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
