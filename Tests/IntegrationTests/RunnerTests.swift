import CleverExtract
import FakeClever
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import Pipeline
@testable import PostgresLoad
import RosterSync
import Testing
@testable import rostersync

/// The pipeline around the merge: the landing archive and backfills, resume after a failure.
@Suite("Runs: backfill and resume", .serialized, .timeLimit(.minutes(10)))
struct RunnerTests {
    @Test("Nights archived from the API replay into a fresh database; a second backfill changes nothing")
    func backfillReplaysAndIsIdempotent() async throws {
        let landing = FileManager.default.temporaryDirectory.appendingPathComponent("landing-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: landing) }
        let district = SyntheticDistrict(students: 300, seed: 3)
        let server = FakeCleverServer(district: district, configuration: .init(token: "t", districtID: "d1"), logger: TestDatabase.logger)
        // Two nights from the API, archived as they stream.
        let live = try await TestDatabase.withFresh { database in
            try await server.withRunning { url in
                var configuration = SyncHarness(database: database).configuration(
                    .clever(baseURL: url.absoluteString, token: "t"), asOf: "2026-11-20")
                configuration.landingRoot = landing
                let first = try await SyncService(logger: TestDatabase.logger).sync(configuration)
                #expect(first.status == .succeeded)
                await server.serve(district.nextNight(changed: 0.02, removed: 0.01, added: 0.01))
                configuration.asOf = "2026-11-21"
                let second = try await SyncService(logger: TestDatabase.logger).sync(configuration)
                #expect(second.status == .succeeded)
            }
            return try await database.strings("SELECT sis_id || ':' || status || ':' || coalesce(email, '') FROM roster.students ORDER BY sis_id")
        }
        #expect(try LandingArchive(root: landing).nights(district: "d1", from: "2026-11-01", to: "2026-11-30") == ["2026-11-20", "2026-11-21"])

        try await TestDatabase.withFresh { database in
            let template = SyncHarness(database: database).configuration(.csv(landing))
            let service = SyncService(logger: TestDatabase.logger)
            let first = try await service.backfill(template, landingRoot: landing, from: "2026-11-01", to: "2026-11-30")
            #expect(first.map(\.status) == [.succeeded, .succeeded])
            #expect(try await database.strings("SELECT as_of::text || ' ' || mode FROM etl.runs ORDER BY id") == ["2026-11-20 backfill", "2026-11-21 backfill"])
            let replayed = try await database.strings("SELECT sis_id || ':' || status || ':' || coalesce(email, '') FROM roster.students ORDER BY sis_id")
            #expect(replayed == live)
            let changes = try await database.int("SELECT count(*) FROM roster.change_log")
            let again = try await service.backfill(template, landingRoot: landing, from: "2026-11-01", to: "2026-11-30")
            #expect(again.map(\.status) == [.skipped, .skipped])
            #expect(try await database.int("SELECT count(*) FROM roster.change_log") == changes)
            #expect(try await database.strings("SELECT sis_id || ':' || status || ':' || coalesce(email, '') FROM roster.students ORDER BY sis_id") == live)

            // A night older than one applied is not replayed over it (here: the first night's run
            // is forgotten, the second's stands).
            try await database.execute("UPDATE etl.runs SET status = 'failed' WHERE as_of = '2026-11-20';")
            let error = await #expect(throws: ConfigurationError.self) {
                _ = try await service.backfill(template, landingRoot: landing, from: "2026-11-01", to: "2026-11-30")
            }
            #expect(error?.description.contains("night 2026-11-20 is older than 2026-11-21") == true, "\(String(describing: error))")
            #expect(try await database.int("SELECT count(*) FROM roster.change_log") == changes)
        }
    }

