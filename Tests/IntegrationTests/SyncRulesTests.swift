import Foundation
import PostgresLoad
import RosterSync
import Testing

/// One test per rule of SYNC-RULES.md, on a real PostgreSQL, each syncing twice and checking
/// the second run changes nothing.
@Suite("Sync rules", .serialized, .timeLimit(.minutes(10)))
struct SyncRulesTests {
    @Test("A first sync loads the district; the same feed again changes nothing")
    func firstSyncThenIdempotent() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let (first, second) = try await harness.syncTwice(.small())
            #expect(first.status == .succeeded)
            #expect(try await harness.count("roster.schools") == 2)
            #expect(try await harness.count("roster.teachers") == 5)
            #expect(try await harness.count("roster.students") == 20)
            #expect(try await harness.count("roster.sections") == 4)
            #expect(try await harness.count("roster.enrollments") == 41)
            #expect(try await harness.count("roster.section_teachers") == 5)
            #expect(first.summary.count(.student, "create") == 20)
            #expect(second.status == .succeeded)
            #expect(second.summary.total == 0)
            #expect(try await harness.changeLogRows(run: second.runID) == 0)
            #expect(try await database.string("SELECT grade FROM roster.students WHERE sis_id = 'ST7'") == "PreKindergarten")
            #expect(try await database.int("SELECT grade_rank FROM roster.students WHERE sis_id = 'ST7'") == -2)
            #expect(try await database.int("SELECT count(*) FROM roster.section_teachers st JOIN roster.sections s ON s.id = st.section_id WHERE s.sis_id = 'SEC1' AND st.is_primary") == 1)
            #expect(try await database.string("SELECT last_successful_sync_at IS NOT NULL FROM roster.districts WHERE id = 'd1'") == "true")
            #expect(try await database.string("SELECT status FROM etl.runs WHERE id = \(second.runID ?? 0)") == "succeeded")
        }
    }

    @Test("A membership cannot point across districts (identity is per district): the schema refuses it")
    func membershipsStayInTheirDistrict() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            _ = try await harness.sync(.small())
            try await database.execute(
                """
                INSERT INTO roster.districts (id, name) VALUES ('d2', 'Other');
                INSERT INTO roster.students (district_id, sis_id, source) VALUES ('d2', 'OTHER1', 'manual');
                INSERT INTO roster.teachers (district_id, sis_id, email, source) VALUES ('d2', 'OTHERT', 'o@d2.org', 'manual');
                """)
            let section = "(SELECT id FROM roster.sections WHERE sis_id = 'SEC1')"
            for (what, sql) in [
                ("student", "INSERT INTO roster.enrollments (section_id, student_id, district_id, source) SELECT \(section), id, 'd1', 'manual' FROM roster.students WHERE sis_id = 'OTHER1'"),
                ("student as d2", "INSERT INTO roster.enrollments (section_id, student_id, district_id, source) SELECT \(section), id, 'd2', 'manual' FROM roster.students WHERE sis_id = 'OTHER1'"),
                ("teacher", "INSERT INTO roster.section_teachers (section_id, teacher_id, district_id, source) SELECT \(section), id, 'd1', 'manual' FROM roster.teachers WHERE sis_id = 'OTHERT'"),
            ] {
                let error = await #expect(throws: (any Error).self, "a \(what) of another district") { try await database.execute(sql) }
                // Refused by the composite foreign key, not by some other constraint.
                #expect(error.map { String(reflecting: $0).contains("_fkey") } == true, "\(what): \(String(reflecting: error))")
            }
            #expect(try await harness.count("roster.enrollments") == 41)
        }
    }

    @Test("A teacher who leaves is suspended by the sync and reactivated on return; an admin's suspension stays")
    func teacherSuspension() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let full = DistrictFixture.small()
            _ = try await harness.sync(full)
            var without = full
            without.removeTeacher("T3")
            let (gone, again) = try await harness.syncTwice(without)
            #expect(gone.summary.count(.teacher, "suspend") == 1)
            #expect(again.summary.total == 0)
            #expect(try await database.strings("SELECT status || '/' || suspended_by || '/' || status_reason FROM roster.teachers WHERE sis_id = 'T3'") == ["suspended/sync/missing_from_feed"])
            #expect(try await harness.count("roster.teachers") == 5, "suspended, never deleted")

            let (back, backAgain) = try await harness.syncTwice(full)
            #expect(back.summary.count(.teacher, "reactivate") == 1)
            #expect(backAgain.summary.total == 0)
            #expect(try await database.string("SELECT status FROM roster.teachers WHERE sis_id = 'T3'") == "active")

            try await database.execute(
                "UPDATE roster.teachers SET status = 'suspended', suspended_by = 'admin', status_reason = 'left mid-year' WHERE sis_id = 'T2';")
            let (afterAdmin, _) = try await harness.syncTwice(full)
            #expect(afterAdmin.summary.total == 0)
            #expect(try await database.string("SELECT status || '/' || suspended_by FROM roster.teachers WHERE sis_id = 'T2'") == "suspended/admin")
        }
    }

    @Test("A teacher whose email is deleted is suspended, and reactivated when it comes back")
    func teacherEmailRemoved() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            var fixture = DistrictFixture.small()
            _ = try await harness.sync(fixture)
            fixture.teachers[0].email = nil
            let (first, second) = try await harness.syncTwice(fixture)
            #expect(first.summary.count(.teacher, "suspend") == 1)
            #expect(second.summary.total == 0)
            #expect(try await database.string("SELECT status || '/' || status_reason FROM roster.teachers WHERE sis_id = 'T1'") == "suspended/email_removed")
            fixture.teachers[0].email = "ana.garcia@example.org"
            let (back, _) = try await harness.syncTwice(fixture)
            #expect(back.summary.count(.teacher, "reactivate") == 1)
        }
    }

    @Test("A teacher whose new email fails validation keeps the email and status they have; a new one is created suspended")
    func teacherEmailInvalid() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            var fixture = DistrictFixture.small()
            _ = try await harness.sync(fixture)
            fixture.teachers[1].email = "ben.obrien@example"  // a typo in the SIS: no top-level domain
            fixture.teachers.append(.init(school: "S1", id: "T9", first: "Ivy", last: "New", email: "ivy@@example.org"))
            let (first, second) = try await harness.syncTwice(fixture)
            #expect(first.summary.count(.teacher, "suspend") == 0)
            #expect(first.summary.count(.teacher, "update") == 0)
            #expect(first.summary.count(.teacher, "create") == 1)
            #expect(second.summary.total == 0)
            #expect(try await database.strings("SELECT sis_id || ' ' || status || ' ' || coalesce(email, '-') || ' ' || coalesce(status_reason, '-') FROM roster.teachers WHERE sis_id IN ('T2', 'T9') ORDER BY sis_id") == [
                "T2 active ben.obrien@example.org -", "T9 suspended - invalid_email",
            ])
            #expect(try await database.int("SELECT count(*) FROM staging.rejects WHERE run_id = \(first.runID ?? 0) AND reason = 'invalid_email' AND record_key IN ('T2', 'T9')") == 2)
            // Fixed in the SIS: the new email flows through.
            fixture.teachers[1].email = "ben.obrien@example.net"
            let (fixed, _) = try await harness.syncTwice(fixture)
            #expect(fixed.summary.count(.teacher, "update") == 1)

            // A teacher the sync suspended does not come back on an invalid email.
            var without = fixture
            without.removeTeacher("T3")
            #expect(try await harness.sync(without).summary.count(.teacher, "suspend") == 1)
            fixture.teachers[2].email = "chloe.dubois@"
            let (invalid, _) = try await harness.syncTwice(fixture)
            #expect(invalid.summary.count(.teacher, "reactivate") == 0)
            #expect(try await harness.count("roster.teachers", "sis_id = 'T3' AND status = 'suspended'") == 1)
        }
    }

    @Test("A NUL byte in a name (which PostgreSQL text cannot hold) is dropped; the feed loads")
    func nulByte() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("nul-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: folder) }
            try DistrictFixture.small().write(to: folder)
            try DistrictFixture.edit("students.csv", in: folder) { $0.replacingOccurrences(of: ",Kid5,", with: ",Ki\u{0}d5,") }
            #expect(try String(contentsOf: folder.appendingPathComponent("students.csv"), encoding: .utf8).contains("\u{0}"))
            let report = try await SyncService(logger: TestDatabase.logger).sync(harness.configuration(.csv(folder)))
            #expect(report.status == .succeeded, "\(report.message)")
            #expect(try await database.string("SELECT first_name FROM roster.students WHERE sis_id = 'ST5'") == "Kid5")
        }
    }

    @Test("Two teachers with one email: neither wins, the existing account is kept, the conflict is reported")
    func duplicateTeacherEmail() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            var fixture = DistrictFixture.small()
            _ = try await harness.sync(fixture)
            fixture.teachers.append(.init(school: "S2", id: "T9", first: "Ann", last: "Garcia", email: "Ana.Garcia@example.org"))
            let (first, second) = try await harness.syncTwice(fixture)
            #expect(first.status == .succeeded)
            #expect(second.summary.total == 0)
            #expect(try await harness.count("roster.teachers", "sis_id = 'T9'") == 0)
            #expect(try await database.string("SELECT status || ' ' || email FROM roster.teachers WHERE sis_id = 'T1'") == "active ana.garcia@example.org")
            #expect(try await database.int("SELECT count(*) FROM staging.rejects WHERE run_id = \(first.runID ?? 0) AND reason = 'duplicate_email' AND entity = 'teacher'") == 2)
        }
    }

    @Test("A new teacher whose email another account still owns is not created; the owner is kept as is")
    func teacherEmailOwnedByAnotherAccount() async throws {
        try await TestDatabase.withFresh { database in
            try await database.execute(
                """
                INSERT INTO roster.districts (id, name, settings) VALUES ('d1', 'D', '{"min_removals_to_block": 100}');
                INSERT INTO roster.teachers (district_id, email, first_name, last_name, source) VALUES
                  ('d1', 'shared@example.org', 'Sam', 'One', 'manual'), ('d1', 'SHARED@example.org', 'Sam', 'Two', 'manual');
                """)
            let harness = SyncHarness(database: database)
            var fixture = DistrictFixture.small()
            _ = try await harness.sync(fixture)
            // A new teacher with the email of a Clever teacher who stays (T4), under another name.
            fixture.teachers.append(.init(school: "S1", id: "T9", first: "Zed", last: "Other", email: "dev.patel@example.org"))
            // A new teacher whose email matches two manual accounts: neither can be adopted.
            fixture.teachers.append(.init(school: "S1", id: "T10", first: "Sam", last: "New", email: "shared@example.org"))
            let (first, second) = try await harness.syncTwice(fixture)
            #expect(second.summary.total == 0)
            #expect(try await harness.count("roster.teachers", "sis_id IN ('T9', 'T10')") == 0)
            #expect(try await harness.count("roster.teachers", "source = 'manual'") == 2)
            #expect(try await database.int("SELECT count(*) FROM staging.rejects WHERE run_id = \(first.runID ?? 0) AND reason = 'duplicate_email' AND record_key IN ('T9', 'T10')") >= 2)
            #expect(try await database.string("SELECT status || ' ' || email FROM roster.teachers WHERE sis_id = 'T4'") == "active dev.patel@example.org")
        }
    }

    /// A new teacher, T9, with the email of T1 (Ana) as the small district has it.
    static let newcomerWithAnasEmail = DistrictFixture.Teacher(
        school: "S1", id: "T9", first: "Zed", last: "Other", email: "ana.garcia@example.org")

    /// `SIS id status email` of these teachers, by SIS id (`-` for no email).
    static func teachers(_ ids: [String], in database: DatabaseTarget) async throws -> [String] {
        try await database.strings(
            "SELECT sis_id || ' ' || status || ' ' || coalesce(email, '-') FROM roster.teachers WHERE sis_id IN ("
                + ids.map { "'\($0)'" }.joined(separator: ", ") + ") ORDER BY 1")
    }

    @Test("A teacher whose email was deleted gives it up: a new teacher with that email is created the same night, and a second run changes nothing")
    func deletedTeacherEmailGivenUp() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            var fixture = DistrictFixture.small()
            _ = try await harness.sync(fixture)
            fixture.teachers[0].email = nil  // T1, Ana: suspended, her email cleared
            fixture.teachers.append(Self.newcomerWithAnasEmail)
            let (first, second) = try await harness.syncTwice(fixture)
            #expect(first.status == .succeeded, "\(first.message)")
            #expect(first.summary.count(.teacher, "suspend") == 1 && first.summary.count(.teacher, "create") == 1,
                    "\(first.summary.counts)")
            #expect(second.summary.total == 0, "\(second.summary.counts)")
            #expect(try await Self.teachers(["T1", "T9"], in: database) == ["T1 suspended -", "T9 active ana.garcia@example.org"])
        }
    }

    @Test("A teacher whose new email fails validation keeps the one it has: a new teacher with that email is reported, not created")
    func invalidTeacherEmailNotGivenUp() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            var fixture = DistrictFixture.small()
            _ = try await harness.sync(fixture)
            fixture.teachers[0].email = "ana.garcia@example"  // T1: a typo, no top-level domain
            fixture.teachers.append(Self.newcomerWithAnasEmail)
            let (first, second) = try await harness.syncTwice(fixture)
            #expect(first.status == .succeeded, "\(first.message)")
            #expect(second.summary.total == 0, "\(second.summary.counts)")
            #expect(try await harness.count("roster.teachers", "lower(email) = 'ana.garcia@example.org'") == 1)
            #expect(try await Self.teachers(["T1", "T9"], in: database) == ["T1 active ana.garcia@example.org"])
        }
    }

    @Test("A teacher reported for taking an email another account keeps its own, which no new teacher can then take")
    func reportedTeacherKeepsItsEmail() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            var fixture = DistrictFixture.small()
            _ = try await harness.sync(fixture)
            // T3 leaves (suspended, keeping chloe.dubois@); then T1 takes T3's email, and a new T9 T1's.
            fixture.removeTeacher("T3")
            #expect(try await harness.sync(fixture).summary.count(.teacher, "suspend") == 1)
            fixture.teachers[0].email = "chloe.dubois@example.org"
            fixture.teachers.append(Self.newcomerWithAnasEmail)
            let (first, second) = try await harness.syncTwice(fixture)
            #expect(first.status == .succeeded, "\(first.message)")
            #expect(second.summary.total == 0, "\(second.summary.counts)")
            #expect(try await harness.count("roster.teachers", "lower(email) = 'ana.garcia@example.org'") == 1)
            #expect(try await Self.teachers(["T1", "T3", "T9"], in: database)
                    == ["T1 active ana.garcia@example.org", "T3 suspended chloe.dubois@example.org"])
            #expect(try await database.strings(
                "SELECT record_key FROM staging.rejects WHERE run_id = \(first.runID ?? 0) AND reason = 'duplicate_email' ORDER BY 1")
                == ["T1", "T9"])
        }
    }

    @Test("Two teachers swapping emails both go through")
    func teachersSwapEmails() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            var fixture = DistrictFixture.small()
            _ = try await harness.sync(fixture)
            (fixture.teachers[0].email, fixture.teachers[1].email) = (fixture.teachers[1].email, fixture.teachers[0].email)
            let (first, second) = try await harness.syncTwice(fixture)
            #expect(first.summary.count(.teacher, "update") == 2, "\(first.summary.counts)")
            #expect(second.summary.total == 0, "\(second.summary.counts)")
            #expect(try await Self.teachers(["T1", "T2"], in: database)
                    == ["T1 active ben.obrien@example.org", "T2 active ana.garcia@example.org"])
        }
    }

    @Test("A teacher at several schools keeps one account at the primary school; the others are recorded")
    func multiSchoolTeacher() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            var fixture = DistrictFixture.small()
            fixture.teachers.append(.init(school: "S2", id: "T1", first: "Ana", last: "García", email: "ana.garcia@example.org"))
            let (_, second) = try await harness.syncTwice(fixture)
            #expect(second.summary.total == 0)
            #expect(try await harness.count("roster.teachers", "sis_id = 'T1'") == 1)
            #expect(try await database.string("SELECT s.sis_id FROM roster.teachers t JOIN roster.schools s ON s.id = t.school_id WHERE t.sis_id = 'T1'") == "S1")
            #expect(try await database.string("SELECT s.sis_id FROM roster.teachers t JOIN roster.schools s ON s.id = ANY(t.other_school_ids) WHERE t.sis_id = 'T1'") == "S2")
        }
    }

    @Test("First connection: a Clever teacher adopts the manual account with the same email (any case)")
    func adoptManualTeacher() async throws {
        try await TestDatabase.withFresh { database in
            try await database.execute(
                """
                INSERT INTO roster.districts (id, name) VALUES ('d1', 'District One');
                INSERT INTO roster.teachers (district_id, email, first_name, last_name, source) VALUES ('d1', 'BEN.OBRIEN@example.org', 'Ben', 'OBrien', 'manual');
                """)
            let manualID = try await database.string("SELECT id FROM roster.teachers WHERE source = 'manual'")
            let harness = SyncHarness(database: database)
            let (first, second) = try await harness.syncTwice(.small())
            #expect(first.summary.count(.teacher, "create") == 4)
            #expect(second.summary.total == 0)
            #expect(try await harness.count("roster.teachers") == 5, "no duplicate account")
            #expect(try await database.string("SELECT id || ' ' || source FROM roster.teachers WHERE sis_id = 'T2'") == "\(manualID ?? "?") clever")
            // The account as it was, beside what the sync gave it: a hand-made account can be seen and restored.
            #expect(try await database.string(
                "SELECT (details -> 'last_name')::text || ' ' || (details -> 'source')::text || ' ' || (details -> 'sis_id')::text FROM roster.change_log WHERE run_id = \(first.runID ?? 0) AND details ? 'adopted'")
                == #"["OBrien", "O'Brien"] ["manual", "clever"] [null, "T2"]"#)
        }
    }

    @Test("A student who leaves is archived and removed from Clever sections, not from manual ones; a return restores")
    func studentArchive() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let full = DistrictFixture.small()
            _ = try await harness.sync(full)
            try await database.execute(
                """
                INSERT INTO roster.sections (district_id, name, source) VALUES ('d1', 'Practice sandbox', 'manual');
                INSERT INTO roster.enrollments (section_id, student_id, district_id, source)
                  SELECT s.id, st.id, 'd1', 'manual' FROM roster.sections s, roster.students st WHERE s.source = 'manual' AND st.sis_id = 'ST2';
                """)
            var without = full
            without.removeStudent("ST2")
            let (gone, again) = try await harness.syncTwice(without)
            #expect(gone.summary.count(.student, "archive") == 1)
            #expect(gone.summary.count(.enrollment, "remove") == 3)
            // Why each went, for "why is this student missing?": the student left, not the class list.
            #expect(try await database.strings(
                "SELECT DISTINCT details ->> 'reason' FROM roster.change_log WHERE run_id = \(gone.runID ?? 0) AND entity = 'enrollment'")
                == ["student_archived"])
            #expect(again.summary.total == 0)
            #expect(try await database.string("SELECT status || '/' || status_reason FROM roster.students WHERE sis_id = 'ST2'") == "archived/missing_from_feed")
            #expect(try await database.strings("SELECT s.source FROM roster.enrollments e JOIN roster.sections s ON s.id = e.section_id JOIN roster.students st ON st.id = e.student_id WHERE st.sis_id = 'ST2'") == ["manual"])

            let (back, _) = try await harness.syncTwice(full)
            #expect(back.summary.count(.student, "restore") == 1)
            #expect(try await database.string("SELECT status FROM roster.students WHERE sis_id = 'ST2'") == "active")
            #expect(try await database.int("SELECT count(*) FROM roster.enrollments e JOIN roster.students st ON st.id = e.student_id WHERE st.sis_id = 'ST2'") == 4)
        }
    }

    @Test("Records made in the platform (manual schools, teachers, students) and admins are never changed or removed, whatever the feed lacks")
    func manualRecordsUntouched() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let full = DistrictFixture.small()
            _ = try await harness.sync(full)
            // Emma Stone (T5) is also an admin, made in the platform.
            try await database.execute(
                """
                INSERT INTO roster.schools (district_id, name, source) VALUES ('d1', 'Summer reading camp', 'manual');
                INSERT INTO roster.teachers (district_id, school_id, email, first_name, last_name, source)
                  SELECT 'd1', id, 'coach@example.org', 'Pat', 'Coach', 'manual' FROM roster.schools WHERE sis_id = 'S1';
                INSERT INTO roster.students (district_id, school_id, first_name, last_name, grade, source)
                  SELECT 'd1', id, 'Guest', 'Reader', '4', 'manual' FROM roster.schools WHERE sis_id = 'S1';
                INSERT INTO roster.admins (district_id, email, name) VALUES ('d1', 'emma.stone@example.org', 'Emma Stone');
                """)
            let made = """
                SELECT 'school ' || s::text FROM roster.schools s WHERE source = 'manual'
                UNION ALL SELECT 'teacher ' || t::text FROM roster.teachers t WHERE source = 'manual'
                UNION ALL SELECT 'student ' || st::text FROM roster.students st WHERE source = 'manual'
                UNION ALL SELECT 'admin ' || a::text FROM roster.admins a ORDER BY 1
                """
            let before = try await database.strings(made)
            #expect(before.count == 4)
            // A night whose files lack a student and Emma Stone: the sync's own records go, the hand-made stay.
            var fewer = full
            fewer.removeStudent("ST20")
            fewer.removeTeacher("T5")
            let (night, again) = try await harness.syncTwice(fewer)
            #expect(night.status == .succeeded, "\(night.message)")
            #expect(night.summary.count(.student, "archive") == 1 && night.summary.count(.teacher, "suspend") == 1,
                    "\(night.summary.counts)")
            #expect(again.summary.total == 0)
            #expect(try await database.strings(made) == before)
            #expect(try await database.int("SELECT count(*) FROM roster.change_log WHERE entity = 'admin'") == 0)
        }
    }

    @Test("A student without a usable email loads with can_login = false and is reported; email changes flow through")
    func studentEmails() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            var fixture = DistrictFixture.small()
            fixture.students[0].email = nil
            fixture.students[1].email = "not an email"
            let (first, second) = try await harness.syncTwice(fixture)
            #expect(second.summary.total == 0)
            #expect(try await database.strings("SELECT sis_id || ':' || can_login || ':' || coalesce(email, 'NULL') FROM roster.students WHERE sis_id IN ('ST1', 'ST2') ORDER BY sis_id") == ["ST1:false:NULL", "ST2:false:NULL"])
            #expect(try await database.int("SELECT count(*) FROM staging.rejects WHERE run_id = \(first.runID ?? 0) AND record_key IN ('ST1', 'ST2') AND severity = 'warning'") == 2)
            let id = try await database.string("SELECT id FROM roster.students WHERE sis_id = 'ST3'")
            fixture.students[2].email = "new.address@example.org"
            let (changed, _) = try await harness.syncTwice(fixture)
            #expect(changed.summary.count(.student, "update") == 1)
            #expect(try await database.string("SELECT id || ' ' || email FROM roster.students WHERE sis_id = 'ST3'") == "\(id ?? "?") new.address@example.org")
        }
    }

    @Test("A reject for a missing reference names which one is missing: the section, the student or the teacher")
    func rejectsNameTheMissingReference() async throws {
        try await TestDatabase.withFresh { database in
            var district = DistrictFixture.small()
            district.enrollments += [("SEC1", "NOPE"), ("GONE", "ST1")]
            district.sections[1].teachers.append("TX")
            let report = try await SyncHarness(database: database).sync(district)
            #expect(report.status == .succeeded)
            let details = try await database.strings(
                """
                SELECT entity || ': ' || detail FROM staging.rejects
                WHERE run_id = \(report.runID ?? 0) AND reason = 'unknown_reference'
                """)
            #expect(
                Set(details) == [
                    "section_teacher: co-teacher TX of section SEC2 is not a loaded teacher (rejected or not in the feed)",
                    "enrollment: section GONE (of student ST1) is not loaded (rejected or not in the feed)",
                    "enrollment: student NOPE (in section SEC1) is not loaded (rejected or not in the feed)",
                ],
                "\(details)")
        }
    }
}
