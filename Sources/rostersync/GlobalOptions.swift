import ArgumentParser
import Foundation
import Logging
import PostgresLoad

/// Options every command that touches the database shares.
struct GlobalOptions: ParsableArguments {
    @Option(
        name: .customLong("database-url"),
        help: ArgumentHelp(
            "postgres://user:password@host:port/db[?sslmode=...]. Default: $DATABASE_URL, else the embedded database in ./.rostersync/.",
            valueName: "url"))
    var databaseURL: String?

    @OptionGroup var log: LogOptions

    @Option(help: ArgumentHelp("The sql/ folder (migrations and merge steps). Default: ./sql, else sql/ or share/rostersync/sql beside the program or in a folder above it.", valueName: "dir"))
    var sqlDir: String?

    func logger() -> Logger { log.logger() }

    func sqlDirectory() throws -> SQLDirectory {
        if let sqlDir {
            let url = URL(fileURLWithPath: sqlDir)
            guard FileManager.default.fileExists(atPath: url.appendingPathComponent("migrations").path) else {
                throw ValidationError("--sql-dir \(sqlDir) has no migrations/ folder")
            }
            return SQLDirectory(url: url)
        }
        return try SQLDirectory.locate(
            workingDirectory: URL(fileURLWithPath: FileManager.default.currentDirectoryPath),
            executable: Bundle.main.executableURL)
    }

    /// The database: --database-url, else DATABASE_URL, else the embedded cluster (started if needed).
    func database(logger: Logger) async throws -> DatabaseTarget {
        if let url = databaseURL ?? ProcessInfo.processInfo.environment["DATABASE_URL"], !url.isEmpty {
            return try DatabaseTarget(url: url)
        }
        return try await embedded.start(logger: logger)
    }

    var embedded: EmbeddedPostgres { LogOptions.embedded }
}

/// The log options alone, for the commands that touch no database of a URL's and no sql/ folder
/// (the embedded cluster's own commands), so their `--help` offers nothing they would ignore.
struct LogOptions: ParsableArguments {
    @Option(help: "Log format: auto (text on a terminal, JSON lines otherwise), text or json.")
    var logFormat: CLILogHandler.Format = .auto

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    func logger() -> Logger {
        let format = logFormat
        let level = logLevel
        CLILogHandler.useJSONLines(CLILogHandler.isJSON(format))
        return Logger(label: "rostersync") { label in CLILogHandler(label: label, format: format, level: level) }
    }

    /// The embedded cluster of the working folder.
    static var embedded: EmbeddedPostgres {
        EmbeddedPostgres(root: URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(".rostersync"))
    }
}
