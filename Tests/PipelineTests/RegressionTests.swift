import Foundation
import Testing

@testable import Pipeline

/// Bugs found in review, each pinned by the test that showed it.
@Suite("Pipeline regressions")
struct RegressionTests {
    @Test("A huge timeout is a pipeline error, not an arithmetic overflow")
    func hugeTimeout() {
        let yaml = """
            name: p
            tasks:
              a:
                kind: stage
                timeout: 200000000000000000m
            """
        #expect(throws: PipelineError.self) { try PipelineLoader.parse(yaml, file: "p.yml", knownKinds: ["stage"]) }
        #expect(PipelineLoader.parseDuration("8d") == nil)
        #expect(PipelineLoader.parseDuration("168h") == .seconds(604_800))
    }

    @Test("A run cancelled during a retry's backoff does not start the next attempt", .timeLimit(.minutes(1)))
    func noAttemptAfterCancelDuringBackoff() async throws {
        let attempts = Recorder<Int>()
        let runner = Runner(
            configuration: .init(maxParallelTasks: 1, backoffBase: .seconds(10), backoffMax: .seconds(10)),
            logger: .init(label: "PipelineTests"))
        let definition = Fixture.pipeline(Fixture.task("a", retries: 3))
        let (failed, failedSink) = AsyncStream<Void>.makeStream()
        let planner = await withTaskGroup(of: Planner?.self) { group in
            group.addTask {
                await runner.run(Planner(definition: definition), isRetriable: { _ in true }) { _, attempt in
                    await attempts.append(attempt)
                    failedSink.yield()
                    throw TestFailure(retriable: true)
                }
            }
            group.addTask {
                // Cancel as soon as attempt 1 has failed: the run is then in its backoff (up to 10 s).
                for await _ in failed { break }
                try? await Task.sleep(for: .milliseconds(1))
                return nil
            }
            var result: Planner?
            for await value in group {
                if let value { result = value } else { group.cancelAll() }
            }
            return result
        }
        #expect(await attempts.values == [1])
        #expect(planner?.outcome == .cancelled)
    }
}
