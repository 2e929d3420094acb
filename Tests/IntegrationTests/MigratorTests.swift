import Foundation
import PostgresLoad
import PostgresNIO
import Testing

/// `rostersync migrate` and every command that starts by migrating: each migration applied once,
/// whole or not at all, whoever else is migrating the same database.
@Suite("Migrations")
struct MigratorTests {
    /// A copy of sql/ whose migrations are the real ones plus `extra` (file name to text).
    static func sqlDirectory(adding extra: [String: String]) throws -> SQLDirectory {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("rs-sql-\(UUID().uuidString)")
        let migrations = root.appendingPathComponent("migrations")
        try FileManager.default.createDirectory(at: migrations, withIntermediateDirectories: true)
        let real = TestDatabase.sql.url.appendingPathComponent("migrations")
        for name in try FileManager.default.contentsOfDirectory(atPath: real.path) {
            try FileManager.default.copyItem(
                at: real.appendingPathComponent(name), to: migrations.appendingPathComponent(name))
        }
        for (name, text) in extra {
            try text.write(to: migrations.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        return SQLDirectory(url: root)
    }

    static func migrate(_ database: DatabaseTarget, _ directory: SQLDirectory) async throws -> [String] {
        try await database.withConnection(logger: TestDatabase.logger) { connection in
            try await Migrator(directory: directory).migrate(on: connection, logger: TestDatabase.logger)
        }
    }

    @Test("Every migration is applied once: a second start applies nothing, two at once apply each once")
    func appliedOnce() async throws {
        let expected = try TestDatabase.sql.migrations().map(\.name)
        try await TestDatabase.withFresh(migrate: false) { database in
            async let first = Self.migrate(database, TestDatabase.sql)
            async let second = Self.migrate(database, TestDatabase.sql)
            let (a, b) = try await (first, second)
            // The advisory lock lets one apply everything; the other then finds nothing to do.
            #expect(Set([a, b]) == Set([expected, []]))
            #expect(try await Self.migrate(database, TestDatabase.sql).isEmpty)
            #expect(
                try await database.strings("SELECT name FROM etl.schema_migrations ORDER BY version") == expected)
        }
    }

    @Test("A migration that fails applies nothing of itself, is not recorded, and says why in the server's words")
    func failedMigrationAppliesNothing() async throws {
        // The error comes from a SELECT, after its row description: it must still be the one reported.
        let broken = try Self.sqlDirectory(adding: [
            "0999_broken.sql": """
            CREATE TABLE public.half_done (id int);
            SELECT 1 / (SELECT count(*) FROM public.half_done)::int;
            CREATE TABLE public.never (id int);
            """
        ])
        defer { try? FileManager.default.removeItem(at: broken.url) }
        try await TestDatabase.withFresh { database in
            let error = try await #require(throws: LoadError.self) { try await Self.migrate(database, broken) }
            #expect(error.code == .migration)
            #expect(error.description.contains("migration 0999_broken failed; nothing of it was applied"))
            #expect(error.description.hasSuffix("(cause: division by zero (SQLSTATE 22012))"), "\(error.description)")
            #expect(try await database.int("SELECT count(*) FROM pg_tables WHERE tablename IN ('half_done', 'never')") == 0)
            #expect(try await database.int("SELECT count(*) FROM etl.schema_migrations WHERE version = 999") == 0)
            // The lock is released: the real migrations can still be applied (there are none left).
            #expect(try await Self.migrate(database, TestDatabase.sql).isEmpty)
        }
    }
}
