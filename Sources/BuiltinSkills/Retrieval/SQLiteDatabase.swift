// A small, safe wrapper over the system's SQLite (CSQLite): one connection, prepared statements
// with typed binds and columns, transactions, and errors that carry SQLite's own message and the
// database file, so "database is locked" or "file is not a database" names what to look at.

import CSQLite
import Foundation

/// An SQLite failure: SQLite's result code and message, the operation, and the database file.
public struct SQLiteError: Error, CustomStringConvertible, Sendable {
    /// SQLite's (extended) result code, e.g. 26 for `SQLITE_NOTADB`.
    public let code: Int32
    /// SQLite's message for the failure (`sqlite3_errmsg`).
    public let message: String
    /// What was being done: "open", "prepare ...", "step", ...
    public let operation: String
    /// The database file.
    public let path: String

    public var description: String { "\(path): \(operation): \(message) (SQLite error \(code))" }
}

/// `SQLITE_TRANSIENT`: SQLite copies bound text and blobs before `bind` returns, so the Swift
/// buffers may go away. The C macro is a cast of -1 that Swift cannot import.
private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// One connection to an SQLite database file. Not thread-safe by itself: callers serialise
/// access (the retrieve skill holds a lock around each index).
public final class SQLiteDatabase {
    /// The database file.
    public let path: String
    fileprivate let handle: OpaquePointer

    /// Opens (creating if needed) the database at `url`; waits up to `busyTimeout` seconds for
    /// another process's lock rather than failing at once.
    public init(url: URL, readOnly: Bool = false, busyTimeout: Double = 5) throws {
        path = url.path
        var handle: OpaquePointer?
        let flags = (readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX
        let code = sqlite3_open_v2(url.path, &handle, flags, nil)
        guard code == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(code))
            sqlite3_close_v2(handle)
            throw SQLiteError(code: code, message: message, operation: "open", path: url.path)
        }
        self.handle = handle
        sqlite3_extended_result_codes(handle, 1)
        sqlite3_busy_timeout(handle, Int32(busyTimeout * 1000))
    }

    deinit { sqlite3_close_v2(handle) }

    /// Runs one or more statements that return no rows (schema, pragmas).
    public func execute(_ sql: String) throws {
        var errorMessage: UnsafeMutablePointer<CChar>?
        let code = sqlite3_exec(handle, sql, nil, nil, &errorMessage)
        if code != SQLITE_OK {
            let message = errorMessage.map { String(cString: $0) } ?? lastMessage
            sqlite3_free(errorMessage)
            throw SQLiteError(code: code, message: message, operation: "execute \(Self.abbreviated(sql))", path: path)
        }
    }

    /// Compiles one statement.
    public func prepare(_ sql: String) throws -> SQLiteStatement {
        var statement: OpaquePointer?
        let code = sqlite3_prepare_v2(handle, sql, -1, &statement, nil)
        guard code == SQLITE_OK, let statement else {
            throw error(code, "prepare \(Self.abbreviated(sql))")
        }
        return SQLiteStatement(database: self, handle: statement, sql: sql)
    }

    /// Runs `body` in one transaction: committed if it returns, rolled back if it throws.
    /// `BEGIN IMMEDIATE` takes the write lock up front, so two indexers of one folder queue on
    /// the busy timeout instead of failing midway with `SQLITE_BUSY`.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    public var changes: Int { Int(sqlite3_changes(handle)) }

    fileprivate var lastMessage: String { String(cString: sqlite3_errmsg(handle)) }

    fileprivate func error(_ code: Int32, _ operation: String) -> SQLiteError {
        SQLiteError(code: code, message: lastMessage, operation: operation, path: path)
    }

    private static func abbreviated(_ sql: String) -> String {
        let line = sql.split(whereSeparator: \.isNewline).first.map(String.init) ?? sql
        return line.count > 60 ? String(line.prefix(60)) + "..." : line
    }
}

/// A compiled statement. Bind parameters (1-based, as in SQLite), then `step()` through the
/// rows, reading columns (0-based); `reset()` to run it again with new values.
public final class SQLiteStatement {
    private let database: SQLiteDatabase
    private let handle: OpaquePointer
    private let sql: String

    fileprivate init(database: SQLiteDatabase, handle: OpaquePointer, sql: String) {
        self.database = database
        self.handle = handle
        self.sql = sql
    }

    deinit { sqlite3_finalize(handle) }

    /// A value that can be bound to a parameter.
    public enum Value {
        case null
        case integer(Int64)
        case real(Double)
        case text(String)
        case blob(Data)
    }

    /// Binds `values` to parameters 1, 2, ... in order.
    public func bind(_ values: Value...) throws {
        for (offset, value) in values.enumerated() { try bind(value, at: Int32(offset + 1)) }
    }

    /// Binds one parameter (1-based).
    public func bind(_ value: Value, at index: Int32) throws {
        let code: Int32
        switch value {
        case .null: code = sqlite3_bind_null(handle, index)
        case .integer(let n): code = sqlite3_bind_int64(handle, index, n)
        case .real(let x): code = sqlite3_bind_double(handle, index, x)
        case .text(let s): code = sqlite3_bind_text(handle, index, s, -1, transient)
        case .blob(let data):
            code = data.withUnsafeBytes { bytes in
                // A zero-length blob is still a blob, not NULL: bind a zeroblob for it.
                bytes.baseAddress.map { sqlite3_bind_blob(handle, index, $0, Int32(bytes.count), transient) }
                    ?? sqlite3_bind_zeroblob(handle, index, 0)
            }
        }
        guard code == SQLITE_OK else { throw database.error(code, "bind parameter \(index) of \(sql)") }
    }

    /// Advances to the next row: true if there is one, false when the statement is done.
    @discardableResult
    public func step() throws -> Bool {
        switch sqlite3_step(handle) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        case let code: throw database.error(code, "step \(sql)")
        }
    }

    /// Rewinds the statement and clears its bindings, for another run.
    public func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    /// Runs the statement to completion with `values` bound, then resets it.
    public func run(_ values: Value...) throws {
        reset()
        for (offset, value) in values.enumerated() { try bind(value, at: Int32(offset + 1)) }
        while try step() {}
        reset()
    }

    /// Whether column `index` of the current row is NULL.
    public func isNull(_ index: Int32) -> Bool { sqlite3_column_type(handle, index) == SQLITE_NULL }

    /// Column `index` of the current row as an integer (0 for NULL).
    public func int(_ index: Int32) -> Int64 { sqlite3_column_int64(handle, index) }

    /// Column `index` of the current row as a double (0 for NULL).
    public func double(_ index: Int32) -> Double { sqlite3_column_double(handle, index) }

    /// Column `index` of the current row as text, or nil for NULL.
    public func text(_ index: Int32) -> String? {
        guard let pointer = sqlite3_column_text(handle, index) else { return nil }
        return String(cString: pointer)
    }

    /// Column `index` of the current row as bytes, or nil for NULL.
    public func blob(_ index: Int32) -> Data? {
        if isNull(index) { return nil }
        let count = Int(sqlite3_column_bytes(handle, index))
        guard count > 0, let pointer = sqlite3_column_blob(handle, index) else { return Data() }
        return Data(bytes: pointer, count: count)
    }
}
