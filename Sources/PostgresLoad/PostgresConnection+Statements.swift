import Logging
import PostgresNIO

extension PostgresConnection {
    /// Throws when the server has closed the connection. postgres-nio 1.33 writes a query to a
    /// closed connection without a promise, so it is dropped and its caller waits for good. A
    /// run's main connection idles for hours while the tasks work, and a server may end it
    /// meanwhile (`idle_session_timeout`, `pg_terminate_backend`, a failover): it is checked
    /// before each use after that (the ledger's writes, the lock's release).
    func ensureOpen(for purpose: String) throws {
        guard isClosed else { return }
        throw LoadError(
            .connectionLost, "the database closed the connection for \(purpose) (a restart, a timeout such as "
                + "idle_session_timeout, or an administrator ending it)")
    }

    /// Runs one statement and reads its result to the end. An error raised while a query runs
    /// (a function such as `etl.hold_references` raising) arrives after the row description,
    /// among the rows: a caller that does not read them never sees it, and the next statement
    /// fails instead with "current transaction is aborted", or a COMMIT silently rolls back.
    func runToCompletion(_ statement: String, logger: Logger) async throws {
        let rows = try await query(PostgresQuery(unsafeSQL: statement), logger: logger)
        for try await _ in rows {}
    }

    /// COMMIT, and a check that it did: PostgreSQL answers COMMIT in a transaction that has
    /// failed with ROLLBACK, not with an error.
    func commit(logger: Logger) async throws {
        let result: EventLoopFuture<PostgresQueryResult> = query("COMMIT", logger: logger)
        let command = try await result.get().metadata.command
        guard command == "COMMIT" else {
            throw LoadError(.query, "the transaction was rolled back, not committed (the server answered \(command))")
        }
    }
}
