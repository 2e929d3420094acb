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
        let (lines, found) = try await database.withConnection(logger: logger) { connection in
            try await Migrator(directory: sql).migrate(on: connection, logger: logger)
            return try await Self.explain(key: key, district: district, on: connection, logger: logger)
        }
        for line in lines { print(line) }
        if !found { throw ExitCode(1) }
    }

    /// The answer's lines, and whether anything knew the key (else exit 1, as grep does).
    static func explain(key: String, district: String?, on connection: PostgresConnection, logger: Logger) async throws
        -> (lines: [String], found: Bool)
    {
        var out: [String] = []
        // The latest run that staged students, per district, with its outcome: the feed it read
        // may be a preview's or a stopped run's, and the reader must know which.
        let runs = try await connection.query(
            """
            SELECT DISTINCT ON (r.district_id) r.district_id, r.id, d.last_successful_sync_at::text, r.status, r.mode
            FROM etl.runs r LEFT JOIN roster.districts d ON d.id = r.district_id  -- none until a first sync applies
            WHERE (\(district)::text IS NULL OR r.district_id = \(district))
              AND EXISTS (SELECT 1 FROM staging.students s WHERE s.run_id = r.id)
            ORDER BY r.district_id, r.id DESC
            """, logger: logger)
        var latest: [(String, Int64, String?, String)] = []
        for try await (districtID, runID, lastSync, status, mode) in runs.decode((String, Int64, String?, String, String).self) {
            latest.append((districtID, runID, lastSync, "\(mode), \(status)"))
        }
        if latest.isEmpty { out.append("No staged run found\(district.map { " for district \($0)" } ?? "").") }
        // Rejects name the key exactly: as a student's or an enrollment's key, or in a student
        // reject's text as a whole word (a probable SIS id change names the old id there) or as
        // the quoted email a warning begins with (an invalid email is not stored as one). LIKE's
        // wildcards in the key are taken literally.
        let pattern = key.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
            .replacingOccurrences(of: "_", with: "\\_")
        // An email that failed validation is stored nowhere but in its warning, which names the
        // student's SIS id: the students the key names so, per district, in its latest staged run.
        let quoted = try await connection.query(
            """
            SELECT r.district_id, j.record_key FROM staging.rejects j JOIN etl.runs r ON r.id = j.run_id
            WHERE j.run_id = ANY(\(latest.map(\.1))) AND j.entity = 'student' AND j.reason = 'invalid_email'
              AND j.record_key IS NOT NULL AND j.detail ILIKE 'email ''' || \(pattern) || ''' %'
            """, logger: logger)
        var invalidEmailOf: [String: [String]] = [:]
        for try await (districtID, sis) in quoted.decode((String, String).self) { invalidEmailOf[districtID, default: []].append(sis) }
        let quotedPairs = invalidEmailOf.flatMap { districtID, ids in ids.map { (districtID, $0) } }
        // The roster first: a district is shown when its feed or its roster knows the key (or
        // it was asked for), not once per district with "no" in every line.
        let roster = try await connection.query(
            """
            SELECT s.id, s.district_id, s.sis_id, s.status, coalesce(s.status_reason, ''), coalesce(s.archived_at::text, ''),
                   s.can_login, coalesce(s.email, ''), coalesce(s.grade, ''), s.source
            FROM roster.students s
            WHERE (s.sis_id = \(key) OR lower(s.email) = lower(\(key))
                   OR (s.district_id, s.sis_id) IN (
                       SELECT * FROM unnest(\(quotedPairs.map(\.0))::text[], \(quotedPairs.map(\.1))::text[])))
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
        for (districtID, runID, lastSync, outcome) in latest {
            let quotedHere = invalidEmailOf[districtID] ?? []
            let staged = try await connection.query(
                """
                SELECT sis_id, source_ref, coalesce(email, ''), coalesce(excluded, ''), coalesce(grade, '')
                FROM staging.students
                WHERE run_id = \(runID)
                  AND (sis_id = \(key) OR lower(email) = lower(\(key)) OR sis_id = ANY(\(quotedHere)))
                """, logger: logger)
            var feedLines: [String] = []
            for try await (sis, ref, email, excluded, grade) in staged.decode((String, String, String, String, String).self) {
                feedLines.append("  In the feed: \(sis) at \(ref), email '\(email)', grade '\(grade)'"
                    + (excluded.isEmpty ? ", loaded" : ", NOT loaded: \(excluded)"))
            }
            let rejects = try await connection.query(
                """
                SELECT entity, reason, severity, coalesce(detail, ''), coalesce(source_ref, '') FROM staging.rejects
                WHERE run_id = \(runID) AND entity IN ('student', 'enrollment')
                  AND (record_key = \(key) OR record_key LIKE '%/' || \(pattern)
                       OR (entity = 'student' AND (detail LIKE '% ' || \(pattern) || ' %' OR detail LIKE \(pattern) || ' %'
                                                   -- an email that failed validation is stored nowhere else
                                                   OR detail ILIKE 'email ''' || \(pattern) || ''' %')))
                """, logger: logger)
            var rejectLines: [String] = []
            for try await (entity, reason, severity, detail, ref) in rejects.decode((String, String, String, String, String).self) {
                rejectLines.append("  \(severity == "rejected" ? "Rejected" : "Warning") (\(entity), \(ref)): \(reason): \(detail)")
            }
            let inRoster = students.contains { $0.district == districtID }
            guard !feedLines.isEmpty || !rejectLines.isEmpty || inRoster || district != nil else { continue }
            shown += 1
            out.append("District \(districtID): last successful sync \(lastSync ?? "never"); latest staged run \(runID) (\(outcome))")
            for line in feedLines.isEmpty ? ["  In the feed: no (not in students of run \(runID))"] : feedLines {
                out.append(line)
            }
            for line in rejectLines { out.append(line) }
            let enrollments = try await connection.query(
                """
                SELECT e.section_sis_id, coalesce(e.excluded, '') FROM staging.enrollments e
                WHERE e.run_id = \(runID)
                  AND (e.student_sis_id = \(key)
                       OR e.student_sis_id IN (SELECT sis_id FROM staging.students WHERE run_id = \(runID) AND lower(email) = lower(\(key)))
                       OR e.student_sis_id = ANY(\(quotedHere))
                       OR e.student_sis_id IN (SELECT sis_id FROM roster.students WHERE district_id = \(districtID)
                                               AND lower(email) = lower(\(key))))
                """, logger: logger)
            var feedSections: [String] = []
            for try await (section, excluded) in enrollments.decode((String, String).self) {
                feedSections.append(excluded.isEmpty ? section : "\(section) (not loaded: \(excluded))")
            }
            out.append("  Sections in the feed: \(feedSections.isEmpty ? "none" : feedSections.joined(separator: ", "))")
        }
        if students.isEmpty && shown == 0 {
            out.append("No student with SIS id or email '\(key)' in \(district.map { "district \($0)" } ?? "any district")'s "
                + "latest feed, its rejects or the roster.")
            return (out, false)
        }
        if students.isEmpty && shown > 0 { out.append("Roster: no student with SIS id or email '\(key)'") }
        // Each student's line, then its sections and history (several districts may know the key).
        for (id, _, line) in students {
            out.append(line)
            let sections = try await connection.query(
                """
                SELECT sec.sis_id, coalesce(sec.name, ''), sec.status, e.source FROM roster.enrollments e
                JOIN roster.sections sec ON sec.id = e.section_id WHERE e.student_id = \(id) ORDER BY sec.name
                """, logger: logger)
            var names: [String] = []
            for try await (sis, name, status, source) in sections.decode((String?, String, String, String).self) {
                names.append("\(name) [\(sis ?? "manual")] \(status), \(source)")
            }
            out.append("  Sections in the roster: \(names.isEmpty ? "none" : names.joined(separator: "; "))")
            let history = try await connection.query(
                """
                SELECT c.at::text, c.run_id, c.action, c.details::text FROM roster.change_log c
                WHERE c.entity = 'student' AND c.record_id = \(String(id)) ORDER BY c.id DESC LIMIT 10
                """, logger: logger)
            for try await (at, run, action, details) in history.decode((String, Int64, String, String).self) {
                out.append("  \(at) run \(run): \(action) \(details)")
            }
        }
        return (out, true)
    }
}
