import Foundation
import PostgresLoad
import RosterSync
import Testing

/// Unchanged nights (migration 0008): a run with the inputs of the last successful run, on the
/// roster that run left, is verified by digests and changes nothing. Everything else that could
/// make a full comparison change something must make the run compare in full.
@Suite("Unchanged nights", .serialized, .timeLimit(.minutes(10)))
struct UnchangedNightTests {
    /// Whether the run staged and compared (it has task runs) or was verified by digests.
    private func compared(_ report: SyncReport, _ database: DatabaseTarget) async throws -> Bool {
        let run = try #require(report.runID)
        return try await database.int("SELECT count(*) FROM etl.task_runs WHERE run_id = \(run) AND task = 'merge'") == 1
    }

    @Test("The same files on an untouched roster: nothing staged or compared, the night still counts as a sync")
    func sameFilesSkip() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            var fixture = DistrictFixture.small()
            fixture.students[0].email = "not an email"  // a warning to carry over
            let first = try await harness.sync(fixture)
            let firstRun = try #require(first.runID)
            let before = try await database.string("SELECT last_successful_sync_at::text FROM roster.districts WHERE id = 'd1'")
            let roster = try await database.string("SELECT etl.roster_digest('d1')")
            #expect(try await database.string("SELECT roster_digest FROM etl.runs WHERE id = \(firstRun)") == roster)

            let second = try await harness.sync(fixture)
            let secondRun = try #require(second.runID)
            #expect(second.status == .succeeded)
            #expect(second.summary.total == 0)
            #expect(second.message.contains("no changes") && second.message.contains("run \(firstRun)"), "\(second.message)")
            #expect(try await compared(second, database) == false)
            #expect(try await database.int("SELECT count(*) FROM etl.task_runs WHERE run_id = \(secondRun)") == 0)
            #expect(try await database.int("SELECT count(*) FROM staging.students WHERE run_id = \(secondRun)") == 0)
            #expect(try await harness.changeLogRows(run: secondRun) == 0)
            #expect(try await database.string("SELECT etl.roster_digest('d1')") == roster, "the roster is untouched")
            #expect(try await database.string("SELECT counts ->> 'unchanged_since' FROM etl.runs WHERE id = \(secondRun)") == "\(firstRun)")
            // The night's report still carries the rejects that apply, from the run that staged them.
            #expect(second.rejectionsRunID == firstRun)
            #expect(second.rejections == first.rejections)
            #expect(second.rejections.contains { $0.entity == "student" && $0.reason == "invalid_email" })
            let after = try await database.string("SELECT last_successful_sync_at::text FROM roster.districts WHERE id = 'd1'")
            #expect(after != before, "the morning report's last successful sync moves forward")

            // A chain of unchanged nights points at the run that compared.
            let third = try await harness.sync(fixture)
            #expect(try await compared(third, database) == false)
            #expect(try await database.string("SELECT counts ->> 'unchanged_since' FROM etl.runs WHERE id = \(third.runID ?? 0)") == "\(firstRun)")

            // A week of unchanged nights, then a preview (which prunes staging to the last seven
            // runs): unchanged nights stage nothing and do not count, so run 1 keeps its rows.
            for _ in 0..<7 { _ = try await harness.sync(fixture) }
            _ = try await harness.sync(fixture, preview: true)
            #expect(try await database.int("SELECT count(*) FROM staging.students WHERE run_id = \(firstRun)") == 20)
            let later = try await harness.sync(fixture)
            #expect(try await compared(later, database) == false)
            #expect(later.rejections == first.rejections)

