public import Logging
public import PostgresNIO
public import RosterModel

/// The set-based merge of a run's staged rows into the roster, in one transaction.
///
/// The SQL lives in `sql/merge/` (one file per step, each naming the rule it keeps). The merge
/// writes a `roster.change_log` row for every change; before committing it counts the run's
/// removals per entity against the district's thresholds.
///
/// - Important: Nothing is committed unless every step succeeds and the safety check passes.
///   A preview or a blocked run rolls back and keeps its computed changes in `staging.changes`.
public struct Merger: Sendable {
    /// The district's safety thresholds (`roster.districts.settings`).
    public struct Safety: Sendable, Equatable {
        /// The share of an entity's active records one run may suspend, archive or remove.
        public var maxRemovalShare: Double
        /// A run removing fewer records than this never stops on the share.
        public var minRemovalsToBlock: Int

        public static let defaults = Safety(maxRemovalShare: 0.10, minRemovalsToBlock: 10)

        public init(maxRemovalShare: Double, minRemovalsToBlock: Int) {
            self.maxRemovalShare = maxRemovalShare
            self.minRemovalsToBlock = minRemovalsToBlock
        }
    }

    public struct Options: Sendable {
        public var preview: Bool
        /// Lifts the removal share for every entity.
        public var allowMassChanges: Bool
        /// Lifts the removal share for these entities only (``Merger/shareEntities``): a person
        /// who expects many students to leave need not lift it for teachers and classes too.
        public var allowMassChangesOf: Set<String>

        public init(preview: Bool = false, allowMassChanges: Bool = false, allowMassChangesOf: Set<String> = []) {
            self.preview = preview
            self.allowMassChanges = allowMassChanges
            self.allowMassChangesOf = allowMassChangesOf
        }
    }

    /// The entities whose removals the safety threshold weighs, as the change log names them.
    ///
    /// `co_teacher` is the co-teachers among the section teachers, weighed on their own: a feed
    /// that loses its co-teacher columns removes every one, which among all the pairs (one primary
    /// per section) can stay under the share. `student_login` is students who could log in and no
    /// longer can (their email gone or unusable): not a removal by the rules, but a shifted or
    /// renamed email column takes every student's login in one night, as an archive would.
    public static let shareEntities = [
        "school", "teacher", "student", "student_login", "section", "section_teacher", "co_teacher", "enrollment",
    ]

    /// Counts of changes per entity and action (`student` -> `archive` -> 3).
    public struct Summary: Sendable, Equatable {
        public var counts: [String: [String: Int]]

        public init(counts: [String: [String: Int]] = [:]) {
            self.counts = counts
        }

        public var total: Int { counts.values.reduce(0) { $0 + $1.values.reduce(0, +) } }

        public func count(_ entity: Entity, _ action: String) -> Int { counts[entity.rawValue]?[action] ?? 0 }
    }

    /// Why a run stopped at the safety threshold, per entity.
    public struct Violation: Sendable, Equatable, CustomStringConvertible {
        public var entity: String
        public var removals: Int
        public var active: Int
        public var limit: Double

        public var description: String {
            let share = active > 0 ? Double(removals) / Double(active) : 1
            let what =
                entity == "student_login"
                ? "active students who can log in would lose their login (their email gone or unusable)"
                : "active records would be suspended, archived or removed"
            return "\(entity): \(removals) of \(active) \(what) "
                + "(\(Int((share * 100).rounded()))%, limit \(Int((limit * 100).rounded()))%)"
        }
    }

    public enum Outcome: Sendable, Equatable {
        case applied(Summary)
        /// Nothing changed; `wouldBlock` lists where a sync of the same rows would stop.
        case previewed(Summary, wouldBlock: [Violation])
        case blocked(Summary, [Violation])
    }

    public var sql: SQLDirectory
    public var logger: Logger
    /// The longest a statement waits for a row someone else holds (an admin's open psql
    /// transaction). Past it the merge fails, and is retried, instead of hanging the nightly run,
    /// and its district lock, until the other session ends.
    public var lockTimeout: Duration = .seconds(600)
    /// Where to ask, over a new connection, whether a COMMIT whose answer was lost committed.
    public var database: DatabaseTarget?
    /// How long to keep asking while the server still reports the transaction in progress.
    public var commitCheckDeadline: Duration = .seconds(60)
    /// The backend of the run's main connection, which holds the district's lock. Checked just
    /// before COMMIT: a run whose main connection dropped (the lock with it) while its tasks went
    /// on must not commit alongside the run that may have taken the district since.
    public var lockHolder: LockHolder?

