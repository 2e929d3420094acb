import ArgumentParser
import Foundation
import PostgresLoad
import PostgresNIO

/// `rostersync explain student ID|EMAIL`: "why is this student missing?", answered from the data.
struct ExplainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Explain a student: in the feed? rejected and why? loaded? in which sections? archived when and why?")

    enum Kind: String, ExpressibleByArgument, CaseIterable { case student }

    @OptionGroup var global: GlobalOptions
    @Argument(help: "What to explain (student).") var kind: Kind
    @Argument(help: "A SIS id or an email.") var key: String
    @Option(help: "The district (default: every district).") var district: String?

    func run() async throws {
        let logger = global.logger()
        let database = try await global.database(logger: logger)
        let sql = try global.sqlDirectory()
        try await database.withConnection(logger: logger) { connection in
            try await Migrator(directory: sql).migrate(on: connection, logger: logger)
            let key = self.key
            let district = self.district
            // The latest run that staged students, per district.
            let runs = try await connection.query(
                """
                SELECT r.district_id, max(r.id), d.last_successful_sync_at::text
                FROM etl.runs r JOIN roster.districts d ON d.id = r.district_id
                WHERE (\(district)::text IS NULL OR r.district_id = \(district))
                  AND EXISTS (SELECT 1 FROM staging.students s WHERE s.run_id = r.id)
                GROUP BY r.district_id, d.last_successful_sync_at
                """, logger: logger)
            var latest: [(String, Int64, String?)] = []
            for try await row in runs.decode((String, Int64, String?).self) { latest.append(row) }
            if latest.isEmpty { print("No staged run found\(district.map { " for district \($0)" } ?? "").") }
            // The roster first: a district is shown when its feed or its roster knows the key (or
            // it was asked for), not once per district with "no" in every line.
            let roster = try await connection.query(
                """
                SELECT s.id, s.district_id, s.sis_id, s.status, coalesce(s.status_reason, ''), coalesce(s.archived_at::text, ''),
                       s.can_login, coalesce(s.email, ''), coalesce(s.grade, ''), s.source
                FROM roster.students s
                WHERE (s.sis_id = \(key) OR lower(s.email) = lower(\(key)))
                  AND (\(district)::text IS NULL OR s.district_id = \(district))
                """, logger: logger)
            var students: [(id: Int64, district: String, line: String)] = []
            for try await (id, districtID, sis, status, reason, archivedAt, canLogin, email, grade, source) in roster.decode(
                (Int64, String, String?, String, String, String, Bool, String, String, String).self)
            {
                students.append((id, districtID, "Roster: student \(id) (\(source), district \(districtID), SIS id \(sis ?? "-")): \(status)"
                    + (reason.isEmpty ? "" : " (\(reason)\(archivedAt.isEmpty ? "" : " since \(archivedAt)"))")
                    + ", grade '\(grade)', email '\(email)', can_login \(canLogin)"))
            }
            var shown = 0
            for (districtID, runID, lastSync) in latest {
                let staged = try await connection.query(
                    """
                    SELECT sis_id, source_ref, coalesce(email, ''), coalesce(excluded, ''), coalesce(grade, '')
                    FROM staging.students WHERE run_id = \(runID) AND (sis_id = \(key) OR lower(email) = lower(\(key)))
                    """, logger: logger)
                var feedLines: [String] = []
                for try await (sis, ref, email, excluded, grade) in staged.decode((String, String, String, String, String).self) {
                    feedLines.append("  In the feed: \(sis) at \(ref), email '\(email)', grade '\(grade)'"
                        + (excluded.isEmpty ? ", loaded" : ", NOT loaded: \(excluded)"))
                }
                let rejects = try await connection.query(
                    """
                    SELECT entity, reason, severity, coalesce(detail, ''), coalesce(source_ref, '') FROM staging.rejects
                    WHERE run_id = \(runID) AND (record_key = \(key) OR record_key LIKE '%/' || \(key) OR detail ILIKE '%' || \(key) || '%')
                    """, logger: logger)
                var rejectLines: [String] = []
                for try await (entity, reason, severity, detail, ref) in rejects.decode((String, String, String, String, String).self) {
                    rejectLines.append("  \(severity == "rejected" ? "Rejected" : "Warning") (\(entity), \(ref)): \(reason): \(detail)")
                }
                let inRoster = students.contains { $0.district == districtID }
                guard !feedLines.isEmpty || !rejectLines.isEmpty || inRoster || district != nil else { continue }
                shown += 1
                print("District \(districtID): last successful sync \(lastSync ?? "never"); latest staged run \(runID)")
                for line in feedLines.isEmpty ? ["  In the feed: no (not in students of run \(runID))"] : feedLines {
                    print(line)
                }
                for line in rejectLines { print(line) }
                let enrollments = try await connection.query(
                    """
                    SELECT e.section_sis_id, coalesce(e.excluded, '') FROM staging.enrollments e
                    JOIN staging.students s ON s.run_id = e.run_id AND s.sis_id = e.student_sis_id
                    WHERE e.run_id = \(runID) AND (s.sis_id = \(key) OR lower(s.email) = lower(\(key)))
                    """, logger: logger)
                var feedSections: [String] = []
                for try await (section, excluded) in enrollments.decode((String, String).self) {
                    feedSections.append(excluded.isEmpty ? section : "\(section) (not loaded: \(excluded))")
                }
                print("  Sections in the feed: \(feedSections.isEmpty ? "none" : feedSections.joined(separator: ", "))")
            }
            if students.isEmpty && shown == 0 {
                print("No student with SIS id or email '\(key)' in \(district.map { "district \($0)" } ?? "any district")'s "
                    + "latest feed, its rejects or the roster.")
                throw ExitCode(1)
            }
            if students.isEmpty && shown > 0 { print("Roster: no student with SIS id or email '\(key)'") }
            // Each student's line, then its sections and history (several districts may know the key).
            for (id, _, line) in students {
                print(line)
                let sections = try await connection.query(
                    """
                    SELECT sec.sis_id, coalesce(sec.name, ''), sec.status, e.source FROM roster.enrollments e
                    JOIN roster.sections sec ON sec.id = e.section_id WHERE e.student_id = \(id) ORDER BY sec.name
                    """, logger: logger)
                var names: [String] = []
                for try await (sis, name, status, source) in sections.decode((String?, String, String, String).self) {
                    names.append("\(name) [\(sis ?? "manual")] \(status), \(source)")
                }
                print("  Sections in the roster: \(names.isEmpty ? "none" : names.joined(separator: "; "))")
                let history = try await connection.query(
                    """
                    SELECT c.at::text, c.run_id, c.action, c.details::text FROM roster.change_log c
                    WHERE c.entity = 'student' AND c.record_id = \(String(id)) ORDER BY c.id DESC LIMIT 10
                    """, logger: logger)
                for try await (at, run, action, details) in history.decode((String, Int64, String, String).self) {
                    print("  \(at) run \(run): \(action) \(details)")
                }
            }
        }
    }
}
