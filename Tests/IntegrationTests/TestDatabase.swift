import Foundation
import Logging
import PostgresLoad
import PostgresNIO
import Testing

/// A fresh database per test on a real PostgreSQL server: the server at `DATABASE_URL` when set,
/// otherwise the embedded cluster in the package's `.rostersync/` (started on first use). A test
/// never skips for want of a database: no server means a failing test.
enum TestDatabase {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let sql = SQLDirectory(url: packageRoot.appendingPathComponent("sql"))
    static let nightly = packageRoot.appendingPathComponent("pipelines/nightly.yml")

    static var logger: Logger {
        var logger = Logger(label: "rostersync.tests")
        logger.logLevel = ProcessInfo.processInfo.environment["TEST_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) } ?? .critical
        return logger
    }

    /// The server's admin target (database `postgres`).
    static func server() async throws -> DatabaseTarget {
        if let url = ProcessInfo.processInfo.environment["DATABASE_URL"], !url.isEmpty {
            return try DatabaseTarget(url: url).withDatabase("postgres")
        }
        let embedded = EmbeddedPostgres(root: packageRoot.appendingPathComponent(".rostersync"))
        return try await embedded.start(logger: logger).withDatabase("postgres")
    }

    /// Creates a database, applies every migration, runs `body`, drops the database.
    static func withFresh<T: Sendable>(
        migrate: Bool = true, _ body: (DatabaseTarget) async throws -> T
    ) async throws -> T {
        let admin = try await server()
        let name = "rs_test_\(UInt32.random(in: 0...UInt32.max))_\(UInt32.random(in: 0...UInt32.max))"
        try await admin.withConnection(logger: logger) { connection in
            try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger)
        }
        let target = admin.withDatabase(name)
        do {
            if migrate {
                try await target.withConnection(logger: logger) { connection in
                    try await Migrator(directory: sql).migrate(on: connection, logger: logger)
                }
            }
            let result = try await body(target)
            try await drop(name, admin: admin)
            return result
        } catch {
            try? await drop(name, admin: admin)
            throw error
        }
    }

    private static func drop(_ name: String, admin: DatabaseTarget) async throws {
        try await admin.withConnection(logger: logger) { connection in
            try await connection.query(
                PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"), logger: logger)
        }
    }
}

extension DatabaseTarget {
    /// Polls until `count` (a `SELECT count(*)`) is above zero: a run in another task has reached
    /// the point a test waits for. Fails the test after `limit`.
    func waitUntil(_ count: String, limit: Duration = .seconds(60)) async throws {
        let started = ContinuousClock.now
        while try await int(count) == 0 {
            try #require(ContinuousClock.now - started < limit, "waited \(limit) for: \(count)")
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Makes every `event` (INSERT, UPDATE) on `table` fail with "injected failure", until the
    /// trigger `boom` is dropped: a merge step that breaks half-way.
    func injectFailure(_ event: String, on table: String) async throws {
        try await execute(
            """
            CREATE OR REPLACE FUNCTION public.boom() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'injected failure'; END $$;
            CREATE TRIGGER boom BEFORE \(event) ON \(table) FOR EACH ROW EXECUTE FUNCTION public.boom();
            """)
    }

    /// Holds up every INSERT statement on `table` for 3 s, until the trigger `slow` is dropped: a
    /// stage that is still running while a test changes the files under it.
    func slowInserts(on table: String) async throws {
        try await execute(
            """
            CREATE OR REPLACE FUNCTION public.slow() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN PERFORM pg_sleep(3); RETURN NULL; END $$;
            CREATE TRIGGER slow BEFORE INSERT ON \(table) FOR EACH STATEMENT EXECUTE FUNCTION public.slow();
            """)
    }

    /// Runs a query and returns the first column of every row as text (NULL as "NULL").
    func strings(_ sql: String) async throws -> [String] {
        try await withConnection(logger: TestDatabase.logger) { connection in
            let rows = try await connection.query(PostgresQuery(unsafeSQL: sql), logger: TestDatabase.logger)
            var values: [String] = []
            for try await row in rows {
                let cell = row.makeRandomAccess()[0]
                if cell.bytes == nil {
                    values.append("NULL")
                } else if let number = try? cell.decode(Int64.self) {
                    values.append(String(number))
                } else if let number = try? cell.decode(Int32.self) {
                    values.append(String(number))
                } else if let flag = try? cell.decode(Bool.self) {
                    values.append(String(flag))
                } else if let text = try? cell.decode(String.self) {
                    values.append(text)
                } else {
                    values.append(String(describing: cell))
                }
            }
            return values
        }
    }

    func string(_ sql: String) async throws -> String? { try await strings(sql).first }

    func int(_ sql: String) async throws -> Int {
        Int(try await string(sql) ?? "") ?? -1
    }

    /// Runs statements (separated like sql/ files) for setup.
    func execute(_ sql: String) async throws {
        try await withConnection(logger: TestDatabase.logger) { connection in
            for statement in SQLScript(name: "test", text: sql).statements {
                // Read to the end: an error raised while a SELECT runs comes among its rows.
                let rows = try await connection.query(PostgresQuery(unsafeSQL: statement), logger: TestDatabase.logger)
                for try await _ in rows {}
            }
        }
    }
}
