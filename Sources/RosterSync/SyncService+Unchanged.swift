import Foundation
import Logging
import Pipeline
import PostgresLoad
import PostgresNIO

/// Unchanged nights (README "Unchanged nights", migration 0008). A run whose inputs are those of
/// the district's last successful run, on a roster exactly as that run left it, would change
/// nothing: the merge is idempotent. Weekends, holidays and summer are such nights for most
/// districts. Instead of staging and comparing every row, such a run is verified by two digests
/// and recorded as a successful run with no changes.
extension SyncService {
    struct Unchanged {
        /// The last run that staged and compared the feed; its staged rows and rejects apply.
        var comparedRun: Int64
        var rosterDigest: String
    }

    /// Records the run's input digest and returns the run it is unchanged from, if any. Any
    /// doubt (an unreadable file, an API source, a preview, another program or SQL, a roster
    /// touched since, a term that ended in between) means: run in full.
    func unchangedRun(
        _ configuration: SyncConfiguration, definition: PipelineDefinition, runID: Int64, district: District,
        on connection: PostgresConnection, logger: Logger
    ) async throws -> Unchanged? {
        // An API source has nothing to hash before the pages are read.
        guard let folder = configuration.source.feedFolder?.url else { return nil }
        guard !configuration.preview, definition.tasks.contains(where: { $0.kind == "merge" }) else { return nil }
        let digest: String
        do {
            // The settings as this run read them (the transform uses these): settings changed
            // while it runs are in the roster digest it records but not in this one, so the next
            // night compares in full and applies them.
            digest = try InputDigest.compute(
                folder: folder, pipelineFile: configuration.pipelineFile, sql: configuration.sql,
                settings: district.settingsJSON)
        } catch {
            logger.info("feed not fingerprinted; comparing in full", metadata: ["error": "\(error)"])
            return nil
        }
        try await connection.query("UPDATE etl.runs SET input_digest = \(digest) WHERE id = \(runID)", logger: logger)
        guard !configuration.compareInFull else { return nil }

        // The last run that changed (or verified) the roster. Failed, blocked and previewed runs
        // changed nothing; the district lock keeps any other run out while this one works.
        let previous = try await connection.query(
            """
            SELECT id, input_digest, roster_digest, as_of::text, coalesce((counts ->> 'unchanged_since')::bigint, id)
            FROM etl.runs
            WHERE district_id = \(configuration.districtID) AND id < \(runID) AND status = 'succeeded'
              AND mode <> 'preview'
            ORDER BY id DESC LIMIT 1
            """, logger: logger
        ).collect().first?.decode((Int64, String?, String?, String, Int64).self)
        guard let (previousID, previousInput, previousRoster, previousAsOf, compared) = previous,
            previousInput == digest, let previousRoster
        else { return nil }
        // The night's report and `explain` read the compared run's staged rows: gone (pruned or
        // deleted by hand), the night is compared in full and stages its own.
        let staged = try await connection.query(
            "SELECT EXISTS (SELECT 1 FROM staging.schools WHERE run_id = \(compared))", logger: logger
        ).collect().first?.decode(Bool.self) ?? false
        guard staged else { return nil }

        // Two rules read the as-of date. A record another feed names while its own lacks it is
        // held for one night (00_prepare.sql): on a later night the same files take it as gone,
        // so they are compared in full.
        // (A night before the last run's is compared in full: prepare weighs the grace against
        // the last applied run before tonight, which is another run then.)
        guard previousAsOf <= configuration.asOf else { return nil }
        if previousAsOf != configuration.asOf {
            let held = try await connection.query(
                """
                SELECT EXISTS (SELECT 1 FROM staging.rejects WHERE run_id = \(compared)
                               AND reason = 'referenced_not_in_feed')
                """, logger: logger
            ).collect().first?.decode(Bool.self) ?? true
            guard !held else {
                logger.info("records held for a night by other feeds naming them are due; comparing in full")
                return nil
            }
        }
        // And a section whose term ended is archived: a term end between the two dates would
        // archive (or restore) sections, so compare in full.
        let termsAgree = try await connection.query(
            """
            SELECT NOT EXISTS (
                SELECT 1 FROM roster.terms WHERE district_id = \(configuration.districtID)
                  AND (end_date < \(configuration.asOf)::date) IS DISTINCT FROM (end_date < \(previousAsOf)::date))
            """, logger: logger
        ).collect().first?.decode(Bool.self) ?? false
        guard termsAgree else {
            logger.info("a term ended between the two as-of dates; comparing in full")
            return nil
        }
        let current = try await connection.query(
            "SELECT etl.roster_digest(\(configuration.districtID))", logger: logger
        ).collect().first?.decode(String.self)
        guard current == previousRoster else {
            logger.info(
                "the roster changed since run \(previousID); comparing in full",
                metadata: ["etl.previous_run_id": "\(previousID)"])
            return nil
        }
        return Unchanged(comparedRun: compared, rosterDigest: previousRoster)
    }

    /// Finishes a run found unchanged: the district's last successful sync moves forward, the
    /// run records the digests the next night compares with, and nothing else is written.
    func finishUnchanged(
        _ unchanged: Unchanged, configuration: SyncConfiguration, runID: Int64, ledger: RunLedger,
        on connection: PostgresConnection, logger: Logger
    ) async throws -> SyncReport {
        try await connection.query(
            """
            UPDATE roster.districts SET last_successful_sync_at = now() WHERE id = \(configuration.districtID)
            """, logger: logger)
        try await connection.query(
            "UPDATE etl.runs SET roster_digest = \(unchanged.rosterDigest) WHERE id = \(runID)", logger: logger)
        let rejections = try await rejectionCounts(runID: unchanged.comparedRun, database: configuration.database)
        let compared = unchanged.comparedRun
        let message = "no changes: the same feed files, pipeline, SQL and program as run \(compared), and the roster is "
            + "as run \(compared) left it (digests match), so nothing was staged or compared; run \(compared)'s staged "
            + "rows and rejects apply (--full compares row by row anyway)"
        logger.info("\(message)")
        try await ledger.finish(
            runID, status: .succeeded,
            counts: Self.json(["unchanged_since": unchanged.comparedRun, "changes": [String: Int](), "staged": [String: Int]()]),
            message: message)
        var report = SyncReport(
            runID: runID, districtID: configuration.districtID, status: .succeeded, summary: .init(), violations: [],
            rejections: rejections, message: message)
        report.rejectionsRunID = unchanged.comparedRun
        return report
    }
}
