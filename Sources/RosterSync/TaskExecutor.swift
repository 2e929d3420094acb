import AsyncAlgorithms
import AsyncHTTPClient
import CleverExtract
import Foundation
import Logging
import Pipeline
import PostgresLoad
import PostgresNIO
import RosterModel
import RosterTransform

/// What the tasks of one run share: the configuration, and the results later tasks read.
struct RunContext: Sendable {
    var runID: Int64
    /// `etl.runs.options ->> 'landing_run_uid'`; nil for a run started before runs had one.
    var runUID: String?
    var configuration: SyncConfiguration
    var settings: DistrictSettings
    var logger: Logger
    var httpClient: HTTPClient
    /// The backend holding the district's lock (the run's main connection); see `Merger.lockHolder`.
    var lockHolder: Merger.LockHolder?
    let state = RunState()

    init(
        runID: Int64, runUID: String?, configuration: SyncConfiguration, settings: DistrictSettings, logger: Logger,
        httpClient: HTTPClient
    ) {
        self.runID = runID
        self.runUID = runUID
        self.configuration = configuration
        self.settings = settings
        self.logger = logger
        self.httpClient = httpClient
    }
}

/// Results handed from task to task, and the errors the run met.
actor RunState {
    private(set) var stagedCounts: [String: Int] = [:]
    private(set) var mergeOutcome: Merger.Outcome?
    private(set) var errors: [any Error] = []
    private var taskRunIDs: [String: Int64] = [:]

    func staged(_ feed: String, rows: Int) { stagedCounts[feed] = rows }
    func merged(_ outcome: Merger.Outcome) { mergeOutcome = outcome }
    /// What a sync of a previewed extract would fail on before its merge (prepare's checks).
    private(set) var previewWarnings: [String] = []
    func wouldFail(_ warning: String) {
        // The merge checks the empty feeds again after the guard: one line each.
        if !previewWarnings.contains(warning) { previewWarnings.append(warning) }
    }
    func failed(_ error: any Error) { errors.append(error) }
    func setTaskRunID(_ id: Int64, for task: String, attempt: Int) { taskRunIDs["\(task)#\(attempt)"] = id }
    func taskRunID(for task: String, attempt: Int) -> Int64? { taskRunIDs["\(task)#\(attempt)"] }
}

extension TaskDefinition {
    /// The feed a stage task reads (`settings.feed`); nil for other tasks and for a name that is
    /// not a feed.
    var stagedFeed: Feed? { kind == "stage" ? settings["feed"].flatMap(Feed.init(rawValue:)) : nil }
}

/// Runs one task of a kind the pipeline files name.
struct TaskExecutor: Sendable {
    var context: RunContext

    func run(_ task: TaskDefinition, attempt: Int) async throws -> Runner.TaskResult {
        // A failure is recorded by the runner's observer (SyncService), with the runner's verdict.
        try await dispatch(task)
    }

