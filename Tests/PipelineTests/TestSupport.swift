import Foundation
import Testing

@testable import Pipeline

/// Builders and recorders shared by the Pipeline tests.
enum Fixture {
    /// The kinds `pipelines/nightly.yml` uses, in the order they first appear.
    static let nightlyKinds = ["check-source", "stage", "prepare", "guard", "merge", "prune"]

    /// The kinds the hand-written test pipelines use.
    static let kinds: Set<String> = ["work"]

    /// `pipelines/nightly.yml` in this repository, found from this source file.
    static var nightlyURL: URL {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()  // PipelineTests
            .deletingLastPathComponent()  // Tests
            .deletingLastPathComponent()  // package root
            .appendingPathComponent("pipelines/nightly.yml")
    }

    static func nightly() throws -> PipelineDefinition {
        try PipelineLoader.load(contentsOf: nightlyURL, knownKinds: Set(nightlyKinds))
    }

    static func task(
        _ name: String, needs: [String] = [], retries: Int = 0, timeout: Duration? = nil
    ) -> TaskDefinition {
        TaskDefinition(name: name, kind: "work", needs: needs, retries: retries, timeout: timeout)
    }

    static func pipeline(_ tasks: TaskDefinition...) -> PipelineDefinition {
        PipelineDefinition(name: "test", tasks: tasks)
    }

    /// a -> (b, c) -> d
    static func diamond(retries: Int = 0) -> PipelineDefinition {
        pipeline(
            task("a", retries: retries),
            task("b", needs: ["a"], retries: retries),
            task("c", needs: ["a"], retries: retries),
            task("d", needs: ["b", "c"], retries: retries)
        )
    }
}

/// Collects values from concurrent tasks in the order they arrive.
actor Recorder<Value: Sendable> {
    private(set) var values: [Value] = []

    func append(_ value: Value) { values.append(value) }

    func count(where predicate: @Sendable (Value) -> Bool) -> Int { values.filter(predicate).count }
}

/// Counts tasks in flight and remembers the highest count seen.
actor Gauge {
    private(set) var current = 0
    private(set) var peak = 0

    func enter() {
        current += 1
        peak = max(peak, current)
    }

    func leave() { current -= 1 }
}

/// An error the tests class as retriable (or not) through `isRetriable`.
struct TestFailure: Error, Equatable {
    var retriable: Bool
}

extension Runner {
    /// A runner with tiny backoff and a quiet logger.
    static func forTests(maxParallelTasks: Int = 3) -> Runner {
        var runner = Runner(
            configuration: .init(
                maxParallelTasks: maxParallelTasks, backoffBase: .milliseconds(1), backoffMax: .milliseconds(4)),
            logger: .init(label: "PipelineTests"))
        runner.logger.logLevel = .critical
        return runner
    }

    /// Classes ``TestFailure`` by its flag and everything else as retriable.
    static let testRetriable: @Sendable (any Error) -> Bool = { error in
        (error as? TestFailure)?.retriable ?? true
    }
}
