public import Foundation
public import Logging
public import PostgresNIO

/// `etl.runs` and `etl.task_runs`: what ran, when, how it ended. Written as runs and tasks start
/// and end, outside the merge transaction, so a failed run is recorded as failed.
public struct RunLedger: Sendable {
    public enum Status: String, Sendable {
        case running, succeeded, failed, blocked, skipped, cancelled
    }

    /// A run as the ledger has it.
    public struct Run: Sendable {
        public var id: Int64
        public var pipeline: String
        public var districtID: String
        public var mode: String
        public var asOf: String
        public var status: String
        public var message: String?
        public var counts: String
        public var startedAt: Date
        public var finishedAt: Date?
    }

    public var connection: PostgresConnection
    public var logger: Logger

    public init(connection: PostgresConnection, logger: Logger) {
        self.connection = connection
        self.logger = logger
    }

    public func start(
        pipeline: String, districtID: String, mode: String, asOf: String, source: String, options: String
    ) async throws -> Int64 {
        try connection.ensureOpen(for: "the run ledger (etl.runs)")
        let rows = try await connection.query(
            """
            INSERT INTO etl.runs (pipeline, district_id, mode, as_of, source, options)
            VALUES (\(pipeline), \(districtID), \(mode), \(asOf)::date, \(source), \(options)::jsonb)
            RETURNING id
            """, logger: logger)
        for try await id in rows.decode(Int64.self) { return id }
        throw LoadError(.query, "etl.runs did not return an id")
    }

    public func finish(_ runID: Int64, status: Status, counts: String = "{}", message: String? = nil, error: String? = nil)
        async throws
    {
        try connection.ensureOpen(for: "the run ledger (etl.runs)")
        try await connection.query(
            """
            UPDATE etl.runs SET status = \(status.rawValue), counts = counts || \(counts)::jsonb,
                   message = \(message), error = \(error), finished_at = now()
            WHERE id = \(runID)
            """, logger: logger)
    }

    /// Records a task's attempt as running; returns its row and its attempt number, counted over
    /// the run's whole life (a resumed run's merge is attempt 2 after the failed attempt 1).
    public func taskStarted(_ runID: Int64, task: String) async throws -> (id: Int64, attempt: Int) {
        try await insertTask(runID, task: task, status: .running, error: nil)
    }

    /// Records a task the run did not start: a task it needs failed, or the run was cancelled.
    public func taskSkipped(_ runID: Int64, task: String, reason: String) async throws {
        _ = try await insertTask(runID, task: task, status: .skipped, error: reason)
    }

    private func insertTask(_ runID: Int64, task: String, status: Status, error: String?) async throws -> (id: Int64, attempt: Int) {
        try connection.ensureOpen(for: "the run ledger (etl.runs)")
        let rows = try await connection.query(
            """
            INSERT INTO etl.task_runs (run_id, task, attempt, status, error, finished_at)
            SELECT \(runID), \(task), coalesce(max(attempt), 0) + 1, \(status.rawValue), \(error),
                   CASE WHEN \(status.rawValue) = 'running' THEN NULL ELSE now() END
            FROM etl.task_runs WHERE run_id = \(runID) AND task = \(task)
            RETURNING id, attempt
            """, logger: logger)
        for try await (id, attempt) in rows.decode((Int64, Int).self) { return (id, attempt) }
        throw LoadError(.query, "etl.task_runs did not return an id")
    }

    public func taskFinished(_ taskRunID: Int64, status: Status, rowsIn: Int? = nil, rowsOut: Int? = nil, error: String? = nil)
        async throws
    {
        try connection.ensureOpen(for: "the run ledger (etl.runs)")
        try await connection.query(
            """
            UPDATE etl.task_runs SET status = \(status.rawValue), rows_in = \(rowsIn), rows_out = \(rowsOut),
                   error = \(error), finished_at = now()
            WHERE id = \(taskRunID)
            """, logger: logger)
    }

    /// What an abandoned run and its unfinished task are marked with.
    public static let abandonedMessage =
        "ended without recording an outcome: the process was killed, or its machine or the database restarted. "
        + "Its staged rows stand, and roster.change_log shows whether its merge committed; resume it, or sync again"

    /// Marks the district's runs still `running`, and their running tasks, failed; returns their
    /// ids. Call it holding the district's lock: every run holds that lock until it records its
    /// outcome, so these are runs whose process died (SIGKILL, a reboot) without recording one.
    /// Left `running`, resume would refuse them and approve would count them as newer runs.
    public func failAbandoned(districtID: String) async throws -> [Int64] {
        let message = Self.abandonedMessage
        try connection.ensureOpen(for: "the run ledger (etl.runs)")
        let rows = try await connection.query(
            """
            WITH abandoned AS (
                UPDATE etl.runs SET status = 'failed', message = \(message), finished_at = now()
                WHERE district_id = \(districtID) AND status = 'running'
                RETURNING id
            ), tasks AS (
                UPDATE etl.task_runs SET status = 'failed', error = \(message), finished_at = now()
                WHERE status = 'running' AND run_id IN (SELECT id FROM abandoned)
            )
            SELECT id FROM abandoned ORDER BY id
            """, logger: logger)
        var ids: [Int64] = []
        for try await id in rows.decode(Int64.self) { ids.append(id) }
        return ids
    }

    public func run(_ runID: Int64) async throws -> Run? {
        try await runs(id: runID, districtID: nil, limit: 1).first
    }

    /// The most recent runs, newest first, optionally of one district.
    public func recent(districtID: String?, limit: Int) async throws -> [Run] {
        try await runs(id: nil, districtID: districtID, limit: limit)
    }

    private func runs(id: Int64?, districtID: String?, limit: Int) async throws -> [Run] {
        try connection.ensureOpen(for: "the run ledger (etl.runs)")
        let rows = try await connection.query(
            """
            SELECT id, pipeline, district_id, mode, as_of::text, status, message, counts::text, started_at, finished_at
            FROM etl.runs
            WHERE (\(id)::bigint IS NULL OR id = \(id)) AND (\(districtID)::text IS NULL OR district_id = \(districtID))
            ORDER BY id DESC LIMIT \(limit)
            """, logger: logger)
        var result: [Run] = []
        for try await (id, pipeline, district, mode, asOf, status, message, counts, startedAt, finishedAt) in rows.decode(
            (Int64, String, String, String, String, String, String?, String, Date, Date?).self)
        {
            result.append(
                Run(
                    id: id, pipeline: pipeline, districtID: district, mode: mode, asOf: asOf, status: status,
                    message: message, counts: counts, startedAt: startedAt, finishedAt: finishedAt))
        }
        return result
    }
}