    @Test("A task that fails with a retriable error is retried by the runner and the run succeeds")
    func taskRetried() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let folder = try DistrictFixture.small().writeTemporary("retry")
            defer { try? FileManager.default.removeItem(at: folder) }
            // The client gives up at once; the first two requests (check-source) get 503s.
            let server = try FakeCleverServer(
                csvDirectory: folder, configuration: .init(token: "t", faults: Faults(serverErrors: 2), districtID: "d1"),
                logger: TestDatabase.logger)
            let report = try await server.withRunning { url in
                var configuration = harness.configuration(.clever(baseURL: url.absoluteString, token: "t"))
                configuration.apiMaxAttempts = 1
                return try await SyncService(logger: TestDatabase.logger).sync(configuration)
            }
            #expect(report.status == .succeeded)
            let runID = try #require(report.runID)
            #expect(try await database.strings("SELECT attempt || ':' || status FROM etl.task_runs WHERE run_id = \(runID) AND task = 'check-source' ORDER BY attempt") == ["1:failed", "2:failed", "3:succeeded"])
            #expect(try await harness.count("roster.students") == 20)
        }
    }

    @Test("A resumed API run checks the token's district again: a resume with another district's token stops with exit 2; one whose other feeds were read before is refused")
    func resumeChecksTokenDistrict() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let folder = try DistrictFixture.small().writeTemporary("resume-token")
            defer { try? FileManager.default.removeItem(at: folder) }
            try await database.injectFailure("INSERT", on: "staging.enrollments")
            let first = try FakeCleverServer(
                csvDirectory: folder, configuration: .init(token: "t", districtID: "d1"), logger: TestDatabase.logger)
            let (url, failed) = try await first.withRunning { url in
                (url, try await SyncService(logger: TestDatabase.logger).sync(
                    harness.configuration(.clever(baseURL: url.absoluteString, token: "t"))))
            }
            #expect(failed.status == .failed)
            try await database.execute("DROP TRIGGER boom ON staging.enrollments;")
            let runID = try #require(failed.runID)
            // The same address now answers for district d2 (the run records its URL, not its token).
            let other = try FakeCleverServer(
                csvDirectory: folder, configuration: .init(port: try #require(url.port), token: "t", districtID: "d2"),
                logger: TestDatabase.logger)
            let error = try await other.withRunning { _ in
                try #require(await #expect(throws: (any Error).self) {
                    _ = try await SyncService(logger: TestDatabase.logger).resume(
                        runID: runID, database: database, sql: TestDatabase.sql, cleverToken: "t")
                })
            }
            #expect(SyncReport.exitCode(for: error) == 2)
            #expect(String(describing: error).contains("this Clever token is for district d2"), "\(error)")
            #expect(try await database.string("SELECT status FROM etl.runs WHERE id = \(runID)") == "failed")
            #expect(try await harness.count("roster.students") == 0)

            // With the right token, the resume is still refused: its other feeds were read before.
            let again = try FakeCleverServer(
                csvDirectory: folder, configuration: .init(port: try #require(url.port), token: "t", districtID: "d1"),
                logger: TestDatabase.logger)
            let refused = try await again.withRunning { _ in
                try #require(await #expect(throws: ConfigurationError.self) {
                    _ = try await SyncService(logger: TestDatabase.logger).resume(
                        runID: runID, database: database, sql: TestDatabase.sql, cleverToken: "t")
                })
            }
            #expect(String(describing: refused).contains(
                "from Clever's API; resuming would run stage-enrollments against Clever's data as it is now, beside what "
                    + "the run read then: two extracts in one run. Sync again instead."), "\(refused)")
            #expect(try await database.string("SELECT status FROM etl.runs WHERE id = \(runID)") == "failed")
        }
    }

    @Test("An API nobody answers on fails the run at once, saying Clever could not be reached and where")
    func unreachableAPI() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            // A loopback port that was free a moment ago: the connection is refused.
            let server = try FakeCleverServer(
                csvDirectory: TestDatabase.packageRoot.appendingPathComponent("demo/district"),
                configuration: .init(token: "t", districtID: "d1"), logger: TestDatabase.logger)
            let url = try await server.withRunning { url in url }
            var configuration = harness.configuration(.clever(baseURL: url.absoluteString, token: "t"))
            configuration.apiMaxAttempts = 2
            let started = ContinuousClock.now
            let report = try await SyncService(logger: TestDatabase.logger).sync(configuration)
            #expect(report.status == .failed)
            #expect(report.message.contains("could not reach Clever after 2 attempts"), "\(report.message)")
            #expect(report.message.contains("task check-source"), "\(report.message)")
            // Not the 60 s request deadline per attempt (times three tries of check-source).
            #expect(ContinuousClock.now - started < .seconds(60))
            #expect(try await harness.count("roster.students") == 0)
        }
    }

    @Test("A task past its timeout fails the run with that reason, not as a bare cancellation")
    func taskTimeout() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("timeout-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: folder) }
            let pipeline = folder.appendingPathComponent("nightly.yml")
            try String(contentsOf: TestDatabase.nightly, encoding: .utf8)
                .replacingOccurrences(of: "timeout: 10m", with: "timeout: 1s")
                .write(to: pipeline, atomically: true, encoding: .utf8)
            // Every answer takes 3 s: check-source (1 s allowed) cannot finish.
            let server = try FakeCleverServer(
                csvDirectory: TestDatabase.packageRoot.appendingPathComponent("demo/district"),
                configuration: .init(token: "t", faults: Faults(delayMilliseconds: 3_000), districtID: "d1"), logger: TestDatabase.logger)
            let report = try await server.withRunning { url in
                var configuration = harness.configuration(.clever(baseURL: url.absoluteString, token: "t"))
                configuration.pipelineFile = pipeline
                return try await SyncService(logger: TestDatabase.logger).sync(configuration)
            }
            #expect(report.status == .failed)
            #expect(report.message.contains("task 'check-source' ran longer than its timeout of 1.0 seconds"), "\(report.message)")
            #expect(!report.message.contains("CancellationError"), "\(report.message)")
            let runID = try #require(report.runID)
            #expect(try await database.string("SELECT error FROM etl.task_runs WHERE run_id = \(runID) AND task = 'check-source'")?.contains("timeout") == true)
        }
    }

    /// Makes the merge's student insert sleep for five minutes, on the server.
    static func stallStudentInsert(_ database: DatabaseTarget) async throws {
        try await database.execute(
            """
            CREATE FUNCTION public.stall() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN PERFORM pg_sleep(300); RETURN NULL; END $$;
            CREATE TRIGGER stall BEFORE INSERT ON roster.students FOR EACH STATEMENT EXECUTE FUNCTION public.stall();
            """)
    }

    /// Counts the server processes of this database asleep in `pg_sleep`.
    static let sleepersCount =
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'PgSleep'"

    static func sleepers(_ database: DatabaseTarget) async throws -> Int { try await database.int(sleepersCount) }

    @Test("A merge statement past its task's timeout is cancelled on the server, not waited for")
    func timeoutCancelsStatement() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            try await Self.stallStudentInsert(database)
            let nightly = try String(contentsOf: TestDatabase.nightly, encoding: .utf8)
            let mergeTask = "    retries: 2\n    timeout: 2h\n  prune:"
            #expect(nightly.contains(mergeTask), "the test's edit applies to nightly.yml")
            let pipeline = FileManager.default.temporaryDirectory.appendingPathComponent("stall-\(UUID().uuidString).yml")
            try nightly.replacingOccurrences(of: mergeTask, with: "    retries: 2\n    timeout: 2s\n  prune:")
                .write(to: pipeline, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(at: pipeline) }

            let started = ContinuousClock.now
            let report = try await harness.sync(.small()) { $0.pipelineFile = pipeline }
            // 2 s, against 300 s if the sleep ran to its end. (A timeout is not retried.)
            #expect(ContinuousClock.now - started < .seconds(120))
            #expect(report.status == .failed)
            #expect(report.message.contains("task 'merge' ran longer than its timeout of 2.0 seconds"), "\(report.message)")
            let runID = try #require(report.runID)
            let errors = try await database.strings(
                "SELECT coalesce(error, '') FROM etl.task_runs WHERE run_id = \(runID) AND task = 'merge' ORDER BY attempt")
            #expect(errors == ["task 'merge' ran longer than its timeout of 2.0 seconds"])
            #expect(try await Self.sleepers(database) == 0)
            #expect(try await harness.count("roster.students") == 0)
            #expect(try await database.string("SELECT status FROM etl.runs WHERE id = \(runID)") == "failed")
        }
    }

    @Test("Cancelling a run (SIGTERM) cancels the statement it is running; the run is recorded cancelled, the roster unchanged")
    func cancelStopsStatement() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            try await Self.stallStudentInsert(database)
            let started = ContinuousClock.now
            let run = Task { try await harness.sync(.small()) }
            // Cancelled once the merge is asleep inside its insert.
            try await database.waitUntil(Self.sleepersCount)
            run.cancel()
            let report = try await run.value
            // Not the 300 s of the sleep: the run waits for its merge task, which waits for its statement.
            #expect(ContinuousClock.now - started < .seconds(120))
            #expect(report.status == .failed)
            #expect(report.message.contains("was cancelled; the roster is unchanged"), "\(report.message)")
            let runID = try #require(report.runID)
            #expect(try await database.string("SELECT status FROM etl.runs WHERE id = \(runID)") == "cancelled")
            #expect(try await database.string("SELECT status FROM etl.task_runs WHERE run_id = \(runID) AND task = 'merge'") == "cancelled")
            #expect(try await Self.sleepers(database) == 0)
            #expect(try await harness.count("roster.students") == 0)
        }
    }

    @Test("A merge whose COMMIT's answer is lost, though the server committed it, is reported applied, not 'roster unchanged'")
    func commitAnswerLost() async throws {
        try await TestDatabase.withFresh { database in
            let proxy = try CommitLossProxy(upstream: database, fault: .afterCommit)
            defer { proxy.stop() }
            let handler = RecordingLogHandler()
            let report = try await SyncHarness(database: proxy.target).sync(.small(), logger: Logger(label: "test") { _ in handler })
            #expect(proxy.firings == 1)
            // Learnt from the server, not from COMMIT's answer.
            #expect(handler.entries.contains { $0.level == .warning && $0.message == "the merge's COMMIT got no answer, but the server committed it" })
            #expect(report.status == .succeeded, "\(report.message)")
            #expect(!report.message.contains("unchanged"), "\(report.message)")
            let runID = try #require(report.runID)
            // Applied once, by the one attempt: the answer was lost, not the commit.
            #expect(try await database.strings("SELECT attempt || ':' || status FROM etl.task_runs WHERE run_id = \(runID) AND task = 'merge' ORDER BY attempt") == ["1:succeeded"])
            #expect(try await database.int("SELECT count(*) FROM roster.students") == 20)
            #expect(try await database.int("SELECT count(*) FROM roster.change_log WHERE run_id = \(runID)") == report.summary.total)
            #expect(report.summary.count(.student, "create") == 20)
            #expect(try await database.string("SELECT status FROM etl.runs WHERE id = \(runID)") == "succeeded")
        }
    }

    @Test("A merge whose COMMIT's fate cannot be learnt fails saying how to check, not that the roster is unchanged")
    func commitOutcomeUnknown() async throws {
        try await TestDatabase.withFresh { database in
            let proxy = try CommitLossProxy(upstream: database, fault: .afterCommitThenGone)
            defer { proxy.stop() }
            let report = try await SyncHarness(database: proxy.target).sync(.small()) { $0.commitCheckDeadline = .seconds(2) }
            #expect(proxy.firings == 1)
            #expect(report.status == .failed)
            #expect(report.exitCode == 1)
            #expect(report.message.contains("could not be asked whether it committed"), "\(report.message)")
            #expect(report.message.contains("WHERE run_id = \(report.runID ?? 0)"), "\(report.message)")
            #expect(!report.message.contains("unchanged"), "\(report.message)")
            // It did commit: the message must not have said otherwise.
            #expect(try await database.int("SELECT count(*) FROM roster.students") == 20)
        }
    }

    @Test("A COMMIT the server refuses (a deferred check failing) is a certain failure: not retried, the roster unchanged")
    func commitRefused() async throws {
        try await TestDatabase.withFresh { database in
            try await database.execute(
                """
                CREATE FUNCTION public.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION 'refused at commit'; END $$;
                CREATE CONSTRAINT TRIGGER refuse AFTER INSERT ON roster.students
                    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.refuse();
                """)
            let report = try await SyncHarness(database: database).sync(.small())
            #expect(report.status == .failed)
            #expect(report.message.contains("refused at commit") && report.message.contains("roster is unchanged"), "\(report.message)")
            let runID = try #require(report.runID)
            #expect(try await database.strings("SELECT attempt || ':' || status FROM etl.task_runs WHERE run_id = \(runID) AND task = 'merge' ORDER BY attempt") == ["1:failed"])
            #expect(try await database.int("SELECT count(*) FROM roster.students") == 0)
        }
    }

    @Test("A merge whose connection is lost before its COMMIT reaches the server is rolled back, retried, and applied once")
    func commitNeverSent() async throws {
        try await TestDatabase.withFresh { database in
            let proxy = try CommitLossProxy(upstream: database, fault: .beforeCommit)
            defer { proxy.stop() }
            let report = try await SyncHarness(database: proxy.target).sync(.small())
            #expect(proxy.firings == 1)
            #expect(report.status == .succeeded, "\(report.message)")
            let runID = try #require(report.runID)
            #expect(try await database.strings("SELECT attempt || ':' || status FROM etl.task_runs WHERE run_id = \(runID) AND task = 'merge' ORDER BY attempt") == ["1:failed", "2:succeeded"])
            #expect(try await database.string("SELECT error FROM etl.task_runs WHERE run_id = \(runID) AND task = 'merge' AND attempt = 1")?
                .contains("the server rolled the merge back") == true)
            #expect(try await database.int("SELECT count(*) FROM roster.students") == 20)
            #expect(try await database.int("SELECT count(*) FROM roster.change_log WHERE run_id = \(runID)") == report.summary.total)
            #expect(report.summary.count(.student, "create") == 20)
        }
    }

    @Test("Staged rows are kept for the last seven runs of a district, older ones pruned")
    func stagingPruned() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            var runs: [Int64] = []
            for _ in 0..<9 { runs.append(try #require(try await harness.sync(.small(), full: true).runID)) }
            let kept = try await database.strings("SELECT DISTINCT run_id FROM staging.students ORDER BY run_id")
            #expect(kept == runs.suffix(7).map(String.init))
            #expect(try await database.int("SELECT count(*) FROM etl.runs") == 9, "the ledger itself is never pruned")
            // Previews since do not take the last applied run's rows: the next night reads them.
            for _ in 0..<8 { _ = try await harness.sync(.small(), preview: true, full: true) }
            let applied = try #require(runs.last)
            #expect(try await database.int("SELECT count(*) FROM staging.students WHERE run_id = \(applied)") == 20)
            #expect(try await database.int("SELECT count(DISTINCT run_id) FROM staging.students") == 8)
        }
    }

    @Test(
        "A pipeline file whose tasks do not make a sync is refused before anything runs, naming the task",
        arguments: [
            ("  merge:\n    kind: merge\n", "  merge:\n    kind: merge\n    needs: [guard]\n  merge-again:\n    kind: merge\n", "a second 'merge' task"),
            ("  stage-terms:\n    kind: stage\n    needs: [check-source]\n    settings: { feed: terms }",
             "  stage-terms:\n    kind: stage\n    needs: [check-source]\n    settings: { feed: students }", "stages feed 'students'"),
            ("    needs: [stage-schools, stage-terms, stage-teachers, stage-students, stage-sections, stage-enrollments]",
             "    needs: [stage-schools, stage-terms, stage-teachers, stage-students, stage-sections]", "does not need 'stage-enrollments'"),
            ("  merge:\n    kind: merge\n    needs: [guard]", "  merge:\n    kind: merge\n    needs: [check-source]", "must come after a 'prepare' task"),
            ("settings: { feed: students }", "settings: { feed: student }", "not 'student'"),
            ("settings: { feed: students }", "settings: { feeds: students }", "unknown setting 'feeds'; a 'stage' task takes feed"),
            ("settings: { keep_runs: 7 }", "settings: { keep_runs: 0 }", "settings.keep_runs must be a whole number of runs, at least 1"),
            ("settings: { keep_runs: 7 }", "settings: { keep_runs: seven }", "not 'seven'"),
            ("  guard:\n    kind: guard\n", "  guard:\n    kind: guard\n    settings: { dry_run: true }\n", "a 'guard' task takes no settings"),
        ])
    func pipelineShape(original: String, replacement: String, message: String) throws {
        let nightly = try String(contentsOf: TestDatabase.nightly, encoding: .utf8)
        #expect(nightly.contains(original), "the test's edit applies to nightly.yml")
        #expect(throws: Never.self) { _ = try SyncService.loadPipeline(TestDatabase.nightly) }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("shape-\(UUID().uuidString).yml")
        try nightly.replacingOccurrences(of: original, with: replacement).write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let error = #expect(throws: PipelineError.self) { _ = try SyncService.loadPipeline(file) }
        #expect(error?.description.contains(message) == true, "\(String(describing: error))")
    }

    @Test("A pipeline that stages no terms is refused: prepare would read the feed as empty")
    func pipelineStagesEveryFeed() throws {
        let nightly = try String(contentsOf: TestDatabase.nightly, encoding: .utf8)
        let stage = "  stage-terms:\n    kind: stage\n    needs: [check-source]\n    settings: { feed: terms }\n    retries: 2\n    timeout: 30m\n"
        #expect(nightly.contains(stage) && nightly.contains("stage-terms, "), "the test's edit applies to nightly.yml")
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("shape-\(UUID().uuidString).yml")
        try nightly.replacingOccurrences(of: stage, with: "").replacingOccurrences(of: "stage-terms, ", with: "")
            .write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let error = #expect(throws: PipelineError.self) { _ = try SyncService.loadPipeline(file) }
        #expect(error?.description.contains("(task 'prepare'): no stage task stages feed 'terms'") == true, "\(String(describing: error))")
    }

    @Test("A task that fails after the merge committed leaves the run succeeded (or blocked), not 'roster unchanged'")
    func failureAfterMerge() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            // Prune, the task after the merge, fails on its first DELETE (told apart from a stage
            // task's own DELETE by its OFFSET: it keeps the last runs).
            try await database.execute(
                """
                CREATE FUNCTION public.no_prune() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF current_query() LIKE '%OFFSET%' THEN RAISE EXCEPTION 'prune refused'; END IF;
                    RETURN NULL;
                END $$;
                CREATE TRIGGER no_prune BEFORE DELETE ON staging.schools FOR EACH STATEMENT EXECUTE FUNCTION public.no_prune();
                """)
            let applied = try await harness.sync(.small())
            let runID = try #require(applied.runID)
            #expect(applied.status == .succeeded, "\(applied.message)")
            #expect(applied.exitCode == 0)
            #expect(applied.message.contains("task prune failed after the merge"), "\(applied.message)")
            #expect(applied.message.contains("prune refused"), "\(applied.message)")
            #expect(!applied.message.contains("roster is unchanged"), "\(applied.message)")
            #expect(try await harness.count("roster.students") == 20)
            #expect(try await database.string("SELECT status FROM etl.runs WHERE id = \(runID)") == "succeeded")
            #expect(try await database.string("SELECT status FROM etl.task_runs WHERE run_id = \(runID) AND task = 'prune'") == "failed")

            // A run stopped at the threshold stays blocked (so it can be approved) when prune fails.
            var truncated = SafetyTests.bigger()
            #expect(try await harness.sync(truncated).status == .succeeded)
            for index in 40...100 { truncated.removeStudent("ST\(index)") }
            let stopped = try await harness.sync(truncated)
            #expect(stopped.status == .blocked, "\(stopped.message)")
            #expect(stopped.exitCode == 3)
            #expect(try await database.string("SELECT status FROM etl.runs WHERE id = \(stopped.runID ?? 0)") == "blocked")
            #expect(try await database.string("SELECT status FROM etl.task_runs WHERE run_id = \(stopped.runID ?? 0) AND task = 'prune'") == "failed")
            #expect(stopped.message.contains("task prune failed after the merge"), "\(stopped.message)")
        }
    }

    @Test("A merge that meets a serialization failure (a row changed under it) runs again and applies")
    func mergeRetriedOnSerializationFailure() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            // What REPEATABLE READ raises when another session changed a row the merge writes;
            // raised here by the first section insert only (a sequence is not rolled back).
            try await database.execute(
                """
                CREATE SEQUENCE public.attempts;
                CREATE FUNCTION public.conflict_once() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF nextval('public.attempts') = 1 THEN
                        RAISE EXCEPTION 'could not serialize access due to concurrent update'
                            USING ERRCODE = 'serialization_failure';
                    END IF;
                    RETURN NEW;
                END $$;
                CREATE TRIGGER conflict_once BEFORE INSERT ON roster.sections FOR EACH ROW EXECUTE FUNCTION public.conflict_once();
                """)
            let report = try await harness.sync(.small())
            #expect(report.status == .succeeded, "\(report.message)")
            let runID = try #require(report.runID)
            #expect(try await database.strings("SELECT attempt || ':' || status FROM etl.task_runs WHERE run_id = \(runID) AND task = 'merge' ORDER BY attempt") == ["1:failed", "2:succeeded"])
            #expect(try await harness.count("roster.sections") == 4)

            // Any other merge failure is not retried: the run fails after one attempt.
            try await database.injectFailure("UPDATE", on: "roster.students")
            var renamed = DistrictFixture.small()
            renamed.students[0].first = "Renamed"
            let failed = try await harness.sync(renamed)
            #expect(failed.status == .failed)
            #expect(try await database.int("SELECT count(*) FROM etl.task_runs WHERE run_id = \(failed.runID ?? 0) AND task = 'merge'") == 1)
        }
    }

    @Test("A merge waiting on a row someone else holds gives up at the lock timeout and is retried, instead of hanging the night")
    func lockTimeout() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            var fixture = DistrictFixture.small()
            _ = try await harness.sync(fixture)
            fixture.students[0].first = "Renamed"
            let before = try await SafetyTests.snapshot(database)
            // An admin's psql session holds the student's row and never commits.
            let report = try await database.withConnection(logger: TestDatabase.logger) { holder in
                try await holder.runToCompletion("BEGIN", logger: TestDatabase.logger)
                try await holder.runToCompletion(
                    "SELECT id FROM roster.students WHERE sis_id = 'ST1' FOR UPDATE", logger: TestDatabase.logger)
                let report = try await harness.sync(fixture) { $0.lockTimeout = .seconds(1) }
                try await holder.runToCompletion("ROLLBACK", logger: TestDatabase.logger)
                return report
            }
            #expect(report.status == .failed, "\(report.message)")
            #expect(report.message.contains("lock timeout") || report.message.contains("55P03"), "\(report.message)")
            #expect(try await database.int("SELECT count(*) FROM etl.task_runs WHERE run_id = \(report.runID ?? 0) AND task = 'merge'") == 3)
            #expect(try await SafetyTests.snapshot(database) == before)
            #expect(try await harness.sync(fixture).summary.count(.student, "update") == 1, "once the row is free")
        }
    }

    @Test("A run that fails outside its pipeline (here the unchanged-night check) is recorded as failed, not left running")
    func failureBeforeThePipelineIsRecorded() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let folder = try DistrictFixture.small().writeTemporary("rostersync")
            defer { try? FileManager.default.removeItem(at: folder) }
            let service = SyncService(logger: TestDatabase.logger)
            #expect(try await service.sync(harness.configuration(.csv(folder))).status == .succeeded)
            // The same files again: the unchanged-night check asks for the roster's digest, which now fails.
            try await database.execute(
                """
                CREATE OR REPLACE FUNCTION etl.roster_digest(district text) RETURNS text LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION 'digest unavailable'; END $$;
                """)
            await #expect(throws: (any Error).self) { _ = try await service.sync(harness.configuration(.csv(folder))) }
            #expect(try await database.strings("SELECT status FROM etl.runs ORDER BY id") == ["succeeded", "failed"])
            #expect(try await database.string("SELECT message FROM etl.runs ORDER BY id DESC LIMIT 1")?.contains("digest unavailable") == true)
        }
    }

    @Test("A run a killed process left `running` is marked failed under the district's lock, with its task, and resumes; another district's is left alone")
    func abandonedRunResumes() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            try await database.injectFailure("INSERT", on: "roster.sections")
            let failed = try await harness.sync(.small())
            let runID = try #require(failed.runID)
            #expect(failed.status == .failed, "\(failed.message)")
            try await database.execute("DROP TRIGGER boom ON roster.sections;")
            // What SIGKILL during the merge leaves: the stages recorded, the merge and the run
            // `running`, the lock gone with the connection. Another district's run is running now.
            let merge = try await database.int("SELECT max(id) FROM etl.task_runs WHERE run_id = \(runID) AND task = 'merge'")
            try await database.execute(
                """
                UPDATE etl.runs SET status = 'running', message = NULL, finished_at = NULL WHERE id = \(runID);
                UPDATE etl.task_runs SET status = 'running', error = NULL, finished_at = NULL WHERE id = \(merge);
                INSERT INTO etl.runs (pipeline, district_id, mode, as_of) VALUES ('nightly', 'elsewhere', 'nightly', '2026-11-20');
                """)
            let recorder = RecordingLogHandler()
            let service = SyncService(logger: Logger(label: "abandoned") { _ in recorder })
            let resumed = try await service.resume(runID: runID, database: database, sql: TestDatabase.sql, cleverToken: nil)
            #expect(resumed.status == .succeeded, "\(resumed.message)")
            #expect(resumed.summary.count(.student, "create") == 20)
            #expect(try await database.string("SELECT status || ': ' || error FROM etl.task_runs WHERE id = \(merge)")
                == "failed: " + RunLedger.abandonedMessage)
            #expect(try await database.string(
                "SELECT status FROM etl.task_runs WHERE run_id = \(runID) AND task = 'merge' ORDER BY id DESC LIMIT 1") == "succeeded")
            #expect(try await database.string("SELECT status FROM etl.runs WHERE district_id = 'elsewhere'") == "running")
            #expect(recorder.entries.contains { $0.level == .warning && $0.metadata["etl.abandoned_runs"] == "\(runID)" })
            // A run really running holds the lock: it is not taken for abandoned.
            try await database.execute("UPDATE etl.runs SET status = 'running' WHERE id = \(runID)")
            try await database.withConnection(logger: TestDatabase.logger) { holder in
                try await holder.query(
                    "SELECT pg_advisory_lock(hashtext('rostersync.district'), hashtext('d1'))", logger: TestDatabase.logger)
                await #expect(throws: RunLockedError.self) {
                    _ = try await service.resume(runID: runID, database: database, sql: TestDatabase.sql, cleverToken: nil)
                }
                try await holder.query("SELECT pg_advisory_unlock_all()", logger: TestDatabase.logger)
            }
            #expect(try await database.string("SELECT status FROM etl.runs WHERE id = \(runID)") == "running")
        }
    }

    @Test("A run whose main connection, and the district's lock with it, is lost while its tasks go on does not commit its merge: another run may hold the district")
    func lostLockNoCommit() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            try await database.slowInserts(on: "staging.students")
            // Its ledger goes with the connection: the sync throws when it records the end. (It
            // waited for good before: postgres-nio drops a query written to a closed connection.)
            let sync = Task { try? await harness.sync(.small()) }
            try await database.waitUntil("SELECT count(*) FROM etl.task_runs WHERE task = 'stage-students' AND status = 'running'")
            try await database.execute(
                """
                SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted
                AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                """)
            _ = await sync.value
            #expect(try await harness.count("roster.students") == 0, "the merge did not commit")
            #expect(try await database.int("SELECT count(*) FROM roster.change_log") == 0)
            // The district is free, and the next sync applies as usual.
            try await database.execute("DROP TRIGGER slow ON staging.students")
            #expect(try await harness.sync(.small()).status == .succeeded)
            #expect(try await harness.count("roster.students") == 20)
        }
    }

    @Test("A stage that fails on the data itself (a data exception) is not retried: the same rows fail the same way")
    func dataErrorsNotRetried() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            try await database.execute(
                """
                CREATE FUNCTION public.bad_data() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION 'bad data' USING ERRCODE = 'invalid_parameter_value'; END $$;
                CREATE TRIGGER bad_data BEFORE INSERT ON staging.students FOR EACH ROW EXECUTE FUNCTION public.bad_data();
                """)
            let report = try await harness.sync(.small())
            #expect(report.status == .failed)
            #expect(report.message.contains("bad data (SQLSTATE 22023)"), "\(report.message)")
            #expect(try await database.int("SELECT count(*) FROM etl.task_runs WHERE run_id = \(report.runID ?? 0) AND task = 'stage-students'") == 1)
        }
    }

    @Test("A failed preview of a first import, resumed, still writes nothing in roster, not even the district's row")
    func resumedPreviewWritesNothing() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            try await database.injectFailure("INSERT", on: "roster.sections")
            let failed = try await harness.sync(.small(), preview: true)
            #expect(failed.status == .failed, "\(failed.message)")
            try await database.execute("DROP TRIGGER boom ON roster.sections;")
            let resumed = try await SyncService(logger: TestDatabase.logger).resume(
                runID: try #require(failed.runID), database: database, sql: TestDatabase.sql, cleverToken: nil)
            #expect(resumed.status == .previewed, "\(resumed.message)")
            #expect(resumed.summary.count(.student, "create") == 20)
            #expect(try await database.int("SELECT count(*) FROM roster.districts") == 0)
            #expect(try await harness.count("roster.students") == 0)
        }
    }

    @Test("A run whose stage failed is not resumed over feed files replaced since: that would mix two extracts")
    func resumeRefusesReplacedFiles() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let folder = try DistrictFixture.small().writeTemporary("resume")
            defer { try? FileManager.default.removeItem(at: folder) }
            let (configuration, runID) = try await Self.failAtEnrollments(
                database, folder: folder, landing: folder.appendingPathComponent("landing"))
            let resume = { try await SyncService(logger: TestDatabase.logger).resume(runID: runID, database: database, sql: TestDatabase.sql, cleverToken: nil) }

            // The next night's export lands in the folder: enrollments.csv, still to be staged, is
            // another file now.
            let enrollments = folder.appendingPathComponent("enrollments.csv")
            let original = try Data(contentsOf: enrollments)
            var info = stat()
            #expect(stat(enrollments.path, &info) == 0)
            let handle = try FileHandle(forWritingTo: enrollments)
            try handle.seekToEnd()
            try handle.write(contentsOf: Data("\n".utf8))
            let error = await #expect(throws: ConfigurationError.self) { _ = try await resume() }
            #expect(error?.description.contains("were replaced or changed since run \(runID) read them (enrollments.csv)") == true, "\(String(describing: error))")
            #expect(error?.description.contains("resuming would stage stage-enrollments") == true, "\(String(describing: error))")
            #expect(try await database.string("SELECT status FROM etl.runs WHERE id = \(runID)") == "failed")
            #expect(try await harness.count("roster.students") == 0)

            // enrollments.csv as the run read it (to the nanosecond): the resume goes ahead. A new
            // students.csv does not matter: the run staged its students already and reuses them.
            try handle.truncate(atOffset: UInt64(original.count))
            try handle.close()
            let times = [info.st_atim, info.st_mtim]
            #expect(utimensat(AT_FDCWD, enrollments.path, times, 0) == 0)
            try DistrictFixture.edit("students.csv", in: folder) { $0 + "\n" }
            let resumed = try await resume()
            #expect(resumed.status == .succeeded, "\(resumed.message)")
            #expect(try await harness.count("roster.students") == 20)
            #expect(try await database.int("SELECT count(*) FROM etl.task_runs WHERE run_id = \(runID) AND task = 'stage-students'") == 1)
            // The feed extracted again is archived beside the others: the night can be replayed.
            #expect(try LandingArchive(root: configuration.landingRoot!).nights(district: "d1", from: "2026-11-23", to: "2026-11-23") == ["2026-11-23"])
        }
    }

    /// Syncs the CSV district in `folder`, archiving into `landing`, with staging enrollments failing
    /// on the server; returns the configuration and the failed run, the failure removed so a resume
    /// can finish.
    static func failAtEnrollments(
        _ database: DatabaseTarget, folder: URL, landing: URL
    ) async throws -> (SyncConfiguration, Int64) {
        try await database.injectFailure("INSERT", on: "staging.enrollments")
        var configuration = SyncHarness(database: database).configuration(.csv(folder))
        configuration.landingRoot = landing
        let failed = try await SyncService(logger: TestDatabase.logger).sync(configuration)
        let runID = try #require(failed.runID)
        #expect(failed.status == .failed)
        #expect(try await database.string("SELECT string_agg(DISTINCT status, ',') FROM etl.task_runs WHERE run_id = \(runID) AND task = 'stage-enrollments'") == "failed")
        try await database.execute("DROP TRIGGER boom ON staging.enrollments;")
        return (configuration, runID)
    }

    @Test("A re-run of a complete night that fails sets its feeds aside; resumed, it finds them there and becomes the night")
    func resumeSetAsideRun() async throws {
        try await TestDatabase.withFresh { database in
            let folder = try DistrictFixture.small().writeTemporary("resume-aside")
            defer { try? FileManager.default.removeItem(at: folder) }
            let landing = folder.appendingPathComponent("landing")
            var configuration = SyncHarness(database: database).configuration(.csv(folder))
            configuration.landingRoot = landing
            let first = try await SyncService(logger: TestDatabase.logger).sync(configuration)
            #expect(first.status == .succeeded)
            // The night is sent again (the same files would be an unchanged night), its enrollments
            // long enough (a membership listed 200,000 times, 2.4 MB) that their COPY fails before
            // the file is read to its end, so that feed is not archived.
            try DistrictFixture.edit("enrollments.csv", in: folder) { $0 + String(repeating: "S1,SEC1,ST1\n", count: 200_000) }
            let (_, runID) = try await Self.failAtEnrollments(database, folder: folder, landing: landing)
            let archive = LandingArchive(root: landing)
            let night = try #require(try archive.archivedNights(district: "d1", from: configuration.asOf, to: configuration.asOf).first)
            #expect(night.isComplete && night.manifest?.feeds.values.allSatisfy { $0.run == first.runID } == true)
            #expect(night.setAside(by: runID).map { $0.feeds.count } == 5)
            // The enrollments read that the failed COPY cut short left no temporary file.
            let nightFolder = archive.folder(district: "d1", date: configuration.asOf)
            #expect(try FileManager.default.contentsOfDirectory(atPath: nightFolder.path).filter { $0.hasPrefix(".") } == [])

            // Its set-aside manifest gone, the resume cannot find the feeds it archived.
            // The run's uid names its pending manifest.
            let uid = try #require(try await database.string("SELECT options ->> 'landing_run_uid' FROM etl.runs WHERE id = \(runID)"))
            #expect(uid.count == 36)
            let pending = nightFolder.appendingPathComponent("manifest.run-\(runID)-\(uid).pending.json")
            try FileManager.default.moveItem(at: pending, to: folder.appendingPathComponent("kept.json"))
            let resume = {
                try await SyncService(logger: TestDatabase.logger).resume(
                    runID: runID, database: database, sql: TestDatabase.sql, cleverToken: nil, keepLanding: true)
            }
            let error = await #expect(throws: ConfigurationError.self) { _ = try await resume() }
            #expect(error?.description.contains("run \(runID) archived schools, terms, teachers, students, sections") == true, "\(String(describing: error))")
            try FileManager.default.moveItem(at: folder.appendingPathComponent("kept.json"), to: pending)

            let resumed = try await resume()
            #expect(resumed.status == .succeeded, "\(resumed.message)")
            let replaced = try archive.archivedNights(district: "d1", from: configuration.asOf, to: configuration.asOf)
            #expect(replaced.map(\.isComplete) == [true] && replaced.first?.pending.isEmpty == true)
            #expect(replaced.first?.manifest?.feeds.values.allSatisfy { $0.run == runID } == true)
            let names = try FileManager.default.contentsOfDirectory(atPath: nightFolder.path).sorted()
            #expect(names == (Feed.allCases.map { "\($0.rawValue).run-\(runID).ndjson.gz" } + ["manifest.json"]).sorted(), "\(names)")
        }
    }

    @Test("A resume whose landing folder no longer holds the feeds it archived (a volume not mounted) refuses; --no-landing resumes")
    func resumeWithLandingRootGone() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let folder = try DistrictFixture.small().writeTemporary("resume-landing")
            defer { try? FileManager.default.removeItem(at: folder) }
            let landing = folder.appendingPathComponent("mnt/landing")
            let (_, runID) = try await Self.failAtEnrollments(database, folder: folder, landing: landing)
            let resume = { (keep: Bool) in
                try await SyncService(logger: TestDatabase.logger).resume(
                    runID: runID, database: database, sql: TestDatabase.sql, cleverToken: nil, keepLanding: keep)
            }

            // The volume is not mounted: the root is gone, or (its mount point) an empty folder.
            try FileManager.default.moveItem(at: landing, to: folder.appendingPathComponent("elsewhere"))
            for mountPoint in [false, true] {
                if mountPoint { try FileManager.default.createDirectory(at: landing, withIntermediateDirectories: true) }
                let error = await #expect(throws: ConfigurationError.self) { _ = try await resume(true) }
                #expect(
                    error?.description.contains("run \(runID) archived schools, terms, teachers, students, sections in \(landing.path)/d1/2026-11-23, whose manifest does not list them now") == true,
                    "\(String(describing: error))")
                #expect(try FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent("mnt").path) == (mountPoint ? ["landing"] : []))
                #expect(try FileManager.default.subpathsOfDirectory(atPath: folder.appendingPathComponent("mnt").path).count == (mountPoint ? 1 : 0), "nothing archived")
                #expect(try await database.string("SELECT status FROM etl.runs WHERE id = \(runID)") == "failed")
            }

            let resumed = try await resume(false)
            #expect(resumed.status == .succeeded, "\(resumed.message)")
            #expect(try await harness.count("roster.students") == 20)
            #expect(try FileManager.default.subpathsOfDirectory(atPath: landing.path).isEmpty)
            // Resumed without archiving: the run no longer names a landing root.
            #expect(try await database.string("SELECT coalesce(options ->> 'landing_root', 'none') FROM etl.runs WHERE id = \(runID)") == "none")
        }
    }

    @Test("A feed file replaced after the run started, or while it is read (an upload not finished), stops the run: one run reads one export")
    func feedFileChangedDuringRun() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let folder = try DistrictFixture.small().writeTemporary("changed-mid-run")
            defer { try? FileManager.default.removeItem(at: folder) }
            // Staging schools takes 3 s; stages run one at a time in file order, enrollments last.
            try await database.slowInserts(on: "staging.schools")
            var configuration = harness.configuration(.csv(folder))
            configuration.maxParallelTasks = 1
            let run = Task { [configuration] in try await SyncService(logger: TestDatabase.logger).sync(configuration) }
            try await database.waitUntil("SELECT count(*) FROM etl.task_runs WHERE task = 'stage-schools' AND status = 'running'")
            // The next night's enrollments arrive while the run stages schools.
            try DistrictFixture.edit("enrollments.csv", in: folder) { $0 + "S1,SEC1,ST1\n" }
            let report = try await run.value
            #expect(report.status == .failed)
            #expect(report.exitCode == 1)
            #expect(report.message.contains("enrollments.csv changed since the run started"), "\(report.message)")
            #expect(try await harness.count("roster.students") == 0)
            #expect(try await database.int("SELECT count(*) FROM etl.task_runs WHERE task = 'stage-enrollments'") == 1, "not retried: the file stays changed")

            // The file grows while it is read, as an upload still being written does. It is large
            // (a membership listed 200,000 times, 2.4 MB), and its COPY is held up 3 s: the COPY
            // writer waits for the socket (postgres-nio's backpressure), so the reader waits
            // part-way through the file, far more than the socket buffers hold, for the server.
            try await database.execute("DROP TRIGGER slow ON staging.schools;")
            try await database.slowInserts(on: "staging.enrollments")
            let enrollments = try String(contentsOf: folder.appendingPathComponent("enrollments.csv"), encoding: .utf8)
            try DistrictFixture.edit("enrollments.csv", in: folder) { $0 + String(repeating: "S1,SEC1,ST1\n", count: 200_000) }
            configuration.landingRoot = folder.appendingPathComponent("landing")
            let second = Task { [configuration] in try await SyncService(logger: TestDatabase.logger).sync(configuration) }
            try await database.waitUntil(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY %enrollments%' AND state = 'active'")
            let handle = try FileHandle(forWritingTo: folder.appendingPathComponent("enrollments.csv"))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data("S1,SEC1,ST2\n".utf8))
            try handle.close()
            let cut = try await second.value
            #expect(cut.status == .failed)
            #expect(cut.message.contains("enrollments.csv changed while it was read"), "\(cut.message)")
            #expect(try await harness.count("roster.students") == 0)
            // Nor is the file archived as this night's enrollments: a backfill would replay it as whole.
            let night = try LandingArchive(root: folder.appendingPathComponent("landing"))
                .archivedNights(district: "d1", from: "2026-11-23", to: "2026-11-23")
            #expect(night.first?.problem?.hasPrefix("not archived: enrollments") == true, "\(night.first?.problem ?? "no night")")
            configuration.landingRoot = nil
            try DistrictFixture.edit("enrollments.csv", in: folder) { _ in enrollments }

            try await database.execute("DROP TRIGGER slow ON staging.enrollments;")
            // The next run reads the new export whole.
            let next = try await SyncService(logger: TestDatabase.logger).sync(configuration)
            #expect(next.status == .succeeded, "\(next.message)")
        }
    }

    @Test("A feed file missing when the run started and there by the time its stage runs stops the run: it may be the next export's")
    func feedFileAppearsDuringRun() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let folder = try DistrictFixture.small().writeTemporary("appears-mid-run")
            defer { try? FileManager.default.removeItem(at: folder) }
            // No check-source, which would stop the run for the missing file at once: the window
            // between the run's start and check-source, held open. Stages one at a time in file
            // order, enrollments last, staging schools held up 3 s.
            let pipeline = folder.appendingPathComponent("nightly.yml")
            let nightly = try String(contentsOf: TestDatabase.nightly, encoding: .utf8)
            let checkSource = try #require(nightly.range(of: "  check-source:\n    kind: check-source\n    retries: 2\n    # A rate-limited first request waits up to a minute a try (six tries by default).\n    timeout: 10m\n"))
            try nightly.replacingCharacters(in: checkSource, with: "").replacingOccurrences(of: "needs: [check-source]", with: "needs: []")
                .write(to: pipeline, atomically: true, encoding: .utf8)
            try await database.slowInserts(on: "staging.schools")
            let enrollments = folder.appendingPathComponent("enrollments.csv")
            let uploading = folder.appendingPathComponent("enrollments.csv.uploading")
            try FileManager.default.moveItem(at: enrollments, to: uploading)
            var configuration = harness.configuration(.csv(folder))
            configuration.pipelineFile = pipeline
            configuration.maxParallelTasks = 1
            let run = Task { [configuration] in try await SyncService(logger: TestDatabase.logger).sync(configuration) }
            try await database.waitUntil("SELECT count(*) FROM etl.task_runs WHERE task = 'stage-schools' AND status = 'running'")
            try FileManager.default.moveItem(at: uploading, to: enrollments)
            let report = try await run.value
            #expect(report.status == .failed)
            #expect(report.message.contains("enrollments.csv changed since the run started"), "\(report.message)")
            #expect(try await harness.count("roster.students") == 0)
            let runID = try #require(report.runID)
            #expect(try await database.string("SELECT options -> 'feed_files' ->> 'enrollments.csv' FROM etl.runs WHERE id = \(runID)") == "absent")
        }
    }

    @Test("A night with unreadable rows replays as it ran: the rows it could not read are archived, so a replay still holds their records")
    func replayHoldsUnreadableRows() async throws {
        let folder = try DistrictFixture.small().writeTemporary("replay-unreadable")
        defer { try? FileManager.default.removeItem(at: folder) }
        let landing = folder.appendingPathComponent("landing")
        var live: [String] = []
        try await TestDatabase.withFresh { database in
            var configuration = SyncHarness(database: database).configuration(.csv(folder), asOf: "2026-11-20")
            configuration.landingRoot = landing
            #expect(try await SyncService(logger: TestDatabase.logger).sync(configuration).status == .succeeded)
            // The next night a stray comma makes ST5's row unreadable: kept as it is, in its classes.
            try DistrictFixture.edit("students.csv", in: folder) {
                $0.replacingOccurrences(of: "ST5,Family5,Kid5", with: "ST5,Family5,Kid5,Jr.")
            }
            configuration.asOf = "2026-11-21"
            let second = try await SyncService(logger: TestDatabase.logger).sync(configuration)
            #expect(second.status == .succeeded && second.summary.total == 0, "\(second.message)")
            live = try await database.strings("SELECT sis_id || ':' || status FROM roster.students ORDER BY sis_id")
        }
        #expect(live.contains("ST5:active"))
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let reports = try await SyncService(logger: TestDatabase.logger)
                .backfill(harness.configuration(.csv(landing)), landingRoot: landing, from: "2026-11-20", to: "2026-11-21")
            #expect(reports.map(\.status) == [.succeeded, .succeeded])
            #expect(reports.last?.summary.total == 0, "\(reports.last?.message ?? "")")
            #expect(reports.last?.rejections.contains { $0.reason == "malformed_row" } == true)
            #expect(try await database.strings("SELECT sis_id || ':' || status FROM roster.students ORDER BY sis_id") == live)
        }
    }

    @Test("A night whose file was cut inside its last row fails its replay as it failed the night")
    func replayOfCutNightFails() async throws {
        let folder = try DistrictFixture.small().writeTemporary("replay-cut")
        defer { try? FileManager.default.removeItem(at: folder) }
        let landing = folder.appendingPathComponent("landing")
        // The last row cut inside its student id ("...,ST20" -> "...,S"), with no line end.
        try DistrictFixture.edit("enrollments.csv", in: folder) { text in
            var lines = text.split(separator: "\n").map(String.init)
            let last = lines.removeLast()
            guard let comma = last.lastIndex(of: ",") else { return text }
            return (lines + [String(last[...last.index(after: comma)])]).joined(separator: "\n")
        }
        try await TestDatabase.withFresh { database in
            var configuration = SyncHarness(database: database).configuration(.csv(folder))
            configuration.landingRoot = landing
            let night = try await SyncService(logger: TestDatabase.logger).sync(configuration)
            #expect(night.status == .failed && night.message.contains("cut short"), "\(night.message)")
        }
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let reports = try await SyncService(logger: TestDatabase.logger)
                .backfill(harness.configuration(.csv(landing)), landingRoot: landing, from: "2026-11-23", to: "2026-11-23")
            #expect(reports.map(\.status) == [.failed])
            let message = reports.first?.message ?? ""
            #expect(message.contains("enrollments.csv ends without a line end") && message.contains("cannot be replayed"), "\(message)")
        }
    }

    @Test("A night that failed as damaged fails its replay the same way, saying how to replay it; replayed with the entity allowed, it applies")
    func replayOfDamagedNightFails() async throws {
        let folder = try DistrictFixture.small().writeTemporary("replay-damaged")
        defer { try? FileManager.default.removeItem(at: folder) }
        let landing = folder.appendingPathComponent("landing")
        let settings = "INSERT INTO roster.districts (id, name, settings) VALUES ('d1', 'D', '{\"min_removals_to_block\": 2}')"
        try await TestDatabase.withFresh { database in
            try await database.execute(settings)
            var configuration = SyncHarness(database: database).configuration(.csv(folder), asOf: "2026-11-20")
            configuration.landingRoot = landing
            #expect(try await SyncService(logger: TestDatabase.logger).sync(configuration).status == .succeeded)
            // The next night five of twenty students' rows gain a column: the run fails as damaged.
            try DistrictFixture.edit("students.csv", in: folder) { text in
                (1...5).reduce(text) { $0.replacingOccurrences(of: "ST\($1),Family\($1),Kid\($1),", with: "ST\($1),Family\($1),Kid\($1),Jr.,") }
            }
            configuration.asOf = "2026-11-21"
            let night = try await SyncService(logger: TestDatabase.logger).sync(configuration)
            #expect(night.status == .failed && night.message.contains("the extract looks damaged"), "\(night.message)")
        }
        try await TestDatabase.withFresh { database in
            try await database.execute(settings)
            let harness = SyncHarness(database: database)
            let reports = try await SyncService(logger: TestDatabase.logger)
                .backfill(harness.configuration(.csv(landing)), landingRoot: landing, from: "2026-11-20", to: "2026-11-21")
            #expect(reports.map(\.status) == [.succeeded, .failed])
            let message = reports.last?.message ?? ""
            #expect(message.contains("the extract looks damaged: 5 of 20 active students (25%)"), "\(message)")
            #expect(message.contains(
                "This night cannot be replayed as it is; replay the nights before and after it (backfill --to, then --from), "
                    + "or replay it with --allow-mass-changes-of student, which keeps them as they are"), "\(message)")
            var allowed = harness.configuration(.csv(landing))
            allowed.allowMassChangesOf = ["student"]
            let replayed = try await SyncService(logger: TestDatabase.logger)
                .backfill(allowed, landingRoot: landing, from: "2026-11-21", to: "2026-11-21")
            #expect(replayed.map(\.status) == [.succeeded], "\(replayed.map(\.message))")
            #expect(try await harness.count("roster.students", "status = 'active'") == 20)
        }
    }

    @Test("A preview archives nothing: the night a run applied stays its extract, and a previewed night is none to replay")
    func previewKeepsNoExtract() async throws {
        let folder = try DistrictFixture.small().writeTemporary("preview-landing")
        defer { try? FileManager.default.removeItem(at: folder) }
        let landing = folder.appendingPathComponent("landing")
        let night = "2026-11-23"
        try await TestDatabase.withFresh { database in
            var configuration = SyncHarness(database: database).configuration(.csv(folder), asOf: night)
            configuration.landingRoot = landing
            let applied = try await SyncService(logger: TestDatabase.logger).sync(configuration)
            #expect(applied.status == .succeeded)
            let archive = LandingArchive(root: landing)
            let archived = try archive.manifest(district: "d1", date: night)
            let files = try FileManager.default.contentsOfDirectory(atPath: landing.appendingPathComponent("d1/\(night)").path)

            // The same night previewed over other files (a student gone), and a night not yet come.
            try DistrictFixture.edit("students.csv", in: folder) { text in
                var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
                lines.remove(at: 1)
                return lines.joined(separator: "\n")
            }
            configuration.preview = true
            for asOf in [night, "2027-01-15"] {
                configuration.asOf = asOf
                let preview = try await SyncService(logger: TestDatabase.logger).sync(configuration)
                #expect(preview.status == .previewed)
            }
            #expect(try archive.manifest(district: "d1", date: night) == archived)
            #expect(try FileManager.default.contentsOfDirectory(atPath: landing.appendingPathComponent("d1/\(night)").path).sorted() == files.sorted())
            #expect(try archive.nights(district: "d1", from: "2026-01-01", to: "2027-12-31") == [night])
            #expect(try await database.strings("SELECT coalesce(options ->> 'landing_root', '-') FROM etl.runs ORDER BY id")
                == [landing.path, "-", "-"])
        }
    }

    @Test("A second run of a night that fails part-way leaves the archived night as it was: nights names the run, backfill replays the first")
    func failedRerunKeepsNight() async throws {
        let folder = try DistrictFixture.small().writeTemporary("rerun-night")
        defer { try? FileManager.default.removeItem(at: folder) }
        let landing = folder.appendingPathComponent("landing")
        let night = "2026-11-23"
        try await TestDatabase.withFresh { database in
            var configuration = SyncHarness(database: database).configuration(.csv(folder), asOf: night)
            configuration.landingRoot = landing
            // One stage at a time, enrollments last: the second run archives the other five feeds first.
            configuration.maxParallelTasks = 1
            let first = try await SyncService(logger: TestDatabase.logger).sync(configuration)
            #expect(first.status == .succeeded)
            let firstRun = try #require(first.runID)
            let archived = try LandingArchive(root: landing).manifest(district: "d1", date: night)

            // The night is sent again, its enrollments file cut short in the middle of a row.
            try DistrictFixture.edit("enrollments.csv", in: folder) { $0 + "S1,SE" }
            let second = try await SyncService(logger: TestDatabase.logger).sync(configuration)
            #expect(second.status == .failed)
            let secondRun = try #require(second.runID)
            let nights = try LandingArchive(root: landing).archivedNights(district: "d1", from: night, to: night)
            #expect(nights.map(\.isComplete) == [true])
            #expect(nights.first?.manifest == archived)
            #expect(
                nights.map(NightsCommand.line) == [
                    "\(night)\tcomplete\trun \(firstRun)\t73 records\tcsv:\(folder.path)\trun \(secondRun) stopped part-way, "
                        + "set aside: schools, teachers, students, terms, sections"
                ])
        }
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let report = try await SyncService(logger: TestDatabase.logger)
                .backfill(harness.configuration(.csv(landing)), landingRoot: landing, from: night, to: night)
            #expect(report.map(\.status) == [.succeeded])
            // The first run's extract: the fixture's 20 students and 41 enrollments, none of the cut row.
            #expect(try await harness.count("roster.students") == 20)
            #expect(try await harness.count("roster.enrollments") == 41)
        }
    }

    @Test("A run stopped before any stage finished resumes over files fixed since: nothing staged to mix with")
    func resumeAfterFixedFiles() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let folder = try DistrictFixture.small().writeTemporary("fixed")
            defer { try? FileManager.default.removeItem(at: folder) }
            let students = folder.appendingPathComponent("students.csv")
            let moved = folder.appendingPathComponent("students.csv.partial")
            try FileManager.default.moveItem(at: students, to: moved)
            // check-source stops the run, which the sync reports by throwing (exit 2: fix the input).
            await #expect(throws: (any Error).self) {
                _ = try await SyncService(logger: TestDatabase.logger).sync(harness.configuration(.csv(folder)))
            }
            let runID = Int64(try await database.int("SELECT max(id) FROM etl.runs"))
            #expect(try await database.string("SELECT status FROM etl.runs WHERE id = \(runID)") == "failed")
            #expect(try await database.int("SELECT count(*) FROM etl.task_runs WHERE run_id = \(runID) AND task LIKE 'stage-%' AND status <> 'skipped'") == 0, "none started")

            // The upload finishes, as the error said to wait for: the file the run missed is there now.
            try FileManager.default.moveItem(at: moved, to: students)
            let resumed = try await SyncService(logger: TestDatabase.logger).resume(
                runID: runID, database: database, sql: TestDatabase.sql, cleverToken: nil)
            #expect(resumed.status == .succeeded, "\(resumed.message)")
            #expect(try await harness.count("roster.students") == 20)
            // What a later resume of the run would compare with: the files this one read.
            #expect(try await database.string("SELECT options -> 'feed_files' ? 'students.csv' FROM etl.runs WHERE id = \(runID)") == "true")
        }
    }

    @Test("A run that failed in the merge resumes from the failed task, reusing the staged feeds")
    func resumeAfterFailure() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            try await database.injectFailure("INSERT", on: "roster.sections")
            let failed = try await harness.sync(.small())
            #expect(failed.status == .failed)
            #expect(failed.message.contains("rostersync resume \(failed.runID ?? 0)"))
            #expect(try await harness.count("roster.students") == 0)

            try await database.execute("DROP TRIGGER boom ON roster.sections;")
            let runID = try #require(failed.runID)
            let resumed = try await SyncService(logger: TestDatabase.logger).resume(
                runID: runID, database: database, sql: TestDatabase.sql, cleverToken: nil)
            #expect(resumed.status == .succeeded)
            #expect(resumed.runID == runID)
            #expect(try await harness.count("roster.students") == 20)
            #expect(try await database.int("SELECT count(*) FROM etl.task_runs WHERE run_id = \(runID) AND task = 'stage-students'") == 1, "staged once, reused")
            // Attempts are counted over the run's life; the task the failure left unstarted says so.
            #expect(try await database.strings(
                "SELECT task || ' ' || attempt || ':' || status || CASE WHEN status = 'skipped' THEN ' (' || error || ')' ELSE '' END "
                    + "FROM etl.task_runs WHERE run_id = \(runID) AND task IN ('merge', 'prune') ORDER BY task, attempt")
                == ["merge 1:failed", "merge 2:succeeded",
                    "prune 1:skipped (not started: a task it needs failed)", "prune 2:succeeded"])
            #expect(try await database.string("SELECT status FROM etl.runs WHERE id = \(runID)") == "succeeded")
            // The files may have changed between the failure and the resume: a resumed run is
            // never the one an unchanged night is matched against, so the next night compares.
            #expect(try await database.string("SELECT coalesce(input_digest, 'none') || '/' || coalesce(roster_digest, 'none') FROM etl.runs WHERE id = \(runID)") == "none/none")
            let next = try await harness.sync(.small())
            #expect(next.summary.total == 0)
            #expect(try await database.int("SELECT count(*) FROM etl.task_runs WHERE run_id = \(next.runID ?? 0) AND task = 'merge'") == 1)
        }
    }
}

