public import Logging

/// Drives a ``Planner`` with real tasks: independent tasks in parallel up to a bound, retries
/// with exponential backoff and full jitter, a timeout per task, and cancellation that stops
/// starting new tasks. Knows nothing of what the tasks do.
public struct Runner: Sendable {
    public struct Configuration: Sendable {
        public var maxParallelTasks: Int
        public var backoffBase: Duration
        public var backoffMax: Duration

        public init(maxParallelTasks: Int = 3, backoffBase: Duration = .milliseconds(500), backoffMax: Duration = .seconds(30)) {
            self.maxParallelTasks = max(1, maxParallelTasks)
            self.backoffBase = backoffBase
            self.backoffMax = backoffMax
        }
    }

    /// What a task reports when it ends well.
    public struct TaskResult: Sendable {
        public var rowsIn: Int?
        public var rowsOut: Int?

        public init(rowsIn: Int? = nil, rowsOut: Int? = nil) {
            self.rowsIn = rowsIn
            self.rowsOut = rowsOut
        }
    }

    /// Called as tasks start and end (the run ledger listens here).
    public struct Observer: Sendable {
        public var started: @Sendable (TaskDefinition, Int) async -> Void
        public var finished: @Sendable (TaskDefinition, Int, Result<TaskResult, any Error>) async -> Void

        public init(
            started: @escaping @Sendable (TaskDefinition, Int) async -> Void = { _, _ in },
            finished: @escaping @Sendable (TaskDefinition, Int, Result<TaskResult, any Error>) async -> Void = { _, _, _ in }
        ) {
            self.started = started
            self.finished = finished
        }
    }

    /// A task that ran past its timeout.
    public struct TimeoutError: Error, Sendable, CustomStringConvertible {
        public var task: String
        public var timeout: Duration
        public var description: String { "task '\(task)' ran longer than its timeout of \(timeout)" }
    }

    public var configuration: Configuration
    public var logger: Logger

    public init(configuration: Configuration = .init(), logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Runs the plan to the end and returns the final planner (its states say what happened).
    /// `isRetriable` classes errors; `execute` runs one attempt of one task.
    public func run(
        _ initial: Planner,
        observer: Observer = Observer(),
        isRetriable: @escaping @Sendable (any Error) -> Bool,
        execute: @escaping @Sendable (TaskDefinition, Int) async throws -> TaskResult
    ) async -> Planner {
        var planner = initial
        await withTaskGroup(of: (String, Int, Result<TaskResult, any Error>).self) { group in
            var inFlight = 0
            while true {
                if Task.isCancelled { planner.cancel() }
                for (task, attempt) in planner.ready(limit: configuration.maxParallelTasks) {
                    planner.started(task.name, attempt: attempt)
                    inFlight += 1
                    let delay = attempt > 1 ? backoff(attempt: attempt - 1) : nil
                    group.addTask {
                        if let delay {
                            // A run cancelled during the backoff must not start the next attempt.
                            do { try await Task.sleep(for: delay) } catch { return (task.name, attempt, .failure(error)) }
                        }
                        await observer.started(task, attempt)
                        let result = await Self.attempt(task, attempt, execute)
                        await observer.finished(task, attempt, result)
                        return (task.name, attempt, result)
                    }
                }
                guard inFlight > 0, let (name, attempt, result) = await group.next() else { break }
                inFlight -= 1
                // Learn of a cancellation before judging a failure, so it is not scheduled for a retry.
                if Task.isCancelled { planner.cancel() }
                switch result {
                case .success:
                    planner.succeeded(name)
                case .failure(let error):
                    let retriable = !(error is CancellationError) && isRetriable(error)
                    let decision = planner.failed(name, retriable: retriable)
                    logger.warning(
                        "task failed",
                        metadata: [
                            "etl.task": "\(name)", "etl.attempt": "\(attempt)",
                            "etl.decision": "\(decision == .fail ? "fail" : "retry")",
                            "error": "\(String(reflecting: error))",
                        ])
                }
            }
        }
        if Task.isCancelled { planner.cancel() }
        return planner
    }

    private static func attempt(
        _ task: TaskDefinition, _ attempt: Int,
        _ execute: @escaping @Sendable (TaskDefinition, Int) async throws -> TaskResult
    ) async -> Result<TaskResult, any Error> {
        do {
            guard let timeout = task.timeout else { return .success(try await execute(task, attempt)) }
            return .success(
                try await withThrowingTaskGroup(of: TaskResult.self) { group in
                    group.addTask { try await execute(task, attempt) }
                    group.addTask {
                        try await Task.sleep(for: timeout)
                        throw TimeoutError(task: task.name, timeout: timeout)
                    }
                    defer { group.cancelAll() }
                    guard let first = try await group.next() else { throw CancellationError() }
                    return first
                })
        } catch {
            return .failure(error)
        }
    }

    /// Exponential backoff with full jitter: a random delay up to base * 2^(n-1), capped.
    func backoff(attempt: Int) -> Duration {
        let ceiling = min(configuration.backoffMax, configuration.backoffBase * (1 << min(attempt - 1, 20)))
        let millis = Int(ceiling.components.seconds * 1000 + ceiling.components.attoseconds / 1_000_000_000_000_000)
        return .milliseconds(Int.random(in: 0...max(0, millis)))
    }
}
