import ArgumentParser
import Foundation
import Logging
import PostgresLoad
import RosterSync

/// `rostersync sync`: the standard nightly pipeline for one district, without writing a pipeline file.
struct SyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Sync a district (or, from CSV, every enabled one) from Clever's CSV files or API into the roster.",
        discussion: """
            Runs pipelines/nightly.yml for one district: extract, transform and stage every feed, check it, \
            then merge it into the roster in one transaction. The district row is created by its first sync \
            that applies. With --district all, each enabled district in roster.districts in turn.

            Exit codes: 0 success (also a preview, or a district skipped before its launch date); 1 the run \
            failed and the roster is unchanged; 2 bad usage or configuration; 3 stopped at the safety \
            threshold (roster unchanged, staging kept: review, then `rostersync approve RUN_ID`; a stop on an \
            empty feed is not approved: fix the feed, or name it with --allow-empty-feed); 4 another run of the \
            district is in progress.

            The Clever token is read from CLEVER_TOKEN, never from the command line.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(help: "The district's id (Clever district id; from the API, the token's district), or `all` for every enabled district in roster.districts (CSV only: each reads DIR/<district id>/).")
    var district: String

    @Option(help: "With --district all: districts synced at once.")
    var parallelDistricts = 2

    @Option(help: ArgumentHelp("Read Clever's SFTP CSV files (schools.csv, teachers.csv, ...) from this folder.", valueName: "dir"))
    var csv: String?

    @Option(help: ArgumentHelp("Clever's Data API base URL, without /v3.0 (token from CLEVER_TOKEN). Default, when --csv is not given: https://api.clever.com.", valueName: "url"))
    var cleverURL: String?

    @Option(help: ArgumentHelp("The date the rules use (term ends, launch date), YYYY-MM-DD. Default: today. After tomorrow: --preview only.", valueName: "date"))
    var asOf: String?

    @Flag(help: "Compute and print what would change; change nothing in the roster.")
    var preview = false

    @Flag(help: "Lift the removal-share safety check for this run (never the empty-feed guard).")
    var allowMassChanges = false

    @Option(
        name: .customLong("allow-mass-changes-of"),
        help: ArgumentHelp(
            "Lift the removal-share check for this entity only (repeatable): \(Merger.shareEntities.joined(separator: ", ")) "
                + "(or their plurals). The others still stop the run.",
            valueName: "entity"))
    var allowMassChangesOf: [String] = []

    @Option(
        name: .customLong("allow-empty-feed"),
        help: ArgumentHelp(
            "A feed meant to be empty this run (repeatable): schools, teachers, students, sections or enrollments.",
            discussion: """
                Lets the empty-feed guard pass for that entity and reads a header-only CSV file of it as empty. The \
                removal share still applies: add --allow-mass-changes to apply the removals. One district only.
                """,
            valueName: "entity"))
    var allowEmptyFeed: [String] = []

    @Flag(help: ArgumentHelp(
        "Stage and compare every row even when nothing changed.",
        discussion: """
            A CSV run whose feed files, district settings, pipeline, SQL and program are those of the district's \
            last successful applied run, on a roster exactly as that run left it (checked by SHA-256 and a roster \
            digest) and with no term ending in between, changes nothing: by default it is recorded as a successful \
            run with no changes without staging the files. --full does the whole comparison anyway.
            """))
    var full = false

    @Option(help: ArgumentHelp("The pipeline file. Default: pipelines/nightly.yml beside the sql/ folder in use.", valueName: "file"))
    var pipeline: String?

    @Option(help: "Records per extract batch and API page.")
    var batchSize = 2_000

    @Option(help: "Tasks run at once (feeds are staged in parallel).")
    var maxParallel = 3

    @Option(help: ArgumentHelp(
        "Tries per Clever API request (a 429, 500, 502, 503 or 504, a timeout, a network failure) before its task fails; "
            + "the waits between back off exponentially with jitter, up to 30 s each (a 429 waits as its Retry-After or "
            + "X-RateLimit-Reset says, up to 5 min, else 30 to 60 s: Clever's limits reset each minute), and a failed task "
            + "is tried twice more, a feed from its first page. Raise it to ride out a longer outage.",
        valueName: "n"))
    var apiAttempts = 6

    @Option(help: "How many students a preview lists.")
    var previewLimit = 200

    @Option(help: ArgumentHelp(
        "Keep every extract here as gzip NDJSON per feed with a manifest (backfills replay it; a preview keeps nothing). Default: .rostersync/landing.",
        valueName: "dir"))
    var landingDir: String?

    @Flag(help: "Do not keep the extract in the landing archive.")
    var noLanding = false

    func validate() throws {
        if csv != nil && cleverURL != nil { throw ValidationError("use either --csv or --clever-url, not both") }
        if let asOf, !Dates.isValid(asOf) { throw ValidationError(Dates.invalid("--as-of", asOf)) }
        // A date not yet come applies the calendar early: every term that ends before it archives
        // its classes, which the removal share does not count (term ends are the calendar). One
        // day ahead is allowed for a district whose today is already the server's tomorrow.
        if let asOf, !preview, let tomorrow = Dates.today(plusDays: 1), asOf > tomorrow {
            throw ValidationError(
                "--as-of \(asOf) is after tomorrow (today is \(Dates.today())): a sync would apply the rules as of a day not yet come, "
                    + "archiving the classes of every term that ends before it; look ahead with --preview")
        }
        if noLanding, let landingDir {
            throw ValidationError("--no-landing and --landing-dir \(landingDir) contradict each other; give one")
        }
        if district.trimmingCharacters(in: .whitespaces).isEmpty { throw ValidationError("--district must not be empty") }
        guard (1...10_000).contains(batchSize) else { throw ValidationError("--batch-size must be 1 to 10000") }
        guard (1...16).contains(maxParallel) else { throw ValidationError("--max-parallel must be 1 to 16") }
        guard (1...30).contains(apiAttempts) else { throw ValidationError("--api-attempts must be 1 to 30") }
        for entity in allowEmptyFeed where !SyncConfiguration.emptiableFeeds.contains(entity) {
            throw ValidationError(
                "--allow-empty-feed '\(entity)' is not one of \(SyncConfiguration.emptiableFeeds.joined(separator: ", "))")
        }
        for entity in allowMassChangesOf where Self.shareEntity(entity) == nil {
            throw ValidationError(
                "--allow-mass-changes-of '\(entity)' is not one of \(Merger.shareEntities.joined(separator: ", "))")
        }
        if !allowEmptyFeed.isEmpty && district == "all" {
            throw ValidationError("--allow-empty-feed names one district's feed; it cannot go with --district all")
        }
        // CLEVER_TOKEN opens one district: every other district would fail its token check.
        if district == "all" && csv == nil {
            throw ValidationError(
                "--district all reads each district's CSV folder (--csv DIR); from Clever's API each district has "
                    + "its own token: run one sync per district, each with its CLEVER_TOKEN")
        }
    }

    func run() async throws {
        let logger = global.logger()
        let source: SyncConfiguration.Source
        if let csv {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: csv, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ValidationError("--csv \(csv) is not a folder")
            }
            source = .csv(URL(fileURLWithPath: csv))
        } else {
            guard let token = ProcessInfo.processInfo.environment["CLEVER_TOKEN"], !token.isEmpty else {
                throw ConfigurationError("reading from Clever's API needs the token in CLEVER_TOKEN (or use --csv DIR)")
            }
            source = .clever(baseURL: cleverURL ?? "https://api.clever.com", token: token)
        }
        if district == "all" { return try await runAll(source: source, logger: logger) }
        let configuration = try await makeConfiguration(source: source, logger: logger)
        let report = try await cancellingOnSignals(logger: logger) {
            try await SyncService(logger: logger).sync(configuration)
        }
        try await ReportPrinter(database: configuration.database, logger: logger).print(report, previewLimit: previewLimit)
        if report.exitCode != 0 { throw ExitCode(report.exitCode) }
    }

    /// Every enabled district, a few at a time; exit code: 1 if any failed, else 3 if any stopped
    /// at the safety threshold, else 4 if any was being synced by another run (its lock held), else 0.
    private func runAll(source: SyncConfiguration.Source, logger: Logger) async throws {
        let template = try await makeConfiguration(source: source, logger: logger)
        let ids = try await SyncService(logger: logger).enabledDistricts(database: template.database, sql: template.sql)
        guard !ids.isEmpty else {
            throw ValidationError(
                "--district all: roster.districts has no enabled district; a district's first sync (--district ID) adds it")
        }
        let limit = max(1, parallelDistricts)
        let reports = try await cancellingOnSignals(logger: logger) {
            try await withThrowingTaskGroup(of: (report: SyncReport, locked: Bool).self) { group in
                var results: [(report: SyncReport, locked: Bool)] = []
                for (index, id) in ids.enumerated() {
                    if index >= limit, let done = try await group.next() { results.append(done) }
                    // After SIGINT or SIGTERM no district starts: each would still connect, take
                    // its lock and record a run, and the shutdown would outlast its grace period.
                    guard !Task.isCancelled else {
                        results.append(
                            (SyncReport(
                                runID: nil, districtID: id, status: .failed, summary: .init(), violations: [], rejections: [],
                                message: "not started: the sync was cancelled (SIGINT or SIGTERM)"), false))
                        continue
                    }
                    var configuration = template
                    configuration.districtID = id
                    if case .csv(let root) = source { configuration.source = .csv(root.appendingPathComponent(id)) }
                    group.addTask {
                        do {
                            return (try await SyncService(logger: logger).sync(configuration), false)
                        } catch {
                            let report = SyncReport(
                                runID: nil, districtID: id, status: .failed, summary: .init(), violations: [],
                                rejections: [], message: "\(error)")
                            return (report, error is RunLockedError)
                        }
                    }
                }
                for try await done in group { results.append(done) }
                return results
            }
        }
        for (report, locked) in reports.sorted(by: { $0.report.districtID < $1.report.districtID }) {
            print("\(report.districtID): \(locked ? "locked" : report.status.rawValue): \(report.message)")
        }
        // A district another run is syncing did not start: not a failure of its own, and it
        // must not hide one elsewhere.
        if reports.contains(where: { !$0.locked && $0.report.exitCode == 1 }) { throw ExitCode(1) }
        if reports.contains(where: { $0.report.exitCode == 3 }) { throw ExitCode(3) }
        if reports.contains(where: { $0.locked }) { throw ExitCode(4) }
    }

    func makeConfiguration(source: SyncConfiguration.Source, logger: Logger) async throws -> SyncConfiguration {
        let sql = try global.sqlDirectory()
        let pipelineFile = pipeline.map { URL(fileURLWithPath: $0) }
            ?? sql.url.deletingLastPathComponent().appendingPathComponent("pipelines/nightly.yml")
        guard FileManager.default.fileExists(atPath: pipelineFile.path) else {
            throw ValidationError("pipeline file \(pipelineFile.path) does not exist")
        }
        var configuration = SyncConfiguration(
            districtID: district, source: source, asOf: asOf ?? Dates.today(), preview: preview,
            allowMassChanges: allowMassChanges, pipelineFile: pipelineFile, sql: sql,
            database: try await global.database(logger: logger), maxParallelTasks: maxParallel, batchSize: batchSize,
            landingRoot: noLanding ? nil : landingRoot)
        configuration.compareInFull = full
        configuration.allowEmptyFeeds = Set(allowEmptyFeed)
        configuration.allowMassChangesOf = massChangeEntities
        configuration.apiMaxAttempts = apiAttempts
        return configuration
    }

    var landingRoot: URL { landingDir.map { URL(fileURLWithPath: $0) } ?? Self.defaultLandingRoot }

    /// `--allow-mass-changes-of` as the merge names the entities.
    var massChangeEntities: Set<String> { Set(allowMassChangesOf.compactMap(Self.shareEntity)) }

    /// An entity the removal share weighs, by its name or, as `--allow-empty-feed` names feeds,
    /// its plural (`students`).
    static func shareEntity(_ name: String) -> String? {
        if Merger.shareEntities.contains(name) { return name }
        guard name.hasSuffix("s"), Merger.shareEntities.contains(String(name.dropLast())) else { return nil }
        return String(name.dropLast())
    }

    /// `.rostersync/landing` in the working folder, beside the embedded cluster.
    static var defaultLandingRoot: URL {
        URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(".rostersync/landing")
    }
}

enum Dates {
    static func isValid(_ text: String) -> Bool {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd"
        guard text.count == 10, let date = formatter.date(from: text) else { return false }
        return formatter.string(from: date) == text
    }

    static func today() -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyy-MM-dd"
        return formatter.string(from: Date())
    }

    /// Today's date (as `today()` reads it) moved by `days`.
    static func today(plusDays days: Int) -> String? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyy-MM-dd"
        return Calendar(identifier: .gregorian).date(byAdding: .day, value: days, to: Date()).map(formatter.string(from:))
    }

    /// The message for a value `isValid` refused: a date that does not exist, or not the form.
    static func invalid(_ option: String, _ text: String) -> String {
        let form = text.count == 10 && text.enumerated().allSatisfy { index, character in
            index == 4 || index == 7 ? character == "-" : character.isASCII && character.isNumber
        }
        return form ? "\(option) '\(text)' is not a date: that day does not exist" : "\(option) '\(text)' is not a date in YYYY-MM-DD form"
    }
}
