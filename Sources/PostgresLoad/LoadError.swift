import Foundation
import PostgresNIO

/// A failure in the database layer. The message says what to do next; `cause` keeps the
/// underlying error, and `description` shows what the server said about it.
public struct LoadError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }

        /// The database URL is malformed or names an unsupported option.
        public static let badURL = Code(name: "bad_url")
        /// The server cannot be reached or refused the login.
        public static let unreachable = Code(name: "unreachable")
        /// No PostgreSQL server binaries for the embedded database.
        public static let serverBinariesMissing = Code(name: "server_binaries_missing")
        /// The embedded cluster could not be created or started.
        public static let embeddedServer = Code(name: "embedded_server")
        /// The `sql/` folder or one of its files is missing or malformed.
        public static let sqlFiles = Code(name: "sql_files")
        /// A migration failed; nothing of it was applied.
        public static let migration = Code(name: "migration")
        /// A statement failed during staging or the merge; the transaction was rolled back.
        public static let query = Code(name: "query")
        /// Another run of the same district holds the lock.
        public static let locked = Code(name: "locked")
        /// A run id that does not exist or is not in the expected state.
        public static let runState = Code(name: "run_state")
        /// The connection was lost during COMMIT and the server could not be asked whether the
        /// transaction committed.
        public static let commitUnknown = Code(name: "commit_unknown")
        /// The server closed a connection the run was still using: the run failed (exit 1), its
        /// outcome perhaps unrecorded.
        public static let connectionLost = Code(name: "connection_lost")
    }

    public var code: Code
    public var message: String
    public var cause: (any Error)?
    public var location: String

    public init(_ code: Code, _ message: String, cause: (any Error)? = nil, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.cause = cause
        self.location = "\(file):\(line)"
    }

    public var description: String {
        guard let cause else { return message }
        return "\(message) (cause: \(Self.describe(cause)))"
    }

    /// What the server said, for people: `String(reflecting:)` of a `PSQLError` is a dump of its
    /// fields (file, line, routine) with the server's message somewhere in the middle.
    public static func describe(_ cause: any Error) -> String {
        switch cause {
        case let error as PSQLError:
            guard let info = error.serverInfo, let message = info[.message] else {
                return error.underlying.map { "\(error.code): \(String(describing: $0))" } ?? "\(error.code)"
            }
            var text = message
            if let state = info[.sqlState] { text += " (SQLSTATE \(state))" }
            if let detail = info[.detail] { text += "; \(detail)" }
            if let hint = info[.hint] { text += "; hint: \(hint)" }
            return text
        case let error as LoadError:
            return error.description
        case let error as CocoaError:
            return error.localizedDescription
        default:
            return String(describing: cause)
        }
    }

    /// True for failures that mean the configuration is wrong (exit code 2).
    public var isUsageError: Bool {
        [.badURL, .unreachable, .serverBinariesMissing, .sqlFiles].contains(code)
    }
}
