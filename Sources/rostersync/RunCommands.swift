import ArgumentParser
import Foundation
import Pipeline
import PostgresLoad
import RosterSync

/// `rostersync runs`: the run ledger, newest first.
struct RunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs", abstract: "List recent runs with their status, timings and counts (etl.runs).")

    @OptionGroup var global: GlobalOptions
    @Option(help: "Only this district's runs.") var district: String?
    @Option(help: "How many runs, newest first (1 to 10000).") var limit = 20

    func validate() throws {
        guard (1...10_000).contains(limit) else { throw ValidationError("--limit must be 1 to 10000, not \(limit)") }
    }

    func run() async throws {
        let logger = global.logger()
        let database = try await global.database(logger: logger)
        let sql = try global.sqlDirectory()
        let runs = try await database.withConnection(logger: logger) { connection in
            try await Migrator(directory: sql).migrate(on: connection, logger: logger)
            return try await RunLedger(connection: connection, logger: logger).recent(districtID: district, limit: limit)
        }
        if runs.isEmpty { print(district.map { "no runs of district \($0) yet" } ?? "no runs yet") }
        for run in runs {
            let seconds = run.finishedAt.map { String(format: "%.1fs", $0.timeIntervalSince(run.startedAt)) } ?? "-"
            print(
                "\(run.id)\t\(run.districtID)\t\(run.mode)\tas of \(run.asOf)\t\(run.status)\t\(seconds)\t\(run.message ?? "")")
        }
    }
}

/// `rostersync approve RUN_ID`: apply a run that stopped at the safety threshold.
struct ApproveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approve",
        abstract: "Apply the changes of a run that stopped at the safety threshold, after review.",
        discussion: "Refuses when a newer run of the district exists, and for a run stopped by an empty feed.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The blocked run's id (see `rostersync runs`).") var runID: Int64

    func run() async throws {
        let logger = global.logger()
        let database = try await global.database(logger: logger)
        let report = try await SyncService(logger: logger).approve(
            runID: runID, database: database, sql: try global.sqlDirectory())
        try await ReportPrinter(database: database, logger: logger).print(report, previewLimit: 0)
    }
}

/// `rostersync graph PIPELINE`: the DAG as Mermaid or DOT.
struct GraphCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "graph", abstract: "Print a pipeline's task graph as Mermaid (default) or DOT.")

    enum Format: String, ExpressibleByArgument, CaseIterable { case mermaid, dot }

    @Argument(help: "A pipeline file, or a name in pipelines/ (nightly, backfill, demo).") var pipeline: String
    @Option(help: "mermaid or dot.") var format: Format = .mermaid

    func run() throws {
        var url = URL(fileURLWithPath: pipeline)
        if !FileManager.default.fileExists(atPath: url.path) {
            // A name: in pipelines/ beside the sql/ folder, found as `sync` finds it (so it works
            // from any directory when the program runs from its checkout or install).
            let folder = (try? SQLDirectory.locate(
                workingDirectory: URL(fileURLWithPath: FileManager.default.currentDirectoryPath),
                executable: Bundle.main.executableURL))
                .map { $0.url.deletingLastPathComponent().appendingPathComponent("pipelines") }
                ?? URL(fileURLWithPath: "pipelines")
            url = folder.appendingPathComponent("\(pipeline).yml")
            guard FileManager.default.fileExists(atPath: url.path) else {
                let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [])
                    .filter { $0.hasSuffix(".yml") }.map { String($0.dropLast(4)) }.sorted()
                throw ValidationError(
                    "\(pipeline) is neither a pipeline file nor a pipeline in \(folder.path)"
                        + (names.isEmpty ? "" : " (there: \(names.joined(separator: ", ")))"))
            }
        }
        let definition: PipelineDefinition
        do {
            definition = try SyncService.loadPipeline(url)
        } catch let error as PipelineError {
            throw ValidationError(error.description)
        }
        print(format == .mermaid ? PipelineGraph.mermaid(definition) : PipelineGraph.dot(definition))
    }
}