@Suite("Run outcome in the log", .serialized, .timeLimit(.minutes(10)))
struct RunOutcomeLogTests {
    @Test("Each run logs one 'sync finished' record: info when it applied, error when it stopped or failed")
    func outcomeLevels() async throws {
        try await TestDatabase.withFresh { database in
            let handler = RecordingLogHandler()
            let logger = Logger(label: "test") { _ in handler }
            let harness = SyncHarness(database: database)
            let full = SafetyTests.bigger()
            let first = try await harness.sync(full, logger: logger)
            var truncated = full
            for index in 40...100 { truncated.removeStudent("ST\(index)") }
            let stopped = try await harness.sync(truncated, logger: logger)
            #expect(stopped.status == .blocked)
            let finished = handler.entries.filter { $0.message == "sync finished" }
            #expect(finished.map(\.level) == [.info, .error])
            #expect(finished.map { $0.metadata["etl.run_id"]?.description } == [first.runID, stopped.runID].map { $0.map(String.init) })
            #expect(finished.last?.metadata["etl.exit_code"]?.description == "3")
            #expect(finished.last?.metadata["etl.message"]?.description.contains("safety threshold") == true)

            // A run that throws (here a missing file: bad configuration) gets its record too.
            let folder = try full.writeTemporary("rostersync")
            defer { try? FileManager.default.removeItem(at: folder) }
            try FileManager.default.removeItem(at: folder.appendingPathComponent("students.csv"))
            await #expect(throws: ExtractError.self) {
                _ = try await SyncService(logger: logger).sync(harness.configuration(.csv(folder)))
            }
            let thrown = handler.entries.filter { $0.message == "sync finished" }.dropFirst(2)
            #expect(thrown.map(\.level) == [.error])
            #expect(thrown.first?.metadata["etl.exit_code"]?.description == "2")
            #expect(thrown.first?.metadata["etl.status"]?.description == "failed")
            #expect(thrown.first?.metadata["etl.message"]?.description.contains("students.csv") == true)
        }
    }
}
