import Foundation
import Logging
import PostgresLoad
import RosterModel
import Testing

@Suite("Staging", .timeLimit(.minutes(10)))
struct StagerTests {
    @Test("A stage cancelled while it waits for the extract commits nothing: the feed's end is not taken for a whole feed")
    func cancelledStageCommitsNothing() async throws {
        try await TestDatabase.withFresh { database in
            // One batch, then an extract that never ends: a stage waiting on a slow API page when
            // SIGTERM or a task timeout arrives. A stream ends (rather than throws) when its
            // consumer is cancelled, as the stage's channel does.
            let (batches, feed) = AsyncThrowingStream<([Record], [Rejection]), any Error>.makeStream()
            // Over 128 KiB of COPY data, sent as it is encoded: nothing is left to send at the end.
            let schools = (0..<3_000).map { index in
                Record.school(
                    SchoolRecord(
                        source: .csv("schools.csv", line: index + 2), sisID: "S\(index)",
                        name: "Abraham Lincoln Memorial Elementary and Middle School, campus \(index)"))
            }
            // Rejections too, over 64 KiB of them: none may be committed either.
            let rejections = (0..<1_000).map { index in
                Rejection(
                    entity: .school, source: .csv("schools.csv", line: 5_000 + index), reason: .malformedRow,
                    detail: "expected 4 fields, found 5: a comma in a name, most likely, on this row of the file")
            }
            feed.yield((schools, rejections))
            let stage = Task {
                try await database.withConnection(logger: TestDatabase.logger) { rows in
                    try await database.withConnection(logger: TestDatabase.logger) { rejects in
                        try await Stager.prepare(rows, logger: TestDatabase.logger)
                        try await Stager.prepare(rejects, logger: TestDatabase.logger)
                        return try await Stager(runID: 7, logger: TestDatabase.logger)
                            .stage(.school, batches: batches, rows: rows, rejects: rejects)
                    }
                }
            }
            try await database.waitUntil("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY%schools%'")
            try await Task.sleep(for: .milliseconds(300))
            stage.cancel()
            await #expect(throws: (any Error).self) { _ = try await stage.value }
            feed.finish()
            #expect(try await database.int("SELECT count(*) FROM staging.schools WHERE run_id = 7") == 0, "nothing committed")
            #expect(try await database.int("SELECT count(*) FROM staging.rejects WHERE run_id = 7") == 0, "no rejections committed")
        }
    }

    @Test("A long stage reports its progress at info level, every interval of rows, naming the table")
    func stageReportsProgress() async throws {
        try await TestDatabase.withFresh { database in
            let (batches, feed) = AsyncThrowingStream<([Record], [Rejection]), any Error>.makeStream()
            for batch in 0..<25 {
                feed.yield(((0..<100).map { index in
                    let line = batch * 100 + index + 2
                    return Record.school(
                        SchoolRecord(source: .csv("schools.csv", line: line), sisID: "S\(line)", name: "School \(line)"))
                }, []))
            }
            feed.finish()
            let recorder = RecordingLogHandler()
            let logger = Logger(label: "stage-progress") { _ in recorder }
            let counts = try await database.withConnection(logger: TestDatabase.logger) { rows in
                try await database.withConnection(logger: TestDatabase.logger) { rejects in
                    try await Stager.prepare(rows, logger: TestDatabase.logger)
                    try await Stager.prepare(rejects, logger: TestDatabase.logger)
                    return try await Stager(runID: 8, logger: logger, progressInterval: 1_000)
                        .stage(.school, batches: batches, rows: rows, rejects: rejects)
                }
            }
            #expect(counts.rows == 2_500)
            let progress = recorder.entries.filter { $0.level == .info && $0.message == "staging" }
            #expect(progress.map { "\($0.metadata["db.table"] ?? "") \($0.metadata["etl.rows"] ?? "")" }
                == ["staging.schools 1000", "staging.schools 2000"])
            #expect(try await database.int("SELECT count(*) FROM staging.schools WHERE run_id = 8") == 2_500)
        }
    }
}
