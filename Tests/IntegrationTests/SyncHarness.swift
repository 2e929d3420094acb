import Foundation
import PostgresLoad
import RosterSync

/// Runs the real nightly pipeline against a test database, from a fixture written to a temp folder.
struct SyncHarness {
    var database: DatabaseTarget
    var district = "d1"

    func sync(
        _ fixture: DistrictFixture, asOf: String = "2026-11-23", preview: Bool = false, allowMassChanges: Bool = false
    ) async throws -> SyncReport {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("rostersync-\(UUID().uuidString)")
        try fixture.write(to: folder)
        defer { try? FileManager.default.removeItem(at: folder) }
        return try await SyncService(logger: TestDatabase.logger).sync(configuration(.csv(folder), asOf: asOf, preview: preview, allowMassChanges: allowMassChanges))
    }

    func configuration(
        _ source: SyncConfiguration.Source, asOf: String = "2026-11-23", preview: Bool = false,
        allowMassChanges: Bool = false
    ) -> SyncConfiguration {
        SyncConfiguration(
            districtID: district, source: source, asOf: asOf, preview: preview, allowMassChanges: allowMassChanges,
            pipelineFile: TestDatabase.nightly, sql: TestDatabase.sql, database: database)
    }

    /// Syncs, then syncs the same input again and returns the first report; the second must
    /// change nothing (every rule test relies on this).
    func syncTwice(_ fixture: DistrictFixture, asOf: String = "2026-11-23") async throws -> (SyncReport, SyncReport) {
        let first = try await sync(fixture, asOf: asOf)
        let second = try await sync(fixture, asOf: asOf)
        return (first, second)
    }

    func count(_ table: String, _ condition: String = "true") async throws -> Int {
        try await database.int("SELECT count(*) FROM \(table) WHERE district_id = '\(district)' AND (\(condition))")
    }

    func changeLogRows(run: Int64?) async throws -> Int {
        try await database.int("SELECT count(*) FROM roster.change_log WHERE run_id = \(run ?? -1)")
    }
}
