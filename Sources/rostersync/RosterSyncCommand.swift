import ArgumentParser
import CleverExtract
import Foundation
import Pipeline
import PostgresLoad
import PostgresNIO
import RosterSync

struct RosterSyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rostersync",
        abstract: "Keep a platform's roster (schools, teachers, students, classes) in sync with Clever.",
        discussion: """
            Database: --database-url, else DATABASE_URL, else an embedded PostgreSQL cluster in ./.rostersync/. \
            Exit codes: 0 success, 1 run failed (roster unchanged), 2 bad usage or configuration, \
            3 stopped at the safety threshold, 4 another run of the district holds the lock.
            """,
        version: "rostersync 0.1.0 (development)",
        subcommands: [
            SyncCommand.self, DemoCommand.self, BackfillCommand.self, NightsCommand.self, ResumeCommand.self, ApproveCommand.self, RunsCommand.self, ExplainCommand.self,
            GraphCommand.self, MigrateCommand.self, DBCommand.self, FakeCleverCommand.self,
        ])
}

@main
enum Main {
    static func main() async {
        var parsed: (any ParsableCommand.Type)?
        do {
            var command = try RosterSyncCommand.parseAsRoot()
            parsed = type(of: command)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as ValidationError where parsed != nil {
            FileHandle.standardError.write(Data((ranIntoUsageError(error, in: parsed) + "\n").utf8))
            Foundation.exit(2)
        } catch {
            exit(code: exitCode(for: error), error: error)
        }
    }

    /// A usage error a command found once running (a folder that is not there): the root's usage,
    /// which ArgumentParser would print, is no help here; the command's own help is.
    static func ranIntoUsageError(_ error: ValidationError, in command: (any ParsableCommand.Type)?) -> String {
        let path = command.flatMap { commandPath(to: $0) } ?? "rostersync"
        return "Error: \(error.message)\n  See '\(path) --help' for more information."
    }

    /// `rostersync db start`, for the command type that `parseAsRoot` returned.
    static func commandPath(to target: any ParsableCommand.Type, from root: any ParsableCommand.Type = RosterSyncCommand.self)
        -> String?
    {
        if root == target { return root._commandName }
        for child in root.configuration.subcommands {
            if let path = commandPath(to: target, from: child) { return root._commandName + " " + path }
        }
        return nil
    }

    /// CONTRACT.md's exit codes: 2 for usage and configuration (a broken pipeline file too), 4
    /// for a held lock, 1 otherwise.
    static func exitCode(for error: any Error) -> Int32 {
        switch error {
        case let code as ExitCode: return code.rawValue
        case is LoadError, is ExtractError, is ConfigurationError, is PipelineError, is RunLockedError:
            return SyncReport.exitCode(for: error)
        case is PSQLError:
            return 1
        default:
            let code = RosterSyncCommand.exitCode(for: error)
            if code == .success { return 0 }
            return code == .validationFailure ? 2 : code.rawValue
        }
    }

    static func exit(code: Int32, error: any Error) -> Never {
        switch error {
        case is ExitCode:
            break
        case is LoadError, is ExtractError, is ConfigurationError, is RunLockedError, is PipelineError, is PSQLError:
            FileHandle.standardError.write(Data((errorLine(error, code: code, json: CLILogHandler.jsonLines) + "\n").utf8))
        default:
            let message = RosterSyncCommand.fullMessage(for: error)
            if !message.isEmpty {
                if code == 0 { print(message) } else { FileHandle.standardError.write(Data((message + "\n").utf8)) }
            }
        }
        Foundation.exit(code)
    }

    /// The last line of a failed command: `error: ...`, or with JSON logs a JSON object like
    /// every other line, so a log collector parses it too.
    static func errorLine(_ error: any Error, code: Int32, json: Bool) -> String {
        // A database error's own description is a placeholder (postgres-nio keeps the server's
        // words out of it): the server's message, state, detail and hint are spelt out.
        let text = error is PSQLError ? "database: " + LoadError.describe(error) : "\(error)"
        guard json else { return "error: \(text)" }
        let object: [String: Any] = [
            "ts": ISO8601DateFormatter().string(from: Date()), "level": "error", "msg": "command failed",
            "logger": "rostersync", "error": text, "etl.exit_code": "\(code)",
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