    /// A server process by its pid and start, as a pid alone may since be another's.
    public struct LockHolder: Sendable {
        public var pid: Int32
        public var backendStart: String

        public init(pid: Int32, backendStart: String) {
            self.pid = pid
            self.backendStart = backendStart
        }
    }

    /// Session settings for prepare and the merge.
    /// - `work_mem`: the hash joins over a district's rows fit in memory up to about a million
    ///   enrollments instead of spilling to disk in batches (the default is 4 MB).
    /// - `jit`: the merge's statements are estimated as expensive, which turns on JIT compilation,
    ///   and compiling cost more than it saved (470 of 520 ms in one filter step at 100,000
    ///   students, measured with auto_explain).
    static let fixedSettings = ["work_mem = '64MB'", "jit = off"]
    var settings: [String] {
        Self.fixedSettings + ["lock_timeout = '\(max(1, lockTimeout.components.seconds))s'"]
    }

    public init(sql: SQLDirectory, logger: Logger) {
        self.sql = sql
        self.logger = logger
    }

    /// Tells the SQL which run it works on (session settings read by `etl.current_run_id()` etc.).
    public static func bind(
        _ connection: PostgresConnection, runID: Int64, districtID: String, asOf: String, logger: Logger
    ) async throws {
        _ = try await connection.query(
            """
            SELECT set_config('rostersync.run_id', \(String(runID)), false),
                   set_config('rostersync.district_id', \(districtID), false),
                   set_config('rostersync.as_of', \(asOf), false)
            """, logger: logger
        ).collect()
    }

    /// Runs `sql/merge/00_prepare.sql`: resolves references, rejects what cannot load, applies
    /// filters, reports conflicts. Outside the merge transaction, so its findings stay.
    public func prepare(on connection: PostgresConnection) async throws {
        for setting in settings {
            try await connection.query(PostgresQuery(unsafeSQL: "SET \(setting)"), logger: logger)
        }
        try await run(try sql.mergeScript("00_prepare"), on: connection)
        for setting in settings {
            let name = setting.prefix(while: { $0 != " " })
            try await connection.query(PostgresQuery(unsafeSQL: "RESET \(name)"), logger: logger)
        }
    }

    /// The empty-feed guard: an entity with no loadable rows while the roster has active records
    /// of it. `--allow-mass-changes` never lifts it; only naming the entity in `allowed` does.
    public func emptyFeeds(on connection: PostgresConnection, allowed: Set<String> = []) async throws -> [String] {
        // Each roster count runs only when its feed has no loadable row: a healthy feed costs one
        // index probe per entity, not a count over a million rows.
        func check(_ entity: String, staging: String, active: String) -> String {
            """
            SELECT '\(entity)', (\(active))
            WHERE NOT EXISTS (SELECT 1 FROM staging.\(staging) WHERE run_id = etl.current_run_id() AND excluded IS NULL)
            """
        }
        let roster = "WHERE district_id = etl.current_district_id() AND source = 'clever' AND status = 'active'"
        let query = [
            check("schools", staging: "schools", active: "SELECT count(*) FROM roster.schools \(roster)"),
            check("teachers", staging: "teachers", active: "SELECT count(*) FROM roster.teachers \(roster)"),
            check("students", staging: "students", active: "SELECT count(*) FROM roster.students \(roster)"),
            check("sections", staging: "sections", active: "SELECT count(*) FROM roster.sections \(roster)"),
            check(
                "enrollments", staging: "enrollments",
                active: """
                    SELECT count(*) FROM roster.enrollments en JOIN roster.sections s ON s.id = en.section_id
                    WHERE s.district_id = etl.current_district_id() AND s.source = 'clever' AND s.status = 'active'
                    """),
        ].joined(separator: "\nUNION ALL\n")
        let rows = try await connection.query(
            PostgresQuery(unsafeSQL: "SELECT entity, active FROM (\(query)) e (entity, active) WHERE active > 0"),
            logger: logger)
        var problems: [String] = []
        for try await (entity, active) in rows.decode((String, Int).self) where !allowed.contains(entity) {
            problems.append("\(entity): the feed has no loadable rows but the roster has \(active) active \(entity)")
        }
        return problems
    }

