import ArgumentParser
import CleverExtract
import Foundation
import Logging
import RosterModel
import RosterSync
import RosterTransform

extension FakeCleverCommand {
    /// Extraction alone, without PostgreSQL: the number to compare when tuning the API client
    /// or the fake server, since a sync's stage time also includes COPY and the database.
    struct Pull: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Time reading feeds from a Clever API (e.g. a running fake-clever serve); no database.",
            discussion: """
                Pages through each --feed with the sync's API client (decode and map to records; --transform \
                also runs the transform) and prints records, pages and records/s per feed, and users/s \
                (students + teachers over their wall time). Nothing is written anywhere. The token comes \
                from $CLEVER_TOKEN (default fake-clever-token), never from the command line.
                Example: rostersync fake-clever serve --students 100000 --port 8089 --token demo &
                  CLEVER_TOKEN=demo rostersync fake-clever pull --clever-url http://127.0.0.1:8089
                See benchmarks/api_extract.py for a self-contained before/after measurement.
                """)

        @Option(help: ArgumentHelp("The API root, e.g. http://127.0.0.1:8089.", valueName: "url"))
        var cleverURL: String

        @Option(help: "A feed to read (repeatable): schools, teachers, students, terms, sections, enrollments.")
        var feed: [String] = ["students", "teachers"]

        @Option(help: "Objects per page, 1 to 10000 (the sync uses its --batch-size).")
        var pageSize = 2_000

        @Flag(help: "Read the feeds concurrently, as a sync's stage tasks do, instead of one after another.")
        var concurrent = false

        @Flag(help: "Also run each record through the transform (normalisation, grades, emails).")
        var transform = false

        func validate() throws {
            guard (1...10_000).contains(pageSize) else { throw ValidationError("--page-size must be 1 to 10000") }
            for name in feed where Feed(rawValue: name) == nil {
                throw ValidationError("unknown feed '\(name)'")
            }
        }

        struct Tally: Sendable {
            var feed: Feed
            var records = 0
            var rejections = 0
            var batches = 0
            var seconds = 0.0
        }

        func run() async throws {
            guard let url = URL(string: cleverURL) else { throw ValidationError("--clever-url is not a URL") }
            // From the environment only (CONTRACT.md): a token on a command line is in `ps` for everyone.
            let token = ProcessInfo.processInfo.environment["CLEVER_TOKEN"] ?? "fake-clever-token"
            var logger = Logger(label: "fake-clever-pull")
            logger.logLevel = .warning
            // The sync's client: a server that does not answer fails in 10 s instead of hanging.
            let source = CleverAPISource(
                configuration: .init(baseURL: url, token: token, pageSize: pageSize),
                httpClient: SyncService.cleverHTTPClient, logger: logger)
            try await source.check()
            let feeds = feed.compactMap(Feed.init(rawValue:))
            let transformer = transform ? Transformer() : nil
            let started = ContinuousClock.now
            var tallies: [Tally] = []
            if concurrent {
                tallies = try await withThrowingTaskGroup(of: Tally.self) { group in
                    for feed in feeds { group.addTask { try await Self.pull(feed, from: source, transformer: transformer) } }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
            } else {
                for feed in feeds { tallies.append(try await Self.pull(feed, from: source, transformer: transformer)) }
            }
            let wall = Self.seconds(ContinuousClock.now - started)
            for tally in tallies.sorted(by: { $0.feed.rawValue < $1.feed.rawValue }) {
                print(
                    "\(tally.feed.rawValue): \(tally.records) records, \(tally.rejections) rejections, "
                        + "\(tally.batches) batches, \(Self.format(tally.seconds)) s, "
                        + "\(Int(Double(tally.records) / max(tally.seconds, 1e-9))) records/s")
            }
            let users = tallies.filter { $0.feed == .students || $0.feed == .teachers }.reduce(0) { $0 + $1.records }
            print("total: \(Self.format(wall)) s" + (users > 0 ? ", \(Int(Double(users) / wall)) users/s" : ""))
        }

        static func pull(_ feed: Feed, from source: CleverAPISource, transformer: Transformer?) async throws -> Tally {
            var tally = Tally(feed: feed)
            let started = ContinuousClock.now
            for try await batch in source.batches(of: feed) {
                tally.batches += 1
                tally.rejections += batch.rejections.count
                if let transformer {
                    let (records, rejections) = transformer.transform(batch.records)
                    tally.records += records.count
                    tally.rejections += rejections.count
                } else {
                    tally.records += batch.records.count
                }
            }
            tally.seconds = seconds(ContinuousClock.now - started)
            return tally
        }

        static func seconds(_ duration: Duration) -> Double {
            Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        }

        static func format(_ seconds: Double) -> String { String(format: "%.2f", seconds) }
    }
}
