public import AsyncHTTPClient
import CleverExtract
public import Foundation
public import Logging
package import Pipeline
public import PostgresLoad
import PostgresNIO
import RosterModel
import RosterTransform

/// Runs a district's sync: the pipeline file's tasks (extract, transform and stage each feed;
/// prepare; guard; merge; prune) with the run ledger, the district lock and the safety rules.
public struct SyncService: Sendable {
    /// The task kinds a pipeline file may use.
    public static let taskKinds: Set<String> = ["check-source", "stage", "prepare", "guard", "merge", "prune"]

    /// The settings each task kind reads. Any other is a typo that would otherwise be ignored.
    static let taskSettings: [String: Set<String>] = ["stage": ["feed"], "prune": ["keep_runs"]]

    /// Loads a pipeline file and checks that its tasks make a sync: at most one task of each kind
    /// but `stage`, one stage per feed (and, with a `prepare`, every feed staged: a feed missing
    /// would read as empty), `prepare` after every stage and `merge` after `prepare` (two merges
    /// would run at once; a stage twice would stage every row twice), and only the settings each
    /// kind reads, with values it can use.
    package static func loadPipeline(_ url: URL) throws -> PipelineDefinition {
        let definition = try PipelineLoader.load(contentsOf: url, knownKinds: taskKinds)
        let file = url.path
        func fail(_ task: TaskDefinition, _ message: String) -> PipelineError {
            PipelineError(file: file, line: task.line, task: task.name, message: message)
        }
        var byKind: [String: TaskDefinition] = [:]
        var byFeed: [String: TaskDefinition] = [:]
        for task in definition.tasks {
            let allowed = taskSettings[task.kind] ?? []
            if let unknown = task.settings.keys.sorted().first(where: { !allowed.contains($0) }) {
                throw fail(
                    task,
                    allowed.isEmpty
                        ? "a '\(task.kind)' task takes no settings, and '\(unknown)' is one"
                        : "unknown setting '\(unknown)'; a '\(task.kind)' task takes \(allowed.sorted().joined(separator: ", "))")
            }
            if task.kind == "prune", let keep = task.settings["keep_runs"], (Int(keep) ?? 0) < 1 {
                // 0 would prune the run's own staged rows, which its report and an approval read.
                throw fail(task, "settings.keep_runs must be a whole number of runs, at least 1 (the run itself), not '\(keep)'")
            }
            if task.kind == "stage" {
                let feed = task.settings["feed"] ?? ""
                guard Feed(rawValue: feed) != nil else {
                    throw fail(
                        task, "settings.feed must be one of \(Feed.allCases.map(\.rawValue).joined(separator: ", ")), not '\(feed)'")
                }
                if let other = byFeed[feed] { throw fail(task, "stages feed '\(feed)' as task '\(other.name)' does") }
                byFeed[feed] = task
            } else if let other = byKind[task.kind] {
                throw fail(task, "a second '\(task.kind)' task (after '\(other.name)'); a pipeline has at most one")
            } else {
                byKind[task.kind] = task
            }
        }
        let tasks = Dictionary(uniqueKeysWithValues: definition.tasks.map { ($0.name, $0) })
        func upstream(of task: TaskDefinition) -> Set<String> {
            var found = Set<String>()
            var queue = task.needs
            while let name = queue.popLast() {
                guard found.insert(name).inserted, let need = tasks[name] else { continue }
                queue += need.needs
            }
            return found
        }
        if let prepare = byKind["prepare"] {
            if let missing = Feed.allCases.first(where: { byFeed[$0.rawValue] == nil }) {
                throw fail(prepare, "no stage task stages feed '\(missing.rawValue)'; every feed needs one before prepare")
            }
            let before = upstream(of: prepare)
            if let stage = byFeed.values.sorted(by: { $0.line < $1.line }).first(where: { !before.contains($0.name) }) {
                throw fail(prepare, "must come after every stage task; it does not need '\(stage.name)'")
            }
        }
        if let merge = byKind["merge"] {
            guard let prepare = byKind["prepare"], upstream(of: merge).contains(prepare.name) else {
                throw fail(merge, "must come after a 'prepare' task")
            }
        }
        return definition
    }

    public var logger: Logger
    public var httpClient: HTTPClient