    private func dispatch(_ task: TaskDefinition) async throws -> Runner.TaskResult {
        switch task.kind {
        case "check-source":
            try await makeSource().check()
            return .init()
        case "stage":
            guard let feed = task.stagedFeed else {
                throw ConfigurationError(
                    "task '\(task.name)': settings.feed must be one of \(Feed.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return try await stage(feed)
        case "prepare":
            try await withBoundConnection { connection, merger in
                try await merger.prepare(on: connection)
                try await checkLastRows(on: connection)
                try await checkHeldReferences(on: connection)
            }
            return .init()
        case "guard":
            let problems = try await withBoundConnection { connection, merger in
                try await merger.emptyFeeds(on: connection, allowed: context.configuration.allowEmptyFeeds)
            }
            try await stopOnEmptyFeeds(problems)
            return .init()
        case "merge":
            let configuration = context.configuration
            let outcome = try await withBoundConnection { connection, merger in
                // The empty-feed guard again, whatever the pipeline file: one without a guard task
                // must not merge an empty feed either (a few index probes).
                try await stopOnEmptyFeeds(
                    try await merger.emptyFeeds(on: connection, allowed: configuration.allowEmptyFeeds))
                return try await configuration.database.withConnection(logger: context.logger) { export in
                    try await Stager.prepare(export, logger: context.logger)
                    return try await merger.merge(
                        on: connection, exportConnection: export, runID: context.runID, safety: context.settings.safety,
                        options: .init(
                            preview: configuration.preview, allowMassChanges: configuration.allowMassChanges,
                            allowMassChangesOf: configuration.allowMassChangesOf))
                }
            }
            await context.state.merged(outcome)
            if case .applied(let summary) = outcome { return .init(rowsOut: summary.total) }
            return .init()
        case "prune":
            let keep = task.settings["keep_runs"].flatMap(Int.init) ?? context.configuration.keepRuns
            try await context.configuration.database.withConnection(logger: context.logger) { connection in
                try await Merger.pruneStaging(
                    on: connection, districtID: context.configuration.districtID, keep: keep, logger: context.logger)
            }
            return .init()
        default:
            throw ConfigurationError("task '\(task.name)' has kind '\(task.kind)', which this version cannot run")
        }
    }

    private func withBoundConnection<T: Sendable>(_ body: (PostgresConnection, Merger) async throws -> T) async throws -> T {
        let configuration = context.configuration
        return try await configuration.database.withConnection(logger: context.logger, cancelsStatements: true) {
            connection in
            try await Stager.prepare(connection, logger: context.logger)
            try await Merger.bind(
                connection, runID: context.runID, districtID: configuration.districtID, asOf: configuration.asOf,
                logger: context.logger)
            var merger = Merger(sql: configuration.sql, logger: context.logger)
            merger.lockTimeout = configuration.lockTimeout
            merger.database = configuration.database
            merger.commitCheckDeadline = configuration.commitCheckDeadline
            merger.lockHolder = context.lockHolder
            return try await body(connection, merger)
        }
    }

    /// Extract, transform and COPY one feed, streaming; a retry starts the feed again cleanly.
    private func stage(_ feed: Feed) async throws -> Runner.TaskResult {
        let logger = context.logger
        let database = context.configuration.database
        let runID = context.runID
        let transformer = Transformer(settings: .init(allowedEmailDomains: context.settings.allowedEmailDomains))
        let counts = try await database.withConnection(logger: logger, cancelsStatements: true) { rows in
            try await database.withConnection(logger: logger, cancelsStatements: true) { rejects in
                try await Stager.prepare(rows, logger: logger)
                try await Stager.prepare(rejects, logger: logger)
                let file = try await recordedFile(of: feed, on: rows)
                try file?.checkUnchanged(runID: runID, "since the run started")
                // Checked again once read to its end, before the landing archive lists the feed: an
                // upload still being written grows under the reader, and a file cut at a row
                // boundary cannot be told from a whole one by its contents.
                let source = try makeSource(checkingAtEnd: file)
                try await clear(feed, runID: runID, on: rows)
                // Extract and transform run a batch ahead of COPY in a task of this group: the
                // channel hands over one batch at a time, so memory stays flat, and when the COPY
                // stops early the group cancels the producer, so the source's readers and the
                // landing tee (its temporary file) end with it. (AsyncAlgorithms' bounded buffer
                // keeps its producer waiting for room for good once its consumer is gone.)
                let batches = AsyncThrowingChannel<([Record], [Rejection]), any Error>()
                return try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        do {
                            for try await batch in source.batches(of: feed) {
                                await batches.send(Self.transform(batch, with: transformer))
                            }
                            batches.finish()
                        } catch {
                            batches.fail(error)
                        }
                    }
                    return try await Stager(runID: runID, logger: logger).stage(
                        feed.entity, batches: batches, rows: rows, rejects: rejects)
                }
            }
        }
        await context.state.staged(feed.rawValue, rows: counts.rows)
        return .init(rowsIn: counts.rows + counts.rejected, rowsOut: counts.rows)
    }

    /// One extracted batch's records through the transform: what loads, and every rejection.
    private static func transform(_ batch: ExtractBatch, with transformer: Transformer) -> ([Record], [Rejection]) {
        var records: [Record] = []
        records.reserveCapacity(batch.records.count)
        var rejections = batch.rejections
        for record in batch.records {
            let outcome = transformer.transform(record)
            if let record = outcome.record { records.append(record) }
            rejections.append(contentsOf: outcome.rejections)
        }
        return (records, rejections)
    }

    /// A feed file as the run recorded it when it started (`etl.runs.options.feed_files`).
    struct RecordedFile: Sendable {
        var folder: URL
        var name: String
        /// Size, modification time and inode, as ``InputDigest/feedFiles(in:named:)`` gives them.
        var identity: String

