import ArgumentParser
@testable import CleverExtract
import Foundation
import Logging
import PostgresLoad
import RosterSync
import Testing

@testable import rostersync

/// The command line as cron sees it: exit codes and messages for bad input (CONTRACT.md).
@Suite("Command line", .serialized, .timeLimit(.minutes(10)))
struct CLITests {
    /// Runs a command in-process and returns its exit code and the error, if any.
    static func run(_ arguments: [String]) async -> (code: Int32, error: (any Error)?) {
        do {
            var command = try RosterSyncCommand.parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            return (0, nil)
        } catch {
            return (Main.exitCode(for: error), error)
        }
    }

    /// A libpq-style URL for a test database (a Unix socket for the embedded cluster).
    static func url(_ target: DatabaseTarget) -> String {
        let configuration = target.configuration
        if let socket = configuration.unixSocketPath {
            let directory = (socket as NSString).deletingLastPathComponent
            return "postgres://\(configuration.username)@localhost/\(configuration.database ?? "")?host=\(directory)"
        }
        return target.description
    }

    static func message(_ error: (any Error)?) -> String {
        guard let error else { return "" }
        return RosterSyncCommand.fullMessage(for: error) + " " + String(describing: error)
    }

    @Test("Every command has --help")
    func help() async throws {
        for command in [
            [], ["sync"], ["demo"], ["backfill"], ["nights"], ["resume"], ["approve"], ["runs"], ["explain"], ["graph"], ["migrate"],
            ["db"], ["db", "status"], ["fake-clever"], ["fake-clever", "serve"], ["fake-clever", "generate"],
        ] {
            let text = RosterSyncCommand.helpMessage(for: try #require(Self.commandType(command)))
            #expect(text.contains("USAGE"), "\(command)")
        }
    }

    static func commandType(_ path: [String]) -> (any ParsableCommand.Type)? {
        var current: any ParsableCommand.Type = RosterSyncCommand.self
        for name in path {
            guard let next = current.configuration.subcommands.first(where: { $0._commandName == name }) else { return nil }
            current = next
        }
        return current
    }

    @Test("Bad usage exits 2 with a message naming the problem", arguments: [
        (["sync", "--district", "d1", "--csv", "/no/such/folder"], "/no/such/folder"),
        (["sync", "--district", "d1", "--csv", "/tmp", "--as-of", "2026-02-30"], "'2026-02-30' is not a date: that day does not exist"),
        (["sync", "--district", "d1", "--csv", "/tmp", "--as-of", "2026-2-3"], "'2026-2-3' is not a date in YYYY-MM-DD form"),
        (["sync", "--district", "d1", "--csv", "/tmp", "--as-of", "2099-01-01"], "--as-of 2099-01-01 is after tomorrow"),
        (["sync", "--district", "d1", "--csv", "/tmp", "--clever-url", "http://x"], "either --csv or --clever-url"),
        (["sync", "--district", "all", "--clever-url", "http://127.0.0.1:9"], "each district has its own token"),
        (["sync", "--district", "all"], "each district has its own token"),
        (["sync", "--csv", "/tmp"], "--district"),
        (["sync", "--district", "d1", "--csv", "/tmp", "--database-url", "mysql://x"], "not a database URL"),
        (["graph", "nosuch"], "(there: backfill, demo, nightly)"),
        (["sync", "--district", "d1", "--csv", "/tmp", "--no-landing", "--landing-dir", "/tmp/x"], "contradict each other"),
        (["backfill", "--district", "d1", "--from", "2026-10-1", "--to", "2026-10-02"], "--from '2026-10-1' is not a date"),
        (["nights", "--district", "d1", "--to", "2026-13-01"], "--to '2026-13-01' is not a date"),
        (["nights", "--district", "nosuch", "--landing-dir", "/tmp"], "no landing folder for district \"nosuch\""),
        (["runs", "--database-url", "postgres://u@localhost/db?host=/tmp&sslmode=bogus"], "sslmode 'bogus' is not one of"),
        (["sync", "--district", "d1", "--csv", "/tmp", "--allow-empty-feed", "pupils"], "'pupils' is not one of"),
        (["sync", "--district", "all", "--csv", "/tmp", "--allow-empty-feed", "students"], "cannot go with --district all"),
        (["sync", "--district", "d1", "--csv", "/tmp", "--allow-mass-changes-of", "pupils"], "'pupils' is not one of school, teacher"),
        (["runs", "--limit", "0"], "--limit must be 1 to 10000, not 0"),
        (["runs", "--limit=-1"], "--limit must be 1 to 10000, not -1"),
    ])
    func badUsage(arguments: [String], mentions: String) async throws {
        let (code, error) = await Self.run(arguments)
        #expect(code == 2)
        #expect(Self.message(error).contains(mentions), "\(Self.message(error))")
    }

    @Test("A problem a command finds once running points at that command's help, not the root's usage")
    func commandPaths() {
        #expect(Main.commandPath(to: SyncCommand.self) == "rostersync sync")
        #expect(Main.commandPath(to: DBCommand.Start.self) == "rostersync db start")
        #expect(Main.commandPath(to: RosterSyncCommand.self) == "rostersync")
        #expect(
            Main.ranIntoUsageError(ValidationError("--csv /x is not a folder"), in: SyncCommand.self)
                == "Error: --csv /x is not a folder\n  See 'rostersync sync --help' for more information.")
    }