    /// The client for Clever's API: `HTTPClient.shared`'s settings, except that a connection that
    /// cannot be made fails the request (after 10 s at most) and the API client's own retry
    /// policy, with backoff and a clear message, decides what next. The shared client keeps
    /// retrying a refused connection until the request's deadline (60 s): an unreachable API held
    /// each of the six attempts for a minute, and the night ended at check-source's timeout
    /// without saying that the API could not be reached.
    public static let cleverHTTPClient: HTTPClient = {
        var configuration = HTTPClient.Configuration.singletonConfiguration
        configuration.timeout.connect = .seconds(10)
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    public init(logger: Logger, httpClient: HTTPClient = SyncService.cleverHTTPClient) {
        self.logger = logger
        self.httpClient = httpClient
    }

    /// Runs one sync to the end. Throws only for configuration problems found before the run
    /// starts (bad pipeline file, unreachable database, a held lock); a run that fails later is
    /// recorded in the ledger and reported with status `failed`.
    public func sync(_ configuration: SyncConfiguration) async throws -> SyncReport {
        var configuration = configuration
        // A preview changes nothing, the landing archive included: its extract would replace the
        // night a run applied, and a backfill would then replay what was only looked at (a
        // preview with a mistyped --as-of made a night of its own).
        if configuration.preview { configuration.landingRoot = nil }
        let definition = try Self.loadPipeline(configuration.pipelineFile)
        var logger = logger
        logger[metadataKey: "etl.district_id"] = "\(configuration.districtID)"
        return try await logOutcome(logger: logger) { [logger] in try await sync(configuration, definition, logger: logger) }
    }

    private func sync(_ configuration: SyncConfiguration, _ definition: PipelineDefinition, logger: Logger)
        async throws -> SyncReport
    {
        var logger = logger
        return try await withMainConnection(configuration.database, logger: logger) { main in
            try await Migrator(directory: configuration.sql).migrate(on: main, logger: logger)
            let district = try await readDistrict(configuration.districtID, on: main, logger: logger)
            try await lockDistrict(configuration.districtID, on: main, logger: logger)
            let ledger = RunLedger(connection: main, logger: logger)
            let runUID = UUID().uuidString.lowercased()
            let runID = try await ledger.start(
                pipeline: definition.name, districtID: configuration.districtID, mode: configuration.mode,
                asOf: configuration.asOf, source: configuration.source.description,
                options: Self.optionsJSON(configuration, runUID: runUID))
            logger[metadataKey: "etl.run_id"] = "\(runID)"
            do {
                return try await run(
                    runID, uid: runUID, configuration, definition, district: district, ledger: ledger, on: main, logger: logger)
            } catch {
                // The pipeline records its own outcome; anything else that ends the run here (the
                // unchanged-night check, a lost connection) must not leave it 'running' for ever,
                // where resume refuses it and the lock message points at it.
                // Cancelled before the pipeline began (the unchanged-night check), the error is
                // whatever the interrupted step threw, not always a CancellationError.
                let status: RunLedger.Status = error is CancellationError || Task.isCancelled ? .cancelled : .failed
                if (try? await ledger.run(runID))?.status == "running" {
                    try? await ledger.finish(
                        runID, status: status, message: "run \(runID) stopped: \(Self.describe(error))", error: Self.describe(error))
                }
                throw error
            }
        }
    }

    private func run(
        _ runID: Int64, uid runUID: String, _ configuration: SyncConfiguration, _ definition: PipelineDefinition,
        district: District, ledger: RunLedger, on main: PostgresConnection, logger: Logger
    ) async throws -> SyncReport {
        if let launch = district.launchDate, launch > configuration.asOf {
            let message = "district \(configuration.districtID) launches on \(launch); skipped (as of \(configuration.asOf))"
            logger.notice("\(message)")
            try await ledger.finish(runID, status: .skipped, message: message)
            return SyncReport(
                runID: runID, districtID: configuration.districtID, status: .skipped, summary: .init(),
                violations: [], rejections: [], message: message)
        }
        logger.info(
            "sync started",
            metadata: [
                "etl.source": "\(configuration.source.description)", "etl.as_of": "\(configuration.asOf)",
                "etl.mode": "\(configuration.mode)",
            ])
        if let unchanged = try await unchangedRun(
            configuration, definition: definition, runID: runID, district: district, on: main, logger: logger)
        {
            return try await finishUnchanged(
                unchanged, configuration: configuration, runID: runID, ledger: ledger, on: main, logger: logger)
        }
        var context = RunContext(
            runID: runID, runUID: runUID, configuration: configuration, settings: district.settings, logger: logger,
            httpClient: httpClient)
        context.lockHolder = try await backendPID(of: main)
        try await Self.checkSourceOutsidePipeline(definition, context: context, completed: [])
        return try await execute(definition, context: context, ledger: ledger, completed: [])
    }

    /// Applies a run that stopped at the safety threshold, after a person reviewed it. Refuses
    /// when a newer run of the district exists (its staged data would be stale) and for an
    /// empty feed the run was not told to expect (`--allow-empty-feed`).
    public func approve(runID: Int64, database: DatabaseTarget, sql: SQLDirectory) async throws -> SyncReport {
        try await logOutcome(logger: logger) { try await approveRun(runID, database: database, sql: sql) }
    }

    private func approveRun(_ runID: Int64, database: DatabaseTarget, sql: SQLDirectory) async throws -> SyncReport {
        try await withMainConnection(database, logger: logger) { main in
            try await Migrator(directory: sql).migrate(on: main, logger: logger)
            let ledger = RunLedger(connection: main, logger: logger)
            guard let run = try await ledger.run(runID) else {
                throw ConfigurationError("run \(runID) does not exist; see `rostersync runs`")
            }
            guard run.status == "blocked" else {
                throw ConfigurationError("run \(runID) is \(run.status), not blocked; only a blocked run can be approved")
            }
            // Before previews stopped nowhere, one could end blocked; approving it would apply what
            // was only meant to be looked at.
            guard run.mode != "preview" else {
                throw ConfigurationError("run \(runID) is a preview, which approve does not apply; sync the district instead")
            }
            let blockedBy = try await main.query(
                "SELECT coalesce(counts ->> 'blocked_by', '') FROM etl.runs WHERE id = \(runID)", logger: logger)
            var emptyFeed = false
            for try await reason in blockedBy.decode(String.self) { emptyFeed = reason == "empty_feed" }
            if emptyFeed {
                throw ConfigurationError(
                    "run \(runID) stopped on an empty feed, which approve does not lift. Fix the feed and sync again, "
                        + "or if it is meant to be empty, sync again with --allow-empty-feed naming it.")
            }
            // Locked first: a nightly run that finished between the check and the lock would
            // otherwise be undone by this older run's rows.
            try await lockDistrict(run.districtID, on: main, logger: logger)
            if let now = try await ledger.run(runID), now.status != "blocked" {
                throw ConfigurationError("run \(runID) is \(now.status) now (approved meanwhile?); only a blocked run can be approved")
            }
            if let newer = try await newerRun(than: runID, district: run.districtID, on: main) {
                throw ConfigurationError(
                    "run \(newer) of district \(run.districtID) is newer than run \(runID); approve refuses stale data. "
                        + "Sync again (with --allow-mass-changes if the changes are expected).")
            }
            let settings = try await readDistrict(run.districtID, on: main, logger: logger).settings
            // The feeds the run was told are meant to be empty (--allow-empty-feed) stay allowed.
            let allowedEmpty = Set(try await runOptions(runID, on: main)["allow_empty_feeds"] as? [String] ?? [])
            var logger = logger
            logger[metadataKey: "etl.run_id"] = "\(runID)"
            var merger = Merger(sql: sql, logger: logger)
            merger.database = database
            merger.lockHolder = try await backendPID(of: main)
            let outcome = try await database.withConnection(logger: logger) { connection in
                try await Stager.prepare(connection, logger: logger)
                try await Merger.bind(connection, runID: runID, districtID: run.districtID, asOf: run.asOf, logger: logger)
                // Approve merges with the removal share lifted, so the staged rows must still be
                // there: rows deleted by hand (or lost) since the run stopped would otherwise read
                // as a district that left, and archive it.
                let empty = try await merger.emptyFeeds(on: connection, allowed: allowedEmpty)
                if !empty.isEmpty {
                    throw ConfigurationError(
                        "run \(runID)'s staged rows are no longer complete (\(empty.joined(separator: "; "))); "
                            + "approve refuses. Sync again (with --allow-mass-changes if the changes are expected).")
                }
                return try await database.withConnection(logger: logger) { export in
                    try await Stager.prepare(export, logger: logger)
                    return try await merger.merge(
                        on: connection, exportConnection: export, runID: runID, safety: settings.safety,
                        options: .init(preview: false, allowMassChanges: true))
                }
            }
            guard case .applied(let summary) = outcome else {
                throw LoadError(.runState, "run \(runID) was not applied")
            }
            try await main.query("DELETE FROM staging.changes WHERE run_id = \(runID)", logger: logger)
            let message = "approved and applied: \(Self.describe(summary))"
            try await ledger.finish(runID, status: .succeeded, counts: Self.countsJSON(summary: summary), message: message)
            return SyncReport(
                runID: runID, districtID: run.districtID, status: .succeeded, summary: summary, violations: [],
                rejections: [], message: message)
        }
    }

    /// The districts `--district all` syncs: every enabled row of `roster.districts`.
    public func enabledDistricts(database: DatabaseTarget, sql: SQLDirectory) async throws -> [String] {
        try await database.withConnection(logger: logger) { connection in
            try await Migrator(directory: sql).migrate(on: connection, logger: logger)
            let rows = try await connection.query("SELECT id FROM roster.districts WHERE enabled ORDER BY id", logger: logger)
            var ids: [String] = []
            for try await id in rows.decode(String.self) { ids.append(id) }
            return ids
        }
    }

    /// Replays the landing archive night by night, each night with its own as-of date, in date
    /// order. Stops at the first night that does not succeed (later nights build on it).
    /// A night that already has a successful run is done and is skipped, so re-running a backfill
    /// changes nothing. A night older than one already applied is refused: replaying it would
    /// take the roster back to that night (people who joined since archived, until the next run).
    ///
    /// `template` gives the database, SQL and pipeline; its source and as-of are replaced.
    public func backfill(_ template: SyncConfiguration, landingRoot: URL, from: String, to: String) async throws
        -> [SyncReport]
    {
        let archive = LandingArchive(root: landingRoot)
        let archived = try archive.archivedNights(district: template.districtID, from: from, to: to)
        let nights = archived.filter(\.isComplete).map(\.date)
        let incomplete = archived.filter { !$0.isComplete }
        for night in incomplete {
            logger.warning(
                "night \(night.date) in the landing archive is incomplete and is not replayed: \(night.problem ?? "")",
                metadata: ["etl.district_id": "\(template.districtID)", "landing.night": "\(night.date)"])
        }
        guard !nights.isEmpty else {
            let skipped = incomplete.isEmpty
                ? "" : " (incomplete, not replayed: \(incomplete.map { "\($0.date): \($0.problem ?? "")" }.joined(separator: "; ")))"
            throw ConfigurationError(
                "no complete night of district \(template.districtID) in \(landingRoot.path) from \(from) to \(to)\(skipped) "
                    + "(a night verified unchanged keeps no landing folder: its files are those of the run its "
                    + "etl.runs.counts names as unchanged_since; `rostersync runs --district \(template.districtID)`)")
        }
        var reports: [SyncReport] = []
        // Nights replay oldest first, so only what was applied before this backfill can be newer.
        let applied = try await latestApplied(template)
        var reached = 0
        for night in nights {
            if Task.isCancelled { break }
            reached += 1
            if let done = try await succeededRun(template, asOf: night) {
                reports.append(
                    SyncReport(
                        runID: done, districtID: template.districtID, status: .skipped, summary: .init(), violations: [],
                        rejections: [], message: "night \(night) was already applied by run \(done)"))
                continue
            }
            if let (latest, run) = applied, latest > night {
                throw ConfigurationError(
                    "night \(night) is older than \(latest), which run \(run) already applied: replaying it would take "
                        + "district \(template.districtID)'s roster back to \(night). Backfill nights after \(latest), or "
                        + "replay into a fresh database")
            }
            var configuration = template
            configuration.source = .landing(archive.folder(district: template.districtID, date: night))
            configuration.asOf = night
            configuration.mode = "backfill"
            configuration.landingRoot = nil
            let report = try await sync(configuration)
            reports.append(report)
            guard report.status == .succeeded || report.status == .skipped else { break }
        }
        // After SIGINT or SIGTERM no further night begins; those not reached are listed.
        if Task.isCancelled {
            for left in nights[reached...] {
                reports.append(
                    SyncReport(
                        runID: nil, districtID: template.districtID, status: .failed, summary: .init(), violations: [],
                        rejections: [], message: "night \(left) not replayed: the backfill was cancelled (SIGINT or SIGTERM)"))
            }
        }
        return reports
    }

    /// Refuses to resume a run whose stages still to run would read feed files replaced since the
    /// run's finished stages read theirs: one run would then hold two nights' extracts (a student
    /// from the new file enrolled by the old one, or missing from it and archived). When no stage
    /// has finished, or every stage has, the staged rows are one extract whatever the files are.
    /// (An API run is refused by ``checkAPIStages(of:source:definition:completed:)``.)
    ///
    /// Returns the files' identities as they are now when no stage has finished: the resume reads
    /// them all afresh, so a later resume compares with these, not with the ones the run began on.
    static func checkFeedFiles(
        of runID: Int64, options: [String: Any], source: SyncConfiguration.Source, definition: PipelineDefinition,
        completed: Set<String>
    ) throws -> [String: String]? {
        guard let (folder, fileName) = source.feedFolder else { return nil }
        let stageTasks = definition.tasks.filter { $0.kind == "stage" }
        let remaining = stageTasks.filter { !completed.contains($0.name) }
        if remaining.count == stageTasks.count {
            return InputDigest.feedFiles(in: folder, named: Set(Feed.allCases.map(fileName)))
        }
        // Runs recorded before feed_files existed are not checked.
        guard let recorded = options["feed_files"] as? [String: String], !remaining.isEmpty else { return nil }
        let names = Set(remaining.compactMap { $0.stagedFeed.map(fileName) })
        let current = InputDigest.feedFiles(in: folder, named: names)
        let changed = names.filter { recorded[$0] != current[$0] }.sorted()
        guard !changed.isEmpty else { return nil }
        let stages = remaining.map(\.name)
        throw ConfigurationError(
            "the feed files in \(folder.path) were replaced or changed since run \(runID) read them "
                + "(\(changed.joined(separator: ", "))): resuming would stage \(stages.joined(separator: ", ")) "
                + "from these files and use the other feeds as the run staged them, two extracts in one run. "
                + "Sync again instead.")
    }

    /// Refuses to resume an API run some of whose stages finished and some did not: the rest would
    /// be read from Clever as it is now (the district's SIS syncs into it all day) beside feeds read
    /// as it was, two extracts in one run (a student added since enrolled nowhere; one withdrawn
    /// since, still active and out of every class). With no stage finished, or all, it is one.
    static func checkAPIStages(
        of runID: Int64, source: SyncConfiguration.Source, definition: PipelineDefinition, completed: Set<String>
    ) throws {
        guard case .clever = source else { return }
        let stages = definition.tasks.filter { $0.kind == "stage" }.map(\.name)
        let (done, remaining) = (stages.filter(completed.contains), stages.filter { !completed.contains($0) })
        guard !done.isEmpty, !remaining.isEmpty else { return }
        throw ConfigurationError(
            "run \(runID) read \(done.joined(separator: ", ")) from Clever's API; resuming would run "
                + "\(remaining.joined(separator: ", ")) against Clever's data as it is now, beside what the run read "
                + "then: two extracts in one run. Sync again instead.")
    }

    /// Checks Clever's API (its token's district above all: ``CleverExtract/CleverAPISource/check()``)
    /// when no check-source task of the pipeline will before a stage reads: a resume, which skips
    /// the task it passed and may bring another token, or a pipeline file without one.
    static func checkSourceOutsidePipeline(
        _ definition: PipelineDefinition, context: RunContext, completed: Set<String>
    ) async throws {
        guard case .clever = context.configuration.source else { return }
        guard !definition.tasks.contains(where: { $0.kind == "check-source" && !completed.contains($0.name) }) else {
            return
        }
        try await TaskExecutor(context: context).makeSource().check()
    }

    /// Refuses to resume a run whose stages still to run would archive beside feeds its finished
    /// stages archived that are not in the night's landing folder now (a volume not mounted, whose
    /// mount point is an empty folder; the folder moved): the resume would archive the rest
    /// elsewhere, and the night, complete nowhere, could not be replayed. With no stage finished,
    /// nothing was archived that the resume does not archive again.
    static func checkLandingFolder(
        of runID: Int64, uid runUID: String?, _ configuration: SyncConfiguration, definition: PipelineDefinition,
        completed: Set<String>
    ) throws {
        guard let root = configuration.landingRoot else { return }
        let stages = definition.tasks.filter { $0.kind == "stage" }
        guard stages.contains(where: { !completed.contains($0.name) }) else { return }
        let archived = stages.filter { completed.contains($0.name) }.compactMap(\.stagedFeed)
        guard !archived.isEmpty else { return }
        let archive = LandingArchive(root: root)
        // Missing or unreadable alike: the feeds cannot be found there. An entry of another run: the
        // night was archived again since, which a newer run did (refused before this check).
        let found = archive.feeds(
            archivedBy: runID, uid: runUID, district: configuration.districtID, date: configuration.asOf)
        let missing = archived.filter { !found.contains($0) }
        guard !missing.isEmpty else { return }
        let folder = archive.folder(district: configuration.districtID, date: configuration.asOf)
        throw ConfigurationError(
            "run \(runID) archived \(missing.map(\.rawValue).joined(separator: ", ")) in \(folder.path), whose manifest "
                + "does not list them now (a volume not mounted? the folder moved?): resuming would archive the other feeds "
                + "without them. Mount or restore the landing archive, or resume with --no-landing (the night then "
                + "stays incomplete in the archive)")
    }

    /// The options a run was started with (`etl.runs.options`, written by ``optionsJSON(_:runUID:)``).
    private func runOptions(_ runID: Int64, on connection: PostgresConnection) async throws -> [String: Any] {
        let rows = try await connection.query("SELECT options::text FROM etl.runs WHERE id = \(runID)", logger: logger)
        var text = "{}"
        for try await options in rows.decode(String.self) { text = options }
        return (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }

    /// The latest as-of date a run applied to the district, and that run.
    private func latestApplied(_ template: SyncConfiguration) async throws -> (String, Int64)? {
        try await template.database.withConnection(logger: logger) { connection in
            let rows = try await connection.query(
                """
                SELECT as_of::text, id FROM etl.runs WHERE district_id = \(template.districtID)
                  AND status = 'succeeded' AND mode <> 'preview'
                ORDER BY as_of DESC, id DESC LIMIT 1
                """, logger: logger)
            for try await (asOf, id) in rows.decode((String, Int64).self) { return (asOf, id) }
            return nil
        }
    }

    /// The latest run that applied this night, if any (previews apply nothing).
    private func succeededRun(_ template: SyncConfiguration, asOf: String) async throws -> Int64? {
        try await template.database.withConnection(logger: logger) { connection in
            try await Migrator(directory: template.sql).migrate(on: connection, logger: logger)
            let rows = try await connection.query(
                """
                SELECT max(id) FROM etl.runs WHERE district_id = \(template.districtID) AND as_of = \(asOf)::date
                  AND status = 'succeeded' AND mode <> 'preview'
                """, logger: logger)
            for try await id in rows.decode(Int64?.self) { return id }
            return nil
        }
    }

    /// Continues a failed or cancelled run from its failed tasks, reusing what the tasks that
    /// succeeded staged. The source and options are the run's own (`etl.runs.options`); an API
    /// run needs the token again. The feeds it extracts again are archived beside the others in the
    /// run's landing folder, unless `keepLanding` is false.
    public func resume(
        runID: Int64, database: DatabaseTarget, sql: SQLDirectory, cleverToken: String?, keepLanding: Bool = true
    ) async throws -> SyncReport {
        try await logOutcome(logger: logger) {
            try await resumeRun(runID, database: database, sql: sql, cleverToken: cleverToken, keepLanding: keepLanding)
        }
    }

    private func resumeRun(
        _ runID: Int64, database: DatabaseTarget, sql: SQLDirectory, cleverToken: String?, keepLanding: Bool
    ) async throws -> SyncReport {
        try await withMainConnection(database, logger: logger) { main in
            try await Migrator(directory: sql).migrate(on: main, logger: logger)
            let ledger = RunLedger(connection: main, logger: logger)
            guard let run = try await ledger.run(runID) else {
                throw ConfigurationError("run \(runID) does not exist; see `rostersync runs`")
            }
            // A run still `running` may be one a killed process left: the lock below tells, and
            // marks it failed if so (the check under the lock then lets it through).
            guard ["failed", "cancelled", "running"].contains(run.status) else {
                throw ConfigurationError("run \(runID) is \(run.status); only a failed or cancelled run can be resumed")
            }
            let object = try await runOptions(runID, on: main)
            let source: SyncConfiguration.Source
            if let csv = object["csv"] as? String {
                source = .csv(URL(fileURLWithPath: csv))
            } else if let landing = object["landing"] as? String {
                source = .landing(URL(fileURLWithPath: landing))
            } else if let url = object["clever_url"] as? String {
                guard let cleverToken, !cleverToken.isEmpty else {
                    throw ConfigurationError("run \(runID) read Clever's API: set CLEVER_TOKEN to resume it")
                }
                source = .clever(baseURL: url, token: cleverToken)
            } else {
                throw ConfigurationError("run \(runID) does not record its source; sync again instead")
            }
            guard let pipelinePath = object["pipeline_file"] as? String else {
                throw ConfigurationError("run \(runID) does not record its pipeline file; sync again instead")
            }
            var configuration = SyncConfiguration(
                districtID: run.districtID, source: source, asOf: run.asOf, mode: run.mode,
                preview: object["preview"] as? Bool ?? false, allowMassChanges: object["allow_mass_changes"] as? Bool ?? false,
                pipelineFile: URL(fileURLWithPath: pipelinePath), sql: sql, database: database)
            configuration.allowEmptyFeeds = Set(object["allow_empty_feeds"] as? [String] ?? [])
            configuration.allowMassChangesOf = Set(object["allow_mass_changes_of"] as? [String] ?? [])
            // Recorded since --api-attempts; runs before that keep the defaults.
            if let attempts = object["api_attempts"] as? Int { configuration.apiMaxAttempts = attempts }
            if let size = object["batch_size"] as? Int { configuration.batchSize = size }
            if let parallel = object["max_parallel"] as? Int { configuration.maxParallelTasks = parallel }
            configuration.landingRoot = keepLanding ? (object["landing_root"] as? String).map { URL(fileURLWithPath: $0) } : nil
            // A preview archives nothing (sync()), a preview run recorded before that rule included.
            if configuration.preview { configuration.landingRoot = nil }
            // Nil for a run started before runs had uids: its archive entries have none either.
            let runUID = object["landing_run_uid"] as? String
            let definition = try Self.loadPipeline(configuration.pipelineFile)
            let district = try await readDistrict(run.districtID, on: main, logger: logger)
            try await lockDistrict(run.districtID, on: main, logger: logger)
            // Under the lock: another resume of this run may have finished meanwhile.
            if let now = try await ledger.run(runID), !["failed", "cancelled"].contains(now.status) {
                throw ConfigurationError("run \(runID) is \(now.status) now (resumed meanwhile?); only a failed or cancelled run can be resumed")
            }
            if let newer = try await newerRun(than: runID, district: run.districtID, on: main) {
                throw ConfigurationError("run \(newer) is newer than run \(runID); resuming would apply stale data. Sync again.")
            }
            var completed = Set<String>()
            let tasks = try await main.query(
                "SELECT DISTINCT task FROM etl.task_runs WHERE run_id = \(runID) AND status = 'succeeded'", logger: logger)
            for try await task in tasks.decode(String.self) { completed.insert(task) }
            let files = try Self.checkFeedFiles(
                of: runID, options: object, source: source, definition: definition, completed: completed
            ).map(Self.json)
            try Self.checkLandingFolder(of: runID, uid: runUID, configuration, definition: definition, completed: completed)
            var logger = logger
            logger[metadataKey: "etl.run_id"] = "\(runID)"
            var context = RunContext(
                runID: runID, runUID: runUID, configuration: configuration, settings: district.settings, logger: logger,
                httpClient: httpClient)
            context.lockHolder = try await backendPID(of: main)
            try await Self.checkSourceOutsidePipeline(definition, context: context, completed: completed)
            try Self.checkAPIStages(of: runID, source: source, definition: definition, completed: completed)
            try await main.query(
                // Files may have changed since the run started: its digest no longer says what it
                // staged. (jsonb_set of NULL is NULL: options stay as they are without new files.)
                """
                UPDATE etl.runs SET status = 'running', finished_at = NULL, error = NULL, input_digest = NULL,
                    options = coalesce(jsonb_set(options, '{feed_files}', \(files)::jsonb), options)
                        -- Resumed without archiving: a later resume expects nothing archived.
                        - CASE WHEN \(keepLanding) THEN '' ELSE 'landing_root' END
                WHERE id = \(runID)
                """,
                logger: logger)
            logger.info("resuming", metadata: ["etl.completed_tasks": "\(completed.sorted().joined(separator: ","))"])
            return try await execute(definition, context: context, ledger: ledger, completed: completed)
        }
    }

    // MARK: - Running the pipeline

    func execute(
        _ definition: PipelineDefinition, context: RunContext, ledger: RunLedger, completed: Set<String>
    ) async throws -> SyncReport {
        let runID = context.runID
        let logger = context.logger
        let runner = Runner(
            configuration: .init(maxParallelTasks: context.configuration.maxParallelTasks), logger: logger)
        let observer = Runner.Observer(
            started: { task, attempt in
                // The ledger's number counts the attempts of earlier runs of this run (resume).
                let row = try? await ledger.taskStarted(runID, task: task.name)
                logger.info(
                    "task started", metadata: ["etl.task": "\(task.name)", "etl.attempt": "\(row?.attempt ?? attempt)"])
                if let row { await context.state.setTaskRunID(row.id, for: task.name, attempt: attempt) }
            },
            finished: { task, attempt, result in
                // The runner's own verdict (a timeout), not only what the task threw when it was cancelled.
                if case .failure(let error) = result { await context.state.failed(error) }
                guard let id = await context.state.taskRunID(for: task.name, attempt: attempt) else { return }
                switch result {
                case .success(let counts):
                    logger.info(
                        "task succeeded",
                        metadata: ["etl.task": "\(task.name)", "etl.rows_out": "\(counts.rowsOut.map(String.init) ?? "-")"])
                    try? await ledger.taskFinished(id, status: .succeeded, rowsIn: counts.rowsIn, rowsOut: counts.rowsOut)
                case .failure(let error):
                    try? await ledger.taskFinished(
                        id, status: error is CancellationError ? .cancelled : .failed, error: Self.describe(error))
                }
            })
        let planner = await runner.run(
            Planner(definition: definition, completed: completed), observer: observer,
            isRetriable: Self.isRetriable,
            execute: { task, attempt in try await TaskExecutor(context: context).run(task, attempt: attempt) })

        // The tasks not started are in the ledger too: "skipped" tells them from tasks a run
        // never reached because it is still going, or from a pipeline file without them.
        let reason = planner.outcome == .cancelled ? "not started: the run was cancelled" : "not started: a task it needs failed"
        for task in definition.tasks where planner.states[task.name] == .skipped {
            try? await ledger.taskSkipped(runID, task: task.name, reason: reason)
        }
        let state = context.state
        // The run's outcome stands whatever happens here (a failed run may have lost the
        // database); a report without its rejections says so in the log.
        let rejections: [SyncReport.RejectionCount]
        do {
            rejections = try await rejectionCounts(runID: runID, database: context.configuration.database)
        } catch {
            logger.warning(
                "could not count the run's rejected rows; see staging.rejects",
                metadata: ["etl.run_id": "\(runID)", "error": "\(Self.describe(error))"])
            rejections = []
        }
        let staged = await state.stagedCounts
        switch planner.outcome {
        case .succeeded:
            guard let outcome = await state.mergeOutcome else {
                // A pipeline without a merge task (extract-only): staged, nothing applied.
                let message = "staged \(staged.values.reduce(0, +)) rows; this pipeline has no merge task"
                try await ledger.finish(runID, status: .succeeded, counts: Self.countsJSON(staged: staged), message: message)
                return SyncReport(
                    runID: runID, districtID: context.configuration.districtID, status: .succeeded, summary: .init(),
                    violations: [], rejections: rejections, message: message)
            }
            return try await finish(outcome, context: context, ledger: ledger, staged: staged, rejections: rejections)
        case .failed, .cancelled, .running:
            let errors = await state.errors
            let failedTasks: [String]
            if case .failed(let tasks) = planner.outcome { failedTasks = tasks } else { failedTasks = [] }
            // A task stopped by a timeout or by another task's failure reports a cancellation; the cause is elsewhere.
            let cause = (errors.last { !($0 is CancellationError) } ?? errors.last).map(Self.describe) ?? "cancelled"
            if let outcome = await state.mergeOutcome {
                // The merge committed (or stopped at the threshold, or previewed) before a later
                // task failed or the run was cancelled: its outcome stands. Reporting "failed, the
                // roster is unchanged" here would be false, and a blocked run must stay approvable.
                let note =
                    failedTasks.isEmpty
                    ? "the run was cancelled after the merge (\(cause))"
                    : "task \(failedTasks.joined(separator: ", ")) failed after the merge: \(cause)"
                logger.warning(
                    "a task after the merge did not finish; the merge's outcome stands",
                    metadata: ["etl.run_id": "\(runID)", "error": "\(note)"])
                return try await finish(
                    outcome, context: context, ledger: ledger, staged: staged, rejections: rejections, note: note)
            }
            if let stop = errors.compactMap({ $0 as? SafetyStop }).first {
                let message = "empty feed: " + stop.violations.joined(separator: "; ")
                    + ". Nothing was changed; the staged rows are kept for inspection. If the feed is meant to be "
                    + "empty, sync again with --allow-empty-feed naming it (and --allow-mass-changes for the removals)."
                try await ledger.finish(
                    runID, status: .blocked, counts: Self.json(["staged": staged, "blocked_by": "empty_feed"]),
                    message: message)
                return SyncReport(
                    runID: runID, districtID: context.configuration.districtID, status: .blocked, summary: .init(),
                    violations: stop.violations, rejections: rejections, message: message)
            }
            let cancelled = planner.outcome == .cancelled
            // The cause says how to find out whether the merge committed.
            let unknown = errors.contains { ($0 as? LoadError)?.code == .commitUnknown }
            // A resume reads only the files the run started on, so a file fixed since is refused.
            let fileProblem: Bool
            if case .csv = context.configuration.source { fileProblem = errors.contains { $0 is ExtractError } } else { fileProblem = false }
            let restage = errors.contains { [.cutShort, .unreadableRows].contains(($0 as? ExtractError)?.code) }
            let message =
                unknown
                ? "run \(runID) failed in its merge: \(cause)."
                : cancelled
                ? "run \(runID) was cancelled; the roster is unchanged"
                : "task \(failedTasks.joined(separator: ", ")) of run \(runID) failed: \(cause). The roster is unchanged. "
                    + (fileProblem
                        ? "Fix the files, then sync again (a resume would reuse what the run staged from them)."
                        : restage
                        ? "Sync again once the feed is whole (a resume would reuse what the run staged)."
                        : "Fix the cause, then `rostersync resume \(runID)` or sync again.")
            try await ledger.finish(
                runID, status: cancelled ? .cancelled : .failed, counts: Self.countsJSON(staged: staged), message: message,
                error: cause)
            // Bad configuration found on the way (a file gone, a bad token) exits 2; a database lost
            // after the run started is a failed run (1), not a wrong URL.
            if let usage = errors.first(where: { Self.isUsageError($0) && ($0 as? LoadError)?.code != .unreachable }) {
                throw usage
            }
            return SyncReport(
                runID: runID, districtID: context.configuration.districtID, status: .failed, summary: .init(),
                violations: [], rejections: rejections, message: message)
        }
    }

    /// `note`: what went wrong after the merge (housekeeping such as prune), told with the outcome.
    private func finish(
        _ outcome: Merger.Outcome, context: RunContext, ledger: RunLedger, staged: [String: Int],
        rejections: [SyncReport.RejectionCount], note: String? = nil
    ) async throws -> SyncReport {
        let runID = context.runID
        let district = context.configuration.districtID
        let afterwards = note.map { ". Afterwards \($0)" } ?? ""
        switch outcome {
        case .applied(let summary):
            let message = (summary.total == 0 ? "no changes" : Self.describe(summary)) + afterwards
            try await ledger.finish(
                runID, status: .succeeded, counts: Self.countsJSON(summary: summary, staged: staged), message: message)
            return SyncReport(
                runID: runID, districtID: district, status: .succeeded, summary: summary, violations: [],
                rejections: rejections, message: message)
        case .previewed(let summary, let wouldBlock):
            let lines = wouldBlock.map(\.description)
            let threshold = lines.isEmpty ? "" : "; a sync would stop at the safety threshold: "
                + lines.joined(separator: "; ") + " (--allow-mass-changes lifts it)"
            let failing = await context.state.previewWarnings
            let message = "preview: "
                + (summary.total == 0
                    ? "no changes" + (failing.isEmpty ? "; a sync would change nothing" : "")
                    : Self.describe(summary) + "; nothing was changed (the changes are in staging.changes, run_id \(runID))")
                + failing.map { "; \($0)" }.joined() + threshold + afterwards
            try await ledger.finish(
                runID, status: .succeeded, counts: Self.countsJSON(summary: summary, staged: staged), message: message)
            return SyncReport(
                runID: runID, districtID: district, status: .previewed, summary: summary, violations: lines,
                rejections: rejections, message: message)
        case .blocked(let summary, let violations):
            let lines = violations.map(\.description)
            let message = "stopped at the safety threshold: " + lines.joined(separator: "; ")
                + ". Nothing was changed. Review with `SELECT * FROM staging.changes WHERE run_id = \(runID)`, then "
                + "`rostersync approve \(runID)` to apply these changes, or sync again with --allow-mass-changes."
                + afterwards
            try await ledger.finish(
                runID, status: .blocked, counts: Self.countsJSON(summary: summary, staged: staged), message: message)
            return SyncReport(
                runID: runID, districtID: district, status: .blocked, summary: summary, violations: lines,
                rejections: rejections, message: message)
        }
    }

    // MARK: - District and lock

    struct District {
        var launchDate: String?
        var settings: DistrictSettings
        /// `roster.districts.settings` as read, for the input digest of unchanged nights.
        var settingsJSON: String
    }

    /// The district's row as it is; a district not yet synced reads as one without settings. Its
    /// row is created by the merge that first applies it, inside its transaction: a run refused
    /// before (another district's token, a mistyped id and no such folder) or that fails, stops or
    /// previews leaves no district behind for `--district all` to fail on every night.
    func readDistrict(_ id: String, on connection: PostgresConnection, logger: Logger) async throws -> District {
        let rows = try await connection.query(
            "SELECT launch_date::text, settings::text FROM roster.districts WHERE id = \(id)", logger: logger)
        for try await (launch, settings) in rows.decode((String?, String).self) {
            do {
                let parsed = try DistrictSettings(json: settings)
                for (key, meant) in parsed.likelyMisspelt {
                    logger.warning(
                        "roster.districts.settings has a key RosterSync does not read; did you mean '\(meant)'?",
                        metadata: ["settings.key": "\(key)"])
                }
                return District(launchDate: launch, settings: parsed, settingsJSON: settings)
            } catch let error as ConfigurationError {
                throw ConfigurationError("district \(id): \(error.description) (roster.districts.settings)")
            }
        }
        return District(launchDate: nil, settings: try DistrictSettings(json: "{}"), settingsJSON: "{}")
    }

    /// A later run of the district that read the data (a run skipped before its launch date
    /// read nothing and does not count): approving or resuming an older run would undo it.
    func newerRun(than runID: Int64, district: String, on connection: PostgresConnection) async throws -> Int64? {
        let rows = try await connection.query(
            "SELECT max(id) FROM etl.runs WHERE district_id = \(district) AND id > \(runID) AND status <> 'skipped'",
            logger: logger)
        for try await id in rows.decode(Int64?.self) { return id }
        return nil
    }

    /// A run's main connection, which holds the district lock. The lock is released explicitly
    /// before the connection closes: the server releases a session lock only when it notices the
    /// connection is gone, after this process has moved on, and a run started right after this
    /// one (a backfill's next night, an approve's next sync) could find it still held.
    func withMainConnection<T: Sendable>(
        _ database: DatabaseTarget, logger: Logger, _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        try await database.withConnection(logger: logger) { connection in
            // A connection the server closed has no lock left, and a query on it would never return.
            func unlock() async {
                guard !connection.isClosed else { return }
                _ = try? await connection.query("SELECT pg_advisory_unlock_all()", logger: logger)
            }
            do {
                let result = try await body(connection)
                await unlock()
                return result
            } catch {
                await unlock()
                throw error
            }
        }
    }

    /// The server process of `connection`: the one holding the district's lock, for the merge to check.
    func backendPID(of connection: PostgresConnection) async throws -> Merger.LockHolder {
        let rows = try await connection.query(
            "SELECT pid, backend_start::text FROM pg_stat_activity WHERE pid = pg_backend_pid()", logger: logger)
        for try await (pid, start) in rows.decode((Int32, String).self) { return .init(pid: pid, backendStart: start) }
        throw LoadError(.query, "pg_stat_activity has no row for this connection")
    }

    /// One run per district at a time: a session advisory lock held by the main connection
    /// until the run ends (see `withMainConnection`; a dropped connection releases it too).
    func lockDistrict(_ id: String, on connection: PostgresConnection, logger: Logger) async throws {
        let rows = try await connection.query(
            "SELECT pg_try_advisory_lock(hashtext('rostersync.district'), hashtext(\(id)))", logger: logger)
        var locked = false
        for try await value in rows.decode(Bool.self) { locked = value }
        if locked {
            let abandoned = try await RunLedger(connection: connection, logger: logger).failAbandoned(districtID: id)
            if !abandoned.isEmpty {
                logger.warning(
                    "runs marked failed: \(RunLedger.abandonedMessage)",
                    metadata: ["etl.abandoned_runs": "\(abandoned.map(String.init).joined(separator: ","))"])
            }
            return
        }
        var running: Int64?
        let runs = try await connection.query(
            "SELECT max(id) FROM etl.runs WHERE district_id = \(id) AND status = 'running'", logger: logger)
        for try await id in runs.decode(Int64?.self) { running = id }
        throw RunLockedError(districtID: id, runningRunID: running)
    }

    // MARK: - Reporting helpers

    func rejectionCounts(runID: Int64, database: DatabaseTarget) async throws -> [SyncReport.RejectionCount] {
        try await database.withConnection(logger: logger) { connection in
            let rows = try await connection.query(
                """
                SELECT entity, reason, severity, count(*) FROM staging.rejects WHERE run_id = \(runID)
                GROUP BY entity, reason, severity ORDER BY entity, reason
                """, logger: logger)
            var result: [SyncReport.RejectionCount] = []
            for try await (entity, reason, severity, count) in rows.decode((String, String, String, Int).self) {
                result.append(.init(entity: entity, reason: reason, severity: severity, count: count))
            }
            return result
        }
    }

    /// One log record per run with its outcome: `error` for a failed or stopped run (someone
    /// must act), so a scheduler's log filtered on errors sees every night that needs a person.
    /// A run that throws (bad configuration, a held lock) gets its record too.
    private func logOutcome(logger: Logger, _ body: () async throws -> SyncReport) async throws -> SyncReport {
        let report: SyncReport
        do {
            report = try await body()
        } catch {
            let code = SyncReport.exitCode(for: error)
            logger.error(
                "sync finished",
                metadata: [
                    "etl.status": "\(error is RunLockedError ? "locked" : "failed")", "etl.exit_code": "\(code)",
                    "etl.message": "\(Self.describe(error))",
                ])
            throw error
        }
        var metadata: Logger.Metadata = [
            "etl.status": "\(report.status.rawValue)", "etl.exit_code": "\(report.exitCode)",
            "etl.message": "\(report.message)",
        ]
        if let runID = report.runID { metadata["etl.run_id"] = "\(runID)" }
        let level: Logger.Level = report.exitCode == 0 ? .info : .error
        logger.log(level: level, "sync finished", metadata: metadata)
        return report
    }

    static func describe(_ summary: Merger.Summary) -> String {
        summary.counts.sorted { $0.key < $1.key }.map { entity, actions in
            "\(entity): " + actions.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        }.joined(separator: "; ")
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case let error as LoadError: error.description
        case let error as ExtractError: error.description
        case let error as ConfigurationError: error.description
        case let error as Runner.TimeoutError: error.description
        case is PSQLError: LoadError.describe(error)
        default: String(reflecting: error)
        }
    }

    static func isRetriable(_ error: any Error) -> Bool {
        if let error = error as? ExtractError {
            return [.network, .httpStatus, .malformedResponse].contains(error.code) && !error.isUsageError
        }
        if let error = error as? LoadError {
            // The merge runs REPEATABLE READ: a row someone else changed while it ran is a
            // serialization failure, and the whole merge can simply run again.
            // A lock wait past lock_timeout (55P03): the other session may have ended by the retry.
            if error.code == .query, let cause = error.cause as? PSQLError,
                let state = cause.serverInfo?[.sqlState], ["40001", "55P03"].contains(state)
            {
                return true
            }
            return error.code == .unreachable
        }
        if let error = error as? PSQLError, let state = error.serverInfo?[.sqlState] {
            // The same rows fail the same way again: data exceptions (22), constraint violations
            // (23), syntax and access errors (42). Connection and resource errors may pass.
            return !["22", "23", "42"].contains(String(state.prefix(2)))
        }
        return error is PSQLError
    }

    static func isUsageError(_ error: any Error) -> Bool {
        if let error = error as? ExtractError { return error.isUsageError }
        if let error = error as? LoadError { return error.isUsageError }
        return error is ConfigurationError
    }

    /// `runUID` tells this run's landing archive entries from those of a run of the same id in
    /// another database (``CleverExtract/LandingTeeSource/runUID``).
    static func optionsJSON(_ configuration: SyncConfiguration, runUID: String) -> String {
        var object: [String: Any] = [
            "landing_run_uid": runUID,
            "preview": configuration.preview, "allow_mass_changes": configuration.allowMassChanges,
            "allow_mass_changes_of": configuration.allowMassChangesOf.sorted(),
            "allow_empty_feeds": configuration.allowEmptyFeeds.sorted(),
            "pipeline_file": configuration.pipelineFile.path,
            // How the run read, so a resume reads the same way (a night that needed more tries
            // per request to ride out an outage needs them on its resume too).
            "api_attempts": configuration.apiMaxAttempts, "batch_size": configuration.batchSize,
            "max_parallel": configuration.maxParallelTasks,
        ]
        switch configuration.source {
        case .csv(let url): object["csv"] = url.path
        case .clever(let baseURL, _): object["clever_url"] = baseURL
        case .landing(let url): object["landing"] = url.path
        }
        if let (folder, fileName) = configuration.source.feedFolder {
            object["feed_files"] = InputDigest.feedFiles(in: folder, named: Set(Feed.allCases.map(fileName)))
        }
        // A resumed run archives the feeds it extracts again where the run archived the others.
        if let landingRoot = configuration.landingRoot { object["landing_root"] = landingRoot.path }
        return json(object)
    }

    static func countsJSON(summary: Merger.Summary = .init(), staged: [String: Int] = [:]) -> String {
        json(["changes": summary.counts, "staged": staged])
    }

    static func json(_ object: Any) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}