        /// Throws when the file is no longer the one the run started on. One run reads one export:
        /// the next night's file landing mid-run, or an upload not finished, would otherwise mix two
        /// exports in one run (a new student missing from the old enrollments, or a cut file read as
        /// whole), and nothing in the rows shows it.
        func checkUnchanged(runID: Int64, _ moment: String) throws {
            guard InputDigest.feedFiles(in: folder, named: [name])[name] != identity else { return }
            throw ExtractError(
                .changedDuringRun,
                "\(name) changed \(moment) (run \(runID) recorded its size, modification time and inode when it "
                    + "started): a new export arriving, an upload not finished, or a landing night archived again. "
                    + "One run reads one export, so this one stops with the roster unchanged; sync again once the "
                    + "files are complete",
                context: folder.appending(path: name).path)
        }
    }

    /// The feed's file as the run recorded it, for a source that reads files; nil for the API, and
    /// for runs recorded before file identities were.
    private func recordedFile(of feed: Feed, on connection: PostgresConnection) async throws -> RecordedFile? {
        guard let (folder, fileName) = context.configuration.source.feedFolder else { return nil }
        let name = fileName(feed)
        let rows = try await connection.query(
            "SELECT options -> 'feed_files' ->> \(name) FROM etl.runs WHERE id = \(context.runID)", logger: context.logger)
        for try await identity in rows.decode(String?.self) {
            return identity.map { RecordedFile(folder: folder, name: name, identity: $0) }
        }
        return nil
    }

    /// Empty feeds stop a sync (exit 3, not approvable). A preview notes them and goes on to
    /// list the changes: seeing what such a feed would do is what a preview is for.
    private func stopOnEmptyFeeds(_ problems: [String]) async throws {
        guard !problems.isEmpty else { return }
        guard context.configuration.preview else { throw SafetyStop(violations: problems) }
        for problem in problems {
            await context.state.wouldFail("a sync would stop (exit 3) before its merge: \(problem)")
        }
    }

