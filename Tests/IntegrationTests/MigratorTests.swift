import Foundation
@testable import PostgresLoad
import PostgresNIO
import Testing

/// `rostersync migrate` and every command that starts by migrating: each migration applied once,
/// whole or not at all, whoever else is migrating the same database.
@Suite("Migrations", .timeLimit(.minutes(3)))
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

    /// Advisory locks of this database that sessions wait for.
    static func waiters(_ database: DatabaseTarget) async throws -> Int {
        try await database.int(
            """
            SELECT count(*) FROM pg_locks
            WHERE locktype = 'advisory' AND NOT granted
              AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
            """)
    }

    @Test("0018 keys the terms already made from sections.csv as the transform now does, merging those that become one")
    func termKeysNormalised() async throws {
        try await TestDatabase.withFresh(migrate: false) { database in
            // The schema as it was before 0018.
            let before = try Self.sqlDirectory(adding: [:])
            defer { try? FileManager.default.removeItem(at: before.url) }
            try FileManager.default.removeItem(
                at: before.url.appendingPathComponent("migrations/0018_term_keys_normalised.sql"))
            _ = try await Self.migrate(database, before)
            try await database.execute(
                """
                INSERT INTO roster.districts (id) VALUES ('d1'), ('d2');
                INSERT INTO roster.terms (id, district_id, sis_id, clever_id, name, start_date, end_date) VALUES
                    (1, 'd1', 'Fall 2026|8/24/2026|1/15/2027', NULL, 'Fall 2026', '2026-08-24', '2027-01-15'),
                    (2, 'd1', 'Fall 2026|2026-08-24|2027-01-15', NULL, 'Fall 2026', '2026-08-24', '2027-01-15'),
                    (3, 'd1', ' Spring  2027 |01/19/2027|', NULL, 'Spring 2027', '2027-01-19', NULL),
                    (4, 'd1', '5f1a0c', '5f1a0c', 'Year', '2026-08-24', '2027-06-10'),
                    (5, 'd2', 'Fall 2026|8/24/2026|1/15/2027', NULL, 'Fall 2026', '2026-08-24', '2027-01-15'),
                    -- 6's name was changed by hand: its new key is 7's old one's normalised twin,
                    -- and 7's new key is 6's old one.
                    (6, 'd1', 'Winter|2026-12-01|', NULL, 'Winter Break', '2026-12-01', NULL),
                    (7, 'd1', 'Winter|12/01/2026|', NULL, 'Winter', '2026-12-01', NULL),
                    -- An API term keyed name|start|end by a development build: its Clever id.
                    (8, 'd1', 'Q3|2027-01-04|2027-03-19', 'c8', 'Q3', '2027-01-04', '2027-03-19'),
                    -- ... while a later API sync made that term again under its Clever id: one term.
                    (9, 'd1', 'c8', 'c8', 'Q3', '2027-01-04', '2027-03-19');
                INSERT INTO roster.sections (district_id, sis_id, term_id) VALUES
                    ('d1', 'A', 1), ('d1', 'B', 2), ('d1', 'C', 3), ('d1', 'D', 4), ('d2', 'E', 5), ('d1', 'G', 9);
                -- A run stopped at the threshold before the upgrade, awaiting approve.
                INSERT INTO staging.terms (run_id, seq, sis_id, name, start_date, end_date) VALUES
                    (99, 1, 'Fall 2026|8/24/2026|1/15/2027', 'Fall 2026', '2026-08-24', '2027-01-15');
                INSERT INTO staging.sections (run_id, seq, sis_id, term_sis_id) VALUES
                    (99, 1, 'A', 'Fall 2026|8/24/2026|1/15/2027'), (99, 2, 'F', 'Other|x|y');
                """)
            _ = try await Self.migrate(database, TestDatabase.sql)
            #expect(try await database.strings("SELECT id || ' ' || district_id || ' ' || sis_id FROM roster.terms ORDER BY id") == [
                "1 d1 Fall 2026|2026-08-24|2027-01-15", "3 d1 Spring 2027|2027-01-19|", "4 d1 5f1a0c",
                "5 d2 Fall 2026|2026-08-24|2027-01-15", "6 d1 Winter Break|2026-12-01|", "7 d1 Winter|2026-12-01|",
                "8 d1 c8",
            ])
            #expect(try await database.strings("SELECT sis_id FROM staging.terms WHERE run_id = 99") == ["Fall 2026|2026-08-24|2027-01-15"])
            #expect(try await database.strings("SELECT sis_id || ' ' || term_sis_id FROM staging.sections WHERE run_id = 99 ORDER BY seq") == [
                "A Fall 2026|2026-08-24|2027-01-15", "F Other|x|y",
            ])
            #expect(try await database.strings("SELECT sis_id || ' ' || term_id FROM roster.sections ORDER BY sis_id") == [
                "A 1", "B 1", "C 3", "D 4", "E 5", "G 8",
            ])
        }
    }

    @Test("Two migrators at once apply each migration once; a third start applies nothing")
    func appliedOnce() async throws {
        let expected = try TestDatabase.sql.migrations().map(\.name)
        try await TestDatabase.withFresh(migrate: false) { database in
            try await database.withConnection(logger: TestDatabase.logger) { holder in
                let logger = TestDatabase.logger
                // Both start while a third session holds the migration lock, so they really overlap.
                _ = try await holder.query("SELECT pg_advisory_lock(\(Migrator.lockKey))", logger: logger).collect()
                async let first = Self.migrate(database, TestDatabase.sql)
                async let second = Self.migrate(database, TestDatabase.sql)
                var waited = 0
                do {
                    while try await Self.waiters(database) < 2 && waited < 200 {
                        waited += 1
                        try await Task.sleep(for: .milliseconds(50))
                    }
                } catch {
                    _ = try? await holder.query("SELECT pg_advisory_unlock_all()", logger: logger).collect()
                    throw error
                }
                _ = try await holder.query("SELECT pg_advisory_unlock(\(Migrator.lockKey))", logger: logger).collect()
                let (a, b) = try await (first, second)
                #expect(waited < 200, "the two migrators never both waited for the lock")
                // One applied everything; the other then found nothing to do.
                #expect(Set([a, b]) == Set([expected, []]))
            }
            #expect(try await Self.migrate(database, TestDatabase.sql).isEmpty)
            #expect(
                try await database.strings("SELECT name FROM etl.schema_migrations ORDER BY version") == expected)
        }
    }

    @Test("A COMMIT the server answers with ROLLBACK (the transaction had failed) is an error")
    func rolledBackCommitIsAnError() async throws {
        try await TestDatabase.withFresh(migrate: false) { database in
            try await database.withConnection(logger: TestDatabase.logger) { connection in
                let logger = TestDatabase.logger
                try await connection.query("BEGIN", logger: logger)
                try await connection.query("CREATE TABLE public.lost (id int)", logger: logger)
                _ = try? await connection.query("SELECT 1 / 0", logger: logger).collect()
                let error = try await #require(throws: LoadError.self) { try await connection.commit(logger: logger) }
                #expect(error.description == "the transaction was rolled back, not committed (the server answered ROLLBACK)")
            }
            #expect(try await database.int("SELECT count(*) FROM pg_tables WHERE tablename = 'lost'") == 0)
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
            let error = try await database.withConnection(logger: TestDatabase.logger) { connection in
                let error = try await #require(throws: LoadError.self) {
                    try await Migrator(directory: broken).migrate(on: connection, logger: TestDatabase.logger)
                }
                // The migration lock is released on the session that failed, not only when it closes.
                let held = try await connection.query(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()",
                    logger: TestDatabase.logger
                ).collect().first?.decode(Int.self)
                #expect(held == 0)
                return error
            }
            #expect(error.code == .migration)
            #expect(error.description.contains("migration 0999_broken failed; nothing of it was applied"))
            #expect(error.description.hasSuffix("(cause: division by zero (SQLSTATE 22012))"), "\(error.description)")
            #expect(try await database.int("SELECT count(*) FROM pg_tables WHERE tablename IN ('half_done', 'never')") == 0)
            #expect(try await database.int("SELECT count(*) FROM etl.schema_migrations WHERE version = 999") == 0)
            #expect(try await Self.migrate(database, TestDatabase.sql).isEmpty)
        }
    }
}
