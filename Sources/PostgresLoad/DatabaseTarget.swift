import Foundation
public import PostgresNIO
import NIOSSL

/// Where to connect: parsed from a `postgres://user:password@host:port/db?sslmode=...` URL, or
/// the embedded cluster's Unix socket.
public struct DatabaseTarget: Sendable, CustomStringConvertible {
    public var configuration: PostgresConnection.Configuration
    /// For logs: the URL without its password.
    public var description: String

    public init(configuration: PostgresConnection.Configuration, description: String) {
        self.configuration = configuration
        self.description = description
    }

    /// Parses a libpq-style URL. Honours `sslmode` (`disable`, `allow`, `prefer`, `require`,
    /// `verify-ca`, `verify-full`) and `host=/socket/dir` for Unix sockets.
    public init(url string: String) throws {
        guard let components = URLComponents(string: string),
            let scheme = components.scheme, ["postgres", "postgresql"].contains(scheme)
        else {
            throw LoadError(.badURL, "'\(Self.redact(string))' is not a database URL; expected postgres://user:password@host:port/database")
        }
        let query = Dictionary(
            (components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { _, last in last })
        // Already percent-decoded by URLComponents: decoding again turns a password of `100%`
        // (written `100%25`) into nothing and `p%2541` into `pA`.
        let user = components.user ?? "postgres"
        let password = components.password
        var database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        if database.isEmpty { database = user }
        // Checked on Unix sockets too, where TLS does not apply: a misspelt mode is a mistake either way.
        let modes = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
        if let mode = query["sslmode"], !modes.contains(mode) {
            throw LoadError(.badURL, "sslmode '\(mode)' is not one of \(modes.joined(separator: ", "))")
        }

        if let socketDirectory = query["host"], socketDirectory.hasPrefix("/") {
            let port = components.port ?? 5432
            self.configuration = .init(
                unixSocketPath: "\(socketDirectory)/.s.PGSQL.\(port)", username: user, password: password,
                database: database)
        } else {
            guard let host = components.host, !host.isEmpty else {
                throw LoadError(.badURL, "'\(Self.redact(string))' has no host; expected postgres://user:password@host:port/database")
            }
            let tls: PostgresConnection.Configuration.TLS
            switch query["sslmode"] ?? "prefer" {
            case "disable":
                tls = .disable
            case "allow", "prefer":
                tls = try .prefer(Self.tlsContext(verify: false))
            case "require":
                tls = try .require(Self.tlsContext(verify: false))
            case "verify-ca", "verify-full":
                tls = try .require(Self.tlsContext(verify: true))
            case let other:
                throw LoadError(.badURL, "sslmode '\(other)' is not one of \(modes.joined(separator: ", "))")
            }
            self.configuration = .init(
                host: host, port: components.port ?? 5432, username: user, password: password, database: database,
                tls: tls)
        }
        self.description = Self.redact(string)
    }

    private static func tlsContext(verify: Bool) throws -> NIOSSLContext {
        var tls = TLSConfiguration.makeClientConfiguration()
        if !verify { tls.certificateVerification = .none }
        do {
            return try NIOSSLContext(configuration: tls)
        } catch {
            throw LoadError(.badURL, "cannot set up TLS for the database connection", cause: error)
        }
    }

    /// The URL with its password replaced, safe for logs and error messages.
    public static func redact(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.password != nil else { return url }
        components.password = "***"
        return components.string ?? url
    }

    /// The same server, another database (tests create one database per suite).
    public func withDatabase(_ name: String) -> DatabaseTarget {
        var copy = self
        copy.configuration.database = name
        return copy
    }

    /// Opens one connection, with an error that says what to check when it fails.
    public func connect(logger: Logger) async throws -> PostgresConnection {
        do {
            return try await PostgresConnection.connect(
                configuration: configuration, id: Int.random(in: 1...Int(Int32.max)), logger: logger)
        } catch {
            throw LoadError(
                .unreachable,
                "cannot connect to the database at \(description): check that the server is running and the URL, "
                    + "user and password are right (or unset DATABASE_URL to use the embedded database)",
                cause: error)
        }
    }

    /// Runs `body` with a fresh connection and closes it afterwards, whatever happens.
    ///
    /// With `cancelsStatements`, cancelling the calling task (a task past its timeout, SIGTERM)
    /// also cancels the statement the connection is running, and `body`'s failure then reads as
    /// the `CancellationError` it is. postgres-nio sends no cancel request of its own, so a merge
    /// statement of a minute, or one waiting on a lock, went on to its end while the run waited.
    /// For a task's own work only: the run ledger's connection must still record the cancellation.
    @discardableResult
    public func withConnection<T: Sendable>(
        logger: Logger, cancelsStatements: Bool = false, _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        let connection = try await connect(logger: logger)
        do {
            let result: T
            if cancelsStatements {
                let backend = try await Backend(of: connection, logger: logger)
                result = try await withTaskCancellationHandler {
                    try await body(connection)
                } onCancel: {
                    Task { await cancelStatement(of: backend, logger: logger) }
                }
            } else {
                result = try await body(connection)
            }
            try? await connection.close()
            return result
        } catch {
            try? await connection.close()
            if cancelsStatements && Task.isCancelled && Self.isCancelledStatement(error) { throw CancellationError() }
            throw error
        }
    }

    /// "canceling statement due to user request" (57014), also inside a ``LoadError``.
    static func isCancelledStatement(_ error: any Error) -> Bool {
        let cause = (error as? LoadError)?.cause ?? error
        return (cause as? PSQLError)?.serverInfo?[.sqlState] == "57014"
    }

    /// One server process, named by its pid and start time: a pid alone may have been reused by
    /// someone else's session by the time a cancel arrives.
    struct Backend: Sendable {
        var pid: Int32
        var started: String

        init(of connection: PostgresConnection, logger: Logger) async throws {
            let rows = try await connection.query(
                "SELECT pid, backend_start::text FROM pg_stat_activity WHERE pid = pg_backend_pid()", logger: logger
            ).collect()
            guard let row = rows.first else {
                throw LoadError(.query, "the database did not list this connection in pg_stat_activity")
            }
            (pid, started) = try row.decode((Int32, String).self)
        }
    }

    /// Cancels what `backend` is running, over a connection of its own (`pg_cancel_backend`: the
    /// same role may cancel its own sessions). Best effort: if it cannot connect, the statement
    /// runs to its end as before.
    func cancelStatement(of backend: Backend, logger: Logger) async {
        do {
            // Called from a task of its own, which nothing cancels.
            try await withConnection(logger: logger) { connection in
                _ = try await connection.query(
                    """
                    SELECT pg_cancel_backend(pid) FROM pg_stat_activity
                    WHERE pid = \(backend.pid) AND backend_start::text = \(backend.started) AND state = 'active'
                    """, logger: logger
                ).collect()
            }
            logger.debug("cancelled the statement of a cancelled task", metadata: ["db.pid": "\(backend.pid)"])
        } catch {
            logger.warning(
                "could not cancel a cancelled task's statement; it runs to its end",
                metadata: ["db.pid": "\(backend.pid)", "error": "\(String(reflecting: error))"])
        }
    }
}
