import Foundation
import Logging
import PostgresLoad
import PostgresNIO
import RosterModel
import RosterSync

/// Prints a run's outcome for a person: changes per entity, rejections, and for a preview the
/// students by grade level, then by name.
struct ReportPrinter {
    var database: DatabaseTarget
    var logger: Logger

    func print(_ report: SyncReport, previewLimit: Int) async throws {
        let run = report.runID.map { "run \($0)" } ?? "run"
        Swift.print("\(run), district \(report.districtID): \(report.status.rawValue)")
        Swift.print(report.message)
        let entities = ["school", "term", "teacher", "student", "section", "section_teacher", "enrollment"]
        let actions = ["create", "update", "suspend", "reactivate", "archive", "restore", "remove"]
        if !report.summary.counts.isEmpty {
            Swift.print("")
            Swift.print("entity".padding(toLength: 17, withPad: " ", startingAt: 0)
                + actions.map { $0.leftPadded(11) }.joined())
            for entity in entities {
                let row = actions.map { report.summary.counts[entity]?[$0] ?? 0 }
                Swift.print(entity.padding(toLength: 17, withPad: " ", startingAt: 0)
                    + row.map { String($0).leftPadded(11) }.joined())
            }
        }
        if !report.rejections.isEmpty {
            Swift.print("")
            let runNote = report.rejectionsRunID.map { ", run_id \($0)" } ?? ""
            Swift.print("Quarantined rows and warnings (staging.rejects\(runNote)):")
            for item in report.rejections {
                Swift.print("  \(item.entity) \(item.reason) (\(item.severity)): \(item.count)")
            }
        }
        guard let runID = report.runID else { return }
        if Self.listsStudents(report.status, terminal: isatty(STDOUT_FILENO) != 0) {
            try await printStudents(runID: runID, limit: previewLimit)
        } else if report.status == .blocked {
            Swift.print(
                """

                The changes it would make are in staging.changes (names are not written to logs):
                  SELECT entity, action, count(*) FROM staging.changes WHERE run_id = \(runID) GROUP BY 1, 2;
                  SELECT action, details FROM staging.changes WHERE run_id = \(runID) AND entity = 'student';
                """)
        }
    }

    /// Students are listed by name for a preview (asked for) and for a stopped run on a terminal
    /// (someone is reviewing it). A stopped nightly run's output goes to cron's log file, which
    /// should not collect children's names.
    static func listsStudents(_ status: SyncReport.Status, terminal: Bool) -> Bool {
        status == .previewed || (status == .blocked && terminal)
    }

    private func printStudents(runID: Int64, limit: Int) async throws {
        for line in try await studentLines(runID: runID, limit: limit) { Swift.print(line) }
    }

    /// Students the run would change, by grade rank (pre-K before K before 1 ... 12), then name,
    /// as the preview prints them: at most `limit`.
    func studentLines(runID: Int64, limit: Int) async throws -> [String] {
        try await database.withConnection(logger: logger) { connection in
            let rows = try await connection.query(
                """
                SELECT action, coalesce(details ->> 'grade', ''), (details ->> 'grade_rank')::int,
                       coalesce(details ->> 'last_name', ''), coalesce(details ->> 'first_name', ''),
                       coalesce(details ->> 'sis_id', record_id)
                FROM staging.changes
                WHERE run_id = \(runID) AND entity = 'student'
                ORDER BY (details ->> 'grade_rank')::int NULLS LAST, details ->> 'last_name', details ->> 'first_name'
                LIMIT \(limit + 1)
                """, logger: logger)
            var lines: [String] = []
            var current: Int?? = .none
            var shown = 0
            for try await (action, grade, rank, last, first, sis) in rows.decode(
                (String, String, Int?, String, String, String).self)
            {
                if shown == 0 { lines += ["", "Students, by grade level, then name:"] }
                if shown == limit {
                    lines.append("  ... (more in staging.changes, run_id \(runID))")
                    break
                }
                if current != .some(rank) {
                    let label = rank.flatMap(Grade.init(rank:))?.label ?? (grade.isEmpty ? "No grade" : grade)
                    lines.append("  \(label)")
                    current = .some(rank)
                }
                lines.append("    \(action.padding(toLength: 9, withPad: " ", startingAt: 0)) \(last), \(first) (\(sis))")
                shown += 1
            }
            return lines
        }
    }
}

/// The psql command for a database target.
func psqlCommand(_ target: DatabaseTarget) -> String {
    if let socket = target.configuration.unixSocketPath {
        let directory = (socket as NSString).deletingLastPathComponent
        return "psql -h \(directory) -U \(target.configuration.username) \(target.configuration.database ?? "")"
    }
    // The description masks a password as "***", which psql would send as the password: the
    // command is given without one, for psql to ask or take from PGPASSWORD or ~/.pgpass.
    guard target.configuration.password != nil, var url = URLComponents(string: target.description) else {
        return "psql \"\(target.description)\""
    }
    url.password = nil
    return "psql \"\(url.string ?? target.description)\"  # the password: psql asks, or set PGPASSWORD"
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? " " + self : String(repeating: " ", count: width - count) + self
    }
}
