import ArgumentParser
import FakeClever
import Foundation
import Logging
import NIOCore

/// `rostersync fake-clever ...`: a local stand-in for Clever's API, for tests, the demo and benchmarks.
struct FakeCleverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fake-clever",
        abstract: "Serve or generate a fake Clever district on this machine (tests, demo, benchmarks).",
        subcommands: [Generate.self, Serve.self, Pull.self])
}

extension FakeCleverCommand {
    /// Options that pick a synthetic district and, optionally, its "next night".
    struct DistrictOptions: ParsableArguments {
        @Option(help: "Students in the district (about N/20 teachers, N/5 sections, max(3, N/500) schools).")
        var students: Int = 300

        @Option(help: "Seed: the same seed gives the same district, byte for byte.")
        var seed: UInt64 = 1

        @Option(help: ArgumentHelp("Next night: share of students and teachers whose name or email changed (e.g. 0.01).", valueName: "fraction"))
        var changed: Double = 0

        @Option(help: ArgumentHelp("Next night: share of students who left (e.g. 0.005).", valueName: "fraction"))
        var removed: Double = 0

        @Option(help: ArgumentHelp("Next night: share of new students (e.g. 0.005).", valueName: "fraction"))
        var added: Double = 0

        func validate() throws {
            guard students > 0 else { throw ValidationError("--students must be at least 1") }
            for (name, value) in [("--changed", changed), ("--removed", removed), ("--added", added)]
            where !(0...1).contains(value) {
                throw ValidationError("\(name) must be between 0 and 1")
            }
        }

        var district: SyntheticDistrict {
            SyntheticDistrict(
                students: students, seed: seed,
                nextNight: .init(changedFraction: changed, removedFraction: removed, addedFraction: added))
        }
    }

    struct Generate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a synthetic district as Clever SFTP CSV files (schools, teachers, students, sections, enrollments).",
            discussion: """
                Deterministic from --students and --seed; --changed, --removed and --added write the same district \
                one night later, for incremental-sync benchmarks. Memory stays flat for any size.
                Example: rostersync fake-clever generate --students 300 --seed 1 --out /tmp/district-300
                """)

        @OptionGroup var district: DistrictOptions

        @Option(help: ArgumentHelp("The folder to write the CSV files into (created if needed).", valueName: "dir"))
        var out: String

        func run() async throws {
            let district = district.district
            let folder = URL(fileURLWithPath: out)
            let started = ContinuousClock.now
            try CleverCSVWriter(district: district).write(to: folder)
            print(
                "wrote \(district.districtName): \(district.schoolCount) schools, \(district.teacherCount) teachers, "
                    + "\(district.studentSlots) student slots, \(district.sectionCount) sections to \(folder.path) "
                    + "in \(ContinuousClock.now - started)")
        }
    }
}

