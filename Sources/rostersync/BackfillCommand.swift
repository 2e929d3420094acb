import ArgumentParser
import CleverExtract
import Foundation
import RosterSync

/// `rostersync backfill`: replay past nights from the landing archive.
struct BackfillCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backfill",
        abstract: "Replay a district's nights from the landing archive, each with its own as-of date.",
        discussion: """
            Every sync keeps its extract in the landing archive (.rostersync/landing/<district>/<date>/ by default). \
            A backfill runs pipelines/backfill.yml on each complete night from --from to --to, in order, and stops at \
            the first night that does not succeed. An incomplete night (its extract failed part-way, or a second run \
            of the night replaced some feeds and then failed: `rostersync nights` says which) is named in a warning \
            and not replayed. Running the same backfill again changes nothing.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "The district's id.") var district: String
    @Option(help: ArgumentHelp("The first night, YYYY-MM-DD.", valueName: "date")) var from: String
    @Option(help: ArgumentHelp("The last night, YYYY-MM-DD (tomorrow at the latest).", valueName: "date")) var to: String
    @Option(help: ArgumentHelp("The landing archive. Default: .rostersync/landing.", valueName: "dir")) var landingDir: String?
    @Flag(help: "Lift the removal-share safety check for these runs (never the empty-feed guard).")
    var allowMassChanges = false
    @Option(
        name: .customLong("allow-mass-changes-of"),
        help: ArgumentHelp("Lift the removal-share check for this entity only (repeatable), as for sync.", valueName: "entity"))
    var allowMassChangesOf: [String] = []

    func validate() throws {
        for (option, value) in [("--from", from), ("--to", to)] where !Dates.isValid(value) {
            throw ValidationError(Dates.invalid(option, value))
        }
        guard from <= to else { throw ValidationError("--from \(from) is after --to \(to)") }
        // Each night replays as of its folder's date. A folder dated after tomorrow (made by hand,
        // or by a clock set wrong) would archive the classes of every term ending before it, which
        // the removal share does not weigh: as for sync's --as-of.
        if let tomorrow = Dates.today(plusDays: 1), to > tomorrow {
            throw ValidationError(
                "--to \(to) is after tomorrow (today is \(Dates.today())): a night replays as of its date, and one not yet "
                    + "come would archive the classes of every term that ends before it; give --to \(tomorrow) or earlier")
        }
    }

    func run() async throws {
        let logger = global.logger()
        let pipeline = try global.sqlDirectory().url.deletingLastPathComponent()
            .appendingPathComponent("pipelines/backfill.yml")
        var sync = try SyncCommand.parse(
            ["--district", district, "--csv", "/", "--no-landing", "--pipeline", pipeline.path]
                + allowMassChangesOf.flatMap { ["--allow-mass-changes-of", $0] })
        sync.global = global
        sync.allowMassChanges = allowMassChanges
        var template = try await sync.makeConfiguration(source: .csv(URL(fileURLWithPath: "/")), logger: logger)
        template.mode = "backfill"
        let root = landingDir.map { URL(fileURLWithPath: $0) } ?? sync.landingRoot
        let reports = try await cancellingOnSignals(logger: logger) { [template] in
            try await SyncService(logger: logger).backfill(template, landingRoot: root, from: from, to: to)
        }
        for report in reports {
            print("\(report.runID.map { "run \($0)" } ?? "run"): \(report.status.rawValue): \(report.message)")
        }
        if let last = reports.last, last.exitCode != 0 { throw ExitCode(last.exitCode) }
    }
}

/// `rostersync resume RUN_ID`: continue a failed run from the failed task.
struct ResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Continue a failed or cancelled run from its failed task, reusing what earlier tasks staged.",
        discussion: """
            Refuses when a newer run of the district exists, when a stage still to run would read feed files \
            replaced since the run read the others (two extracts in one run: sync again instead), and when the \
            run's landing folder no longer holds the feeds it archived (a volume not mounted: mount it, or resume \
            with --no-landing). An API run reads CLEVER_TOKEN again.
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The failed run's id (see `rostersync runs`).") var runID: Int64
    @Flag(help: "Do not archive the feeds extracted again in the run's landing archive (e.g. when it is gone).")
    var noLanding = false

    func run() async throws {
        let logger = global.logger()
        let database = try await global.database(logger: logger)
        let sql = try global.sqlDirectory()
        let token = ProcessInfo.processInfo.environment["CLEVER_TOKEN"]
        let report = try await cancellingOnSignals(logger: logger) { [runID, noLanding] in
            try await SyncService(logger: logger).resume(
                runID: runID, database: database, sql: sql, cleverToken: token, keepLanding: !noLanding)
        }
        try await ReportPrinter(database: database, logger: logger).print(report, previewLimit: 200)
        if report.exitCode != 0 { throw ExitCode(report.exitCode) }
    }
}

