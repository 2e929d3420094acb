import Foundation
import PostgresLoad
import PostgresNIO
import RosterSync
import Testing

/// The merge checks foreign keys once per step instead of once per row when it may
/// (migration 0007). These pin down when it may not, and that it keeps what the per-row
/// checks promised: nothing points at a row another session deleted.
@Suite("Bulk inserts", .serialized, .timeLimit(.minutes(10)))
struct BulkInsertTests {
    /// The small district plus a student in no section (a row another session can delete).
    static func district() -> DistrictFixture {
        var district = DistrictFixture.small()
        district.students.append(
            .init(school: "S1", id: "ST21", first: "Kid21", last: "Family21", grade: "3", email: "kid21@example.org"))
        return district
    }

    /// Every `etl.begin_bulk_insert(...)` call in sql/merge/, by the table it inserts into: the
    /// tests ask exactly what the merge asks.
    static func mergeCalls() throws -> [String: String] {
        let folder = TestDatabase.sql.url.appendingPathComponent("merge")
        var calls: [String: String] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) where name.hasSuffix(".sql") {
            let text = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
            // The call alone, without the condition a step may put after it.
            for match in text.matches(of: /SELECT (etl\.begin_bulk_insert\(ARRAY\['(roster\.\w+)'[^;]*?\]\))/) {
                calls[String(match.2)] = String(match.1)
            }
        }
        return calls
    }

    /// What the merge's `etl.begin_bulk_insert` call for `table` answers in district d1 (then
    /// rolled back).
    static func bulkAllowed(_ database: DatabaseTarget, _ table: String) async throws -> Bool? {
        let call = try #require(try mergeCalls()[table], "no begin_bulk_insert call for \(table) in sql/merge/")
        return try await database.withConnection(logger: TestDatabase.logger) { connection in
            try await connection.query("BEGIN", logger: TestDatabase.logger)
            try await connection.query("SET LOCAL rostersync.district_id = 'd1'", logger: TestDatabase.logger)
            let rows = try await connection.query(PostgresQuery(unsafeSQL: "SELECT \(call)"), logger: TestDatabase.logger)
            var answer: Bool?
            for try await allowed in rows.decode(Bool.self) { answer = allowed }
            try await connection.query("ROLLBACK", logger: TestDatabase.logger)
            return answer
        }
    }

    @Test("A role that may not skip per-row checks syncs the same roster, checked row by row")
    func unprivilegedRoleFallsBack() async throws {
        let admin = try await TestDatabase.server()
        let role = "rs_plain_\(UInt32.random(in: 0...UInt32.max))"
        try await admin.execute("CREATE ROLE \(role) LOGIN NOSUPERUSER PASSWORD '\(role)'")
        do {
            try await TestDatabase.withFresh(migrate: false) { database in
                try await database.execute("ALTER DATABASE \(database.configuration.database ?? "") OWNER TO \(role)")
                var plain = database
                plain.configuration.username = role
                plain.configuration.password = role
                try await plain.withConnection(logger: TestDatabase.logger) { connection in
                    try await Migrator(directory: TestDatabase.sql).migrate(on: connection, logger: TestDatabase.logger)
                }
                #expect(try await plain.string("SELECT rolsuper FROM pg_roles WHERE rolname = current_user") == "false")
                #expect(try await Self.bulkAllowed(plain, "roster.enrollments") == false)

                let harness = SyncHarness(database: plain)
                let district = Self.district()
                let report = try await harness.sync(district)
                #expect(report.status == .succeeded)
                #expect(report.summary.count(.enrollment, "create") == district.enrollments.count)
                #expect(report.summary.count(.student, "create") == district.students.count)
                #expect(try await harness.count("roster.enrollments") == district.enrollments.count)
                #expect(try await harness.sync(district).summary.total == 0)
            }
        } catch {
            try? await admin.execute("DROP ROLE IF EXISTS \(role)")
            throw error
        }
        try await admin.execute("DROP ROLE IF EXISTS \(role)")
    }

    @Test("A trigger of the platform's own on a roster table still fires for every row the sync inserts")
    func ownTriggersStillFire() async throws {
        try await TestDatabase.withFresh { database in
            try await database.execute(
                """
                INSERT INTO roster.districts (id, name) VALUES ('d1', 'District 1');
                CREATE TABLE public.enrollment_audit (section_id bigint, student_id bigint);
                CREATE FUNCTION public.audit_enrollment() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN INSERT INTO public.enrollment_audit VALUES (NEW.section_id, NEW.student_id); RETURN NEW; END $$;
                CREATE TRIGGER audit AFTER INSERT ON roster.enrollments FOR EACH ROW EXECUTE FUNCTION public.audit_enrollment();
                """)
            #expect(try await Self.bulkAllowed(database, "roster.enrollments") == false)
            // Students have no trigger of their own: their insert may skip the per-row checks.
            #expect(try await Self.bulkAllowed(database, "roster.students") == true)

            let district = Self.district()
            let report = try await SyncHarness(database: database).sync(district)
            #expect(report.status == .succeeded)
            #expect(try await database.int("SELECT count(*) FROM public.enrollment_audit") == district.enrollments.count)
            #expect(
                try await database.int(
                    "SELECT count(*) FROM roster.enrollments JOIN public.enrollment_audit USING (section_id, student_id)")
                    == district.enrollments.count)
        }
    }

    @Test("A foreign key the merge does not know about turns the bulk path off; the sync still loads")
    func unknownForeignKeyFallsBack() async throws {
        try await TestDatabase.withFresh { database in
            try await database.execute("INSERT INTO roster.districts (id, name) VALUES ('d1', 'District 1')")
            // The keys sql/merge/ names are the schema's own: each insert may take the bulk path.
            let tables = try Self.mergeCalls().keys.sorted()
            #expect(tables == ["roster.enrollments", "roster.section_teachers", "roster.sections", "roster.students"])
            for table in tables {
                #expect(try await Self.bulkAllowed(database, table) == true, "\(table)")
            }
            // The platform records who added an enrollment by hand.
            try await database.execute(
                """
                CREATE TABLE public.staff (id bigint PRIMARY KEY);
                ALTER TABLE roster.enrollments ADD COLUMN added_by bigint REFERENCES public.staff (id);
                """)
            #expect(try await Self.bulkAllowed(database, "roster.enrollments") == false)
            #expect(try await Self.bulkAllowed(database, "roster.students") == true)
            let district = Self.district()
            let report = try await SyncHarness(database: database).sync(district)
            #expect(report.status == .succeeded)
            #expect(try await database.int("SELECT count(*) FROM roster.enrollments") == district.enrollments.count)
        }
    }

    @Test("Rows the merge inserted itself are not locked (rewritten) again; older rows new ones point at are")
    func ownRowsAreNotLockedAgain() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            var district = Self.district()
            _ = try await harness.sync(district)
            #expect(try await Self.bulkAllowed(database, "roster.enrollments") == true)
            // A lock leaves the locker's transaction id in xmax: none on a first sync's own
            // students, nor on its sections and teachers (section teachers take the bulk path too).
            for table in ["students", "sections", "teachers"] {
                #expect(try await database.int("SELECT count(*) FROM roster.\(table) WHERE xmax <> 0") == 0, "\(table)")
            }
            #expect(try await database.int("SELECT count(*) FROM roster.enrollments") == district.enrollments.count)
            #expect(try await database.int("SELECT count(*) FROM roster.section_teachers") == 5)

            // The next night enrolls ST21, a student from the night before: that row is held. T5
            // becomes SEC1's co-teacher: a night's few new pairs are checked row by row, which
            // locks the section and the teacher they point at.
            district.enrollments.append(("SEC3", "ST21"))
            district.sections[0].teachers.append("T5")
            let report = try await harness.sync(district)
            #expect(report.summary.count(.enrollment, "create") == 1)
            #expect(report.summary.count(.sectionTeacher, "create") == 1)
            func locked(_ table: String) async throws -> String? {
                try await database.string("SELECT string_agg(sis_id, ',' ORDER BY sis_id) FROM roster.\(table) WHERE xmax <> 0")
            }
            #expect(try await locked("students") == "ST21")
            #expect(try await locked("teachers") == "T5")
            #expect(try await locked("sections") == "SEC1,SEC3")
        }
    }

    @Test("A district's first sections take the bulk path, and the teachers from an earlier night they point at are held")
    func firstSectionsHoldOlderTeachers() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            // The SIS shared people first, classes later.
            var people = Self.district()
            people.sections = []
            people.enrollments = []
            let first = try await harness.sync(people) { $0.allowEmptyFeeds = ["sections", "enrollments"] }
            #expect(first.status == .succeeded, "\(first.message)")
            #expect(try await harness.count("roster.sections") == 0)

            let classes = try await harness.sync(Self.district())
            #expect(classes.summary.count(.sectionTeacher, "create") == 5)
            #expect(try await database.int("SELECT count(*) FROM roster.sections WHERE xmax <> 0") == 0)
            // Held as the per-row checks would have: the four teachers the sections point at.
            #expect(
                try await database.string("SELECT string_agg(sis_id, ',' ORDER BY sis_id) FROM roster.teachers WHERE xmax <> 0")
                    == "T1,T2,T3,T4")
        }
    }

    /// What `etl.begin_merge()` notes in district d1 in a transaction of `isolation` (then rolled
    /// back), and whether a hold on a student id that no row has then fails, for ids of Clever
    /// rows (`etl.hold_clever_references`) and for any ids (`etl.hold_references`).
    static func beginMerge(_ database: DatabaseTarget, isolation: String) async throws
        -> (noted: String, cleverHoldFails: Bool, otherHoldFails: Bool)
    {
        try await database.withConnection(logger: TestDatabase.logger) { connection in
            let logger = TestDatabase.logger
            // Read each result to the end: a function's error comes among the rows.
            func run(_ sql: String) async throws {
                _ = try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger).collect()
            }
            func holdFails(_ function: String) async throws -> Bool {
                try await run("SAVEPOINT hold")
                do {
                    try await run("SELECT etl.\(function)('roster.students', 'wanted', 'student_id')")
                    try await run("RELEASE SAVEPOINT hold")
                    return false
                } catch let error as PSQLError where error.serverInfo?[.message]?.contains("are gone") == true {
                    try await run("ROLLBACK TO SAVEPOINT hold")
                    return true
                }
            }
            try await run("BEGIN ISOLATION LEVEL \(isolation)")
            try await run("SET LOCAL rostersync.district_id = 'd1'")
            try await run("SELECT etl.begin_merge()")
            let noted = try await connection.query(
                """
                SELECT coalesce(string_agg(t.id::oid::regclass::text, ',' ORDER BY t.n), '')
                FROM unnest(string_to_array(current_setting('rostersync.no_clever_rows_at_start'), ',')) WITH ORDINALITY t (id, n)
                """, logger: logger
            ).collect().first?.decode(String.self) ?? "?"
            try await run(
                """
                SELECT etl.begin_bulk_insert(ARRAY['roster.enrollments']::regclass[],
                                             ARRAY['enrollments_section_fkey', 'enrollments_student_fkey'])
                """)
            try await run("CREATE TEMP TABLE wanted ON COMMIT DROP AS SELECT -1::bigint AS student_id")
            let clever = try await holdFails("hold_clever_references")
            let other = try await holdFails("hold_references")
            try await run("ROLLBACK")
            return (noted, clever, other)
        }
    }

    @Test("A merge holds nothing in the tables where the district had no Clever row when it began, and only there")
    func newDistrictsHoldNothing() async throws {
        try await TestDatabase.withFresh { database in
            try await database.execute(
                """
                INSERT INTO roster.districts (id, name) VALUES ('d1', 'District 1');
                INSERT INTO roster.students (district_id, first_name, source) VALUES ('d1', 'Added by hand', 'manual');
                """)
            // A manual student is not a Clever row: the merge's own Clever students need no hold.
            let first = try await Self.beginMerge(database, isolation: "REPEATABLE READ")
            #expect(first.noted == "roster.schools,roster.terms,roster.teachers,roster.students,roster.sections")
            #expect(first.cleverHoldFails == false)
            // Any ids (hold_references) may be of the manual rows that did exist: held.
            #expect(first.otherHoldFails == true)
            #expect(try await Self.beginMerge(database, isolation: "SERIALIZABLE").cleverHoldFails == false)
            // READ COMMITTED: a later statement may see rows others committed, so every hold runs.
            let readCommitted = try await Self.beginMerge(database, isolation: "READ COMMITTED")
            #expect(readCommitted.noted == "")
            #expect(readCommitted.cleverHoldFails == true)

            _ = try await SyncHarness(database: database).sync(Self.district())
            let later = try await Self.beginMerge(database, isolation: "REPEATABLE READ")
            #expect(later.noted == "")
            #expect(later.cleverHoldFails == true)
        }
    }

    @Test("Every merge begins by noting the tables where the district has no Clever row yet")
    func mergeBeginsByNoting() async throws {
        try await TestDatabase.withFresh { database in
            // Counts calls of plpgsql functions (pg_stat_user_functions) in this database.
            try await database.execute(
                "ALTER DATABASE \(database.configuration.database ?? "") SET track_functions = 'pl'")
            let harness = SyncHarness(database: database)
            let (first, second) = try await harness.syncTwice(Self.district())
            #expect(first.status == .succeeded && second.status == .succeeded)
            // A backend's function counts reach the shared statistics when it ends its work.
            var calls = 0
            for _ in 0..<100 {
                calls = try await database.int(
                    "SELECT coalesce(sum(calls), 0)::int FROM pg_stat_user_functions WHERE schemaname = 'etl' AND funcname = 'begin_merge'")
                if calls >= 2 { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(calls == 2)
        }
    }

    @Test("An enrollment listed twice in the feed is created once; listing it twice again changes nothing")
    func duplicateEnrollmentsLoadOnce() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            var district = Self.district()
            let distinct = district.enrollments.count
            district.enrollments.append(("SEC1", "ST1"))
            district.enrollments.append(("SEC4", "ST20"))
            let (first, second) = try await harness.syncTwice(district)
            #expect(first.status == .succeeded)
            #expect(first.summary.count(.enrollment, "create") == distinct)
            #expect(try await harness.count("roster.enrollments") == distinct)
            #expect(second.summary.total == 0)
        }
    }

    @Test("A student deleted by another session while the merge enrolls them: the merge runs again on the roster as it now is; nothing dangles")
    func concurrentDeleteRetriesTheMerge() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            var district = Self.district()
            _ = try await harness.sync(district)
            let enrollmentsBefore = try await harness.count("roster.enrollments")
            let student = try await database.int(
                "SELECT id FROM roster.students WHERE district_id = 'd1' AND sis_id = 'ST21'")
            // The next night enrolls ST21. Meanwhile the platform deletes ST21 and has not committed yet.
            district.enrollments.append(("SEC3", "ST21"))
            let nextNight = district
            try await database.withConnection(logger: TestDatabase.logger) { other in
                try await other.query("BEGIN", logger: TestDatabase.logger)
                try await other.query(
                    "DELETE FROM roster.students WHERE id = \(student)", logger: TestDatabase.logger)
                let deleter = try await other.query("SELECT pg_backend_pid()", logger: TestDatabase.logger)
                    .collect().first?.decode(Int.self) ?? -1
                async let night = harness.sync(nextNight)
                // The merge reaches the student's row and waits for the delete's lock.
                var waited = 0
                do {
                    while try await database.int(
                        "SELECT count(*) FROM pg_stat_activity WHERE \(deleter) = ANY (pg_blocking_pids(pid))") == 0
                        && waited <= 600
                    {
                        waited += 1
                        try await Task.sleep(for: .milliseconds(50))
                    }
                } catch {
                    // Leaving the scope awaits the night, which waits for this session.
                    _ = try? await other.query("ROLLBACK", logger: TestDatabase.logger)
                    throw error
                }
                #expect(waited <= 600, "the merge never waited for the other session's delete")
                try await other.query("COMMIT", logger: TestDatabase.logger)
                let report = try await night
                // The hold could not lock the deleted row (a serialization failure, reported in
                // its own words), so the merge ran again from a new snapshot: ST21 is in the feed
                // and not in the roster any more, so it is created again and enrolled.
                #expect(report.status == .succeeded)
                #expect(report.summary.count(.student, "create") == 1)
                #expect(report.summary.count(.enrollment, "create") == 1)
                let runID = try #require(report.runID)
                let attempts = try await database.strings(
                    """
                    SELECT status || ': ' || coalesce(error, '') FROM etl.task_runs
                    WHERE run_id = \(runID) AND task = 'merge' ORDER BY attempt
                    """)
                #expect(attempts.count == 2)
                #expect(attempts.first?.contains("08_enrollments.sql") == true, "\(attempts)")
                #expect(attempts.first?.contains("could not serialize access due to concurrent") == true, "\(attempts)")
                #expect(attempts.last == "succeeded: ")
            }
            let recreated = try await database.int(
                "SELECT id FROM roster.students WHERE district_id = 'd1' AND sis_id = 'ST21'")
            #expect(recreated != student && recreated > 0)
            #expect(try await database.int("SELECT count(*) FROM roster.enrollments WHERE student_id = \(recreated)") == 1)
            #expect(try await harness.count("roster.enrollments") == enrollmentsBefore + 1)
            #expect(
                try await database.int(
                    """
                    SELECT count(*) FROM roster.enrollments e
                    WHERE NOT EXISTS (SELECT 1 FROM roster.students s WHERE s.id = e.student_id)
                    """) == 0)
        }
    }
}
