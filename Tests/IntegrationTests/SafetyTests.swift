import Foundation
import Logging
import PostgresLoad
import PostgresNIO
import RosterSync
import Testing

/// Every path that suspends, archives or removes must not fire on an empty, truncated or
/// malformed feed (SYNC-RULES.md "Safety").
@Suite("Safety", .serialized, .timeLimit(.minutes(10)))
struct SafetyTests {
    /// A district of 100 students so the share threshold (10%, at least 10) means something.
    static func bigger() -> DistrictFixture {
        var district = DistrictFixture.small()
        for index in 21...100 {
            district.students.append(
                .init(school: "S1", id: "ST\(index)", first: "Kid\(index)", last: "Family\(index)", grade: "4",
                      email: "kid\(index)@example.org"))
            district.enrollments.append(("SEC2", "ST\(index)"))
        }
        return district
    }

    /// `full` (``bigger()``) with 61 of its 100 students gone: a truncated feed.
    static func truncated(_ full: DistrictFixture) -> DistrictFixture {
        var truncated = full
        for index in 40...100 { truncated.removeStudent("ST\(index)") }
        return truncated
    }

    /// Roster state a failed or blocked run must leave exactly as it was.
    static func snapshot(_ database: DatabaseTarget) async throws -> [String] {
        var rows: [String] = []
        for table in [
            "schools", "terms", "teachers", "students", "sections", "section_teachers", "enrollments", "change_log", "districts",
        ] {
            rows += try await database.strings("SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM roster.\(table) t")
        }
        return rows
    }

    @Test("Students a students file cut at a row boundary lacks, while enrollments.csv still lists them, are kept for a night; as many as the share would stop on fail the run as cut short")
    func studentsCutAtRowBoundaryKept() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let full = Self.bigger()
            #expect(try await harness.sync(full).status == .succeeded)
            let before = try await Self.snapshot(database)