    @Test("A date not yet come is for a preview only: a sync as of it would archive the classes of every term ending before it")
    func futureAsOf() throws {
        let tomorrow = try #require(Dates.today(plusDays: 1))
        let later = try #require(Dates.today(plusDays: 2))
        // Tomorrow passes (a district ahead of the server's time zone), the day after does not, a preview of any day does.
        _ = try SyncCommand.parse(["--district", "d1", "--csv", "/tmp", "--as-of", tomorrow])
        let error = #expect(throws: (any Error).self) { _ = try SyncCommand.parse(["--district", "d1", "--csv", "/tmp", "--as-of", later]) }
        #expect(error.map { SyncCommand.message(for: $0) }?.contains("--as-of \(later) is after tomorrow") == true)
        _ = try SyncCommand.parse(["--district", "d1", "--csv", "/tmp", "--as-of", "2099-01-01", "--preview"])
    }

    @Test("Reading from the API without CLEVER_TOKEN exits 2 with the command's error line (JSON with JSON logs), not the usage")
    func missingToken() async throws {
        try #require(ProcessInfo.processInfo.environment["CLEVER_TOKEN"] == nil, "the tests run without a Clever token")
        let (code, error) = await Self.run(["sync", "--district", "d1", "--clever-url", "http://127.0.0.1:9"])
        #expect(code == 2)
        let configuration = try #require(error as? ConfigurationError)
        #expect(configuration.description.contains("needs the token in CLEVER_TOKEN"))
    }