            // Its staged rows gone (deleted by hand): the night compares in full and stages its own.
            try await database.execute("DELETE FROM staging.schools WHERE run_id = \(firstRun)")
            let restaged = try await harness.sync(fixture)
            #expect(try await compared(restaged, database))
            #expect(restaged.summary.total == 0)
        }
    }

    @Test("Feed files that are links are followed: a link pointed at a new upload compares in full")
    func linkedFeedFiles() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let base = FileManager.default.temporaryDirectory.appendingPathComponent("rostersync-links-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: base) }
            let monday = base.appendingPathComponent("monday")
            let tuesday = base.appendingPathComponent("tuesday")
            let current = base.appendingPathComponent("current")
            var changed = DistrictFixture.small()
            try changed.write(to: monday)
            changed.students[2].last = "Changed"
            try changed.write(to: tuesday)
            try FileManager.default.createDirectory(at: current, withIntermediateDirectories: true)
            let files = try FileManager.default.contentsOfDirectory(atPath: monday.path)
            for name in files {
                try FileManager.default.createSymbolicLink(
                    at: current.appendingPathComponent(name), withDestinationURL: monday.appendingPathComponent(name))
            }
            let service = SyncService(logger: TestDatabase.logger)
            _ = try await service.sync(harness.configuration(.csv(current)))
            #expect(try await compared(service.sync(harness.configuration(.csv(current))), database) == false)

            let students = current.appendingPathComponent("students.csv")
            try FileManager.default.removeItem(at: students)
            try FileManager.default.createSymbolicLink(at: students, withDestinationURL: tuesday.appendingPathComponent("students.csv"))
            let next = try await service.sync(harness.configuration(.csv(current)))
            #expect(try await compared(next, database))
            #expect(next.summary.count(.student, "update") == 1)

            // The folder itself a link (`--csv /srv/clever/latest`), pointed at Monday's upload again.
            let latest = base.appendingPathComponent("latest")
            try FileManager.default.createSymbolicLink(at: latest, withDestinationURL: monday)
            let back = try await service.sync(harness.configuration(.csv(latest)))
            #expect(try await compared(back, database))
            #expect(back.summary.count(.student, "update") == 1)
            #expect(try await compared(service.sync(harness.configuration(.csv(latest))), database) == false)
            try FileManager.default.removeItem(at: latest)
            try FileManager.default.createSymbolicLink(at: latest, withDestinationURL: tuesday)
            let repointed = try await service.sync(harness.configuration(.csv(latest)))
            #expect(try await compared(repointed, database))
            #expect(repointed.summary.count(.student, "update") == 1)
        }
    }

    @Test("Settings changed while a run works are applied by the next night, though the run's roster digest has them")
    func settingsChangedMidRun() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let fixture = DistrictFixture.small()
            let first = try await harness.sync(fixture)
            // What a run whose settings changed after it read them leaves: the new settings in
            // its roster digest (taken at the end of its merge), the old ones in what it did.
            try await database.execute(
                """
                UPDATE roster.districts SET settings = '{"allowed_email_domains": ["other.org"]}' WHERE id = 'd1';
                UPDATE etl.runs SET roster_digest = etl.roster_digest('d1') WHERE id = \(first.runID ?? 0);
                """)
            let next = try await harness.sync(fixture)
            #expect(try await compared(next, database), "the settings this night reads are not the ones the last run read")
            #expect(next.rejections.contains { $0.reason == "email_domain_not_allowed" })
        }
    }

    @Test("A roster changed by hand since the last run is compared in full, and the rules put it right")
    func handChangesCompareInFull() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let fixture = DistrictFixture.small()
            _ = try await harness.sync(fixture)

            // A student added by hand to a Clever section: the next sync removes them, same files or not.
            try await harness.enrollByHand("ST1", in: "SEC4")
            let removal = try await harness.sync(fixture)
            #expect(try await compared(removal, database))
            #expect(removal.summary.count(.enrollment, "remove") == 1)

            // A Clever student's name edited by hand: the SIS is the truth.
            try await database.execute("UPDATE roster.students SET first_name = 'Edited' WHERE sis_id = 'ST2'")
            let restored = try await harness.sync(fixture)
            #expect(try await compared(restored, database))
            #expect(restored.summary.count(.student, "update") == 1)
            #expect(try await database.string("SELECT first_name FROM roster.students WHERE sis_id = 'ST2'") == "Kid2")

            // A row only touched (same values, new updated_at) also counts: digests see every column.
            try await database.execute("UPDATE roster.teachers SET updated_at = updated_at + interval '1 second' WHERE sis_id = 'T1'")
            let touched = try await harness.sync(fixture)
            #expect(try await compared(touched, database))
            #expect(touched.summary.total == 0)

            // And once the rules have run, the next night with the same files is unchanged again.
            let settled = try await harness.sync(fixture)
            #expect(try await compared(settled, database) == false)
        }
    }

    @Test("Changed files, district settings, SQL or an admin's suspension each make the night compare in full")
    func changedInputsCompareInFull() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let fixture = DistrictFixture.small()
            _ = try await harness.sync(fixture)

            var renamed = fixture
            renamed.students[3].first = "Renamed"
            let fileChanged = try await harness.sync(renamed)
            #expect(try await compared(fileChanged, database))
            #expect(fileChanged.summary.count(.student, "update") == 1)

            // The same files as of a night before the last run's: prepare weighs that night against
            // another applied run, so it compares.
            #expect(try await compared(harness.sync(renamed, asOf: "2026-11-22"), database))

            // Settings live in roster.districts, which the roster digest reads.
            try await database.execute(
                """
                UPDATE roster.districts SET settings = '{"filters": {"schools": ["S1"]}, "max_removal_share": 1}'
                WHERE id = 'd1'
                """)
            let filtered = try await harness.sync(renamed)
            #expect(try await compared(filtered, database))
            #expect(filtered.summary.count(.student, "archive") == 6, "S2's students are filtered out")

            // An admin suspends a teacher: compared (and the suspension stays, SYNC-RULES "Accounts").
            try await database.execute(
                "UPDATE roster.teachers SET status = 'suspended', suspended_by = 'admin' WHERE sis_id = 'T1'")
            let suspended = try await harness.sync(renamed)
            #expect(try await compared(suspended, database))
            #expect(try await database.string("SELECT status || '/' || suspended_by FROM roster.teachers WHERE sis_id = 'T1'") == "suspended/admin")

            // Other SQL (a new merge, say) never matches a run of the old one.
            let sql = FileManager.default.temporaryDirectory.appendingPathComponent("rostersync-sql-\(UUID().uuidString)")
            try FileManager.default.copyItem(at: TestDatabase.sql.url, to: sql)
            defer { try? FileManager.default.removeItem(at: sql) }
            let finish = sql.appendingPathComponent("merge/09_finish.sql")
            try (try String(contentsOf: finish, encoding: .utf8) + "\n-- a later version\n").write(to: finish, atomically: true, encoding: .utf8)
            let folder = try renamed.writeTemporary("rostersync")
            defer { try? FileManager.default.removeItem(at: folder) }
            let unchanged = try await SyncService(logger: TestDatabase.logger).sync(harness.configuration(.csv(folder)))
            #expect(try await compared(unchanged, database) == false, "the same SQL: unchanged")
            var other = harness.configuration(.csv(folder))
            other.sql = SQLDirectory(url: sql)
            let newSQL = try await SyncService(logger: TestDatabase.logger).sync(other)
            #expect(try await compared(newSQL, database))
        }
    }

    @Test("A term that ends between two nights archives its sections even though the files are the same")
    func termEndBetweenNights() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let fixture = DistrictFixture.small()  // the fall term ends 2027-01-15
            _ = try await harness.sync(fixture, asOf: "2027-01-10")
            let before = try await harness.sync(fixture, asOf: "2027-01-14")
            #expect(try await compared(before, database) == false, "no term ended in between")
            let after = try await harness.sync(fixture, asOf: "2027-01-20")
            #expect(try await compared(after, database))
            #expect(after.summary.count(.section, "archive") == 4)
            #expect(try await harness.count("roster.sections", "status = 'archived' AND status_reason = 'term_ended'") == 4)
            // A backfill that goes back before the end restores them: compared too.
            let back = try await harness.sync(fixture, asOf: "2027-01-12")
            #expect(try await compared(back, database))
            #expect(try await harness.count("roster.sections", "status = 'active'") == 4)
        }
    }

    @Test("--full and previews always compare, and a preview is never the run compared with")
    func fullAndPreview() async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            let fixture = DistrictFixture.small()
            _ = try await harness.sync(fixture)
            #expect(try await compared(harness.sync(fixture, full: true), database))
            #expect(try await compared(harness.sync(fixture, preview: true), database))
            // The preview rolled back: it recorded no roster digest, and the night after it is
            // matched against the last run that applied.
            #expect(try await database.int("SELECT count(*) FROM etl.runs WHERE mode = 'preview' AND roster_digest IS NOT NULL") == 0)
            #expect(try await compared(harness.sync(fixture), database) == false)
        }
    }
}