    /// Runs every merge step in one transaction and commits only if the safety check passes and
    /// this is not a preview. `exportConnection` (a second connection) receives the computed
    /// changes into `staging.changes` when the run does not commit.
    ///
    /// REPEATABLE READ: every step reads the roster as it was when the merge began, plus the
    /// merge's own writes. A row someone else changes meanwhile and a step then writes fails the
    /// merge (serialization failure; nothing is applied, and the pipeline's retries run it again
    /// from the roster as it then is) instead of being overwritten, and the
    /// roster digest 09_finish records is exactly the merge's result (see migration 0008).
    ///
    /// When it throws, `connection` is closed.
    public func merge(
        on connection: PostgresConnection, exportConnection: PostgresConnection, runID: Int64, safety: Safety,
        options: Options
    ) async throws -> Outcome {
        let steps = try sql.mergeSteps()
        try await connection.query("BEGIN ISOLATION LEVEL REPEATABLE READ", logger: logger)
        do {
            for setting in settings {
                try await connection.query(PostgresQuery(unsafeSQL: "SET LOCAL \(setting)"), logger: logger)
            }
            // First, before any write: notes the roster tables with no Clever row of the district yet
            // (migration 0010).
            try await connection.runToCompletion("SELECT etl.begin_merge()", logger: logger)
            // The district's row, on its first sync (runs create it nowhere else: one refused or failed
            // before its merge leaves none), and rolled back with a preview's changes.
            try await connection.query(
                "INSERT INTO roster.districts (id, name) SELECT etl.current_district_id(), etl.current_district_id() ON CONFLICT (id) DO NOTHING",
                logger: logger)
            for step in steps {
                // A cancelled run (SIGINT, SIGTERM, a timeout) rolls back between steps.
                try Task.checkCancellation()
                logger.debug("merge step", metadata: ["etl.step": "\(step.name)"])
                try await run(step, on: connection)
            }
            let (summary, allRemovals) = try await summary(on: connection, runID: runID)
            let removals = allRemovals.filter { $0.value >= safety.minRemovalsToBlock }
            // The share's base is the roster before this run. The other connection still sees
            // exactly that (this transaction has not committed, and the district lock keeps other
            // runs out), so it is counted only when there is a removal count to weigh.
            var active: [String: Int] = [:]
            if !removals.isEmpty {
                let district = try await connection.query("SELECT etl.current_district_id()", logger: logger)
                    .collect().first?.decode(String.self) ?? ""
                // Idle since the merge began: a query on it, closed meanwhile, would never return.
                try exportConnection.ensureOpen(for: "counting the roster before the merge")
                active = try await activeCounts(on: exportConnection, district: district, of: Set(removals.keys))
            }
            var violations: [Violation] = []
            for (entity, removed) in removals.sorted(by: { $0.key < $1.key }) {
                let base = active[entity] ?? 0
                let share = base > 0 ? Double(removed) / Double(base) : 1
                if removed >= safety.minRemovalsToBlock && share > safety.maxRemovalShare {
                    violations.append(Violation(entity: entity, removals: removed, active: base, limit: safety.maxRemovalShare))
                }
            }
            let blocking = options.allowMassChanges ? [] : violations.filter { !options.allowMassChangesOf.contains($0.entity) }
            // A preview changes nothing, so it never stops: it says where a sync would. (Stopped,
            // it would be a blocked run that `approve` could apply.)
            if options.preview {
                try exportConnection.ensureOpen(for: "listing the changes (staging.changes)")
                try await exportChanges(from: connection, to: exportConnection, runID: runID)
                try await connection.query("ROLLBACK", logger: logger)
                return .previewed(summary, wouldBlock: blocking)
            }
            if !blocking.isEmpty {
                try exportConnection.ensureOpen(for: "listing the changes (staging.changes)")
                try await exportChanges(from: connection, to: exportConnection, runID: runID)
                try await connection.query("ROLLBACK", logger: logger)
                return .blocked(summary, blocking)
            }
            try Task.checkCancellation()
            try await checkLockHeld(on: connection)
            return try await commit(on: connection, runID: runID, summary: summary)
        } catch {
            // Closed rather than sent a ROLLBACK: the server rolls the transaction back either way,
            // and a ROLLBACK over a connection the network half-closed waited for ever (the test of
            // a lost COMMIT hung on it). The caller is done with this connection.
            try? await connection.close()
            if error is LoadError || error is CancellationError { throw error }
            throw LoadError(.query, "the merge failed and was rolled back; the roster is unchanged", cause: error)
        }
    }

