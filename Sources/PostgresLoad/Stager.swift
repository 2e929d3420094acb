public import Logging
public import PostgresNIO
public import RosterModel
import NIOCore

/// Copies a run's transformed records into the `staging` tables with COPY, tagged with the
/// run id, streaming: a batch is encoded and sent while the next one is extracted.
public struct Stager: Sendable {
    /// What one feed staged.
    public struct Counts: Sendable, Equatable {
        public var rows: Int = 0
        public var rejected: Int = 0
        public var warnings: Int = 0
    }

    public var runID: Int64
    public var logger: Logger
    /// Rows between two `staging` progress lines at info level.
    public var progressInterval: Int

    public init(runID: Int64, logger: Logger, progressInterval: Int = 100_000) {
        self.runID = runID
        self.logger = logger
        self.progressInterval = max(1, progressInterval)
    }

    /// Prepares a connection for staging: COPY takes an unqualified table name.
    public static func prepare(_ connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("SET search_path TO staging, public", logger: logger)
    }

    /// Stages one feed. Records go to the entity's staging table over `rows`; rejections to
    /// `staging.rejects` over `rejects`, at the same time (one connection can run one COPY).
    /// Both connections must have been through ``prepare(_:logger:)``.
    public func stage<Batches: AsyncSequence & Sendable>(
        _ entity: Entity, batches: Batches, rows: PostgresConnection, rejects: PostgresConnection
    ) async throws -> Counts where Batches.Element == ([Record], [Rejection]) {
        let table = try Self.table(for: entity)
        let (rejectStream, rejectSink) = AsyncStream<[Rejection]>.makeStream()
        let runID = runID
        let logger = logger
        let progressInterval = progressInterval
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await Self.copyRejections(rejectStream, runID: runID, on: rejects, logger: logger)
            }
            var counts = Counts()
            do {
                try await rows.copyFrom(table: table.name, columns: table.columns, logger: logger) { writer in
                    var encoder = CopyEncoder()
                    var seq: Int64 = 0
                    var reported = 0
                    for try await (records, rejections) in batches {
                        for record in records {
                            Self.encode(record, runID: runID, seq: &seq, into: &encoder)
                            counts.rows += 1
                        }
                        if !rejections.isEmpty {
                            for rejection in rejections {
                                if rejection.severity == .rejected { counts.rejected += 1 } else { counts.warnings += 1 }
                            }
                            rejectSink.yield(rejections)
                        }
                        if encoder.buffer.readableBytes >= 1 << 17 {
                            try await writer.write(encoder.buffer)
                            encoder.buffer.clear()
                        }
                        // Progress for a person watching a long run (and a heartbeat in JSON logs).
                        if counts.rows / progressInterval > reported {
                            reported = counts.rows / progressInterval
                            logger.info(
                                "staging", metadata: ["db.table": "staging.\(table.name)", "etl.rows": "\(counts.rows)"])
                        }
                    }
                    if encoder.buffer.readableBytes > 0 { try await writer.write(encoder.buffer) }
                    // A cancelled consumer sees `batches` end (channels and buffers end rather than
                    // throw): a feed cut short by SIGTERM or a timeout must not commit as whole.
                    try Task.checkCancellation()
                }
            } catch {
                // Cancelled first, so the rejections' COPY, seeing its stream end, does not commit
                // the part of them read so far as the failed feed's rejections.
                group.cancelAll()
                rejectSink.finish()
                throw error
            }
            rejectSink.finish()
            try await group.waitForAll()
            logger.debug(
                "staged", metadata: ["db.table": "staging.\(table.name)", "etl.rows": "\(counts.rows)"])
            return counts
        }
    }

    /// Writes rejections found outside a feed's stream (checks before staging, guards).
    public static func writeRejections(
        _ rejections: [Rejection], runID: Int64, on connection: PostgresConnection, logger: Logger
    ) async throws {
        guard !rejections.isEmpty else { return }
        try await copyRejections(AsyncStream { continuation in
            continuation.yield(rejections)
            continuation.finish()
        }, runID: runID, on: connection, logger: logger)
    }

    private static func copyRejections(
        _ stream: AsyncStream<[Rejection]>, runID: Int64, on connection: PostgresConnection, logger: Logger
    ) async throws {
        try await connection.copyFrom(
            table: "rejects", columns: ["run_id", "entity", "source_ref", "record_key", "reason", "severity", "detail", "alternate_key"],
            logger: logger
        ) { writer in
            var encoder = CopyEncoder(capacity: 1 << 14)
            for await rejections in stream {
                for rejection in rejections {
                    encoder.field(runID)
                    encoder.field(rejection.entity.rawValue)
                    encoder.field(rejection.source.description)
                    encoder.field(rejection.recordKey)
                    encoder.field(rejection.reason.rawValue)
                    encoder.field(rejection.severity.rawValue)
                    encoder.field(rejection.detail)
                    encoder.field(rejection.alternateKey)
                    encoder.endRow()
                }
                if encoder.buffer.readableBytes >= 1 << 16 {
                    try await writer.write(encoder.buffer)
                    encoder.buffer.clear()
                }
            }
            if encoder.buffer.readableBytes > 0 { try await writer.write(encoder.buffer) }
            // As for the rows: a stream ended by cancellation is not the end of the rejections.
            try Task.checkCancellation()
        }
    }

    // MARK: - Tables

    struct Table {
        var name: String
        var columns: [String]
    }

    static func table(for entity: Entity) throws -> Table {
        let common = ["run_id", "seq", "source_ref"]
        switch entity {
        case .school:
            return Table(
                name: "schools",
                columns: common + ["sis_id", "clever_id", "name", "school_number", "state_id", "low_grade", "high_grade"])
        case .term:
            return Table(name: "terms", columns: common + ["sis_id", "clever_id", "name", "start_date", "end_date"])
        case .teacher:
            return Table(
                name: "teachers",
                columns: common + [
                    "sis_id", "clever_id", "school_sis_id", "school_clever_id", "email", "first_name", "middle_name",
                    "last_name", "title", "teacher_number", "state_id",
                ])
        case .student:
            return Table(
                name: "students",
                columns: common + [
                    "sis_id", "clever_id", "school_sis_id", "school_clever_id", "email", "first_name", "middle_name",
                    "last_name", "grade", "grade_rank", "dob", "student_number", "state_id", "can_login",
                ])
        case .section:
            return Table(
                name: "sections",
                columns: common + [
                    "sis_id", "clever_id", "school_sis_id", "school_clever_id", "term_sis_id", "term_clever_id", "name",
                    "section_number", "grade", "subject", "course_name", "course_number", "period", "teacher_sis_ids",
                    "teacher_clever_ids",
                ])
        case .enrollment:
            return Table(
                name: "enrollments",
                columns: common + ["section_sis_id", "section_clever_id", "student_sis_id", "student_clever_id"])
        case .district, .sectionTeacher, .admin:
            throw LoadError(.query, "\(entity.rawValue) records are not staged from a feed")
        }
    }

    private static func begin(_ runID: Int64, _ seq: inout Int64, _ source: SourceRef, _ encoder: inout CopyEncoder) {
        seq += 1
        encoder.field(runID)
        encoder.field(seq)
        encoder.field(source.description)
    }

    static func encode(_ record: Record, runID: Int64, seq: inout Int64, into encoder: inout CopyEncoder) {
        switch record {
        case .school(let r):
            begin(runID, &seq, r.source, &encoder)
            encoder.field(r.sisID)
            encoder.field(r.cleverID)
            encoder.field(r.name)
            encoder.field(r.schoolNumber)
            encoder.field(r.stateID)
            encoder.field(r.lowGrade)
            encoder.field(r.highGrade)
            encoder.endRow()
        case .term(let r):
            begin(runID, &seq, r.source, &encoder)
            encoder.field(r.sisID)
            encoder.field(r.cleverID)
            encoder.field(r.name)
            encoder.field(r.startDate)
            encoder.field(r.endDate)
            encoder.endRow()
        case .teacher(let r):
            // A teacher at several schools: one row per school, primary first (CSV's own shape).
            for school in [r.school] + r.otherSchools {
                begin(runID, &seq, r.source, &encoder)
                encoder.field(r.sisID)
                encoder.field(r.cleverID)
                encoder.field(school.sisID)
                encoder.field(school.cleverID)
                encoder.field(r.email)
                encoder.field(r.firstName)
                encoder.field(r.middleName)
                encoder.field(r.lastName)
                encoder.field(r.title)
                encoder.field(r.teacherNumber)
                encoder.field(r.stateID)
                encoder.endRow()
            }
        case .student(let r):
            begin(runID, &seq, r.source, &encoder)
            encoder.field(r.sisID)
            encoder.field(r.cleverID)
            encoder.field(r.school.sisID)
            encoder.field(r.school.cleverID)
            encoder.field(r.email)
            encoder.field(r.firstName)
            encoder.field(r.middleName)
            encoder.field(r.lastName)
            encoder.field(r.grade)
            encoder.field(r.gradeRank)
            encoder.field(r.dateOfBirth)
            encoder.field(r.studentNumber)
            encoder.field(r.stateID)
            encoder.field(r.canLogin)
            encoder.endRow()
        case .section(let r):
            begin(runID, &seq, r.source, &encoder)
            encoder.field(r.sisID)
            encoder.field(r.cleverID)
            encoder.field(r.school.sisID)
            encoder.field(r.school.cleverID)
            encoder.field(r.term.sisID)
            encoder.field(r.term.cleverID)
            encoder.field(r.name)
            encoder.field(r.sectionNumber)
            encoder.field(r.grade)
            encoder.field(r.subject)
            encoder.field(r.courseName)
            encoder.field(r.courseNumber)
            encoder.field(r.period)
            encoder.arrayField(r.teachers.map(\.sisID))
            encoder.arrayField(r.teachers.map(\.cleverID))
            encoder.endRow()
        case .enrollment(let r):
            begin(runID, &seq, r.source, &encoder)
            encoder.field(r.section.sisID)
            encoder.field(r.section.cleverID)
            encoder.field(r.student.sisID)
            encoder.field(r.student.cleverID)
            encoder.endRow()
        }
    }
}
