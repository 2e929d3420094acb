import ArgumentParser
import Foundation
import PostgresLoad

/// `rostersync migrate`: apply pending migrations.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply pending sql/migrations (each once, under an advisory lock). Every command that needs the schema does this first.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let logger = global.logger()
        let sql = try global.sqlDirectory()
        let database = try await global.database(logger: logger)
        let applied = try await database.withConnection(logger: logger) { connection in
            try await Migrator(directory: sql).migrate(on: connection, logger: logger)
        }
        print(applied.isEmpty ? "up to date" : "applied: \(applied.joined(separator: ", "))")
    }
}

/// `rostersync db status|start|stop|psql`: the embedded database.
struct DBCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Manage the embedded PostgreSQL cluster in ./.rostersync/ (used when no database URL is set).",
        subcommands: [Status.self, Start.self, Stop.self, PSQL.self])

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Say whether the embedded cluster exists and runs.")
        @OptionGroup var log: LogOptions

        func run() async throws {
            let embedded = LogOptions.embedded
            print("embedded PostgreSQL: \(embedded.status()) (\(embedded.dataDirectory.path))")
        }
    }

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create the embedded cluster if needed and start it.")
        @OptionGroup var log: LogOptions

        func run() async throws {
            let target = try await LogOptions.embedded.start(logger: log.logger())
            print("running; connect with: \(psqlCommand(target))")
        }
    }

    struct Stop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop the embedded cluster (its data stays).")
        @OptionGroup var log: LogOptions

        func run() async throws {
            try LogOptions.embedded.stop(logger: log.logger())
            print("stopped")
        }
    }

    struct PSQL: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "psql",
            abstract: "Print the psql command that connects to the database in use (the embedded one is started if needed).")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            print(psqlCommand(try await global.database(logger: global.logger())))
        }
    }
}