extension FakeCleverCommand {
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Serve a district over Clever's Data API v3.0 on loopback, with injectable faults.",
            discussion: """
                Serves a synthetic district (--students/--seed, and --changed/--removed/--added for its next night) \
                or a folder of Clever CSV files (--csv). Clients must send "Authorization: Bearer <token>". \
                Counted faults (--rate-limited, --server-errors, --truncated, --missing-envelope, --wrong-type) are \
                consumed one per request after --skip-requests normal ones. While running, POST /__faults \
                (e.g. {"serverErrors": 2}) changes the faults and POST /__district (e.g. {"changedFraction": 0.01}) \
                serves the synthetic district's next night. Stop with Ctrl-C.
                Example: rostersync fake-clever serve --students 1000 --port 8089 --token demo
                """)

        @OptionGroup var district: DistrictOptions

        @Option(help: ArgumentHelp("Serve this folder of Clever SFTP CSV files instead of a synthetic district.", valueName: "dir"))
        var csv: String?

        @Option(help: "The loopback port; 0 picks a free one and prints it.")
        var port: Int = 0

        @Option(help: "The bearer token clients must send. Default: $CLEVER_TOKEN, else fake-clever-token.")
        var token: String?

        @Option(help: ArgumentHelp("Requests answered normally before counted faults start.", valueName: "n"))
        var skipRequests = 0

        @Option(help: ArgumentHelp("Answer the next N requests with 429 and Retry-After.", valueName: "n"))
        var rateLimited = 0

        @Option(help: ArgumentHelp("The Retry-After of those 429s.", valueName: "seconds"))
        var retryAfter = 1

        @Flag(help: "Send those 429s as Clever documents them: X-RateLimit-Reset (Unix time), no Retry-After.")
        var rateLimitResetOnly = false

        @Option(help: ArgumentHelp("Answer the next N requests with --server-error-status.", valueName: "n"))
        var serverErrors = 0

        @Option(help: "The status of injected server errors: 500, 502 or 503.")
        var serverErrorStatus = 503

        @Option(help: ArgumentHelp("Delay every response.", valueName: "ms"))
        var delayMs = 0

        @Option(help: ArgumentHelp("Cut the next N pages in the middle of their JSON.", valueName: "n"))
        var truncated = 0

        @Option(help: ArgumentHelp("Send the next N pages without the data envelope.", valueName: "n"))
        var missingEnvelope = 0

        @Option(help: ArgumentHelp("Send the next N pages with objects of another type.", valueName: "n"))
        var wrongType = 0

        @Flag(help: "Serve the first page again for every later one (a server ignoring starting_after): a paging loop.")
        var loopingNextLink = false

        @Option(
            help: ArgumentHelp(
                "The district id the token is for (GET /v3.0/districts); a sync must name it with --district.",
                valueName: "id"))
        var districtID = "demo"

        func validate() throws {
            guard (0...65_535).contains(port) else { throw ValidationError("--port must be from 0 to 65535") }
            guard [500, 502, 503].contains(serverErrorStatus) else {
                throw ValidationError("--server-error-status must be 500, 502 or 503")
            }
        }

        func run() async throws {
            let faults = Faults(
                skipRequests: skipRequests, rateLimited: rateLimited, retryAfterSeconds: retryAfter,
                serverErrors: serverErrors, serverErrorStatus: serverErrorStatus, delayMilliseconds: delayMs,
                truncatedBodies: truncated, missingEnvelopes: missingEnvelope, wrongTypes: wrongType,
                loopingNextLink: loopingNextLink, rateLimitResetOnly: rateLimitResetOnly)
            let given = token ?? ProcessInfo.processInfo.environment["CLEVER_TOKEN"]
            let token = given ?? "fake-clever-token"
            // A token the user chose may be a real one: never echo it.
            let shown = given == nil ? token : "<your token>"
            let configuration = FakeCleverServer.Configuration(
                port: port, token: token, faults: faults, districtID: districtID)
            var logger = Logger(label: "fake-clever")
            logger.logLevel = .warning
            let server: FakeCleverServer
            let what: String
            if let csv {
                server = try FakeCleverServer(
                    csvDirectory: URL(fileURLWithPath: csv), configuration: configuration, logger: logger)
                what = "the CSV files in \(csv)"
            } else {
                let district = district.district
                server = FakeCleverServer(district: district, configuration: configuration, logger: logger)
                what = "\(district.districtName) (\(district.studentSlots) student slots, seed \(district.seed))"
            }
            do {
                try await server.run { port in
                    // Written unbuffered: scripts read the chosen port from a pipe while the server runs.
                    let text = """
                        FakeClever serving \(what) at http://127.0.0.1:\(port) (Ctrl-C to stop)
                          CLEVER_TOKEN=\(shown) rostersync sync --district \(districtID) --clever-url http://127.0.0.1:\(port)

                        """
                    FileHandle.standardOutput.write(Data(text.utf8))
                }
            } catch let error as IOError where error.errnoCode == EADDRINUSE {
                throw ValidationError("port \(port) is already in use; pick another --port, or 0 for any free one")
            }
        }
    }
}