    /// A CSV file whose last row has no line end may have been cut inside that row's last field,
    /// where the field count still adds up: a student id `1001995` read as `100199`. The row is set
    /// aside (an unknown reference), and the class or person it stood for would be removed; so
    /// would every row the cut lost after it, each below any safety threshold. Clever's files need
    /// no line end after their last row, and a whole last row may name someone the feed lacks, so
    /// the run stops only when the row looks cut: the id it names that the feed lacks is the start
    /// of one the feed has, or the enrollment has no id at all (cut right after a comma). The
    /// reader marked the row (`no_line_end`) in the staged rejects, which resume and the landing
    /// archive keep. (A cut that leaves a valid value, another student's id, or an optional last
    /// column's text, cannot be told from the contents.)
    private func checkLastRows(on connection: PostgresConnection) async throws {
        let runID = context.runID
        let marks = try await connection.query(
            "SELECT count(*) FROM staging.rejects WHERE run_id = \(runID) AND reason = 'no_line_end'",
            logger: context.logger)
        var marked = 0
        for try await count in marks.decode(Int.self) { marked = count }
        guard marked > 0 else { return }
        // `left(id, length(cut)) = cut`, not LIKE: a SIS id may hold % or _.
        let rows = try await connection.query(
            """
            WITH marks AS (
                SELECT entity, source_ref FROM staging.rejects WHERE run_id = \(runID) AND reason = 'no_line_end'),
            people AS (
                SELECT 'student' AS entity, source_ref, school_sis_id, excluded FROM staging.students WHERE run_id = \(runID)
                UNION ALL
                SELECT 'teacher', source_ref, school_sis_id, excluded FROM staging.teachers WHERE run_id = \(runID)
                UNION ALL
                SELECT 'section', source_ref, school_sis_id, excluded FROM staging.sections WHERE run_id = \(runID)),
            cut AS (
                SELECT e.source_ref,
                       CASE WHEN k.student THEN 'names student ' || e.student_sis_id
                            ELSE 'names section ' || e.section_sis_id END
                       || ', which the feed does not have but one of its ids begins with' AS what
                FROM marks m JOIN staging.enrollments e ON e.run_id = \(runID) AND e.source_ref = m.source_ref
                CROSS JOIN LATERAL (
                    SELECT EXISTS (SELECT 1 FROM staging.students x WHERE x.run_id = e.run_id
                                   AND length(x.sis_id) > length(e.student_sis_id)
                                   AND left(x.sis_id, length(e.student_sis_id)) = e.student_sis_id) AS student,
                           EXISTS (SELECT 1 FROM staging.sections x WHERE x.run_id = e.run_id
                                   AND length(x.sis_id) > length(e.section_sis_id)
                                   AND left(x.sis_id, length(e.section_sis_id)) = e.section_sis_id) AS section) k
                WHERE m.entity = 'enrollment' AND (k.student OR k.section)
                  -- rejected for naming a record the feed lacks, or loaded against one held for
                  -- other rows naming it (prepare's referenced_not_in_feed)
                  AND (e.excluded = 'unknown_reference'
                       OR EXISTS (SELECT 1 FROM staging.rejects h WHERE h.run_id = e.run_id
                                  AND h.reason = 'referenced_not_in_feed'
                                  AND ((h.entity = 'student' AND h.record_key = e.student_sis_id)
                                       OR (h.entity = 'section' AND h.record_key = e.section_sis_id))))
                UNION ALL
                SELECT p.source_ref,
                       'names school ' || p.school_sis_id || ', which the feed does not have but one of its ids begins with'
                FROM marks m JOIN people p ON p.entity = m.entity AND p.source_ref = m.source_ref
                WHERE (p.excluded = 'unknown_reference'
                       OR EXISTS (SELECT 1 FROM staging.rejects h WHERE h.run_id = \(runID)
                                  AND h.reason = 'referenced_not_in_feed' AND h.entity = 'school'
                                  AND h.record_key = p.school_sis_id))
                  AND EXISTS (SELECT 1 FROM staging.schools x WHERE x.run_id = \(runID)
                              AND length(x.sis_id) > length(p.school_sis_id)
                              AND left(x.sis_id, length(p.school_sis_id)) = p.school_sis_id)
                UNION ALL
                SELECT r.source_ref, 'lacks its section or student id'
                FROM marks m JOIN staging.rejects r ON r.run_id = \(runID) AND r.entity = m.entity
                                                   AND r.source_ref = m.source_ref
                WHERE m.entity = 'enrollment' AND r.reason = 'missing_required_field' AND r.severity = 'rejected')
            SELECT source_ref, what FROM cut ORDER BY source_ref LIMIT 1
            """, logger: context.logger)
        for try await (source, what) in rows.decode((String, String).self) {
            let file = source.split(separator: ":").first.map(String.init) ?? source
            let cut = "\(file) ends without a line end, and its last row (\(source)) \(what): the file looks cut short "
                + "inside that row"
            if case .landing = context.configuration.source {
                throw ExtractError(
                    .malformedFile,
                    "this night's extract was read from a file cut short: \(cut). It cannot be replayed; replay the "
                        + "nights before and after it (backfill --to, then --from)",
                    context: source)
            }
            throw ExtractError(
                .malformedFile, "\(cut). Export or upload it again, then sync again", context: source)
        }
    }