/// `rostersync nights`: what the landing archive holds for one district, and what a backfill would replay.
struct NightsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nights",
        abstract: "List a district's nights in the landing archive, and why an incomplete one cannot be replayed.",
        discussion: """
            One line per night, oldest first: the date, complete or incomplete, then for a complete night the run \
            that extracted it and its records, for an incomplete one the reason (feeds not archived, feeds from two \
            runs, no manifest); last, any later run of the night that stopped part-way, whose feeds are set aside \
            and left the night as it was. `backfill` replays the complete ones.
            """)

    @Option(help: "The district's id.") var district: String
    @Option(help: ArgumentHelp("The first night, YYYY-MM-DD. Default: the oldest.", valueName: "date"))
    var from: String?
    @Option(help: ArgumentHelp("The last night, YYYY-MM-DD. Default: the newest.", valueName: "date"))
    var to: String?
    @Option(help: ArgumentHelp("The landing archive. Default: .rostersync/landing.", valueName: "dir")) var landingDir: String?

    func validate() throws {
        for (option, value) in [("--from", from), ("--to", to)] {
            if let value, !Dates.isValid(value) { throw ValidationError(Dates.invalid(option, value)) }
        }
    }

    func run() throws {
        let root = landingDir.map { URL(fileURLWithPath: $0) } ?? SyncCommand.defaultLandingRoot
        let (from, to) = (from ?? "0001-01-01", to ?? "9999-12-31")
        let nights = try LandingArchive(root: root).archivedNights(district: district, from: from, to: to)
        if nights.isEmpty {
            let range = [self.from.map { "from \($0)" }, self.to.map { "to \($0)" }].compactMap { $0 }.joined(separator: " ")
            print("no nights of district \(district) in \(root.path)\(range.isEmpty ? "" : " " + range)")
        }
        for night in nights { print(Self.line(night)) }
    }

    /// One night, tab-separated: date, complete or incomplete, then its run, records and source,
    /// or why it cannot be replayed.
    static func line(_ night: LandingArchive.Night) -> String {
        // Runs that stopped part-way and left the night as it was: worth knowing, not replayed.
        let ids = night.pending.map(\.run)
        let pending = night.pending.map { aside in
            // Runs of two databases may share an id: their uids tell them apart.
            let shared = ids.filter { $0 == aside.run }.count > 1
            let run = "run \(aside.run)" + (shared ? " (uid \(aside.uid ?? "none"))" : "")
            guard let manifest = aside.manifest else { return "\t\(run) stopped part-way; its manifest cannot be read" }
            let feeds = Feed.allCases.filter { manifest.entry(for: $0) != nil }.map(\.rawValue)
            return "\t\(run) stopped part-way, set aside: \(feeds.joined(separator: ", "))"
        }.joined()
        guard night.isComplete, let manifest = night.manifest else {
            return "\(night.date)\tincomplete\t\(night.problem ?? "")\(pending)"
        }
        let run = manifest.feeds.values.first?.run.map { "run \($0)" } ?? "run not recorded"
        let records = manifest.feeds.values.reduce(0) { $0 + $1.records }
        return "\(night.date)\tcomplete\t\(run)\t\(records) records\t\(manifest.source)\(pending)"
    }
}
