public import Logging
public import PostgresNIO

/// Applies `sql/migrations` in order, each in one transaction with its row in
/// `etl.schema_migrations`, under an advisory lock so concurrent starters apply each once.
public struct Migrator: Sendable {
    /// The advisory lock key for migrations ("RSMIGRAT" as bytes).
    static let lockKey: Int64 = 0x5253_4D49_4752_4154

    public var directory: SQLDirectory

    public init(directory: SQLDirectory) {
        self.directory = directory
    }

    /// Applies pending migrations; returns the names of those applied (empty when up to date).
    @discardableResult
    public func migrate(on connection: PostgresConnection, logger: Logger) async throws -> [String] {
        let migrations = try directory.migrations()
        try await connection.runToCompletion("SELECT pg_advisory_lock(\(Self.lockKey))", logger: logger)
        do {
            let applied = try await apply(migrations, on: connection, logger: logger)
            try await connection.runToCompletion("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
            return applied
        } catch {
            _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
            throw error
        }
    }

    private func apply(_ migrations: [Migration], on connection: PostgresConnection, logger: Logger) async throws
        -> [String]
    {
        try await connection.query("CREATE SCHEMA IF NOT EXISTS etl", logger: logger)
        try await connection.query(
            """
            CREATE TABLE IF NOT EXISTS etl.schema_migrations (
                version    integer PRIMARY KEY,
                name       text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """, logger: logger)
        var done = Set<Int>()
        for try await version in try await connection.query("SELECT version FROM etl.schema_migrations", logger: logger)
            .decode(Int.self)
        {
            done.insert(version)
        }
        var applied: [String] = []
        for migration in migrations where !done.contains(migration.version) {
            logger.info("applying migration", metadata: ["db.migration": "\(migration.name)"])
            do {
                try await connection.query("BEGIN", logger: logger)
                do {
                    for statement in migration.script.statements {
                        try await connection.runToCompletion(statement, logger: logger)
                    }
                    try await connection.query(
                        "INSERT INTO etl.schema_migrations (version, name) VALUES (\(migration.version), \(migration.name))",
                        logger: logger)
                    try await connection.commit(logger: logger)
                } catch {
                    _ = try? await connection.query("ROLLBACK", logger: logger)
                    throw error
                }
            } catch {
                throw LoadError(.migration, "migration \(migration.name) failed; nothing of it was applied", cause: error)
            }
            applied.append(migration.name)
        }
        return applied
    }
}