    /// Records kept as they are for the night, because their rows are unreadable (migration 0011)
    /// or because another feed names them while their own lacks them (0019), are records the merge
    /// would otherwise archive or suspend. As many as the safety threshold would stop on, they say
    /// the feed is damaged (rows cut off, or a shifted column that makes every row unreadable):
    /// the run fails, so that a night that loaded a tenth of the students does not pass for a
    /// whole one, and a feed that went bad does not freeze half a district unseen.
    /// `--allow-mass-changes` lets it through, keeping them. Then a record kept for other feeds
    /// naming it is taken as gone by the next night's run that still lacks it (one night's grace,
    /// prepare); records kept for unreadable rows stop a later night only when it keeps some the
    /// district's last applied run did not: an SIS's known bad rows, once let through, do not stop
    /// every night, but a feed going bad a little more each night stops once over the share.
    /// A preview is told what a sync would fail on.
    private func checkHeldReferences(on connection: PostgresConnection) async throws {
        let configuration = context.configuration
        guard !configuration.allowMassChanges else { return }
        let safety = context.settings.safety
        let runID = context.runID
        let entities = ["school", "teacher", "student", "section"].filter { !configuration.allowMassChangesOf.contains($0) }
        guard !entities.isEmpty else { return }
        // Kept as the merge keeps them (02 to 06): active, not loaded from the feed, inside the
        // district's filters; a section whose term has ended is archived all the same (06). One
        // select per entity, so that each list of keys inside the filters is made once and hashed
        // (a row pair matched against all four, with statistics that predate the run, was
        // planned as a loop over the lists per row: minutes at 30,000 unreadable rows).
        let selects = entities.map { entity in
            let ended =
                entity == "section"
                ? "AND NOT EXISTS (SELECT 1 FROM roster.terms t WHERE t.id = r.term_id AND t.end_date < etl.current_as_of())" : ""
            // A key a recorded SIS id change moves an active record to tonight is that record's (prepare).
            return """
                SELECT u.entity, u.record_key, u.reason, u.source_ref, u.detail FROM staging.unreadable_rows u
                LEFT JOIN (SELECT old_sis_id, new_sis_id FROM etl.sis_id_moves('\(entity)') WHERE NOT conflict) m
                       ON m.new_sis_id = u.record_key
                WHERE u.run_id = \(runID) AND u.entity = '\(entity)'
                  AND u.record_key IN (SELECT sis_id FROM etl.unreadable_inside_filters('\(entity)'))
                  AND EXISTS (SELECT 1 FROM roster.\(entity)s r WHERE r.district_id = etl.current_district_id()
                              AND r.source = 'clever' AND r.status = 'active' AND r.sis_id = coalesce(m.old_sis_id, u.record_key)
                              \(ended))
                  AND NOT EXISTS (SELECT 1 FROM staging.\(entity)s x WHERE x.run_id = u.run_id AND x.sis_id = u.record_key
                                  AND x.excluded IS NULL)
                """
        }
        let active = entities.map { entity in
            "WHEN '\(entity)' THEN (SELECT count(*) FROM roster.\(entity)s r WHERE r.district_id = etl.current_district_id() "
                + "AND r.source = 'clever' AND r.status = 'active')"
        }
        // The statements are estimated as expensive enough for JIT, which costs seconds to compile
        // and saves nothing here (see Merger.fixedSettings).
        try await connection.query("SET jit = off", logger: context.logger)
        var found: [(entity: String, held: Int, named: Int, fresh: Int, example: String, base: Int)] = []
        do {
            let rows = try await connection.query(
                PostgresQuery(
                    unsafeSQL: """
                        WITH applied AS (
                            SELECT coalesce((r.counts ->> 'unchanged_since')::bigint, r.id) AS id FROM etl.runs r
                            WHERE r.district_id = etl.current_district_id() AND r.id < \(runID) AND r.status = 'succeeded'
                              AND r.mode <> 'preview'
                            ORDER BY r.id DESC LIMIT 1),
                        kept AS (
                            SELECT DISTINCT ON (k.entity, k.record_key) k.entity, k.reason = 'referenced_not_in_feed' AS named,
                                   coalesce(k.source_ref, '') AS source_ref,
                                   CASE WHEN k.reason = 'referenced_not_in_feed' THEN coalesce(k.detail, '')
                                        ELSE coalesce(k.source_ref, '?') || ': ' || k.reason || ': ' || coalesce(k.detail, '') END AS example,
                                   -- New tonight: not kept by the district's last applied run for an
                                   -- unreadable row as well (that night let it through).
                                   k.reason = 'referenced_not_in_feed' OR p.record_key IS NULL AS fresh
                            FROM (\(selects.joined(separator: " UNION ALL "))) k
                            -- joined, not probed per row: the applied run's rejects are indexed by run
                            -- and entity only
                            LEFT JOIN (SELECT DISTINCT entity, record_key FROM staging.unreadable_rows
                                       WHERE run_id = (SELECT id FROM applied) AND reason <> 'referenced_not_in_feed') p
                                   ON p.entity = k.entity AND p.record_key = k.record_key
                            ORDER BY k.entity, k.record_key, length(k.source_ref), k.source_ref)
                        SELECT entity, count(*), count(*) FILTER (WHERE named), count(*) FILTER (WHERE fresh),
                               (array_agg(example ORDER BY NOT fresh, named, length(source_ref), source_ref))[1],
                               CASE entity \(active.joined(separator: " ")) END
                        FROM kept GROUP BY entity HAVING count(*) >= \(safety.minRemovalsToBlock) ORDER BY entity
                        """), logger: context.logger)
            for try await row in rows.decode((String, Int, Int, Int, String, Int).self) { found.append(row) }
        } catch {
            _ = try? await connection.query("RESET jit", logger: context.logger)
            throw error
        }
        try await connection.query("RESET jit", logger: context.logger)
        var problems: [String] = []
        var failing: [String] = []
        var cut = false
        for (entity, held, named, fresh, example, base) in found {
            let share = base > 0 ? Double(held) / Double(base) : 1
            guard share > safety.maxRemovalShare, fresh > 0 else { continue }
            let percent = (share * 100).formatted(.number.precision(.fractionLength(0...1)))
            let unreadable = held - named
            // Records named by other feeds are new each night (prepare gives them one only).
            let newlyUnreadable = fresh - named
            let newly =
                newlyUnreadable == 0
                ? " (as on the last night applied)" : newlyUnreadable < unreadable ? " (\(newlyUnreadable) of them newly)" : ""
            let why =
                unreadable == 0
                ? "are not in the \(entity)s feed, though other feeds name them"
                : named == 0
                ? "have rows in the \(entity)s feed that cannot be read\(newly)"
                : "are kept as they are: \(unreadable) have rows in the \(entity)s feed that cannot be read\(newly), \(named) "
                    + "are not in it though other feeds name them"
            problems.append("\(held) of \(base) active \(entity)s (\(percent)%) \(why) (\(example))")
            failing.append(entity)
            cut = cut || named > 0
        }
        guard !problems.isEmpty else { return }
        let lead = (cut ? "the extract looks cut short: " : "the extract looks damaged: ") + problems.joined(separator: "; ")
        if configuration.preview {
            await context.state.wouldFail("a sync would fail, as \(lead)")
            return
        }
        let code: ExtractError.Code = cut ? .cutShort : .unreadableRows
        let allow = failing.map { "--allow-mass-changes-of \($0)" }.joined(separator: " ")
        if case .landing = configuration.source {
            throw ExtractError(
                code, "\(lead). This night cannot be replayed as it is; replay the nights before and after it "
                    + "(backfill --to, then --from), or replay it with \(allow), which keeps them as they are")
        }
        throw ExtractError(
            code, "\(lead). Nothing was archived or suspended; staging.rejects lists each row with its reason. If the "
                + "feed is right as it is, sync again with \(allow), which keeps them as they are tonight"
                + (cut
                    ? " (the next night's run that still lacks them takes them as gone)"
                    : " (a later night stops again if rows other than these cannot be read, or other feeds name records "
                        + "their own feed lacks)"))
    }