            // Twenty of 100: as many as the share stops on. The run fails, naming the feed.
            var cut = full
            cut.students.removeLast(20)
            let many = try await harness.sync(cut)
            #expect(many.status == .failed, "\(many.message)")
            #expect(many.exitCode == 1)
            #expect(many.message.contains(
                "the extract looks cut short: 20 of 100 active students (20%) are not in the students feed, though other "
                    + "feeds name them (student ST"), "\(many.message)")
            #expect(many.message.contains("sync again with --allow-mass-changes-of student, which keeps them as they are tonight"),
                    "\(many.message)")
            #expect(many.message.hasSuffix("Fix the files, then sync again (a resume would reuse what the run staged from them)."),
                    "\(many.message)")
            #expect(try await Self.snapshot(database) == before)

            // Told the feed is right as it is: they are kept tonight, and nothing changes.
            let allowed = try await harness.sync(cut, allowMassChanges: true)
            #expect(allowed.status == .succeeded, "\(allowed.message)")
            #expect(allowed.summary.total == 0, "\(allowed.summary.counts)")
            #expect(try await harness.count("roster.students", "status = 'active'") == 100)
            // The same night synced again, compared in full, holds them again: a second identical
            // run changes nothing.
            let again = try await harness.sync(cut, allowMassChanges: true, full: true)
            #expect(again.status == .succeeded, "\(again.message)")
            #expect(again.summary.total == 0, "\(again.summary.counts)")
            // The next night that still lacks them takes them as gone: the removal share decides.
            // The same files as the night before, too (not an unchanged night: the held are due).
            let next = try await harness.sync(cut, asOf: "2026-11-24")
            #expect(next.status == .blocked, "\(next.message)")
            #expect(next.violations.contains { $0.hasPrefix("student: 20 of 100") }, "\(next.violations)")

            // Five, below the share, after a whole night: each kept, named once by the first row naming it.
            #expect(try await harness.sync(full).summary.total == 0)
            let afterFull = try await Self.snapshot(database)
            cut = full
            cut.students.removeLast(5)
            let few = try await harness.sync(cut)
            #expect(few.status == .succeeded, "\(few.message)")
            #expect(few.summary.total == 0, "nothing archived, no class left: \(few.summary.counts)")
            #expect(few.rejections.contains {
                $0.entity == "student" && $0.reason == "referenced_not_in_feed" && $0.severity == "warning" && $0.count == 5
            }, "\(few.rejections)")
            #expect(try await database.string(
                "SELECT source_ref || ' ' || detail FROM staging.rejects WHERE run_id = \(few.runID ?? 0) AND record_key = 'ST96'")
                == "enrollments.csv:118 student ST96 is not in the students feed, but enrollments.csv:118 names it; it is "
                    + "kept as it is this run (is the students feed cut short?)")
            #expect(try await Self.snapshot(database).dropLast() == afterFull.dropLast(), "the district's row notes the run")
        }
    }

    @Test("A feed with as many unreadable rows as the share would stop on fails as damaged and changes nothing; allowed, they are kept")
    func massUnreadableRowsFail() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let full = Self.bigger()
            #expect(try await harness.sync(full).status == .succeeded)
            let before = try await Self.snapshot(database)
            // A column added to thirty rows (an SIS export that shifted them): each is unreadable,
            // so its student is kept as they are, not archived.
            func addColumn(_ ids: ClosedRange<Int>) -> @Sendable (String) -> String {
                { text in
                    ids.reduce(text) { text, index in
                        text.replacingOccurrences(of: "ST\(index),Family\(index),Kid\(index),", with: "ST\(index),Family\(index),Kid\(index),Jr.,")
                    }
                }
            }
            let damaged = try await harness.sync(full, editing: "students.csv", addColumn(61...90))
            #expect(damaged.status == .failed, "\(damaged.message)")
            #expect(damaged.exitCode == 1)
            #expect(damaged.message.contains(
                "the extract looks damaged: 30 of 100 active students (30%) have rows in the students feed that cannot be read "
                    + "(students.csv:"), "\(damaged.message)")
            #expect(damaged.message.contains(": malformed_row: expected "), "\(damaged.message)")
            #expect(damaged.message.contains("sync again with --allow-mass-changes-of student, which keeps them"), "\(damaged.message)")
            #expect(damaged.message.hasSuffix("Fix the files, then sync again (a resume would reuse what the run staged from them)."),
                    "\(damaged.message)")
            #expect(try await Self.snapshot(database) == before)
            // A preview says a sync would fail, and why.
            let preview = try await harness.sync(full, editing: "students.csv", preview: true, addColumn(61...90))
            #expect(preview.status == .previewed, "\(preview.message)")
            #expect(preview.message.hasPrefix(
                "preview: no changes; a sync would fail, as the extract looks damaged: 30 of 100 active students (30%)"),
                "\(preview.message)")

            // Ten, below the share: kept as they are, with exit 0 and the rows reported.
            let few = try await harness.sync(full, editing: "students.csv", addColumn(61...70))
            #expect(few.status == .succeeded, "\(few.message)")
            #expect(few.summary.total == 0, "\(few.summary.counts)")
            #expect(few.rejections.contains { $0.entity == "student" && $0.reason == "malformed_row" && $0.count == 10 },
                    "\(few.rejections)")

            // Unreadable rows and a cut together, each below the share and over it together.
            var cut = full
            cut.students.removeLast(8)
            let both = try await harness.sync(cut, editing: "students.csv", addColumn(61...70))
            #expect(both.status == .failed, "\(both.message)")
            #expect(both.message.contains(
                "the extract looks cut short: 18 of 100 active students (18%) are kept as they are: 10 have rows in the "
                    + "students feed that cannot be read (as on the last night applied), 8 are not in it though other feeds name "
                    + "them"), "\(both.message)")

            // Told the feed is right as it is: the thirty are kept, the others still load.
            var renamed = full
            renamed.students[0].first = "Kid1b"
            let folder = try renamed.writeTemporary("unreadable")
            defer { try? FileManager.default.removeItem(at: folder) }
            try DistrictFixture.edit("students.csv", in: folder, addColumn(61...90))
            var configuration = harness.configuration(.csv(folder))
            configuration.allowMassChangesOf = ["student"]
            let through = try await SyncService(logger: TestDatabase.logger).sync(configuration)
            #expect(through.status == .succeeded, "\(through.message)")
            #expect(through.summary.total == 1, "only the renamed student: \(through.summary.counts)")
            #expect(try await harness.count("roster.students", "status = 'active'") == 100)
            #expect(try await harness.count("roster.students", "first_name = 'Kid1b'") == 1)

            // Let through once, the same unreadable rows are not news: later nights pass, and stop
            // again as soon as more rows become unreadable, a few a night included.
            renamed.students[1].first = "Kid2b"
            let known = try await harness.sync(renamed, editing: "students.csv", addColumn(61...90))
            #expect(known.status == .succeeded, "\(known.message)")
            #expect(known.summary.total == 1, "\(known.summary.counts)")
            renamed.students[2].first = "Kid3b"
            let worse = try await harness.sync(renamed, editing: "students.csv", addColumn(61...91))
            #expect(worse.status == .failed, "\(worse.message)")
            #expect(worse.message.contains(
                "the extract looks damaged: 31 of 100 active students (31%) have rows in the students feed that cannot be read "
                    + "(1 of them newly) (students.csv:92: "), "\(worse.message)")
            #expect(worse.message.contains("(a later night stops again if rows other than these cannot be read"), "\(worse.message)")
        }
    }

    @Test("Last term's classes, still listed after their term ended, keep no student the students file lacks: graduates are archived")
    func endedClassesHoldNobody() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let full = Self.bigger()
            #expect(try await harness.sync(full).status == .succeeded)
            #expect(try await harness.sync(full, asOf: "2027-01-20").summary.count(.section, "archive") == 4)
            // Five students leave students.csv; the ended classes still list them.
            var left = full
            left.students.removeLast(5)
            let report = try await harness.sync(left, asOf: "2027-01-20")
            #expect(report.status == .succeeded, "\(report.message)")
            #expect(report.summary.count(.student, "archive") == 5, "\(report.summary.counts)")
            #expect(!report.rejections.contains { $0.reason == "referenced_not_in_feed" }, "\(report.rejections)")
        }
    }

    @Test("A truncated feed that would archive too many students stops with exit code 3 and changes nothing")
    func removalShareBlocks() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let full = Self.bigger()
            _ = try await harness.sync(full)
            let before = try await Self.snapshot(database)
            let truncated = Self.truncated(full)
            let report = try await harness.sync(truncated)
            #expect(report.status == .blocked)
            #expect(report.exitCode == 3)
            #expect(report.violations.contains { $0.hasPrefix("student: 61 of 100") })
            #expect(try await Self.snapshot(database) == before)
            #expect(try await database.string("SELECT status FROM etl.runs WHERE id = \(report.runID ?? 0)") == "blocked")
            #expect(try await database.int("SELECT count(*) FROM staging.changes WHERE run_id = \(report.runID ?? 0) AND entity = 'student' AND action = 'archive'") == 61)
            #expect(try await database.int("SELECT count(*) FROM staging.students WHERE run_id = \(report.runID ?? 0)") == 39, "staging kept for inspection")

            // A person reviewed it: approve applies exactly those changes, once.
            let approved = try await SyncService(logger: TestDatabase.logger).approve(
                runID: report.runID ?? 0, database: database, sql: TestDatabase.sql)
            #expect(approved.summary.count(.student, "archive") == 61)
            #expect(try await harness.count("roster.students", "status = 'archived'") == 61)
            // Compared row by row (an unchanged-night shortcut would hold by construction).
            let again = try await harness.sync(truncated, full: true)
            #expect(again.status == .succeeded)
            #expect(again.summary.total == 0)
        }
    }

    @Test("The threshold's edges: a share equal to max_removal_share goes through, one more stops; fewer than min_removals_to_block never stop")
    func thresholdEdges() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let full = Self.bigger()
            _ = try await harness.sync(full)
            func without(_ ids: ClosedRange<Int>) -> DistrictFixture {
                var fixture = full
                for index in ids { fixture.removeStudent("ST\(index)") }
                return fixture
            }
            // 10% by default: eleven of a hundred stop, ten (exactly the share) go through.
            let eleven = try await harness.sync(without(90...100))
            #expect(eleven.status == .blocked, "\(eleven.message)")
            #expect(eleven.violations.contains { $0.hasPrefix("student: 11 of 100") }, "\(eleven.violations)")
            let ten = try await harness.sync(without(91...100))
            #expect(ten.status == .succeeded, "\(ten.message)")
            #expect(ten.summary.count(.student, "archive") == 10)
            // Any share stops at five removals, none at four.
            #expect(try await harness.sync(full).summary.count(.student, "restore") == 10)
            try await database.execute(
                "UPDATE roster.districts SET settings = '{\"max_removal_share\": 0, \"min_removals_to_block\": 5}' WHERE id = 'd1'")
            let five = try await harness.sync(without(96...100))
            #expect(five.status == .blocked, "\(five.message)")
            #expect(five.violations.contains { $0.hasPrefix("student: 5 of 100") }, "\(five.violations)")
            let four = try await harness.sync(without(97...100))
            #expect(four.status == .succeeded, "\(four.message)")
            #expect(four.summary.count(.student, "archive") == 4)
        }
    }

    @Test("A feed that loses its co-teacher columns stops at the threshold on co-teachers, though few of all the section's teacher pairs go")
    func coTeachersDropped() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            var district = DistrictFixture.small()
            for index in 100..<210 {
                district.sections.append(
                    .init(school: "S1", id: "SEC\(index)", name: "Study \(index)", teachers: index < 110 ? ["T1", "T2"] : ["T1"]))
            }
            _ = try await harness.sync(district)
            let before = try await Self.snapshot(database)
            var dropped = district
            for index in dropped.sections.indices { dropped.sections[index].teachers = Array(dropped.sections[index].teachers.prefix(1)) }
            // 11 of 125 pairs (under 10%), but every one of the 11 co-teachers.
            let report = try await harness.sync(dropped)
            #expect(report.status == .blocked, "\(report.message)")
            #expect(report.violations.count == 1 && report.violations.first?.hasPrefix("co_teacher: 11 of 11") == true, "\(report.violations)")
            #expect(try await Self.snapshot(database) == before)

            let allowed = try await harness.sync(dropped) { $0.allowMassChangesOf = ["co_teacher"] }
            #expect(allowed.status == .succeeded, "\(allowed.message)")
            #expect(allowed.summary.count(.sectionTeacher, "remove") == 11)
        }
    }

    @Test("approve refuses when a newer run exists; --allow-mass-changes applies in one run")
    func approveRefusesStaleAndOverride() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let full = Self.bigger()
            _ = try await harness.sync(full)
            let truncated = Self.truncated(full)
            let blocked = try await harness.sync(truncated)
            #expect(blocked.status == .blocked)
            let newer = try await harness.sync(full)
            #expect(newer.status == .succeeded)
            let error = await #expect(throws: ConfigurationError.self) {
                _ = try await SyncService(logger: TestDatabase.logger).approve(
                    runID: blocked.runID ?? 0, database: database, sql: TestDatabase.sql)
            }
            #expect(error?.description.contains("is newer than run \(blocked.runID ?? 0)") == true, "\(String(describing: error))")
            let forced = try await harness.sync(truncated, allowMassChanges: true)
            #expect(forced.status == .succeeded)
            #expect(forced.summary.count(.student, "archive") == 61)
        }
    }

    @Test("--allow-mass-changes-of lifts the removal share for the entities it names; the others still stop the run")
    func massChangesOfOneEntity() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let full = Self.bigger()
            _ = try await harness.sync(full)
            let before = try await Self.snapshot(database)
            // Most students leave (expected: say, a programme closing). Their memberships are an
            // entity of their own (a cut enrollments file removes them with every student kept).
            var night = full
            for index in 40...100 { night.removeStudent("ST\(index)") }
            let blocked = try await harness.sync(night)
            #expect(blocked.violations.map { $0.prefix(while: { $0 != ":" }) } == ["enrollment", "student"])
            let students = try await harness.sync(night) { $0.allowMassChangesOf = ["student"] }
            #expect(students.status == .blocked)
            #expect(students.violations.count == 1)
            #expect(students.violations.first?.hasPrefix("enrollment: 61 of") == true, "\(students.violations)")
            #expect(try await Self.snapshot(database) == before)

            let both = try await harness.sync(night) { $0.allowMassChangesOf = ["student", "enrollment"] }
            #expect(both.status == .succeeded, "\(both.message)")
            #expect(both.summary.count(.student, "archive") == 61)
        }
    }

    @Test("approve refuses a blocked run whose staged rows were deleted since, and changes nothing")
    func approveRefusesMissingStaging() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let full = Self.bigger()
            _ = try await harness.sync(full)
            let truncated = Self.truncated(full)
            let blocked = try await harness.sync(truncated)
            #expect(blocked.status == .blocked)
            let before = try await Self.snapshot(database)
            // Someone cleans up staging by hand before the run is reviewed.
            try await database.execute("DELETE FROM staging.students WHERE run_id = \(blocked.runID ?? 0)")
            let error = await #expect(throws: ConfigurationError.self) {
                _ = try await SyncService(logger: TestDatabase.logger).approve(
                    runID: blocked.runID ?? 0, database: database, sql: TestDatabase.sql)
            }
            #expect(error?.description.contains("no longer complete") == true, "\(String(describing: error))")
            #expect(try await Self.snapshot(database) == before)
            #expect(try await harness.count("roster.students", "status = 'archived'") == 0)
        }
    }

    /// Feeds whose every row of one entity is rejected (a file with a header and no rows stops
    /// earlier, at check-source: CLITests).
    /// Each with what a run that names it in --allow-empty-feed comes to: rows whose ids are
    /// blank are unreadable, and the records other feeds name are kept (too few here to stop the
    /// run as damaged; a teacher no class names is suspended, as the option asked); rows naming a
    /// school or student nobody has remove what they held, which the share stops.
    static let emptied: [(String, SyncReport.Status, @Sendable (inout DistrictFixture) -> Void)] = [
        ("students", .blocked, { district in for index in district.students.indices { district.students[index].school = "NOPE" } }),
        ("schools", .succeeded, { district in for index in district.schools.indices { district.schools[index].id = "" } }),
        ("teachers", .succeeded, { district in for index in district.teachers.indices { district.teachers[index].id = "" } }),
        ("sections", .succeeded, { district in for index in district.sections.indices { district.sections[index].id = "" } }),
        ("enrollments", .blocked, { district in district.enrollments = district.enrollments.map { ($0.section, "NOPE") } }),
    ]

    @Test("A feed with no loadable row of an entity stops before the merge; only --allow-empty-feed naming it lifts that",
          arguments: Self.emptied.indices)
    func emptyFeedGuard(case index: Int) async throws {
        let (entity, named, damage) = Self.emptied[index]
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let full = DistrictFixture.small()
            _ = try await harness.sync(full)
            let before = try await Self.snapshot(database)
            var broken = full
            damage(&broken)
            // A preview says so and lists the changes such a feed would make, exit 0.
            let preview = try await harness.sync(broken, preview: true)
            #expect(preview.status == .previewed && preview.exitCode == 0, "\(entity): \(preview.message)")
            #expect(preview.message.contains("a sync would stop (exit 3) before its merge: \(entity): the feed has no loadable rows"),
                    "\(entity): \(preview.message)")
            #expect(preview.message.components(separatedBy: "\(entity): the feed has no loadable rows").count == 2, "once")
            #expect(try await database.string("SELECT status FROM etl.runs WHERE id = \(preview.runID ?? 0)") == "succeeded")
            #expect(try await Self.snapshot(database) == before)
            for allow in [false, true] {
                let report = try await harness.sync(broken, allowMassChanges: allow)
                #expect(report.status == .blocked, "\(entity): \(report.message)")
                #expect(report.exitCode == 3)
                #expect(
                    report.violations.contains { $0.hasPrefix("\(entity): the feed has no loadable rows") },
                    "\(entity): \(report.violations)")
                #expect(try await Self.snapshot(database) == before)
                let error = await #expect(throws: ConfigurationError.self) {
                    _ = try await SyncService(logger: TestDatabase.logger).approve(
                        runID: report.runID ?? 0, database: database, sql: TestDatabase.sql)
                }
                #expect(error?.description.contains("stopped on an empty feed") == true, "\(String(describing: error))")
            }
            // Naming another entity lifts nothing for this one; naming it does (a damage may empty
            // other feeds too: a school gone empties its students' enrollments).
            let line = "\(entity): the feed has no loadable rows"
            let other = SyncConfiguration.emptiableFeeds.first { $0 != entity } ?? ""
            let elsewhere = try await harness.sync(broken) { $0.allowEmptyFeeds = [other] }
            #expect(elsewhere.violations.contains { $0.hasPrefix(line) }, "\(entity): \(elsewhere.violations)")
            let allowed = try await harness.sync(broken) { $0.allowEmptyFeeds = [entity] }
            #expect(!allowed.violations.contains { $0.hasPrefix(line) }, "\(entity): \(allowed.violations)")
            #expect(allowed.status == named, "\(entity): \(allowed.message)")
            if named != .succeeded {
                #expect(try await Self.snapshot(database) == before, "a stopped run changes nothing")
            }
            let applied = try await harness.sync(broken) {
                $0.allowEmptyFeeds = Set(SyncConfiguration.emptiableFeeds)
                $0.allowMassChanges = true
            }
            #expect(applied.status == .succeeded, "\(entity): \(applied.message)")
        }
    }

    @Test("A pipeline file without a guard task still does not merge an empty feed: the merge checks it too")
    func mergeGuardsWithoutGuardTask() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let full = DistrictFixture.small()
            _ = try await harness.sync(full)
            let before = try await Self.snapshot(database)
            let nightly = try String(contentsOf: TestDatabase.nightly, encoding: .utf8)
            let unguarded = nightly
                .replacingOccurrences(of: "  guard:\n    kind: guard\n    needs: [prepare]\n", with: "")
                .replacingOccurrences(of: "    needs: [guard]", with: "    needs: [prepare]")
            #expect(!unguarded.contains("kind: guard"))
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("unguarded-\(UUID().uuidString).yml")
            try unguarded.write(to: file, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(at: file) }
            var broken = full
            for index in broken.teachers.indices { broken.teachers[index].id = "" }
            let report = try await harness.sync(broken) {
                $0.pipelineFile = file
                $0.allowMassChanges = true
            }
            #expect(report.status == .blocked, "\(report.message)")
            #expect(report.violations.contains { $0.hasPrefix("teachers: the feed has no loadable rows") }, "\(report.violations)")
            #expect(try await Self.snapshot(database) == before)
        }
    }

    @Test("--allow-empty-feed lifts the empty-feed guard, not the removal share: that takes --allow-mass-changes too")
    func allowEmptyFeedKeepsTheShare() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let full = Self.bigger()
            _ = try await harness.sync(full)
            let before = try await Self.snapshot(database)
            var leaving = full
            leaving.students = []
            leaving.enrollments = []
            let empty: Set<String> = ["students", "enrollments"]
            let stopped = try await harness.sync(leaving) { $0.allowEmptyFeeds = empty }
            #expect(stopped.status == .blocked)
            #expect(stopped.violations.contains { $0.hasPrefix("student: 100 of 100") }, "\(stopped.violations)")
            #expect(!stopped.violations.contains { $0.contains("no loadable rows") })
            #expect(try await Self.snapshot(database) == before)
            // Reviewed, the stopped run is approved: its empty feeds stay allowed.
            let applied = try await SyncService(logger: TestDatabase.logger).approve(
                runID: stopped.runID ?? 0, database: database, sql: TestDatabase.sql)
            #expect(applied.status == .succeeded, "\(applied.message)")
            #expect(applied.summary.count(.student, "archive") == 100)
            var again = full
            again.students = []
            again.enrollments = []
            let quiet = try await harness.sync(again) {
                $0.allowEmptyFeeds = empty
                $0.allowMassChanges = true
                $0.compareInFull = true
            }
            #expect(quiet.status == .succeeded, "\(quiet.message)")
            #expect(quiet.summary.total == 0)
        }
    }

    /// What a damaged feed must come to: nothing removed, either way.
    enum Guard: Sendable {
        /// Stopped at the removal share, naming the entity (exit 3).
        case blocked
        /// Records another feed still names are missing from theirs: kept, and the run fails as cut
        /// short when they are as many as the share would stop on (exit 1).
        case cutShort
        /// Too few such records to stop on: kept as they are, the run changes nothing.
        case kept
    }

    /// Each removal path, fed a truncated or malformed feed, cannot fire: it stops at the threshold,
    /// or the records a cut feed lacks but another feed names are kept.
    static let truncations: [(String, String, Guard, @Sendable (inout DistrictFixture) -> Void)] = [
        ("teacher", "teachers file cut short (their sections still name them)", .cutShort, { district in
            district.teachers.removeLast(4)
        }),
        ("teacher", "teachers file cut short, with their section columns", .blocked, { district in
            for id in district.teachers.suffix(4).map(\.id) { district.removeTeacher(id) }
        }),
        ("section", "sections file cut short (enrollments still name them)", .cutShort, { district in
            district.sections.removeLast(3)
        }),
        ("section", "sections file cut short, with their enrollments", .blocked, { district in
            let gone = Set(district.sections.suffix(3).map(\.id))
            district.sections.removeLast(3)
            district.enrollments.removeAll { gone.contains($0.section) }
        }),
        ("student", "students file cut short (enrollments still name them)", .cutShort, { district in
            district.students.removeLast(5)
        }),
        ("enrollment", "enrollments file cut short", .blocked, { district in
            district.enrollments.removeLast(30)
        }),
        ("school", "a school missing (its people and classes still name it)", .kept, { district in
            district.schools.removeLast()
        }),
        ("section_teacher", "teacher ids pointing nowhere", .blocked, { district in
            for index in district.sections.indices { district.sections[index].teachers = ["NOBODY"] }
        }),
        ("teacher", "teacher emails blanked (a teacher whose email is deleted is suspended)", .blocked, { district in
            for index in district.teachers.indices { district.teachers[index].email = nil }
        }),
        ("section_teacher", "teacher columns blank", .blocked, { district in
            for index in district.sections.indices { district.sections[index].teachers = [] }
        }),
        ("section", "term end dates moved into the past", .blocked, { district in
            for index in district.sections.indices { district.sections[index].term.2 = "2026-11-01" }
        }),
        ("section", "sections moved to a term that has ended", .blocked, { district in
            for index in district.sections.indices {
                district.sections[index].term = ("Summer 2026", "2026-06-01", "2026-08-07")
            }
        }),
        ("student", "student rows pointing nowhere", .blocked, { district in
            for index in district.students.indices.dropFirst(4) { district.students[index].school = "NOPE" }
        }),
    ]

    /// The small district synced once, with the count minimum lowered to 2 so that in a district
    /// this tiny the share alone decides (or raised, 100, so that any share of removals goes through).
    static func tinyDistrictSynced(
        _ database: DatabaseTarget, minRemovalsToBlock: Int = 2
    ) async throws -> (SyncHarness, DistrictFixture) {
        try await database.execute(
            "INSERT INTO roster.districts (id, name, settings) VALUES ('d1', 'D', '{\"min_removals_to_block\": \(minRemovalsToBlock)}');")
        let harness = SyncHarness(database: database)
        let full = DistrictFixture.small()
        _ = try await harness.sync(full)
        return (harness, full)
    }

    @Test("No removal path fires on a truncated or malformed feed", arguments: Self.truncations.indices)
    func everyRemovalPathIsGuarded(case index: Int) async throws {
        let (entity, label, expected, damage) = Self.truncations[index]
        try await TestDatabase.withFresh { database in
            let (harness, full) = try await Self.tinyDistrictSynced(database)
            let before = try await Self.snapshot(database)
            var broken = full
            damage(&broken)
            let report = try await harness.sync(broken)
            switch expected {
            case .blocked:
                #expect(report.status == .blocked, "\(label): \(report.message)")
                #expect(report.violations.contains { $0.hasPrefix("\(entity): ") }, "\(label): \(report.violations)")
                #expect(try await Self.snapshot(database) == before, "\(label)")
            case .cutShort:
                #expect(report.status == .failed, "\(label): \(report.message)")
                #expect(report.exitCode == 1)
                #expect(report.message.contains("the extract looks cut short: "), "\(label): \(report.message)")
                #expect(report.message.contains("active \(entity)s"), "\(label): \(report.message)")
                #expect(try await Self.snapshot(database) == before, "\(label)")
            case .kept:
                #expect(report.status == .succeeded, "\(label): \(report.message)")
                #expect(report.summary.total == 0, "\(label): \(report.summary.counts)")
                #expect(report.rejections.contains { $0.entity == entity && $0.reason == "referenced_not_in_feed" },
                        "\(label): \(report.rejections)")
                // The district's row notes the run; nothing else changed.
                #expect(try await Self.snapshot(database).dropLast() == before.dropLast(), "\(label)")
            }
        }
    }

    /// A file cut inside its last row's last field: the field count still adds up.
    static let lastRowCuts: [(file: String, label: String, cut: @Sendable (String) -> String, reason: String)] = [
        ("enrollments.csv", "inside the student id", { row in String(row.prefix(row.utf8.count - row.split(separator: ",").last!.count + 1)) },
         "names student S, which the feed does not have but one of its ids begins with"),
        ("enrollments.csv", "right after the last comma", { row in String(row.prefix(row.utf8.count - row.split(separator: ",").last!.count)) },
         "lacks its section or student id"),
    ]

    @Test("A file cut inside its last row (no line end, that row unloadable) fails the run; nothing is removed",
          arguments: Self.lastRowCuts.indices)
    func lastRowCutShort(case index: Int) async throws {
        let (name, label, cut, reason) = Self.lastRowCuts[index]
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let folder = try DistrictFixture.small().writeTemporary("last-row")
            defer { try? FileManager.default.removeItem(at: folder) }
            let applied = try await SyncService(logger: TestDatabase.logger).sync(harness.configuration(.csv(folder)))
            #expect(applied.status == .succeeded)
            let before = try await Self.snapshot(database)
            var lastRow = ""
            try DistrictFixture.edit(name, in: folder) { text in
                var lines = text.split(separator: "\n").map(String.init)
                lastRow = lines.removeLast()
                return (lines + [cut(lastRow)]).joined(separator: "\n")
            }
            let report = try await SyncService(logger: TestDatabase.logger).sync(harness.configuration(.csv(folder)))
            #expect(report.status == .failed, "\(label): \(report.message)")
            #expect(report.exitCode == 1)
            #expect(report.message.contains("\(name) ends without a line end, and its last row"), "\(report.message)")
            #expect(report.message.contains(reason) && report.message.contains("looks cut short"), "\(report.message)")
            // Not "resume": a resume over the fixed file would be refused.
            #expect(report.message.hasSuffix("Fix the files, then sync again (a resume would reuse what the run staged from them)."),
                    "\(report.message)")
            #expect(try await Self.snapshot(database) == before, "\(label)")

            // The same file, whole but for its last line end, loads: Clever's files need none.
            try DistrictFixture.edit(name, in: folder) { text in
                var lines = text.split(separator: "\n").map(String.init)
                lines[lines.count - 1] = lastRow
                return lines.joined(separator: "\n")
            }
            // Not by resuming the failed run, though: it would reuse the rows staged from the cut file.
            let resumed = try await SyncService(logger: TestDatabase.logger).resume(
                runID: try #require(report.runID), database: database, sql: TestDatabase.sql, cleverToken: nil)
            #expect(resumed.status == .failed && resumed.message.contains("cut short"), "\(resumed.message)")
            #expect(try await Self.snapshot(database) == before, "\(label)")
            let whole = try await SyncService(logger: TestDatabase.logger).sync(harness.configuration(.csv(folder)))
            #expect(whole.status == .succeeded, "\(whole.message)")
            #expect(whole.summary.total == 0, "\(whole.summary)")
            #expect(whole.rejections.contains { $0.reason == "no_line_end" && $0.severity == "warning" }, "\(whole.rejections)")
        }
    }

    @Test("A last row cut to the id of a student the students file lacks but other rows still name fails as cut short, not loaded against the kept student")
    func lastRowCutToHeldStudent() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let full = Self.bigger()
            #expect(try await harness.sync(full).status == .succeeded)
            let before = try await Self.snapshot(database)
            // ST10 is missing from students.csv but its classes still list it (kept for the night);
            // the last row, SEC2,ST100, is cut to SEC2,ST10 with no line end.
            var fixture = full
            fixture.students.removeAll { $0.id == "ST10" }
            let report = try await harness.sync(fixture, editing: "enrollments.csv") { text in
                var lines = text.split(separator: "\n").map(String.init)
                lines[lines.count - 1] = String(lines[lines.count - 1].dropLast())
                return lines.joined(separator: "\n")
            }
            #expect(report.status == .failed, "\(report.message)")
            #expect(report.message.contains("names student ST10, which the feed does not have but one of its ids begins with"),
                    "\(report.message)")
            #expect(try await Self.snapshot(database) == before)
        }
    }

    @Test("A last row without a line end that loads with a warning (no email) does not stop the run")
    func lastRowWithWarningLoads() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            var fixture = DistrictFixture.small()
            fixture.students[fixture.students.count - 1].email = nil
            let folder = try fixture.writeTemporary("last-row-warning")
            defer { try? FileManager.default.removeItem(at: folder) }
            try DistrictFixture.edit("students.csv", in: folder) { String($0.dropLast()) }
            let report = try await SyncService(logger: TestDatabase.logger).sync(harness.configuration(.csv(folder)))
            #expect(report.status == .succeeded, "\(report.message)")
            #expect(report.rejections.contains { $0.reason == "missing_email" }, "\(report.rejections)")
            #expect(report.rejections.contains { $0.reason == "no_line_end" }, "the file did end without one: \(report.rejections)")
            #expect(try await harness.count("roster.students") == fixture.students.count)
        }
    }

    @Test("A whole last row without a line end that names someone the feed lacks (no id of it begins so) is one bad row, not a cut")
    func lastRowUnknownButWhole() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let folder = try DistrictFixture.small().writeTemporary("last-row-unknown")
            defer { try? FileManager.default.removeItem(at: folder) }
            try DistrictFixture.edit("enrollments.csv", in: folder) { $0 + "S1,SEC1,NOBODY" }
            let report = try await SyncService(logger: TestDatabase.logger).sync(harness.configuration(.csv(folder)))
            #expect(report.status == .succeeded, "\(report.message)")
            #expect(report.rejections.contains { $0.entity == "enrollment" && $0.reason == "unknown_reference" }, "\(report.rejections)")
            #expect(report.rejections.contains { $0.reason == "no_line_end" }, "\(report.rejections)")
        }
    }

    @Test("A night exported in Latin-1: cells that are not UTF-8 are read as Windows-1252 and reported; nobody is archived")
    func latin1Export() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            var district = Self.bigger()
            for index in 20..<60 { district.students[index].last = "Muñoz\(index)" }
            _ = try await harness.sync(district)

            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("latin1-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: folder) }
            try district.write(to: folder)
            let students = folder.appendingPathComponent("students.csv")
            let text = try String(contentsOf: students, encoding: .utf8)
            try #require(text.data(using: .isoLatin1)).write(to: students)

            let report = try await SyncService(logger: TestDatabase.logger).sync(harness.configuration(.csv(folder)))
            #expect(report.status == .succeeded, "\(report.message)")
            #expect(report.summary.total == 0, "the same names, read right: \(report.message)")
            #expect(
                try await database.int(
                    "SELECT count(*) FROM staging.rejects WHERE run_id = \(report.runID ?? 0) AND reason = 'invalid_encoding' AND severity = 'warning' AND detail LIKE 'Last_name not valid UTF-8%'")
                    == 40)
            #expect(try await database.int("SELECT count(*) FROM roster.change_log WHERE run_id = \(report.runID ?? 0)") == 0)
            #expect(try await harness.count("roster.students", "last_name LIKE 'Muñoz%' AND status = 'active'") == 40)
        }
    }

    @Test("A student, teacher and section whose School_id cell is blank are kept for the night, with their classes, as from the API")
    func blankSchoolCellsHold() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            var fixture = DistrictFixture.small()
            #expect(try await harness.sync(fixture).status == .succeeded)
            let before = try await SafetyTests.snapshot(database)
            // ST5 (in SEC1 and SEC2), T1 (SEC1's primary teacher) and SEC3 lose their school; a
            // cell of spaces is as blank.
            let student = try #require(fixture.students.firstIndex { $0.id == "ST5" })
            let teacher = try #require(fixture.teachers.firstIndex { $0.id == "T1" })
            let section = try #require(fixture.sections.firstIndex { $0.id == "SEC3" })
            fixture.students[student].school = ""
            fixture.teachers[teacher].school = "  "
            fixture.sections[section].school = ""
            let report = try await harness.sync(fixture, asOf: "2026-11-24")
            #expect(report.status == .succeeded, "\(report.message)")
            #expect(report.summary.total == 0, "nothing archived, suspended or removed: \(report.summary.counts)")
            #expect(try await SafetyTests.snapshot(database).dropLast() == before.dropLast())
            let runID = try #require(report.runID)
            #expect(
                try await database.strings("SELECT entity || ' ' || record_key FROM staging.unreadable_rows WHERE run_id = \(runID) ORDER BY 1")
                    == ["section SEC3", "student ST5", "teacher T1"])
            #expect(try await database.strings("SELECT DISTINCT reason || ': ' || detail FROM staging.rejects WHERE run_id = \(runID)")
                == ["missing_required_field: School_id is empty; every row needs one"])
        }
    }

    @Test("A record whose row is unreadable (a stray comma, a missing name) is kept as it is, with its classes, until it reads again")
    func unreadableRowsHold() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let district = DistrictFixture.small()
            _ = try await harness.sync(district)
            let before = try await Self.roster(database)

            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("unreadable-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: folder) }
            try district.write(to: folder)
            func damage(_ file: String, _ edit: (String) -> String) throws {
                try DistrictFixture.edit(file, in: folder, edit)
            }
            try damage("students.csv") { $0.replacingOccurrences(of: "ST5,Family5,Kid5", with: "ST5,Family5,Kid5,Jr.") }
            // Ids padded with spaces, which the transform trims in a readable row, key the same records.
            try damage("students.csv") { $0.replacingOccurrences(of: "ST16,Family16,Kid16", with: " ST16 ,Family16,Kid16,Jr.") }
            try damage("teachers.csv") { $0.replacingOccurrences(of: "T2,O'Brien,Ben", with: "T2,O'Brien,Ben,Jr.") }
            try damage("schools.csv") { $0.replacingOccurrences(of: "S2,Oak Middle", with: "S2,") }
            try damage("sections.csv") { $0.replacingOccurrences(of: "SEC3,T3", with: "SEC3,T3,") }
            try damage("enrollments.csv") { $0.replacingOccurrences(of: "S1,SEC2,ST6\n", with: "S1, SEC2 ,ST6\t,\n") }

            let report = try await SyncService(logger: TestDatabase.logger).sync(harness.configuration(.csv(folder)))
            #expect(report.status == .succeeded, "\(report.message)")
            #expect(report.summary.total == 0, "nothing archived, suspended or removed: \(report.message)")
            #expect(try await Self.roster(database) == before)
            #expect(
                try await database.strings(
                    "SELECT entity || ' ' || record_key || ' ' || reason FROM staging.unreadable_rows WHERE run_id = \(report.runID ?? 0) ORDER BY 1")
                    == [
                        // Each row's id, read from the left, names a record: the row broke after
                        // its ids, and the right-hand reading (0020) keeps nothing.
                        "enrollment SEC2/ST6 malformed_row", "school S2 missing_required_field", "section SEC3 malformed_row",
                        "student ST16 malformed_row", "student ST5 malformed_row", "teacher T2 malformed_row",
                    ])

            // Read again the next night: nothing to catch up on.
            let fixed = try await harness.sync(district, full: true)
            #expect(fixed.summary.total == 0, "\(fixed.message)")

            // A student who really left is still archived, next to an unreadable row; the kept
            // student's readable enrollment rows still apply (out of SEC2, into SEC3).
            var left = district
            left.removeStudent("ST7")
            left.enrollments.removeAll { $0 == ("SEC2", "ST5") }
            left.enrollments.append(("SEC3", "ST5"))
            try left.write(to: folder)
            try damage("students.csv") { $0.replacingOccurrences(of: "ST5,Family5,Kid5", with: "ST5,Family5,Kid5,Jr.") }
            let leaving = try await SyncService(logger: TestDatabase.logger).sync(harness.configuration(.csv(folder)))
            #expect(leaving.summary.count(.student, "archive") == 1)
            #expect(try await harness.count("roster.students", "status = 'archived'") == 1)
            #expect(try await harness.count("roster.students", "sis_id = 'ST5' AND status = 'active'") == 1)
            #expect(try await database.strings("SELECT s.sis_id FROM roster.enrollments e JOIN roster.sections s ON s.id = e.section_id JOIN roster.students st ON st.id = e.student_id WHERE st.sis_id = 'ST5' ORDER BY 1") == ["SEC1", "SEC3"])

            // A kept section still ends with its term (the roster knows it): archived with the others.
            let ended = try await SyncService(logger: TestDatabase.logger).sync(
                harness.configuration(.csv(folder), asOf: "2027-01-20"))
            #expect(ended.status == .succeeded, "\(ended.message)")
            try damage("sections.csv") { $0.replacingOccurrences(of: "SEC3,T3", with: "SEC3,T3,") }
            let endedAgain = try await SyncService(logger: TestDatabase.logger).sync(
                harness.configuration(.csv(folder), asOf: "2027-01-21"))
            #expect(endedAgain.status == .succeeded, "\(endedAgain.message)")
            #expect(try await harness.count("roster.sections", "status = 'archived' AND status_reason = 'term_ended'") == 4)
        }
    }

    @Test("A stray comma before the id, in a file whose columns are not in Clever's order, keeps the row's own record (its id read from the right)")
    func strayCommaBeforeTheId() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let district = DistrictFixture.small()
            // Names first: Last_name, First_name, School_id, Student_id, Grade, Student_email.
            func namesFirst(_ text: String) -> String {
                text.split(separator: "\n").map { line in
                    let cells = line.split(separator: ",", omittingEmptySubsequences: false)
                    return [cells[2], cells[3], cells[0], cells[1], cells[4], cells[5]].joined(separator: ",")
                }.joined(separator: "\n") + "\n"
            }
            #expect(try await harness.sync(district, editing: "students.csv", namesFirst).status == .succeeded)
            let before = try await Self.roster(database)
            // ST5's last name gains an unquoted ", Jr": every cell from there on moves one right.
            let report = try await harness.sync(district, editing: "students.csv") {
                namesFirst($0).replacingOccurrences(of: "Family5,Kid5,S1,ST5,", with: "Family5, Jr,Kid5,S1,ST5,")
            }
            #expect(report.status == .succeeded, "\(report.message)")
            #expect(report.summary.total == 0, "\(report.summary.counts)")
            #expect(try await Self.roster(database) == before)
            // Held by its own row, both readings of which are kept, not by the enrollments naming it.
            #expect(
                try await database.strings(
                    "SELECT record_key || ' ' || source_ref FROM staging.unreadable_rows WHERE run_id = \(report.runID ?? 0) ORDER BY 1")
                    == ["S1 students.csv:6", "ST5 students.csv:6"])
            #expect(!report.rejections.contains { $0.reason == "referenced_not_in_feed" }, "\(report.rejections)")
            #expect(
                try await database.string("SELECT detail FROM staging.rejects WHERE run_id = \(report.runID ?? 0) AND reason = 'malformed_row'")
                    == "expected 6 fields as in the header, found 7; its id reads 'S1' by the header's columns counted from the left "
                    + "and 'ST5' counted from the right: both are kept as they are")

            // A student whose SIS id is the school's, with a readable row of its own tonight: the
            // left-hand reading names a record, but not one this row can be, so the right-hand
            // reading still keeps ST5.
            var overlapping = district
            overlapping.students.append(
                .init(school: "S1", id: "S1", first: "Sam", last: "Lee", grade: "4", email: "sam.lee@example.org"))
            #expect(try await harness.sync(overlapping, editing: "students.csv", namesFirst).status == .succeeded)
            let again = try await harness.sync(overlapping, editing: "students.csv") {
                namesFirst($0).replacingOccurrences(of: "Family5,Kid5,S1,ST5,", with: "Family5, Jr,Kid5,S1,ST5,")
            }
            #expect(again.status == .succeeded, "\(again.message)")
            #expect(again.summary.total == 0, "\(again.summary.counts)")
            #expect(try await database.strings(
                "SELECT record_key || ' ' || coalesce(alternate_key, '-') FROM staging.rejects WHERE run_id = \(again.runID ?? 0) AND reason = 'malformed_row'")
                == ["S1 ST5"])
        }
    }

    @Test("A stray comma after the id, in Clever's column order, keeps no record whose id happens to be the next column's value")
    func strayCommaAfterTheId() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            var district = DistrictFixture.small()
            // A student whose SIS id is another student's last name: an SIS with ids that overlap
            // another column (student numbers, say) makes such pairs.
            district.students.append(
                .init(school: "S1", id: "Family5", first: "Pat", last: "Lee", grade: "4", email: "pat.lee@example.org"))
            #expect(try await harness.sync(district).status == .succeeded)
            // Pat leaves; ST5's row gains a field after its id, so its right-hand reading is "Family5".
            district.removeStudent("Family5")
            let report = try await harness.sync(district, editing: "students.csv") {
                $0.replacingOccurrences(of: "ST5,Family5,Kid5", with: "ST5,Family5,Kid5,Jr.")
            }
            #expect(report.status == .succeeded, "\(report.message)")
            #expect(report.summary.count(.student, "archive") == 1, "\(report.summary.counts)")
            #expect(try await harness.count("roster.students", "sis_id = 'Family5' AND status = 'archived'") == 1)
            #expect(try await harness.count("roster.students", "sis_id = 'ST5' AND status = 'active'") == 1)
            #expect(try await database.strings(
                "SELECT record_key || ' ' || coalesce(alternate_key, '-') FROM staging.rejects WHERE run_id = \(report.runID ?? 0) AND reason = 'malformed_row'")
                == ["ST5 -"])
            #expect(try await database.string(
                "SELECT detail FROM staging.rejects WHERE run_id = \(report.runID ?? 0) AND reason = 'malformed_row'")?
                .hasSuffix("'Family5' counted from the right: the left one names a record the feed has no other row of, so it alone is kept") == true)
        }
    }

    @Test("An unreadable enrollment row holds its membership when the SIS ids themselves hold a '/'")
    func unreadableEnrollmentWithSlashes() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            var district = DistrictFixture.small()
            district.sections[1].id = "2024/SEC2"
            district.enrollments = district.enrollments.map { ($0.section == "SEC2" ? "2024/SEC2" : $0.section, $0.student) }
            district.renameStudent("ST6", to: "ST/6")
            _ = try await harness.sync(district)
            let before = try await Self.roster(database)

            let report = try await harness.sync(district, editing: "enrollments.csv") {
                $0.replacingOccurrences(of: "S1,2024/SEC2,ST/6\n", with: "S1,2024/SEC2,ST/6,\n")
            }
            #expect(report.status == .succeeded, "\(report.message)")
            #expect(try await database.strings("SELECT record_key FROM staging.unreadable_rows WHERE run_id = \(report.runID ?? 0)") == ["2024/SEC2/ST/6"])
            #expect(report.summary.total == 0, "the membership is kept: \(report.summary.counts)")
            #expect(try await Self.roster(database) == before)
        }
    }

    @Test("A school or section kept for an unreadable row is not kept when the district's filter leaves it out")
    func unreadableSchoolOutsideTheFilter() async throws {
        try await TestDatabase.withFresh { database in
            let (harness, district) = try await Self.tinyDistrictSynced(database, minRemovalsToBlock: 100)
            try await database.execute(
                "UPDATE roster.districts SET settings = settings || '{\"filters\": {\"schools\": [\"S1\"]}}' WHERE id = 'd1';")
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("unreadable-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: folder) }
            try district.write(to: folder)
            try DistrictFixture.edit("schools.csv", in: folder) { $0.replacingOccurrences(of: "S2,Oak Middle", with: "S2,") }
            let report = try await SyncService(logger: TestDatabase.logger).sync(
                harness.configuration(.csv(folder), allowMassChanges: true))
            #expect(report.status == .succeeded, "\(report.message)")
            // Treated as not in the data: S2's students leave, as the filter says.
            #expect(try await harness.count("roster.students", "status = 'archived'") == 6)
            #expect(try await harness.count("roster.students", "status = 'active'") == 14)
            #expect(try await database.strings("SELECT sis_id || ' ' || status FROM roster.schools ORDER BY 1") == ["S1 active", "S2 archived"])

            // So is a section whose row is unreadable when the sections filter leaves it out.
            try await database.execute(
                "UPDATE roster.districts SET settings = settings || '{\"filters\": {\"sections\": [\"SEC1\", \"SEC2\"]}}' WHERE id = 'd1';")
            try district.write(to: folder)
            try DistrictFixture.edit("sections.csv", in: folder) { $0.replacingOccurrences(of: "SEC3,T3", with: "SEC3,T3,") }
            let sections = try await SyncService(logger: TestDatabase.logger).sync(
                harness.configuration(.csv(folder), allowMassChanges: true))
            #expect(sections.status == .succeeded, "\(sections.message)")
            let statuses = try await database.strings("SELECT sis_id || ' ' || status FROM roster.sections ORDER BY 1")
            #expect(statuses == ["SEC1 active", "SEC2 active", "SEC3 archived", "SEC4 archived"], "\(statuses)")
        }
    }

    @Test("An unreadable student outside the grades filter, or section of a school outside the schools filter, is not kept; a teacher with one school inside is")
    func unreadableRowsOutsideOtherFilters() async throws {
        try await TestDatabase.withFresh { database in
            var (harness, district) = try await Self.tinyDistrictSynced(database, minRemovalsToBlock: 100)
            // T4 teaches at S2 and at S1 (one row per school, S2's first: its primary school).
            district.teachers.append(.init(school: "S1", id: "T4", first: "Dev", last: "Patel", email: "dev.patel@example.org"))
            _ = try await harness.sync(district)
            // Grade 4 (ST5, ST12) and school S2 (SEC4) leave the filters; ST5's and SEC4's rows are unreadable.
            try await database.execute(
                """
                UPDATE roster.districts SET settings = settings || '{"filters": {"schools": ["S1", "S3"], "grades": ["PreKindergarten", "Kindergarten", "1", "2", "3", "5", "6", "7", "8"]}}' WHERE id = 'd1';
                """)
            let folder = try district.writeTemporary("outside-filters")
            defer { try? FileManager.default.removeItem(at: folder) }
            try DistrictFixture.edit("students.csv", in: folder) { $0.replacingOccurrences(of: "ST5,Family5,Kid5", with: "ST5,Family5,Kid5,Jr.") }
            try DistrictFixture.edit("sections.csv", in: folder) { $0.replacingOccurrences(of: "S2,SEC4,T4", with: "S2,SEC4,T4,") }
            // T4's row for S1, the school the filter keeps, is unreadable.
            try DistrictFixture.edit("teachers.csv", in: folder) { $0.replacingOccurrences(of: "S1,T4,Patel,Dev", with: "S1,T4,Patel,Dev,Jr.") }
            let report = try await SyncService(logger: TestDatabase.logger).sync(harness.configuration(.csv(folder)))
            #expect(report.status == .succeeded, "\(report.message)")
            #expect(try await database.strings("SELECT entity || ' ' || record_key FROM staging.unreadable_rows WHERE run_id = \(report.runID ?? 0) ORDER BY 1")
                == ["section SEC4", "student ST5", "teacher T4"])
            #expect(try await database.strings("SELECT sis_id || ' ' || status || ' ' || status_reason FROM roster.students WHERE sis_id IN ('ST5', 'ST12') ORDER BY 1") == ["ST12 archived filtered_out", "ST5 archived filtered_out"])
            #expect(try await database.strings("SELECT sis_id || ' ' || status FROM roster.teachers WHERE sis_id = 'T4'") == ["T4 active"], "one of T4's schools is inside the filter")
            #expect(try await database.strings("SELECT sis_id || ' ' || status FROM roster.sections WHERE sis_id = 'SEC4'") == ["SEC4 archived"])
        }
    }

    /// The roster's people, classes and memberships with their status (not timestamps).
    static func roster(_ database: DatabaseTarget) async throws -> [String] {
        try await database.strings(
            """
            SELECT 'school ' || sis_id || ' ' || name || ' ' || status FROM roster.schools
            UNION ALL SELECT 'teacher ' || sis_id || ' ' || status FROM roster.teachers
            UNION ALL SELECT 'student ' || sis_id || ' ' || status || ' ' || coalesce(school_id::text, '-') FROM roster.students
            UNION ALL SELECT 'section ' || sis_id || ' ' || status FROM roster.sections
            UNION ALL SELECT 'section_teacher ' || section_id || ':' || teacher_id || ' ' || is_primary FROM roster.section_teachers
            UNION ALL SELECT 'enrollment ' || section_id || ':' || student_id FROM roster.enrollments
            ORDER BY 1
            """)
    }

    @Test("The removal share's base is the active classes' members: an archived class's kept history does not dilute it")
    func archivedClassesDoNotDiluteTheShare() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            var district = Self.bigger()
            _ = try await harness.sync(district)
            // SEC2 (94 members) leaves the feed: archived, its memberships kept as history.
            var without = district
            without.sections.removeAll { $0.id == "SEC2" }
            without.enrollments.removeAll { $0.section == "SEC2" }
            #expect(try await harness.sync(without).summary.count(.section, "archive") == 1)
            let before = try await Self.snapshot(database)
            // Ten of the active classes' 27 members dropped: 37%, not 10 of 121.
            district = without
            district.enrollments.removeAll { $0.section == "SEC1" && Int($0.student.dropFirst(2))! <= 10 }
            let report = try await harness.sync(district)
            #expect(report.status == .blocked, "\(report.message)")
            #expect(report.violations.contains { $0.hasPrefix("enrollment: 10 of 27") }, "\(report.violations)")
            #expect(try await Self.snapshot(database) == before)
        }
    }

    @Test("Classes archived before the run keep their members against the feed; those an archived student leaves do not count at the threshold, whose base counts active classes only")
    func archivedClassesRemovalsNotCounted() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let district = Self.bigger()
            #expect(try await harness.sync(district).status == .succeeded)
            // The winter break: every term has ended, every class is archived (the calendar).
            let ended = try await harness.sync(district, asOf: "2027-01-20")
            #expect(ended.status == .succeeded, "\(ended.message)")
            #expect(ended.summary.count(.section, "archive") == 4)
            // Four students leave, twelve memberships of last term's classes with them: twelve of
            // no active members, but none of them an active record.
            var left = district
            for id in ["ST2", "ST4", "ST6", "ST8"] { left.removeStudent(id) }
            let report = try await harness.sync(left, asOf: "2027-01-20")
            #expect(report.status == .succeeded, "\(report.message) \(report.violations)")
            #expect(report.summary.count(.student, "archive") == 4)
            #expect(report.summary.count(.enrollment, "remove") == 12)
            #expect(try await database.int(
                "SELECT count(*) FROM roster.change_log WHERE run_id = \(report.runID ?? 0) AND details ? 'archived_section'") == 12)

            // An enrollments file cut short over the break: last term's classes keep their members,
            // which no active member could weigh at the threshold.
            let members = try await harness.count("roster.enrollments")
            var cut = left
            cut.enrollments.removeLast(100)
            let cutReport = try await harness.sync(cut, asOf: "2027-01-20")
            #expect(cutReport.status == .succeeded, "\(cutReport.message)")
            #expect(cutReport.summary.total == 0, "\(cutReport.summary.counts)")
            #expect(try await harness.count("roster.enrollments") == members)
        }
    }

    @Test("A filter mistake (grades left out of the list) that would archive most students stops at the threshold")
    func filterMistakeBlocks() async throws {
        try await TestDatabase.withFresh { database in
            let (harness, full) = try await Self.tinyDistrictSynced(database)
            let before = try await Self.snapshot(database)
            try await database.execute(
                """
                UPDATE roster.districts SET settings = settings || '{"filters": {"grades": ["Kindergarten", "3", "7"]}}'
                WHERE id = 'd1'
                """)
            let report = try await harness.sync(full)
            #expect(report.status == .blocked, "\(report.message)")
            #expect(report.violations.contains { $0.hasPrefix("student: 14 of 20") }, "\(report.violations)")
            // Only the settings row changed (by hand, above); the roster is as it was.
            let after = try await Self.snapshot(database)
            #expect(after.dropLast() == before.dropLast())
            #expect(try await harness.count("roster.students", "status = 'archived'") == 0)
        }
    }

    @Test("A term that simply ends archives its sections without stopping; approving a moved end date applies it")
    func termEndsByTheCalendar() async throws {
        try await TestDatabase.withFresh { database in
            let (harness, full) = try await Self.tinyDistrictSynced(database)

            // The end date moved into the past (a typo in the SIS): stopped, then reviewed and approved.
            var typo = full
            for index in typo.sections.indices { typo.sections[index].term.2 = "2026-11-01" }
            let blocked = try await harness.sync(typo)
            #expect(blocked.violations.contains { $0.hasPrefix("section: 4 of 4") }, "\(blocked.violations)")
            let approved = try await SyncService(logger: TestDatabase.logger).approve(
                runID: blocked.runID ?? 0, database: database, sql: TestDatabase.sql)
            #expect(approved.summary.count(.section, "archive") == 4)
            #expect(
                try await database.int(
                    "SELECT count(*) FROM roster.change_log WHERE run_id = \(blocked.runID ?? 0) AND details ->> 'term_changed' = 'true'")
                    == 4)

            // Corrected the next day; the term then ends on its (unchanged) date: no stop.
            let corrected = try await harness.sync(full)
            #expect(corrected.summary.count(.section, "restore") == 4)
            let ended = try await harness.sync(full, asOf: "2027-01-20")
            #expect(ended.status == .succeeded, "\(ended.message)")
            #expect(ended.violations.isEmpty)
            #expect(try await harness.count("roster.sections", "status = 'archived' AND status_reason = 'term_ended'") == 4)
        }
    }

    @Test("Classes whose term has ended are not weighed as a damaged feed when their rows cannot be read: they are archived all the same")
    func endedClassesUnreadable() async throws {
        try await TestDatabase.withFresh { database in
            let (harness, full) = try await Self.tinyDistrictSynced(database)
            let before = try await Self.snapshot(database)
            // A stray comma in three classes' names: those rows cannot be read (with none readable,
            // the empty-feed guard would stop the night first).
            let strayComma: @Sendable (String) -> String = { text in
                ["Reading 3", "Math 3", "Art"].reduce(text) { $0.replacingOccurrences(of: ",\($1),", with: ",\($1),x,") }
            }
            func night(asOf: String) async throws -> SyncReport {
                try await harness.sync(full, editing: "sections.csv", asOf: asOf, strayComma)
            }
            // While their term runs, three of four classes unreadable is a damaged feed.
            let running = try await night(asOf: "2026-11-23")
            #expect(running.status == .failed, "\(running.message)")
            #expect(running.message.contains(
                "the extract looks damaged: 3 of 4 active sections (75%) have rows in the sections feed that cannot be read"),
                "\(running.message)")
            #expect(try await Self.snapshot(database) == before)
            // Once it has ended, the calendar archives them whatever their rows say: nothing is kept.
            let ended = try await night(asOf: "2027-01-20")
            #expect(ended.status == .succeeded, "\(ended.message)")
            #expect(ended.summary.count(.section, "archive") == 4, "\(ended.summary.counts)")
            #expect(try await harness.count("roster.sections", "status = 'archived' AND status_reason = 'term_ended'") == 4)
        }
    }

    @Test("A night that takes the login of as many students as the share stops on (their emails gone) stops at the threshold; a few go through")
    func massLoginLossBlocks() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let full = Self.bigger()
            _ = try await harness.sync(full)
            let before = try await Self.snapshot(database)
            // An export whose email column came out empty.
            var blank = full
            for index in blank.students.indices { blank.students[index].email = nil }
            let report = try await harness.sync(blank)
            #expect(report.status == .blocked, "\(report.message)")
            #expect(report.violations == [
                "student_login: 100 of 100 active students who can log in would lose their login (their email gone or unusable) (100%, limit 10%)",
            ])
            #expect(try await Self.snapshot(database) == before)
            // Named, it applies; five students losing their email go through on their own.
            let allowed = try await harness.sync(blank) { $0.allowMassChangesOf = ["student_login"] }
            #expect(allowed.status == .succeeded, "\(allowed.message)")
            #expect(try await harness.count("roster.students", "can_login") == 0)
            #expect(try await harness.sync(full).status == .succeeded)
            var few = full
            for index in 0..<5 { few.students[index].email = nil }
            let quiet = try await harness.sync(few)
            #expect(quiet.status == .succeeded, "\(quiet.message)")
            #expect(quiet.summary.count(.student, "update") == 5)
        }
    }

    @Test("A failure in the middle of the merge rolls everything back")
    func failureMidMergeRollsBack() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            var fixture = DistrictFixture.small()
            _ = try await harness.sync(fixture)
            // Sections are merged after schools, teachers and students: fail there.
            try await database.injectFailure("INSERT", on: "roster.sections")
            let before = try await Self.snapshot(database)
            fixture.removeStudent("ST1")
            fixture.teachers[0].last = "Changed"
            fixture.sections.append(.init(school: "S1", id: "SEC9", name: "New class", teachers: ["T1"]))
            let report = try await harness.sync(fixture)
            #expect(report.status == .failed)
            #expect(report.exitCode == 1)
            #expect(report.message.contains("injected failure") || report.message.contains("sql/merge"))
            #expect(try await Self.snapshot(database) == before)
            #expect(try await database.string("SELECT status FROM etl.runs WHERE id = \(report.runID ?? 0)") == "failed")
        }
    }

    @Test("A preview computes the changes and leaves the roster unchanged")
    func previewChangesNothing() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            var fixture = DistrictFixture.small()
            _ = try await harness.sync(fixture)
            let before = try await Self.snapshot(database)
            fixture.removeStudent("ST3")
            let report = try await harness.sync(fixture, preview: true)
            #expect(report.status == .previewed)
            #expect(report.summary.count(.student, "archive") == 1)
            #expect(try await Self.snapshot(database) == before)
            #expect(try await database.int("SELECT count(*) FROM staging.changes WHERE run_id = \(report.runID ?? 0) AND entity = 'student'") == 1)
        }
    }

    @Test("A preview of a truncated feed exits 0 and says where a sync would stop; approve does not apply a preview")
    func previewNeverBlocks() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let full = Self.bigger()
            _ = try await harness.sync(full)
            let before = try await Self.snapshot(database)
            let truncated = Self.truncated(full)
            let report = try await harness.sync(truncated, preview: true)
            #expect(report.status == .previewed && report.exitCode == 0)
            #expect(report.violations.contains { $0.hasPrefix("student: 61 of 100") })
            #expect(report.message.contains("; a sync would stop at the safety threshold: "), "\(report.message)")
            #expect(report.message.contains("student: 61 of 100"), "\(report.message)")
            #expect(try await Self.snapshot(database) == before)
            let runID = try #require(report.runID)
            #expect(try await database.string("SELECT status FROM etl.runs WHERE id = \(runID)") == "succeeded")
            #expect(try await database.int("SELECT count(*) FROM staging.changes WHERE run_id = \(runID) AND action = 'archive' AND entity = 'student'") == 61)

            // A preview left blocked by an older version is still not approved.
            try await database.execute("UPDATE etl.runs SET status = 'blocked' WHERE id = \(runID)")
            let error = await #expect(throws: ConfigurationError.self) {
                _ = try await SyncService(logger: TestDatabase.logger).approve(runID: runID, database: database, sql: TestDatabase.sql)
            }
            #expect(error?.description.contains("is a preview, which approve does not apply") == true, "\(String(describing: error))")
            #expect(try await Self.snapshot(database) == before)
        }
    }

    @Test("A preview before a district's first import writes nothing in roster, not even the district's row")
    func previewFirstImport() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let report = try await harness.sync(.small(), preview: true)
            #expect(report.status == .previewed, "\(report.message)")
            #expect(report.summary.count(.student, "create") == 20)
            #expect(try await database.int("SELECT count(*) FROM roster.districts") == 0)
            #expect(try await harness.count("roster.students") == 0)
            #expect(try await database.int("SELECT count(*) FROM staging.changes WHERE run_id = \(report.runID ?? 0) AND entity = 'student'") == 20)
            // Each listed student carries what a person reads them by (the roster rows are gone).
            #expect(try await database.int("SELECT count(*) FROM staging.changes WHERE run_id = \(report.runID ?? 0) AND entity = 'student' AND details ?& array['sis_id', 'first_name', 'last_name', 'grade']") == 20)
            // The import itself then creates the row.
            #expect(try await harness.sync(.small()).summary.count(.student, "create") == 20)
            #expect(try await database.int("SELECT count(*) FROM roster.districts") == 1)
        }
    }

    @Test("A second run of the same district cannot start while one holds the lock")
    func districtLock() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            _ = try await harness.sync(.small())
            try await database.withConnection(logger: TestDatabase.logger) { holder in
                try await holder.query("SELECT pg_advisory_lock(hashtext('rostersync.district'), hashtext('d1'))", logger: TestDatabase.logger)
                await #expect(throws: RunLockedError.self) { _ = try await harness.sync(.small()) }
            }
            #expect(try await harness.sync(.small()).status == .succeeded)
        }
    }

    @Test("A district whose launch date is in the future is skipped, not an error")
    func launchDateSkip() async throws {
        try await TestDatabase.withFresh { database in
            try await database.execute("INSERT INTO roster.districts (id, name, launch_date) VALUES ('d1', 'Later', '2027-01-05');")
            let harness = SyncHarness(database: database)
            let handler = RecordingLogHandler()
            let report = try await harness.sync(.small(), logger: Logger(label: "test") { _ in handler })
            #expect(report.status == .skipped)
            #expect(report.exitCode == 0)
            #expect(try await harness.count("roster.students") == 0)
            // A clear line in the log and in the run ledger, not an error.
            let line = "district d1 launches on 2027-01-05; skipped (as of 2026-11-23)"
            #expect(try await database.string("SELECT status || ': ' || message FROM etl.runs WHERE id = \(report.runID ?? 0)")
                == "skipped: \(line)")
            #expect(handler.entries.contains { $0.message == line && $0.level == .notice }, "\(handler.entries.map(\.message))")
            #expect(try await harness.sync(.small(), asOf: "2027-01-05").status == .succeeded)
        }
    }
}
