import Logging
import PostgresNIO

extension PostgresConnection {
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