    private func clear(_ feed: Feed, runID: Int64, on connection: PostgresConnection) async throws {
        // Feed names are the staging table names.
        try await connection.query(
            PostgresQuery(unsafeSQL: "DELETE FROM staging.\(feed.rawValue) WHERE run_id = \(runID)"), logger: context.logger)
        try await connection.query(
            "DELETE FROM staging.rejects WHERE run_id = \(runID) AND entity = \(feed.entity.rawValue)",
            logger: context.logger)
    }

    /// The run's source; with `file`, each feed read to its end is checked to be that file still,
    /// before the landing archive lists it.
    func makeSource(checkingAtEnd file: RecordedFile? = nil) throws -> any RosterSource {
        let configuration = context.configuration
        var source: any RosterSource
        var archived = configuration.landingRoot != nil
        switch configuration.source {
        case .landing(let folder):
            source = LandingSource(folder: folder, batchSize: configuration.batchSize)
            // A replay reads the archive; it is not archived again.
            archived = false
        case .csv(let directory):
            source = CleverCSVSource(
                directory: directory, batchSize: configuration.batchSize,
                mayBeEmpty: Set(configuration.allowEmptyFeeds.compactMap(Feed.init(rawValue:))))
        case .clever(let baseURL, let token):
            guard let url = URL(string: baseURL), CleverAPISource.isUsable(url) else {
                throw ConfigurationError(
                    "--clever-url '\(baseURL)' is not an http(s) URL with a host (and a port from 1 to 65535, if any)")
            }
            source = CleverAPISource(
                configuration: .init(
                    baseURL: url, token: token, pageSize: configuration.batchSize,
                    maxAttempts: configuration.apiMaxAttempts, district: configuration.districtID),
                httpClient: context.httpClient, logger: context.logger)
        }
        if let file {
            source = EndCheckedSource(upstream: source) { [runID = context.runID] _ in
                try file.checkUnchanged(runID: runID, "while it was read")
            }
        }
        guard archived, let landingRoot = configuration.landingRoot else { return source }
        return LandingTeeSource(
            upstream: source, archive: LandingArchive(root: landingRoot), district: configuration.districtID,
            date: configuration.asOf, runID: context.runID, runUID: context.runUID)
    }
}
