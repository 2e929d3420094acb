import ArgumentParser
import CleverExtract
import Foundation
import Pipeline
import PostgresLoad
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
            SyncCommand.self, DemoCommand.self, BackfillCommand.self, ResumeCommand.self, ApproveCommand.self, RunsCommand.self, ExplainCommand.self,
            GraphCommand.self, MigrateCommand.self, DBCommand.self, FakeCleverCommand.self,
        ])
}

@main
enum Main {
    static func main() async {
        do {
            var command = try RosterSyncCommand.parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(code: exitCode(for: error), error: error)
        }
    }

    /// CONTRACT.md's exit codes: 2 for usage and configuration (a broken pipeline file too), 4
    /// for a held lock, 1 otherwise.
    static func exitCode(for error: any Error) -> Int32 {
        switch error {
        case let code as ExitCode: return code.rawValue
        case let error as LoadError: return error.isUsageError ? 2 : 1
        case let error as ExtractError: return error.isUsageError ? 2 : 1
        case is ConfigurationError, is PipelineError: return 2
        case is RunLockedError: return 4
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
        case let error as LoadError:
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        case let error as ExtractError:
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        case let error as ConfigurationError:
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        case let error as RunLockedError:
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        case let error as PipelineError:
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        default:
            let message = RosterSyncCommand.fullMessage(for: error)
            if !message.isEmpty {
                if code == 0 { print(message) } else { FileHandle.standardError.write(Data((message + "\n").utf8)) }
            }
        }
        Foundation.exit(code)
    }
}
