import FakeClever
import Foundation
import Logging
import PostgresLoad
import RosterSync
import Testing

/// The whole pipeline against the fake Clever server on loopback (a real HTTP server).
@Suite("Sync from Clever's API", .serialized, .timeLimit(.minutes(10)))
struct APISyncTests {
    static let token = "test-token"

    /// Serves `fixture` as the district `district` (the id a sync checks its token against).
    static func withServer<T: Sendable>(
        csv fixture: DistrictFixture, district: String = "d1", faults: Faults = .none,
        _ body: (URL, FakeCleverServer) async throws -> T
    ) async throws -> T {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("fake-clever-\(UUID().uuidString)")
        try fixture.write(to: folder)
        defer { try? FileManager.default.removeItem(at: folder) }
        let server = try FakeCleverServer(
            csvDirectory: folder, configuration: .init(token: token, faults: faults, districtID: district),
            logger: TestDatabase.logger)
        return try await server.withRunning { url in try await body(url, server) }
    }

    static let studentColumns = "sis_id, email, first_name, last_name, grade, grade_rank, can_login, status"

    @Test("The API and the CSV files of one district give the same roster; a second API run changes nothing")
    func sameRosterFromAPIAndCSV() async throws {
        try await TestDatabase.withFresh { database in
            let fixture = DistrictFixture.small()
            let csv = SyncHarness(database: database, district: "by-csv")
            let api = SyncHarness(database: database, district: "by-api")
            #expect(try await csv.sync(fixture).status == .succeeded)
            try await Self.withServer(csv: fixture, district: "by-api") { url, _ in
                let source = SyncConfiguration.Source.clever(baseURL: url.absoluteString, token: Self.token)
                let first = try await SyncService(logger: TestDatabase.logger).sync(api.configuration(source))
                let second = try await SyncService(logger: TestDatabase.logger).sync(api.configuration(source))
                #expect(first.status == .succeeded)
                #expect(first.summary.count(.student, "create") == 20)
                #expect(second.summary.total == 0)
            }
            for (table, columns) in [
                ("students", Self.studentColumns), ("teachers", "sis_id, email, first_name, last_name, status"),
                ("sections", "sis_id, name, grade, status"), ("schools", "sis_id, name, low_grade, high_grade"),
                // Clever's API terms have no SIS id (keyed on their Clever id): the same terms.
                ("terms", "name, start_date, end_date"),
            ] {
                let differences = try await database.int(
                    """
                    SELECT count(*) FROM ((SELECT \(columns) FROM roster.\(table) WHERE district_id = 'by-csv'
                      EXCEPT SELECT \(columns) FROM roster.\(table) WHERE district_id = 'by-api')
                    UNION ALL (SELECT \(columns) FROM roster.\(table) WHERE district_id = 'by-api'
                      EXCEPT SELECT \(columns) FROM roster.\(table) WHERE district_id = 'by-csv')) d
                    """)
                #expect(differences == 0, "roster.\(table) differs between API and CSV")
            }
            #expect(try await api.count("roster.enrollments") == csv.count("roster.enrollments"))
            #expect(try await api.count("roster.section_teachers") == csv.count("roster.section_teachers"))
        }
    }

