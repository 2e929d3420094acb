import Foundation
#if canImport(Glibc)
import Glibc
#endif
@testable import PostgresLoad
import PostgresNIO
import RosterSync
import Testing

/// The built `rostersync` program in a process of its own, for what only a real process shows:
/// signals and a kill.
@Suite("The program as a process", .serialized, .timeLimit(.minutes(10)))
struct ProcessTests {
    /// Built beside the test bundle by `swift build --build-tests` and `swift test` (on macOS the
    /// runner is the toolchain's, so the package's own build folder is looked in too).
    static var binary: URL {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
            TestDatabase.packageRoot.appendingPathComponent(".build/debug"),
        ].map { $0.appendingPathComponent("rostersync") }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates[0]
    }

    static func start(_ arguments: [String], database: DatabaseTarget) throws -> Process {
        try #require(FileManager.default.isExecutableFile(atPath: binary.path), "no program at \(binary.path)")
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments + [
            "--database-url", CLITests.url(database), "--sql-dir", TestDatabase.sql.url.path, "--log-format", "json",
        ]
        process.currentDirectoryURL = FileManager.default.temporaryDirectory
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    static func startSync(_ folder: URL, database: DatabaseTarget) throws -> Process {
        try start(["sync", "--district", "d1", "--csv", folder.path, "--as-of", "2026-11-23", "--no-landing"], database: database)
    }

    /// Other suites' databases share the cluster, and their locks its `pg_locks`.
    static let thisDatabase = "database = (SELECT oid FROM pg_database WHERE datname = current_database())"

    static func waitForExit(_ process: Process, limit: Duration = .seconds(20)) async throws {
        let started = ContinuousClock.now
        while process.isRunning {
            try #require(ContinuousClock.now - started < limit, "still running after \(limit)")
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    @Test("A second SIGINT, two seconds after the first, ends the program at once, even while it waits on something deaf to cancellation (another program's migration)")
    func secondSignalExits() async throws {
        let folder = try DistrictFixture.small().writeTemporary("signals")
        defer { try? FileManager.default.removeItem(at: folder) }
        try await TestDatabase.withFresh { database in
            try await database.withConnection(logger: TestDatabase.logger) { holder in
                try await holder.query(
                    PostgresQuery(unsafeSQL: "SELECT pg_advisory_lock(\(Migrator.lockKey))"), logger: TestDatabase.logger)
                let process = try Self.startSync(folder, database: database)
                defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
                try await database.waitUntil(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND \(Self.thisDatabase)")
                kill(process.processIdentifier, SIGINT)
                // A repeat at once is the same request (`timeout` signals the process, then its group).
                kill(process.processIdentifier, SIGINT)
                try await Task.sleep(for: .milliseconds(500))
                #expect(process.isRunning, "the first SIGINT waits for the work to stop")
                try await Task.sleep(for: .milliseconds(2_000))
                #expect(process.isRunning)
                kill(process.processIdentifier, SIGINT)
                try await Self.waitForExit(process)
                #expect(process.terminationReason == .exit && process.terminationStatus == 128 + SIGINT)
                try await holder.query("SELECT pg_advisory_unlock_all()", logger: TestDatabase.logger)
            }
            #expect(try await database.int("SELECT count(*) FROM etl.runs") == 0, "stopped before its run began")
        }
    }

    @Test("A run whose program is killed (SIGKILL) mid-stage stays `running` only until the district's next sync, which marks it failed and applies")
    func killedRunMarkedFailed() async throws {
        let folder = try DistrictFixture.small().writeTemporary("killed")
        defer { try? FileManager.default.removeItem(at: folder) }
        try await TestDatabase.withFresh { database in
            try await database.slowInserts(on: "staging.students")
            let process = try Self.startSync(folder, database: database)
            defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
            try await database.waitUntil(
                "SELECT count(*) FROM etl.task_runs WHERE task = 'stage-students' AND status = 'running'")
            kill(process.processIdentifier, SIGKILL)
            try await Self.waitForExit(process)
            #expect(try await database.strings("SELECT status FROM etl.runs") == ["running"])
            try await database.execute("DROP TRIGGER slow ON staging.students")
            // The server notices the dead connection (and frees the lock) a moment later.
            try await database.waitUntil(
                "SELECT (count(*) = 0)::int FROM pg_locks WHERE locktype = 'advisory' AND \(Self.thisDatabase)",
                limit: .seconds(30))
            let report = try await SyncHarness(database: database).sync(.small())
            #expect(report.status == .succeeded, "\(report.message)")
            #expect(try await database.strings("SELECT status FROM etl.runs ORDER BY id") == ["failed", "succeeded"])
            #expect(try await database.string("SELECT message FROM etl.runs ORDER BY id LIMIT 1") == RunLedger.abandonedMessage)
            #expect(
                try await database.strings("SELECT task FROM etl.task_runs WHERE run_id = 1 AND status = 'running'").isEmpty)
        }
    }
}