    private func checkLockHeld(on connection: PostgresConnection) async throws {
        guard let lockHolder else { return }
        let rows = try await connection.query(
            """
            SELECT EXISTS (
                SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                WHERE l.locktype = 'advisory' AND l.granted AND l.pid = \(lockHolder.pid)
                  AND a.backend_start::text = \(lockHolder.backendStart)
                  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()))
            """, logger: logger)
        for try await held in rows.decode(Bool.self) where !held {
            throw LoadError(
                .locked,
                "the run's main connection to the database was lost, and the district's lock with it: another run "
                    + "may hold the district now. The merge was rolled back; the roster is unchanged. Sync again")
        }
    }

    /// COMMIT, and when its answer does not arrive (the connection lost on the way back), the
    /// server's own word on what became of the transaction, instead of "rolled back, the roster
    /// is unchanged", which may be false. Read before COMMIT: the transaction's id.
    private func commit(on connection: PostgresConnection, runID: Int64, summary: Summary) async throws -> Outcome {
        let transaction = try await connection.query("SELECT pg_current_xact_id()::text", logger: logger)
            .collect().first?.decode(String.self)
        do {
            try await connection.commit(logger: logger)
            return .applied(summary)
        } catch {
            // The server's own answer (ROLLBACK, or an error such as a deferred check failing) is
            // certain: the merge did not commit, and fails as any statement does.
            if error is LoadError || (error as? PSQLError)?.serverInfo != nil { throw error }
            // Closed first: a transaction that did not commit is then rolled back for certain.
            try? await connection.close()
            guard let transaction else { throw error }
            switch await transactionStatus(transaction) {
            case "committed":
                logger.warning(
                    "the merge's COMMIT got no answer, but the server committed it",
                    metadata: ["etl.run_id": "\(runID)", "error": "\(LoadError.describe(error))"])
                return .applied(summary)
            case "aborted":
                // Retriable: the merge runs again from the roster as it is.
                throw LoadError(
                    .unreachable, "the merge's COMMIT failed and the server rolled the merge back; the roster is unchanged",
                    cause: error)
            default:
                throw LoadError(
                    .commitUnknown,
                    "the connection was lost during the merge's COMMIT and the server could not be asked whether it "
                        + "committed. If it did, roster.change_log has this run's rows (SELECT count(*) FROM "
                        + "roster.change_log WHERE run_id = \(runID)). Syncing again is safe either way: a merge "
                        + "changes nothing already applied",
                    cause: error)
            }
        }
    }

    /// `pg_xact_status` of `transaction` over a new connection, asked again while the server still
    /// has it in progress (it has not yet seen the connection close), until `commitCheckDeadline`.
    /// Nil when there is no answer. In a task of its own: a run cancelled meanwhile (a timeout)
    /// still needs the answer, and a cancelled task's queries are cancelled.
    private func transactionStatus(_ transaction: String) async -> String? {
        guard let database else { return nil }
        let (logger, deadline) = (logger, ContinuousClock.now + commitCheckDeadline)
        return await Task { () async -> String? in
            await Self.poll(transaction, database: database, until: deadline, logger: logger)
        }.value
    }

