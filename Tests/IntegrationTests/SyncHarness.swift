import Foundation
import Logging
import PostgresLoad
import RosterSync

/// Runs the real nightly pipeline against a test database, from a fixture written to a temp folder.
struct SyncHarness {
    var database: DatabaseTarget
    var district = "d1"

    func sync(
        _ fixture: DistrictFixture, asOf: String = "2026-11-23", preview: Bool = false, allowMassChanges: Bool = false,
        full: Bool = false, logger: Logger = TestDatabase.logger
    ) async throws -> SyncReport {
        let folder = try fixture.writeTemporary("rostersync")
        defer { try? FileManager.default.removeItem(at: folder) }
        return try await SyncService(logger: logger).sync(configuration(.csv(folder), asOf: asOf, preview: preview, allowMassChanges: allowMassChanges, full: full))
    }

    /// Syncs `fixture` with options the other helpers do not take, set by `adjust`.
    func sync(_ fixture: DistrictFixture, adjust: (inout SyncConfiguration) -> Void) async throws -> SyncReport {
        let folder = try fixture.writeTemporary("rostersync")
        defer { try? FileManager.default.removeItem(at: folder) }
        var configuration = configuration(.csv(folder))
        adjust(&configuration)
        return try await SyncService(logger: TestDatabase.logger).sync(configuration)
    }

    /// Syncs `fixture` with `file` edited by `edit` first (a row damaged, as a SIS export sometimes
    /// arrives).
    func sync(
        _ fixture: DistrictFixture, editing file: String, asOf: String = "2026-11-23", preview: Bool = false,
        _ edit: (String) -> String
    ) async throws -> SyncReport {
        let folder = try fixture.writeTemporary("rostersync")
        defer { try? FileManager.default.removeItem(at: folder) }
        try DistrictFixture.edit(file, in: folder, edit)
        return try await SyncService(logger: TestDatabase.logger).sync(configuration(.csv(folder), asOf: asOf, preview: preview))
    }

    func configuration(
        _ source: SyncConfiguration.Source, asOf: String = "2026-11-23", preview: Bool = false,
        allowMassChanges: Bool = false, full: Bool = false
    ) -> SyncConfiguration {
        var configuration = SyncConfiguration(
            districtID: district, source: source, asOf: asOf, preview: preview, allowMassChanges: allowMassChanges,
            pipelineFile: TestDatabase.nightly, sql: TestDatabase.sql, database: database)
        configuration.compareInFull = full
        return configuration
    }

    /// Syncs, then syncs the same input again and returns the first report; the second must
    /// change nothing (every rule test relies on this). The second compares row by row: the
    /// unchanged-night shortcut is sound only because this holds, so it must not stand in for it.
    func syncTwice(_ fixture: DistrictFixture, asOf: String = "2026-11-23") async throws -> (SyncReport, SyncReport) {
        let first = try await sync(fixture, asOf: asOf)
        let second = try await sync(fixture, asOf: asOf, full: true)
        return (first, second)
    }

    /// What a teacher does in the platform: puts a student into a section by hand (`manual`).
    func enrollByHand(_ student: String, in section: String) async throws {
        try await database.execute(
            """
            INSERT INTO roster.enrollments (section_id, student_id, district_id, source)
            SELECT s.id, st.id, '\(district)', 'manual' FROM roster.sections s, roster.students st
            WHERE s.district_id = '\(district)' AND s.sis_id = '\(section)' AND st.sis_id = '\(student)'
            """)
    }

    func count(_ table: String, _ condition: String = "true") async throws -> Int {
        try await database.int("SELECT count(*) FROM \(table) WHERE district_id = '\(district)' AND (\(condition))")
    }

    func changeLogRows(run: Int64?) async throws -> Int {
        try await database.int("SELECT count(*) FROM roster.change_log WHERE run_id = \(run ?? -1)")
    }
}