    @Test("A section without a primary teacher from the API: its co-teacher stays a co-teacher, as from the CSV files")
    func blankPrimaryFromAPI() async throws {
        try await TestDatabase.withFresh { database in
            var fixture = DistrictFixture.small()
            fixture.sections[0].teachers = ["", "T2"]
            let harness = SyncHarness(database: database)
            try await Self.withServer(csv: fixture) { url, _ in
                let report = try await SyncService(logger: TestDatabase.logger).sync(
                    harness.configuration(.clever(baseURL: url.absoluteString, token: Self.token)))
                #expect(report.status == .succeeded)
            }
            #expect(try await database.strings(
                """
                SELECT t.sis_id || ':' || st.is_primary FROM roster.section_teachers st
                JOIN roster.sections s ON s.id = st.section_id JOIN roster.teachers t ON t.id = st.teacher_id
                WHERE s.sis_id = 'SEC1'
                """) == ["T2:false"])
        }
    }

    @Test("A student and a teacher Clever lists without a school are kept for the night, with their classes")
    func peopleWithoutSchoolKept() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            var fixture = DistrictFixture.small()
            let sync = { (fixture: DistrictFixture) in
                try await Self.withServer(csv: fixture) { url, _ in
                    try await SyncService(logger: TestDatabase.logger).sync(
                        harness.configuration(.clever(baseURL: url.absoluteString, token: Self.token)))
                }
            }
            #expect(try await sync(fixture).status == .succeeded)
            let before = try await SafetyTests.snapshot(database)

            // ST5 (in SEC1 and SEC2) and T1 (SEC1's primary teacher) lose their school in Clever.
            let student = try #require(fixture.students.firstIndex { $0.id == "ST5" })
            let teacher = try #require(fixture.teachers.firstIndex { $0.id == "T1" })
            fixture.students[student].school = ""
            fixture.teachers[teacher].school = ""
            let report = try await sync(fixture)
            #expect(report.status == .succeeded, "\(report.message)")
            #expect(report.summary.total == 0, "nothing archived, suspended or removed: \(report.summary.counts)")
            // Every roster table and the change log as they were (the district's row notes the run).
            #expect(try await SafetyTests.snapshot(database).dropLast() == before.dropLast())
            #expect(
                try await database.strings("SELECT entity || ' ' || record_key FROM staging.unreadable_rows WHERE run_id = \(report.runID ?? 0) ORDER BY 1")
                    == ["student ST5", "teacher T1"])
        }
    }

    @Test("A school, student, teacher and section Clever lists with a blank SIS id are kept for the night, by the roster's record of their Clever ids")
    func blankSISIDsKept() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let sync = { (faults: Faults) in
                try await Self.withServer(csv: .small(), faults: faults) { url, _ in
                    try await SyncService(logger: TestDatabase.logger).sync(
                        harness.configuration(.clever(baseURL: url.absoluteString, token: Self.token)))
                }
            }
            #expect(try await sync(.none).status == .succeeded)
            let before = try await SafetyTests.snapshot(database)

            // S2 holds T4, T5, ST15 to ST20 and SEC4; ST5 is in SEC1 and SEC2; T1 teaches SEC1.
            let report = try await sync(Faults(blankSISIDs: ["S2", "ST5", "T1", "SEC3"]))
            #expect(report.status == .succeeded, "\(report.message)")
            #expect(report.summary.total == 0, "nothing archived, suspended or removed: \(report.summary.counts)")
            #expect(try await SafetyTests.snapshot(database).dropLast() == before.dropLast())
            #expect(
                try await database.strings("SELECT entity || ' ' || record_key FROM staging.unreadable_rows WHERE run_id = \(report.runID ?? 0) ORDER BY 1")
                    == ["school S2", "section SEC3", "student ST5", "teacher T1"])

            // Twelve of twenty students listed without SIS ids, eleven of them newly (the night
            // before let ST5 through): as many as the share stops on. The feed looks damaged, and
            // the run fails before the merge, naming a new one.
            let many = try await sync(Faults(blankSISIDs: Set((1...12).map { "ST\($0)" })))
            #expect(many.status == .failed, "\(many.message)")
            #expect(many.exitCode == 1)
            #expect(many.message.contains(
                "the extract looks damaged: 12 of 20 active students (60%) have rows in the students feed that cannot be read "
                    + "(11 of them newly) (users/"),
                "\(many.message)")
            #expect(many.message.contains("Sync again once the feed is whole"), "\(many.message)")
            #expect(try await SafetyTests.snapshot(database).dropLast() == before.dropLast())
        }
    }

    @Test("A class Clever lists with a blank SIS id still gains the members its page lists: its rows name it by Clever id, which the roster resolves")
    func blankSectionSISIDResolvesByCleverID() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let sync = { (fixture: DistrictFixture, faults: Faults) in
                try await Self.withServer(csv: fixture, faults: faults) { url, _ in
                    try await SyncService(logger: TestDatabase.logger).sync(
                        harness.configuration(.clever(baseURL: url.absoluteString, token: Self.token)))
                }
            }
            #expect(try await sync(.small(), .none).status == .succeeded)
            let members = "SELECT st.sis_id FROM roster.enrollments e JOIN roster.sections s ON s.id = e.section_id "
                + "JOIN roster.students st ON st.id = e.student_id WHERE s.sis_id = 'SEC3' ORDER BY 1"
            let before = try await database.strings(members)
            #expect(!before.contains("ST1"))
            // ST1 joins Art (SEC3) the night Clever lists Art without its SIS id.
            var joined = DistrictFixture.small()
            joined.enrollments.append(("SEC3", "ST1"))
            let report = try await sync(joined, Faults(blankSISIDs: ["SEC3"]))
            #expect(report.status == .succeeded, "\(report.message)")
            #expect(report.summary.count(.enrollment, "create") == 1, "\(report.summary.counts)")
            #expect(report.summary.total == 1, "\(report.summary.counts)")
            #expect(try await database.strings(members) == (before + ["ST1"]).sorted())
            #expect(!report.rejections.contains { $0.entity == "enrollment" }, "\(report.rejections)")
        }
    }

    @Test("Rate limits and server errors are retried; the run succeeds, and no log record, at any level, holds the token")
    func transientFaultsRecover() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let faults = Faults(rateLimited: 2, retryAfterSeconds: 0, serverErrors: 2, serverErrorStatus: 503)
            var handler = RecordingLogHandler()
            handler.logLevel = .trace
            let logger = Logger(label: "test") { [handler] _ in handler }
            try await Self.withServer(csv: .small(), faults: faults) { url, server in
                let report = try await SyncService(logger: logger).sync(
                    harness.configuration(.clever(baseURL: url.absoluteString, token: Self.token)))
                #expect(report.status == .succeeded)
                #expect(try await harness.count("roster.students") == 20)
                #expect(await server.faults().rateLimited == 0, "every 429 was served")
            }
            let entries = handler.entries
            #expect(entries.contains { $0.message.contains("retrying") }, "the retries were logged")
            #expect(!entries.contains { "\($0.message) \($0.metadata)".contains(Self.token) })
        }
    }

    @Test("With one try per request, a 503 on each of a task's three attempts fails the run, and its resume, the roster unchanged; the default tries ride it out")
    func apiAttemptsBoundTheRetries() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            // Six 503s: the run's three tries of its first request take three, its resume's the others.
            let faults = Faults(serverErrors: 6, serverErrorStatus: 503)
            let (once, resumed) = try await Self.withServer(csv: .small(), faults: faults) { url, _ in
                var configuration = harness.configuration(.clever(baseURL: url.absoluteString, token: Self.token))
                configuration.apiMaxAttempts = 1
                let once = try await SyncService(logger: TestDatabase.logger).sync(configuration)
                // A resume tries as the run did (etl.runs.options): once per request again.
                let resumed = try await SyncService(logger: TestDatabase.logger).resume(
                    runID: once.runID ?? 0, database: database, sql: TestDatabase.sql, cleverToken: Self.token)
                return (once, resumed)
            }
            #expect(once.status == .failed, "\(once.message)")
            #expect(once.exitCode == 1)
            #expect(once.message.contains("503"), "\(once.message)")
            #expect(resumed.status == .failed, "\(resumed.message)")
            #expect(try await harness.count("roster.students") == 0)
            let retried = try await Self.withServer(csv: .small(), faults: faults) { url, _ in
                try await SyncService(logger: TestDatabase.logger).sync(
                    harness.configuration(.clever(baseURL: url.absoluteString, token: Self.token)))
            }
            #expect(retried.status == .succeeded, "\(retried.message)")
            #expect(try await harness.count("roster.students") == 20)
        }
    }

    @Test("A success-shaped failure (missing envelope, truncated body) fails the run; the roster is unchanged")
    func malformedResponsesFail() async throws {
        for faults in [Faults(missingEnvelopes: 1_000), Faults(truncatedBodies: 1_000), Faults(wrongTypes: 1_000)] {
            try await TestDatabase.withFresh { database in
                let harness = SyncHarness(database: database)
                _ = try await harness.sync(.small())
                let before = try await SafetyTests.snapshot(database)
                try await Self.withServer(csv: .small(), faults: faults) { url, _ in
                    let report = try await SyncService(logger: TestDatabase.logger).sync(
                        harness.configuration(.clever(baseURL: url.absoluteString, token: Self.token)))
                    #expect(report.status == .failed, "\(faults)")
                    #expect(report.exitCode == 1)
                    #expect(!report.message.contains(Self.token))
                }
                #expect(try await SafetyTests.snapshot(database) == before)
                #expect(try await harness.count("roster.students", "status = 'active'") == 20)
            }
        }
    }

    @Test("An API that answers every student or section page with no objects stops before the merge")
    func emptyAPIFeedStops() async throws {
        var noStudents = DistrictFixture.small()
        noStudents.students = []
        noStudents.enrollments = []
        var noSections = DistrictFixture.small()
        noSections.sections = []
        noSections.enrollments = []
        for (served, entity) in [(noStudents, "students"), (noSections, "sections")] {
            try await TestDatabase.withFresh { database in
                let harness = SyncHarness(database: database)
                _ = try await harness.sync(.small())
                let before = try await SafetyTests.snapshot(database)
                try await Self.withServer(csv: served) { url, _ in
                    let report = try await SyncService(logger: TestDatabase.logger).sync(
                        harness.configuration(.clever(baseURL: url.absoluteString, token: Self.token),
                                              allowMassChanges: true))
                    #expect(report.status == .blocked, "\(entity): \(report.message)")
                    #expect(report.exitCode == 3)
                    #expect(
                        report.violations.contains { $0.hasPrefix("\(entity): the feed has no loadable rows") },
                        "\(report.violations)")
                }
                #expect(try await SafetyTests.snapshot(database) == before, "\(entity)")
            }
        }
    }

    @Test("An API feed cut short (no page after the first) stops at the safety threshold; the roster is unchanged")
    func truncatedAPIFeedStops() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let district = SafetyTests.bigger()
            _ = try await harness.sync(district)
            let before = try await SafetyTests.snapshot(database)
            try await Self.withServer(csv: district, faults: Faults(firstPagesOnly: true)) { url, _ in
                var configuration = harness.configuration(.clever(baseURL: url.absoluteString, token: Self.token))
                configuration.batchSize = 10  // pages of ten: students end after their first ten
                let report = try await SyncService(logger: TestDatabase.logger).sync(configuration)
                #expect(report.status == .blocked, "\(report.message)")
                #expect(report.exitCode == 3)
                #expect(report.violations.contains { $0.hasPrefix("student: 90 of 100") }, "\(report.violations)")
            }
            #expect(try await SafetyTests.snapshot(database) == before)
        }
    }

    @Test("A class kept for an unreadable object and archived because tonight's feed moved its term's end into the past counts at the threshold like the others")
    func redatedTermCountsUnreadableClasses() async throws {
        try await TestDatabase.withFresh { database in
            // Four removals stop the run; the three readable classes alone would not.
            try await database.execute(
                "INSERT INTO roster.districts (id, name, settings) VALUES ('d1', 'D', '{\"min_removals_to_block\": 4}')")
            let harness = SyncHarness(database: database)
            let full = DistrictFixture.small()
            let sync = { (fixture: DistrictFixture, faults: Faults) in
                try await Self.withServer(csv: fixture, faults: faults) { url, _ in
                    try await SyncService(logger: TestDatabase.logger)
                        .sync(harness.configuration(.clever(baseURL: url.absoluteString, token: Self.token)))
                }
            }
            #expect(try await sync(full, .none).status == .succeeded)
            let before = try await SafetyTests.snapshot(database)
            // The term's end moved into the past (a typo in the SIS), and one class comes without its SIS id.
            var typo = full
            for index in typo.sections.indices { typo.sections[index].term.2 = "2026-11-01" }
            let report = try await sync(typo, Faults(blankSISIDs: ["SEC3"]))
            #expect(report.status == .blocked, "\(report.message)")
            #expect(report.violations.contains { $0.hasPrefix("section: 4 of 4") }, "\(report.violations)")
            #expect(try await SafetyTests.snapshot(database) == before)
        }
    }

    @Test("Students Clever's users feed lacks while its sections list them (a page lost) are kept; as many as the share would stop on fail the run as cut short")
    func usersFeedCutShortKept() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let full = SafetyTests.bigger()
            let sync = { (fixture: DistrictFixture, allowMassChanges: Bool) in
                try await Self.withServer(csv: fixture) { url, _ in
                    var configuration = harness.configuration(.clever(baseURL: url.absoluteString, token: Self.token))
                    configuration.allowMassChanges = allowMassChanges
                    return try await SyncService(logger: TestDatabase.logger).sync(configuration)
                }
            }
            #expect(try await sync(full, false).status == .succeeded)
            let before = try await SafetyTests.snapshot(database)

            var cut = full
            cut.students.removeLast(20)
            let many = try await sync(cut, false)
            #expect(many.status == .failed, "\(many.message)")
            #expect(many.exitCode == 1)
            #expect(many.message.contains("the extract looks cut short: 20 of 100 active students (20%)"), "\(many.message)")
            // A resume would merge the same staged rows: sync again.
            #expect(many.message.hasSuffix("Sync again once the feed is whole (a resume would reuse what the run staged)."),
                    "\(many.message)")
            // A failed run leaves even the district's row (its last successful sync) as it was.
            #expect(try await SafetyTests.snapshot(database) == before)

            let allowed = try await sync(cut, true)
            #expect(allowed.status == .succeeded, "\(allowed.message)")
            #expect(allowed.summary.total == 0, "\(allowed.summary.counts)")
            #expect(try await harness.count("roster.enrollments") == 121)

            // The sections name students by Clever id: the roster's record of that id is kept.
            #expect(try await sync(full, false).summary.total == 0)
            cut = full
            cut.students.removeLast(5)
            let few = try await sync(cut, false)
            #expect(few.status == .succeeded, "\(few.message)")
            #expect(few.summary.total == 0, "\(few.summary.counts)")
            let sec2 = try #require(try await database.string("SELECT 'sections/' || clever_id FROM roster.sections WHERE sis_id = 'SEC2'"))
            let kept = try await database.strings(
                "SELECT record_key || ' ' || source_ref FROM staging.rejects WHERE run_id = \(few.runID ?? 0) AND reason = 'referenced_not_in_feed' ORDER BY 1")
            #expect(kept == ["ST100", "ST96", "ST97", "ST98", "ST99"].map { "\($0) \(sec2)" })
        }
    }

    @Test("An API URL that already ends in /v3.0 is a configuration error (exit 2) at the first request, saying so")
    func apiURLWithVersionPath() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            try await Self.withServer(csv: .small()) { url, _ in
                let error = try #require(await #expect(throws: (any Error).self) {
                    _ = try await SyncService(logger: TestDatabase.logger).sync(
                        harness.configuration(.clever(baseURL: url.absoluteString + "/v3.0", token: Self.token)))
                })
                #expect(SyncReport.exitCode(for: error) == 2)
                let text = String(describing: error)
                #expect(text.contains("Clever answered 404"), "\(text)")
                #expect(text.contains("--clever-url is Clever's API root (https://api.clever.com), without /v3.0"), "\(text)")
            }
            #expect(try await harness.count("roster.students") == 0)
        }
    }

    @Test("A token of another district is a configuration error before anything is read: its children never load under this district's id")
    func tokenOfAnotherDistrict() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            #expect(try await harness.sync(.small()).status == .succeeded)
            let before = try await database.string("SELECT etl.roster_digest('d1')")
            try await Self.withServer(csv: .small(), district: "d2") { url, server in
                let error = try #require(await #expect(throws: (any Error).self) {
                    _ = try await SyncService(logger: TestDatabase.logger).sync(
                        harness.configuration(.clever(baseURL: url.absoluteString, token: Self.token)))
                })
                #expect(SyncReport.exitCode(for: error) == 2)
                let text = String(describing: error)
                #expect(text.contains("this Clever token is for district d2 (Fixture district), not d1"), "\(text)")
                // Only GET /v3.0/districts was asked: no feed was read.
                #expect(await server.requestCount() == 1)

                // A district never synced, refused the same way, is not left in roster.districts
                // (where `--district all` would try it every night).
                var unknown = harness
                unknown.district = "x"
                await #expect(throws: (any Error).self) {
                    _ = try await SyncService(logger: TestDatabase.logger).sync(
                        unknown.configuration(.clever(baseURL: url.absoluteString, token: Self.token)))
                }
                #expect(try await database.strings("SELECT id FROM roster.districts ORDER BY id") == ["d1"])
            }
            #expect(try await database.string("SELECT etl.roster_digest('d1')") == before)
            #expect(try await database.string("SELECT status FROM etl.runs ORDER BY id DESC LIMIT 1") == "failed")
        }
    }

    @Test("A wrong token is a configuration error that names what to check, without the token")
    func unauthorized() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            try await Self.withServer(csv: .small()) { url, _ in
                do {
                    _ = try await SyncService(logger: TestDatabase.logger).sync(
                        harness.configuration(.clever(baseURL: url.absoluteString, token: "wrong-secret")))
                    Issue.record("a wrong token must not sync")
                } catch {
                    let text = String(describing: error)
                    #expect(text.contains("CLEVER_TOKEN"))
                    #expect(!text.contains("wrong-secret"))
                }
            }
            #expect(try await harness.count("roster.students") == 0)
        }
    }

    @Test("A synthetic district changing between nights: changes flow through, the next run is quiet")
    func changedDistrictBetweenNights() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let district = SyntheticDistrict(students: 400, seed: 7)
            let server = FakeCleverServer(
                district: district, configuration: .init(token: Self.token, districtID: "d1"), logger: TestDatabase.logger)
            try await server.withRunning { url in
                let configuration = harness.configuration(.clever(baseURL: url.absoluteString, token: Self.token))
                let first = try await SyncService(logger: TestDatabase.logger).sync(configuration)
                #expect(first.status == .succeeded)
                let students = try await harness.count("roster.students", "status = 'active'")
                #expect(students == 400)
                await server.serve(district.nextNight(changed: 0.02, removed: 0.01, added: 0.01))
                let second = try await SyncService(logger: TestDatabase.logger).sync(configuration)
                #expect(second.status == .succeeded)
                let archived = second.summary.count(.student, "archive")
                let created = second.summary.count(.student, "create")
                #expect((2...8).contains(archived))
                #expect((2...8).contains(created))
                #expect(try await harness.count("roster.students", "status = 'active'") == 400 - archived + created)
                #expect(second.summary.count(.student, "update") > 0)
                let third = try await SyncService(logger: TestDatabase.logger).sync(configuration)
                #expect(third.summary.total == 0)
            }
        }
    }
}