    private static func poll(
        _ transaction: String, database: DatabaseTarget, until deadline: ContinuousClock.Instant, logger: Logger
    ) async -> String? {
        while ContinuousClock.now < deadline {
            if let status = try? await ask(transaction, database: database, until: deadline, logger: logger),
                status != "in progress"
            {
                return status
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
        return nil
    }

    /// One question, given up at `deadline`: the connection is closed under a query that has not
    /// answered by then (a network that drops packets rather than connections), which fails it.
    /// Connecting is bounded by the client's own connect timeout (10 s), not by `deadline`.
    private static func ask(
        _ transaction: String, database: DatabaseTarget, until deadline: ContinuousClock.Instant, logger: Logger
    ) async throws -> String? {
        try await database.withConnection(logger: logger) { connection in
            try await withThrowingTaskGroup(of: String?.self) { group in
                group.addTask {
                    try await connection.query("SELECT pg_xact_status(\(transaction)::xid8)", logger: logger)
                        .collect().first?.decode(String?.self)
                }
                group.addTask {
                    try await Task.sleep(until: deadline)
                    try? await connection.close()
                    return nil
                }
                let first = try await group.next() ?? nil
                group.cancelAll()
                return first
            }
        }
    }

    private func run(_ script: SQLScript, on connection: PostgresConnection) async throws {
        for (index, statement) in script.statements.enumerated() {
            // A cancellation that came between two statements found nothing running to cancel.
            try Task.checkCancellation()
            do {
                try await connection.runToCompletion(statement, logger: logger)
            } catch {
                throw LoadError(
                    .query, "sql/merge/\(script.name) statement \(index + 1) failed; the roster is unchanged",
                    cause: error)
            }
        }
    }

    /// Active Clever records per entity, for the removal share's base.
    private func activeCounts(
        on connection: PostgresConnection, district districtID: String, of entities: Set<String>
    ) async throws -> [String: Int] {
        // `connection` is not bound to the run: the district is a parameter. Memberships count in
        // active sections only: archived classes keep theirs for history, and counting them would
        // weaken the threshold a little more every semester.
        let roster = "WHERE district_id = $1 AND source = 'clever' AND status = 'active'"
        let queries: [String: String] = [
            "school": "SELECT count(*) FROM roster.schools \(roster)",
            "teacher": "SELECT count(*) FROM roster.teachers \(roster)",
            "student": "SELECT count(*) FROM roster.students \(roster)",
            "student_login": "SELECT count(*) FROM roster.students \(roster) AND can_login",
            "section": "SELECT count(*) FROM roster.sections \(roster)",
            "section_teacher": """
                SELECT count(*) FROM roster.section_teachers st JOIN roster.sections s ON s.id = st.section_id
                WHERE s.district_id = $1 AND s.source = 'clever' AND s.status = 'active'
                """,
            "co_teacher": """
                SELECT count(*) FROM roster.section_teachers st JOIN roster.sections s ON s.id = st.section_id
                WHERE s.district_id = $1 AND s.source = 'clever' AND s.status = 'active' AND NOT st.is_primary
                """,
            "enrollment": """
                SELECT count(*) FROM roster.enrollments en JOIN roster.sections s ON s.id = en.section_id
                WHERE s.district_id = $1 AND s.source = 'clever' AND s.status = 'active'
                """,
        ]
        var counts: [String: Int] = [:]
        for entity in entities.sorted() {
            guard let query = queries[entity] else { continue }
            var binds = PostgresBindings()
            binds.append(districtID)
            let rows = try await connection.query(PostgresQuery(unsafeSQL: query, binds: binds), logger: logger)
            for try await count in rows.decode(Int.self) { counts[entity] = count }
        }
        return counts
    }

    /// The run's changes per entity and action, and its suspensions, archives and removals per
    /// entity for the safety check: one pass over the change log (six million rows on a first
    /// sync of a million students). Sections archived because their term ended are the calendar,
    /// not a shrinking feed, and do not count as removals, unless this run set that end date or
    /// moved the section to that term (`term_changed`, 06_sections.sql). Nor do memberships an
    /// archived student leaves in sections archived before this run (`archived_section`,
    /// 08_enrollments.sql): the base counts members of active sections only.
    private func summary(on connection: PostgresConnection, runID: Int64) async throws -> (Summary, [String: Int]) {
        // A handful of groups, hashed. The change log's statistics predate this run's rows, so the
        // planner expects a few thousand and sorts them: on a first sync that is six and a half
        // million rows sorted on disk (1.4 s against 0.7 s at a million students).
        try await connection.query("SET LOCAL enable_sort = off", logger: logger)
        let rows = try await connection.query(
            """
            SELECT entity, action, count(*),
                   count(*) FILTER (WHERE action IN ('suspend', 'archive', 'remove')
                                      AND (coalesce(details ->> 'reason', '') <> 'term_ended'
                                           OR details ? 'term_changed')
                                      AND NOT coalesce(details ? 'archived_section', false)),
                   count(*) FILTER (WHERE entity = 'section_teacher' AND action = 'remove'
                                      AND details ->> 'is_primary' = 'false'),
                   count(*) FILTER (WHERE entity = 'student' AND action = 'update'
                                      AND details -> 'can_login' = '[true, false]'::jsonb)
            FROM roster.change_log WHERE run_id = \(runID) GROUP BY entity, action
            """, logger: logger)
        var summary = Summary()
        var removals: [String: Int] = [:]
        for try await (entity, action, count, removed, coTeachers, logins) in rows.decode(
            (String, String, Int, Int, Int, Int).self)
        {
            summary.counts[entity, default: [:]][action] = count
            if removed > 0 { removals[entity, default: 0] += removed }
            if coTeachers > 0 { removals["co_teacher", default: 0] += coTeachers }
            if logins > 0 { removals["student_login", default: 0] += logins }
        }
        try await connection.query("RESET enable_sort", logger: logger)
        return (summary, removals)
    }

    /// Streams the run's uncommitted change log into `staging.changes` over the second
    /// connection, with the names and grades a preview lists students by.
    private func exportChanges(from connection: PostgresConnection, to target: PostgresConnection, runID: Int64)
        async throws
    {
        try await target.query("DELETE FROM staging.changes WHERE run_id = \(runID)", logger: logger)
        let rows = try await connection.query(
            """
            SELECT c.entity, c.record_id, c.action,
                   (c.details || CASE WHEN s.id IS NULL THEN '{}'::jsonb ELSE jsonb_build_object(
                       'sis_id', s.sis_id, 'first_name', s.first_name, 'last_name', s.last_name,
                       'grade', s.grade, 'grade_rank', s.grade_rank) END)::text
            FROM roster.change_log c
            -- By the students' key, not by text: the run's change-log rows are not in the
            -- planner's statistics yet (a preview's are never committed), so it expects one and
            -- loops over the students for each; joined on s.id, each loop is an index probe.
            LEFT JOIN roster.students s
                   ON s.id = CASE WHEN c.entity = 'student' THEN c.record_id::bigint END
            WHERE c.run_id = \(runID)
            """, logger: logger)
        try await target.copyFrom(
            table: "changes", columns: ["run_id", "entity", "record_id", "action", "details"], logger: logger
        ) { writer in
            var encoder = CopyEncoder(capacity: 1 << 16)
            for try await (entity, recordID, action, details) in rows.decode((String, String, String, String).self) {
                encoder.field(runID)
                encoder.field(entity)
                encoder.field(recordID)
                encoder.field(action)
                encoder.field(details)
                encoder.endRow()
                if encoder.buffer.readableBytes >= 1 << 16 {
                    try await writer.write(encoder.buffer)
                    encoder.buffer.clear()
                }
            }
            if encoder.buffer.readableBytes > 0 { try await writer.write(encoder.buffer) }
        }
    }

    /// Deletes the staged rows of all but the newest `keep` runs of a district that staged rows.
    /// Unchanged nights stage nothing and do not count: the run they name keeps its rows. The last
    /// applied run keeps its rows too, whatever its age.
    public static func pruneStaging(
        on connection: PostgresConnection, districtID: String, keep: Int, logger: Logger
    ) async throws {
        for table in [
            "schools", "terms", "teachers", "students", "sections", "section_teachers", "enrollments", "rejects",
            "changes",
        ] {
            try await connection.query(
                PostgresQuery(
                    unsafeSQL: """
                        DELETE FROM staging.\(table) WHERE run_id IN (
                            SELECT id FROM etl.runs WHERE district_id = $1 AND NOT counts ? 'unchanged_since'
                            ORDER BY id DESC OFFSET $2)
                          -- The district's last applied run stays, however many previews and
                          -- failed runs came since: the next night's checks read what it kept
                          -- (prepare's one-night grace, TaskExecutor's known unreadable rows).
                          AND run_id IS DISTINCT FROM (
                              SELECT coalesce((r.counts ->> 'unchanged_since')::bigint, r.id) FROM etl.runs r
                              WHERE r.district_id = $1 AND r.status = 'succeeded' AND r.mode <> 'preview'
                              ORDER BY r.id DESC LIMIT 1)
                        """, binds: try binds(districtID, keep)), logger: logger)
        }
    }

    private static func binds(_ districtID: String, _ keep: Int) throws -> PostgresBindings {
        var bindings = PostgresBindings()
        bindings.append(districtID)
        bindings.append(keep)
        return bindings
    }
}
