import ArgumentParser
import Foundation
import RosterSync

/// `rostersync demo`: the nightly pipeline on the bundled demo district, into the embedded database.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Sync the bundled demo district (demo/district) into the database and show how to look at it.",
        discussion: """
            Like `rostersync sync --district demo --csv demo/district --as-of 2026-11-23`, but through \
            pipelines/demo.yml: the nightly pipeline's tasks, one feed at a time so the log reads in order. \
            Run it twice: the second run reports no changes.
            """)

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Compute and print what would change; change nothing.")
    var preview = false

    func run() async throws {
        let logger = global.logger()
        let sql = try global.sqlDirectory()
        let folder = sql.url.deletingLastPathComponent().appendingPathComponent("demo/district")
        var sync = try SyncCommand.parse([
            "--district", "demo", "--csv", folder.path, "--as-of", "2026-11-23",
            "--pipeline", sql.url.deletingLastPathComponent().appendingPathComponent("pipelines/demo.yml").path,
        ] + (preview ? ["--preview"] : []))
        sync.global = global
        let configuration = try await sync.makeConfiguration(source: .csv(folder), logger: logger)
        let report = try await cancellingOnSignals(logger: logger) {
            try await SyncService(logger: logger).sync(configuration)
        }
        let printer = ReportPrinter(database: configuration.database, logger: logger)
        try await printer.print(report, previewLimit: 50)
        print(
            """

            Look at the result with psql:
              \(psqlCommand(configuration.database))
              SELECT grade, count(*) FROM roster.students WHERE district_id = 'demo' GROUP BY grade, grade_rank ORDER BY grade_rank;
              SELECT id, status, mode, message FROM etl.runs ORDER BY id DESC LIMIT 5;
              SELECT reason, severity, count(*) FROM staging.rejects WHERE run_id = \(report.rejectionsRunID ?? 0) GROUP BY 1, 2;
            """)
        if report.exitCode != 0 { throw ExitCode(report.exitCode) }
    }
}