    @Test("--allow-mass-changes-of takes an entity by its name or, as --allow-empty-feed names feeds, its plural")
    func massChangeEntityNames() throws {
        #expect(["student", "students", "section_teachers", "co_teachers", "enrollments", "student_logins", "pupils", "s", ""]
            .map(SyncCommand.shareEntity)
            == ["student", "student", "section_teacher", "co_teacher", "enrollment", "student_login", nil, nil, nil])
        let command = try SyncCommand.parse(
            ["--district", "d1", "--csv", "/tmp", "--allow-mass-changes-of", "students", "--allow-mass-changes-of", "teacher"])
        #expect(command.massChangeEntities == ["student", "teacher"])
    }

    @Test("--api-attempts sets the tries per API request, 1 to 30")
    func apiAttempts() async throws {
        let arguments = ["--district", "d1", "--clever-url", "http://127.0.0.1:9", "--database-url", "postgres://u@127.0.0.1:9/db"]
        let command = try SyncCommand.parse(arguments + ["--api-attempts", "12"])
        let configuration = try await command.makeConfiguration(
            source: .clever(baseURL: "http://127.0.0.1:9", token: "t"), logger: TestDatabase.logger)
        #expect(configuration.apiMaxAttempts == 12)
        let byDefault = try await SyncCommand.parse(arguments).makeConfiguration(
            source: .clever(baseURL: "http://127.0.0.1:9", token: "t"), logger: TestDatabase.logger)
        #expect(byDefault.apiMaxAttempts == 6)
        let error = #expect(throws: (any Error).self) { _ = try SyncCommand.parse(arguments + ["--api-attempts", "0"]) }
        #expect(error.map { SyncCommand.message(for: $0) }?.contains("--api-attempts must be 1 to 30") == true)
    }

    @Test("Logs: one JSON object per line (message and metadata escaped, keys sorted), or a line for a person")
    func logLines() throws {
        let metadata: Logger.Metadata = ["etl.run_id": "7", "etl.message": "two\nlines \"quoted\""]
        let json = CLILogHandler.line(
            level: .warning, message: "sync finished", metadata: metadata, json: true, label: "rostersync",
            at: Date(timeIntervalSince1970: 1_800_000_000))
        #expect(!json.contains("\n"), "one line: \(json)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: String])
        #expect(object == [
            "ts": "2027-01-15T08:00:00Z", "level": "warning", "msg": "sync finished", "logger": "rostersync",
            "etl.run_id": "7", "etl.message": "two\nlines \"quoted\"",
        ])
        let text = CLILogHandler.line(level: .info, message: "staging", metadata: ["b": "2", "a": "1"], json: false, label: "rostersync")
        #expect(text.hasSuffix(" info    staging  a=1 b=2"), "\(text)")
        #expect(!CLILogHandler.isJSON(.text) && CLILogHandler.isJSON(.json))
    }

    @Test("The psql hint leaves a URL's password out, for psql to ask, instead of printing it masked; a socket by its folder")
    func psqlHint() throws {
        let withPassword = try DatabaseTarget(url: "postgres://etl:s3cret@db.example.org:6543/roster?sslmode=disable")
        #expect(psqlCommand(withPassword)
            == #"psql "postgres://etl@db.example.org:6543/roster?sslmode=disable"  # the password: psql asks, or set PGPASSWORD"#)
        let without = try DatabaseTarget(url: "postgres://etl@db.example.org/roster")
        #expect(psqlCommand(without) == #"psql "postgres://etl@db.example.org/roster""#)
        let socket = try DatabaseTarget(url: "postgres://etl@localhost/roster?host=/run/pg")
        #expect(psqlCommand(socket) == "psql -h /run/pg -U etl roster")
    }

    @Test("A database error no step expected (here a column gone from etl.runs) exits 1 with the server's own words, not postgres-nio's placeholder")
    func rawDatabaseError() async throws {
        try await TestDatabase.withFresh { database in
            try await database.execute("ALTER TABLE etl.runs RENAME COLUMN message TO note")
            let (code, error) = await Self.run(["runs", "--database-url", Self.url(database)])
            #expect(code == 1)
            let line = Main.errorLine(try #require(error), code: code, json: false)
            #expect(line.hasPrefix("error: database: column \"message\" does not exist (SQLSTATE 42703)"), "\(line)")
        }
    }

    @Test("A failed command's last line is JSON when the logs are, plain text otherwise")
    func errorLine() throws {
        let error = ConfigurationError("district d1: bad settings")
        #expect(Main.errorLine(error, code: 2, json: false) == "error: district d1: bad settings")
        let line = Main.errorLine(error, code: 2, json: true)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
        #expect(object["level"] == "error")
        #expect(object["error"] == "district d1: bad settings")
        #expect(object["etl.exit_code"] == "2")
        #expect(!line.contains("\n"))
    }

    @Test("A database URL's user and password are percent-decoded once")
    func urlDecodedOnce() throws {
        let target = try DatabaseTarget(url: "postgres://etl%40district:100%25%2541@db.example.org:5433/roster?sslmode=disable")
        #expect(target.configuration.username == "etl@district")
        #expect(target.configuration.password == "100%%41")
        #expect(target.configuration.database == "roster")
        #expect(!target.description.contains("100"), "the password is never shown: \(target.description)")
    }

    @Test("An unreachable database exits 2 and says what to check")
    func unreachableDatabase() async throws {
        let (code, error) = await Self.run([
            "sync", "--district", "d1", "--csv", TestDatabase.packageRoot.appendingPathComponent("demo/district").path,
            "--database-url", "postgres://nobody:secret@127.0.0.1:1/nothing?sslmode=disable",
        ])
        #expect(code == 2)
        let text = Self.message(error)
        #expect(text.contains("cannot connect to the database"))
        #expect(!text.contains("secret"), "the password is never printed")
    }

    @Test("A database that does not exist exits 2 with the server's own words, not a dump of the error")
    func missingDatabase() async throws {
        try await TestDatabase.withFresh { database in
            var missing = database
            missing.configuration.database = "rostersync_no_such_database"
            let (code, error) = await Self.run(["runs", "--database-url", Self.url(missing)])
            #expect(code == 2)
            let text = Self.message(error)
            #expect(text.contains(#"database "rostersync_no_such_database" does not exist (SQLSTATE 3D000)"#), "\(text)")
            #expect(!text.contains("PSQLError"), "\(text)")
        }
    }

    /// A missing file is a configuration error (2); a file with a header and no rows is a feed
    /// that came out empty: the run fails (1) and its ledger row says which file.
    @Test(
        "A missing (exit 2) or header-only (exit 1) CSV file is named and leaves the roster unchanged",
        arguments: [
            ("students.csv", false), ("schools.csv", true), ("teachers.csv", true), ("students.csv", true),
            ("sections.csv", true), ("enrollments.csv", true),
        ])
    func brokenFile(name: String, headerOnly: Bool) async throws {
        try await TestDatabase.withFresh { database in
            let folder = try DistrictFixture.small().writeTemporary("cli")
            defer { try? FileManager.default.removeItem(at: folder) }
            let arguments = ["sync", "--district", "d1", "--csv", folder.path, "--database-url", Self.url(database), "--no-landing"]
            #expect(await Self.run(arguments).code == 0)
            let file = folder.appendingPathComponent(name)
            if headerOnly {
                let header = try String(contentsOf: file, encoding: .utf8).split(separator: "\n")[0]
                try (header + "\n").write(to: file, atomically: true, encoding: .utf8)
            } else {
                try FileManager.default.removeItem(at: file)
            }
            let before = try await SafetyTests.snapshot(database)
            let (code, error) = await Self.run(arguments)
            if headerOnly {
                #expect(code == 1)
                let message = try await database.string("SELECT message FROM etl.runs ORDER BY id DESC LIMIT 1") ?? ""
                #expect(message.contains("\(name) has a header and no rows"), "\(message)")
                #expect(message.contains("check-source"), "\(message)")
            } else {
                #expect(code == 2)
                #expect(Self.message(error).contains(name), "\(Self.message(error))")
            }
            #expect(try await SafetyTests.snapshot(database) == before)
        }
    }

    @Test("A broken pipeline file is a configuration error (exit 2) naming the file, line and problem")
    func brokenPipeline() async throws {
        try await TestDatabase.withFresh { database in
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pipe-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: folder) }
            let pipeline = folder.appendingPathComponent("cycle.yml")
            try "tasks:\n  a:\n    kind: prepare\n    needs: [b]\n  b:\n    kind: guard\n    needs: [a]\n"
                .write(to: pipeline, atomically: true, encoding: .utf8)
            let (code, error) = await Self.run([
                "sync", "--district", "d1", "--csv", TestDatabase.packageRoot.appendingPathComponent("demo/district").path,
                "--pipeline", pipeline.path, "--database-url", Self.url(database), "--no-landing",
            ])
            #expect(code == 2)
            #expect(Self.message(error).contains("cycle.yml"), "\(Self.message(error))")
            #expect(Self.message(error).contains("cycle"), "\(Self.message(error))")
            #expect(try await database.int("SELECT count(*) FROM roster.students") == 0)
        }
    }

    @Test("--district all syncs every enabled district; one before its launch date is skipped")
    func allDistricts() async throws {
        try await TestDatabase.withFresh { database in
            try await database.execute(
                """
                INSERT INTO roster.districts (id, name) VALUES ('east', 'East'), ('west', 'West');
                INSERT INTO roster.districts (id, name, launch_date) VALUES ('later', 'Later', '2030-01-01');
                INSERT INTO roster.districts (id, name, enabled) VALUES ('off', 'Off', false);
                """)
            let root = FileManager.default.temporaryDirectory.appendingPathComponent("all-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: root) }
            for id in ["east", "west", "later"] { try DistrictFixture.small().write(to: root.appendingPathComponent(id)) }
            let (code, error) = await Self.run([
                "sync", "--district", "all", "--csv", root.path, "--as-of", "2026-11-23", "--no-landing",
                "--database-url", Self.url(database),
            ])
            #expect(code == 0, "\(Self.message(error))")
            #expect(try await database.strings("SELECT district_id || ':' || status FROM etl.runs ORDER BY district_id") == ["east:succeeded", "later:skipped", "west:succeeded"])
            #expect(try await database.int("SELECT count(*) FROM roster.students WHERE district_id = 'west'") == 20)
        }
    }

    @Test("--district all cancelled (SIGINT, SIGTERM) starts no further district: only the one running records a run, cancelled; exit 1")
    func allDistrictsCancelled() async throws {
        try await TestDatabase.withFresh { database in
            try await database.execute("INSERT INTO roster.districts (id, name) VALUES ('a', 'A'), ('b', 'B'), ('c', 'C')")
            let root = FileManager.default.temporaryDirectory.appendingPathComponent("all-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: root) }
            for id in ["a", "b", "c"] { try DistrictFixture.small().write(to: root.appendingPathComponent(id)) }
            // District a's staging is held up, one at a time: the cancel comes while it runs.
            try await database.slowInserts(on: "staging.students")
            let command = Task {
                await Self.run([
                    "sync", "--district", "all", "--csv", root.path, "--as-of", "2026-11-23", "--no-landing",
                    "--parallel-districts", "1", "--database-url", Self.url(database),
                ])
            }
            try await database.waitUntil("SELECT count(*) FROM etl.runs WHERE district_id = 'a'")
            command.cancel()
            let (code, error) = await command.value
            #expect(code == 1, "\(Self.message(error))")
            let runs = try await database.strings("SELECT district_id || ':' || status FROM etl.runs ORDER BY id")
            #expect(runs == ["a:cancelled"], "\(runs)")
        }
    }

    @Test("A backfill cancelled once a night's merge has committed replays no further night, and exits 1 saying so")
    func backfillCancelledBetweenNights() async throws {
        let landing = FileManager.default.temporaryDirectory.appendingPathComponent("backfill-cancel-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: landing) }
        let folder = try DistrictFixture.small().writeTemporary("backfill-cancel")
        defer { try? FileManager.default.removeItem(at: folder) }
        try await TestDatabase.withFresh { database in
            for night in ["2026-11-20", "2026-11-21"] {
                let (code, error) = await Self.run([
                    "sync", "--district", "d1", "--csv", folder.path, "--as-of", night, "--full",
                    "--landing-dir", landing.path, "--database-url", Self.url(database),
                ])
                #expect(code == 0, "\(Self.message(error))")
            }
        }
        try await TestDatabase.withFresh { database in
            // The first night's prune (after its merge) is held up: the cancel comes then.
            try await database.execute(
                """
                CREATE FUNCTION public.slow() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN PERFORM pg_sleep(3); RETURN NULL; END $$;
                CREATE TRIGGER slow BEFORE DELETE ON staging.schools FOR EACH STATEMENT EXECUTE FUNCTION public.slow();
                """)
            let command = Task {
                await Self.run([
                    "backfill", "--district", "d1", "--from", "2026-11-20", "--to", "2026-11-21", "--landing-dir",
                    landing.path, "--database-url", Self.url(database),
                ])
            }
            try await database.waitUntil("SELECT count(*) FROM etl.task_runs WHERE task = 'merge' AND status = 'succeeded'")
            command.cancel()
            let (code, error) = await command.value
            #expect(code == 1, "\(Self.message(error))")
            #expect(try await database.strings("SELECT as_of::text || ':' || status FROM etl.runs ORDER BY id") == ["2026-11-20:succeeded"])
        }
    }

    @Test("--district all with one district's lock held syncs the others and exits 4, not 1")
    func allDistrictsOneLocked() async throws {
        try await TestDatabase.withFresh { database in
            try await database.execute("INSERT INTO roster.districts (id, name) VALUES ('east', 'East'), ('west', 'West')")
            let root = FileManager.default.temporaryDirectory.appendingPathComponent("all-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: root) }
            for id in ["east", "west"] { try DistrictFixture.small().write(to: root.appendingPathComponent(id)) }
            let arguments = [
                "sync", "--district", "all", "--csv", root.path, "--as-of", "2026-11-23", "--no-landing",
                "--database-url", Self.url(database),
            ]
            try await database.withConnection(logger: TestDatabase.logger) { holder in
                try await holder.query(
                    "SELECT pg_advisory_lock(hashtext('rostersync.district'), hashtext('west'))", logger: TestDatabase.logger)
                let (code, error) = await Self.run(arguments)
                #expect(code == 4, "\(Self.message(error))")
                try await holder.query("SELECT pg_advisory_unlock_all()", logger: TestDatabase.logger)
            }
            #expect(try await database.strings("SELECT district_id || ':' || status FROM etl.runs ORDER BY id") == ["east:succeeded"])
            #expect(try await database.int("SELECT count(*) FROM roster.students WHERE district_id = 'west'") == 0)

            // A failure elsewhere still exits 1: east's students file is gone, west is locked.
            try FileManager.default.removeItem(at: root.appendingPathComponent("east/students.csv"))
            try await database.withConnection(logger: TestDatabase.logger) { holder in
                try await holder.query(
                    "SELECT pg_advisory_lock(hashtext('rostersync.district'), hashtext('west'))", logger: TestDatabase.logger)
                #expect(await Self.run(arguments).code == 1)
                try await holder.query("SELECT pg_advisory_unlock_all()", logger: TestDatabase.logger)
            }
        }
    }

    @Test("Exit codes as cron sees them: 3 for a night stopped at the threshold (staging kept), for --district all over a lock, and for a backfill that stops there")
    func thresholdExitCodes() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("exit3-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let landing = root.appendingPathComponent("landing")
        for id in ["east", "west"] { try DistrictFixture.small().write(to: root.appendingPathComponent(id)) }
        try await TestDatabase.withFresh { database in
            try await database.execute("INSERT INTO roster.districts (id, name) VALUES ('east', 'East'), ('west', 'West')")
            func sync(_ district: String, asOf: String) async -> (code: Int32, error: (any Error)?) {
                await Self.run([
                    "sync", "--district", district, "--csv", district == "all" ? root.path : root.appendingPathComponent(district).path,
                    "--as-of", asOf, "--landing-dir", landing.path, "--database-url", Self.url(database),
                ])
            }
            #expect(await sync("all", asOf: "2026-11-20").code == 0)
            let before = try await SafetyTests.snapshot(database)
            // East's students file loses fifteen of its twenty students: stopped, roster as it was, staging kept.
            var truncated = DistrictFixture.small()
            for index in 6...20 { truncated.removeStudent("ST\(index)") }
            try truncated.write(to: root.appendingPathComponent("east"))
            let (code, error) = await sync("east", asOf: "2026-11-21")
            #expect(code == 3, "\(Self.message(error))")
            #expect(try await SafetyTests.snapshot(database) == before)
            let blocked = try await database.int("SELECT max(id) FROM etl.runs WHERE district_id = 'east' AND status = 'blocked'")
            #expect(try await database.int("SELECT count(*) FROM staging.students WHERE run_id = \(blocked)") == 5)

            // Blocked outranks a district locked by another run (4); a failure (1) outranks both.
            try await database.withConnection(logger: TestDatabase.logger) { holder in
                try await holder.query(
                    "SELECT pg_advisory_lock(hashtext('rostersync.district'), hashtext('west'))", logger: TestDatabase.logger)
                let (code, error) = await sync("all", asOf: "2026-11-21")
                #expect(code == 3, "\(Self.message(error))")
                try await holder.query("SELECT pg_advisory_unlock_all()", logger: TestDatabase.logger)
            }
            try FileManager.default.removeItem(at: root.appendingPathComponent("west/students.csv"))
            #expect(await sync("all", asOf: "2026-11-21").code == 1)
        }
        // East's nights, replayed into a fresh database: the stopped one stops the backfill the same way.
        try await TestDatabase.withFresh { database in
            let (code, error) = await Self.run([
                "backfill", "--district", "east", "--from", "2026-11-20", "--to", "2026-11-21", "--landing-dir", landing.path,
                "--database-url", Self.url(database),
            ])
            #expect(code == 3, "\(Self.message(error))")
            let runs = try await database.strings("SELECT as_of::text || ':' || status FROM etl.runs ORDER BY id")
            #expect(runs == ["2026-11-20:succeeded", "2026-11-21:blocked"])
        }
    }

    @Test("A backfill to a night after tomorrow is refused: it would replay the calendar of a day not yet come")
    func backfillFutureNight() throws {
        let tomorrow = try #require(Dates.today(plusDays: 1))
        let later = try #require(Dates.today(plusDays: 2))
        _ = try BackfillCommand.parse(["--district", "d1", "--from", "2026-01-01", "--to", tomorrow])
        let error = #expect(throws: (any Error).self) {
            _ = try BackfillCommand.parse(["--district", "d1", "--from", "2026-01-01", "--to", later])
        }
        #expect(error.map { BackfillCommand.message(for: $0) }?.contains("--to \(later) is after tomorrow") == true)
    }

    @Test("A preview lists students by grade level (pre-K, K, 1 ... 8 here), then by name, and stops at its limit")
    func previewListsStudentsByGrade() async throws {
        try await TestDatabase.withFresh { database in
            let preview = try await SyncHarness(database: database).sync(.small(), preview: true)
            let runID = try #require(preview.runID)
            let printer = ReportPrinter(database: database, logger: TestDatabase.logger)
            let lines = try await printer.studentLines(runID: runID, limit: 200)
            #expect(Array(lines.prefix(2)) == ["", "Students, by grade level, then name:"])
            let labels = lines.filter { $0.hasPrefix("  ") && !$0.hasPrefix("    ") }.map { $0.trimmingCharacters(in: .whitespaces) }
            #expect(labels == ["Pre-K", "Kindergarten"] + (1...8).map { "Grade \($0)" })
            // Within a grade, by last name: each group's names in order.
            var groups: [[String]] = []
            for line in lines.dropFirst(2) {
                if line.hasPrefix("    ") {
                    groups[groups.count - 1].append(String(line.dropFirst(4 + 10)))
                } else {
                    groups.append([])
                }
            }
            #expect(groups.map(\.count).reduce(0, +) == 20)
            #expect(groups.allSatisfy { $0 == $0.sorted() }, "\(groups)")
            #expect(lines.contains("    create    Family14, Kid14 (ST14)"), "\(lines)")
            let few = try await printer.studentLines(runID: runID, limit: 3)
            #expect(few.filter { $0.hasPrefix("    ") }.count == 3)
            #expect(few.last == "  ... (more in staging.changes, run_id \(runID))")
        }
    }

    @Test("Students are listed by name for a preview, and for a stopped run only on a terminal (not into cron's log)")
    func studentNamesStayOutOfLogs() {
        #expect(ReportPrinter.listsStudents(.previewed, terminal: false))
        #expect(ReportPrinter.listsStudents(.blocked, terminal: true))
        #expect(!ReportPrinter.listsStudents(.blocked, terminal: false))
        #expect(!ReportPrinter.listsStudents(.succeeded, terminal: true))
        #expect(!ReportPrinter.listsStudents(.failed, terminal: true))
    }

    @Test("nights lists the archive's nights: complete with their run and records, or why not")
    func nights() async throws {
        try await TestDatabase.withFresh { database in
            let folder = try DistrictFixture.small().writeTemporary("nights")
            defer { try? FileManager.default.removeItem(at: folder) }
            let landing = folder.appendingPathComponent("landing")
            let arguments = ["sync", "--district", "d1", "--csv", folder.path, "--database-url", Self.url(database),
                             "--landing-dir", landing.path, "--as-of", "2026-11-23"]
            #expect(await Self.run(arguments).code == 0)
            try FileManager.default.createDirectory(
                at: landing.appendingPathComponent("d1/2026-11-24"), withIntermediateDirectories: true)
            let nights = try LandingArchive(root: landing).archivedNights(district: "d1", from: "0001-01-01", to: "9999-12-31")
            // 2 schools, 5 teachers, 20 students, 1 term, 4 sections, 41 enrollments.
            #expect(nights.map(NightsCommand.line) == [
                "2026-11-23\tcomplete\trun 1\t73 records\tcsv:\(folder.path)",
                "2026-11-24\tincomplete\tno manifest.json (no feed finished, or the folder was not written by a sync)",
            ])
            #expect(await Self.run(["nights", "--district", "d1", "--landing-dir", landing.path]).code == 0)

            // Set-aside runs of two databases that share an id are named apart; an unreadable one is named too.
            var night = try #require(nights.first)
            let schools = LandingManifest(district: "d1", date: "2026-11-23", source: "csv", feeds: [
                "schools": .init(file: "schools.run-4.ndjson.gz", records: 2, rejected: 0, bytes: 1, sha256: "x", run: 4, runUID: "b"),
            ])
            night.pending = [
                .init(run: 4, uid: "a", manifest: nil), .init(run: 4, uid: "b", manifest: schools),
                .init(run: 5, uid: "c", manifest: schools),
            ]
            #expect(NightsCommand.line(night).hasSuffix(
                "\trun 4 (uid a) stopped part-way; its manifest cannot be read\trun 4 (uid b) stopped part-way, set aside: "
                    + "schools\trun 5 stopped part-way, set aside: schools"))
        }
    }

    @Test("explain finds a student by an email that failed validation, which only the warning holds")
    func explainByInvalidEmail() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            var fixture = DistrictFixture.small()
            fixture.students[2].email = "Jane.Doe@school"  // ST3: no top-level domain
            #expect(try await harness.sync(fixture).status == .succeeded)
            let answer = try await database.withConnection(logger: TestDatabase.logger) { connection in
                try await ExplainCommand.explain(key: "jane.doe@school", district: nil, on: connection, logger: TestDatabase.logger)
            }
            let text = answer.lines.joined(separator: "\n")
            #expect(answer.found, "\(text)")
            #expect(text.contains("Warning (student, students.csv:4): invalid_email: email 'Jane.Doe@school' is not usable"), "\(text)")
            // The feed's row and its classes, found through the warning's SIS id.
            #expect(text.contains("  In the feed: ST3 at students.csv:4, email '', grade "), "\(text)")
            #expect(!text.contains("In the feed: no"), "\(text)")
            let sections = fixture.enrollments.filter { $0.1 == "ST3" }.map(\.0)
            #expect(!sections.isEmpty)
            #expect(text.contains("  Sections in the feed: \(sections.joined(separator: ", "))"), "\(text)")
            // And the roster's record, whose email is not stored either.
            #expect(text.contains("Roster: student ") && text.contains("SIS id ST3): active"), "\(text)")
            #expect(!text.contains("Roster: no student"), "\(text)")
        }
    }

    @Test("explain answers where a student is, and why")
    func explain() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            var fixture = DistrictFixture.small()
            _ = try await harness.sync(fixture)
            fixture.removeStudent("ST4")
            _ = try await harness.sync(fixture)
            let (code, _) = await Self.run(["explain", "student", "ST4", "--database-url", Self.url(database)])
            #expect(code == 0)
            // Nobody by that id or email anywhere: one line and exit 1, as grep does.
            #expect(await Self.run(["explain", "student", "NOBODY9", "--database-url", Self.url(database)]).code == 1)
            #expect(try await database.string("SELECT status || '/' || status_reason FROM roster.students WHERE sis_id = 'ST4'") == "archived/missing_from_feed")

            // What it says: ST4 left the feed; ST6 is listed in sections but missing from the
            // students file, so it is kept as it is (the file looks cut short); a wildcard matches nobody.
            fixture.students.removeAll { $0.id == "ST6" }
            let last = try await harness.sync(fixture, allowMassChanges: true)
            let answer = try await database.withConnection(logger: TestDatabase.logger) { connection in
                try await ExplainCommand.explain(key: "ST4", district: nil, on: connection, logger: TestDatabase.logger)
            }
            #expect(answer.found)
            let text = answer.lines.joined(separator: "\n")
            #expect(text.contains("latest staged run \(last.runID ?? 0) (nightly, succeeded)"), "\(text)")
            #expect(text.contains("In the feed: no"), "\(text)")
            #expect(text.contains("archived (missing_from_feed"), "\(text)")
            let missing = try await database.withConnection(logger: TestDatabase.logger) { connection in
                try await ExplainCommand.explain(key: "ST6", district: "d1", on: connection, logger: TestDatabase.logger)
            }
            let missingText = missing.lines.joined(separator: "\n")
            #expect(missingText.contains("Sections in the feed: SEC1, SEC2, SEC3"), "\(missingText)")
            #expect(missingText.contains("Warning (student, enrollments.csv:11): referenced_not_in_feed: student ST6 is not in the students feed, but enrollments.csv:11 names it"), "\(missingText)")
            #expect(missingText.contains("(clever, district d1, SIS id ST6): active"), "\(missingText)")
            let wildcard = try await database.withConnection(logger: TestDatabase.logger) { connection in
                try await ExplainCommand.explain(key: "%", district: nil, on: connection, logger: TestDatabase.logger)
            }
            #expect(!wildcard.found, "\(wildcard.lines)")

            // Rejected by validation (a school nobody has), and when the district last synced.
            for index in fixture.students.indices where fixture.students[index].id == "ST7" { fixture.students[index].school = "NOPE" }
            _ = try await harness.sync(fixture, allowMassChanges: true)
            let rejected = try await database.withConnection(logger: TestDatabase.logger) { connection in
                try await ExplainCommand.explain(key: "ST7", district: "d1", on: connection, logger: TestDatabase.logger)
            }
            let rejectedText = rejected.lines.joined(separator: "\n")
            #expect(rejectedText.contains("Rejected (student, students.csv:"), "\(rejectedText)")
            #expect(rejectedText.contains("unknown_reference: school NOPE is not in the schools feed"), "\(rejectedText)")
            let synced = try #require(try await database.string(
                "SELECT to_char(last_successful_sync_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') FROM roster.districts WHERE id = 'd1'"))
            #expect(rejectedText.contains("District d1: last successful sync \(synced)"), "\(rejectedText)")
        }
    }
}
