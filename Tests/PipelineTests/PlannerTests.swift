import Testing

@testable import Pipeline

/// The planner is a pure state machine: every test drives it by hand, with no IO and no clock.
@Suite("Planner")
struct PlannerTests {
    private func names(_ ready: [(task: TaskDefinition, attempt: Int)]) -> [String] { ready.map(\.task.name) }

    private func attempts(_ ready: [(task: TaskDefinition, attempt: Int)]) -> [String: Int] {
        Dictionary(uniqueKeysWithValues: ready.map { ($0.task.name, $0.attempt) })
    }

    /// Starts every task `ready(limit:)` offers and returns their names.
    @discardableResult
    private func startReady(_ planner: inout Planner, limit: Int = .max) -> [String] {
        let ready = planner.ready(limit: limit)
        for (task, attempt) in ready { planner.started(task.name, attempt: attempt) }
        return names(ready)
    }

    // MARK: - ready(limit:)

    @Test(
        "independent tasks are offered in file order up to the limit",
        arguments: [(1, ["d"]), (2, ["d", "b"]), (3, ["d", "b", "a"]), (4, ["d", "b", "a", "c"]), (99, ["d", "b", "a", "c"])])
    func readyRespectsLimitAndFileOrder(limit: Int, expected: [String]) {
        let planner = Planner(
            definition: Fixture.pipeline(Fixture.task("d"), Fixture.task("b"), Fixture.task("a"), Fixture.task("c")))
        #expect(names(planner.ready(limit: limit)) == expected)
        #expect(planner.ready(limit: limit).allSatisfy { $0.attempt == 1 })
        #expect(planner.outcome == .running)
    }

    @Test("running tasks count against the limit")
    func runningCountsAgainstLimit() {
        var planner = Planner(
            definition: Fixture.pipeline(Fixture.task("a"), Fixture.task("b"), Fixture.task("c"), Fixture.task("d")))
        #expect(startReady(&planner, limit: 2) == ["a", "b"])
        #expect(planner.ready(limit: 2).isEmpty)
        #expect(names(planner.ready(limit: 3)) == ["c"])

        planner.succeeded("a")
        #expect(startReady(&planner, limit: 2) == ["c"])
        #expect(planner.ready(limit: 2).isEmpty)
        planner.succeeded("b")
        planner.succeeded("c")
        #expect(startReady(&planner, limit: 2) == ["d"])
    }

    @Test("a task is offered only when everything it needs has succeeded")
    func readyRespectsNeeds() {
        var planner = Planner(definition: Fixture.diamond())
        #expect(names(planner.ready(limit: .max)) == ["a"])

        planner.started("a", attempt: 1)
        #expect(planner.ready(limit: .max).isEmpty, "b and c wait while a runs")
        #expect(planner.states["a"] == .running(attempt: 1))

        planner.succeeded("a")
        #expect(startReady(&planner) == ["b", "c"])
        planner.succeeded("b")
        #expect(planner.ready(limit: .max).isEmpty, "d still needs c")
        planner.succeeded("c")
        #expect(names(planner.ready(limit: .max)) == ["d"])
        #expect(planner.outcome == .running)

        startReady(&planner)
        planner.succeeded("d")
        #expect(planner.outcome == .succeeded)
        #expect(planner.ready(limit: .max).isEmpty)
        #expect(planner.states.values.allSatisfy { $0 == .succeeded })
    }

    @Test("a dependent later in the file still waits for a task listed after it")
    func needsIndependentOfFileOrder() {
        var planner = Planner(definition: Fixture.pipeline(Fixture.task("late", needs: ["early"]), Fixture.task("early")))
        #expect(startReady(&planner) == ["early"])
        planner.succeeded("early")
        #expect(startReady(&planner) == ["late"])
        planner.succeeded("late")
        #expect(planner.outcome == .succeeded)
    }

    // MARK: - Failures and retries

    @Test("a retriable failure with retries left is retried with the next attempt number")
    func retriesThenSucceeds() {
        var planner = Planner(
            definition: Fixture.pipeline(Fixture.task("a", retries: 2), Fixture.task("b", needs: ["a"])))
        startReady(&planner)

        #expect(planner.failed("a", retriable: true) == .retry(nextAttempt: 2))
        #expect(planner.states["a"] == .waitingToRetry(attempt: 1))
        #expect(planner.outcome == .running)
        #expect(attempts(planner.ready(limit: .max)) == ["a": 2])

        startReady(&planner)
        #expect(planner.states["a"] == .running(attempt: 2))
        #expect(planner.failed("a", retriable: true) == .retry(nextAttempt: 3))
        #expect(attempts(planner.ready(limit: .max)) == ["a": 3])

        startReady(&planner)
        planner.succeeded("a")
        #expect(attempts(planner.ready(limit: .max)) == ["b": 1])
    }

    @Test("retries exhausted: the task fails and every transitive dependent is skipped")
    func retriesExhausted() {
        var planner = Planner(
            definition: Fixture.pipeline(
                Fixture.task("a", retries: 2),
                Fixture.task("b", needs: ["a"]),
                Fixture.task("c", needs: ["b"]),
                Fixture.task("d", needs: ["c", "a"]),
                Fixture.task("other")
            ))
        #expect(startReady(&planner, limit: 1) == ["a"])
        #expect(planner.failed("a", retriable: true) == .retry(nextAttempt: 2))
        #expect(startReady(&planner, limit: 1) == ["a"])
        #expect(planner.failed("a", retriable: true) == .retry(nextAttempt: 3))
        #expect(startReady(&planner, limit: 1) == ["a"])
        #expect(planner.states["a"] == .running(attempt: 3))
        #expect(planner.failed("a", retriable: true) == .fail)

        #expect(planner.states["a"] == .failed)
        #expect(planner.states["b"] == .skipped)
        #expect(planner.states["c"] == .skipped)
        #expect(planner.states["d"] == .skipped)
        #expect(planner.states["other"] == .pending)
        #expect(planner.outcome == .running, "'other' can still run")

        #expect(startReady(&planner) == ["other"])
        planner.succeeded("other")
        #expect(planner.outcome == .failed(failedTasks: ["a"]))
    }

    @Test("the number of attempts is retries + 1", arguments: [0, 1, 3, 20])
    func attemptsAreRetriesPlusOne(retries: Int) {
        var planner = Planner(definition: Fixture.pipeline(Fixture.task("a", retries: retries)))
        var attemptsMade: [Int] = []
        while let next = planner.ready(limit: 1).first {
            planner.started(next.task.name, attempt: next.attempt)
            attemptsMade.append(next.attempt)
            _ = planner.failed(next.task.name, retriable: true)
        }
        #expect(attemptsMade == Array(1...(retries + 1)))
        #expect(planner.outcome == .failed(failedTasks: ["a"]))
    }

    @Test("a non-retriable failure fails at once, retries or not", arguments: [0, 1, 5])
    func nonRetriableFailsAtOnce(retries: Int) {
        var planner = Planner(
            definition: Fixture.pipeline(Fixture.task("a", retries: retries), Fixture.task("b", needs: ["a"])))
        startReady(&planner)
        #expect(planner.failed("a", retriable: false) == .fail)
        #expect(planner.states["a"] == .failed)
        #expect(planner.states["b"] == .skipped)
        #expect(planner.ready(limit: .max).isEmpty)
        #expect(planner.outcome == .failed(failedTasks: ["a"]))
    }

    @Test("a failure reported for a task that is not running still fails it and skips its dependents")
    func failureOfTaskNotRunning() {
        var planner = Planner(definition: Fixture.pipeline(Fixture.task("a", retries: 3), Fixture.task("b", needs: ["a"])))
        #expect(planner.failed("a", retriable: true) == .fail)
        #expect(planner.states["a"] == .failed)
        #expect(planner.states["b"] == .skipped)
        #expect(planner.outcome == .failed(failedTasks: ["a"]))
    }

    @Test("independent branches keep running after another branch fails")
    func independentBranchesContinue() {
        // a -> b      c -> d -> e
        var planner = Planner(
            definition: Fixture.pipeline(
                Fixture.task("a"), Fixture.task("b", needs: ["a"]),
                Fixture.task("c"), Fixture.task("d", needs: ["c"]), Fixture.task("e", needs: ["d"])))
        #expect(startReady(&planner) == ["a", "c"])

        #expect(planner.failed("a", retriable: false) == .fail)
        #expect(planner.states["b"] == .skipped)
        #expect(planner.outcome == .running, "c is still running")

        planner.succeeded("c")
        #expect(planner.outcome == .running, "d can start")
        #expect(startReady(&planner) == ["d"])
        #expect(planner.outcome == .running)
        planner.succeeded("d")
        #expect(startReady(&planner) == ["e"])
        planner.succeeded("e")

        #expect(planner.outcome == .failed(failedTasks: ["a"]))
        #expect(planner.states == ["a": .failed, "b": .skipped, "c": .succeeded, "d": .succeeded, "e": .succeeded])
    }

    @Test("a task waiting to retry keeps the run going after another task fails")
    func waitingToRetryKeepsRunGoing() {
        var planner = Planner(definition: Fixture.pipeline(Fixture.task("a"), Fixture.task("b", retries: 1)))
        startReady(&planner)
        #expect(planner.failed("a", retriable: false) == .fail)
        #expect(planner.failed("b", retriable: true) == .retry(nextAttempt: 2))
        #expect(planner.outcome == .running)
        #expect(attempts(planner.ready(limit: .max)) == ["b": 2])
        startReady(&planner)
        #expect(planner.failed("b", retriable: true) == .fail)
        #expect(planner.outcome == .failed(failedTasks: ["a", "b"]))
    }

    @Test("failed tasks are listed in file order")
    func failedTasksInFileOrder() {
        var planner = Planner(
            definition: Fixture.pipeline(Fixture.task("z"), Fixture.task("m"), Fixture.task("a"), Fixture.task("ok")))
        startReady(&planner)
        _ = planner.failed("a", retriable: false)
        _ = planner.failed("z", retriable: false)
        planner.succeeded("ok")
        _ = planner.failed("m", retriable: false)
        #expect(planner.outcome == .failed(failedTasks: ["z", "m", "a"]))
    }

    struct FailureCase: Sendable, CustomTestStringConvertible {
        var failing: String
        var skipped: Set<String>
        var testDescription: String { "\(failing) fails" }
    }

    /// Drives the nightly pipeline to the end with one task failing for good.
    @Test(
        "in nightly.yml, a failing task skips exactly what depends on it",
        arguments: [
            FailureCase(
                failing: "check-source",
                skipped: [
                    "stage-schools", "stage-terms", "stage-teachers", "stage-students", "stage-sections",
                    "stage-enrollments", "prepare", "guard", "merge", "prune",
                ]),
            FailureCase(failing: "stage-terms", skipped: ["prepare", "guard", "merge", "prune"]),
            FailureCase(failing: "guard", skipped: ["merge", "prune"]),
            FailureCase(failing: "prune", skipped: []),
        ])
    func nightlyFailure(_ example: FailureCase) throws {
        let definition = try Fixture.nightly()
        var planner = Planner(definition: definition)
        var ran: [String] = []
        while case .running = planner.outcome {
            let ready = planner.ready(limit: 3)
            try #require(!ready.isEmpty, "the run must not stall")
            for (task, attempt) in ready { planner.started(task.name, attempt: attempt) }
            for (task, _) in ready {
                ran.append(task.name)
                if task.name == example.failing {
                    _ = planner.failed(task.name, retriable: false)
                } else {
                    planner.succeeded(task.name)
                }
            }
        }
        #expect(planner.outcome == .failed(failedTasks: [example.failing]))
        let skipped = Set(planner.states.filter { $0.value == .skipped }.keys)
        #expect(skipped == example.skipped)
        #expect(Set(ran) == Set(definition.tasks.map(\.name)).subtracting(example.skipped))
        #expect(ran.first == "check-source")
    }

    // MARK: - Resume

    @Test("resume: completed tasks count as succeeded and only the rest are offered")
    func resume() {
        var planner = Planner(definition: Fixture.diamond(), completed: ["a", "b"])
        #expect(planner.states == ["a": .succeeded, "b": .succeeded, "c": .pending, "d": .pending])
        #expect(startReady(&planner) == ["c"])
        planner.succeeded("c")
        #expect(startReady(&planner) == ["d"])
        planner.succeeded("d")
        #expect(planner.outcome == .succeeded)
    }

    @Test("resume ignores names that are not tasks of the pipeline")
    func resumeIgnoresUnknownNames() {
        let planner = Planner(definition: Fixture.diamond(), completed: ["a", "gone"])
        #expect(planner.states.count == 4)
        #expect(planner.states["gone"] == nil)
        #expect(names(planner.ready(limit: .max)) == ["b", "c"])
    }

    @Test("resume with everything completed has nothing to do")
    func resumeEverythingCompleted() {
        let planner = Planner(definition: Fixture.diamond(), completed: ["a", "b", "c", "d"])
        #expect(planner.ready(limit: .max).isEmpty)
        #expect(planner.outcome == .succeeded)
    }

    // MARK: - Cancel

    @Test("cancel stops offering tasks, skips pending and waiting ones, and lets running ones finish")
    func cancel() {
        var planner = Planner(
            definition: Fixture.pipeline(
                Fixture.task("running"), Fixture.task("retrying", retries: 3), Fixture.task("later"),
                Fixture.task("dependent", needs: ["running"])))
        #expect(startReady(&planner, limit: 2) == ["running", "retrying"])
        #expect(planner.failed("retrying", retriable: true) == .retry(nextAttempt: 2))

        planner.cancel()
        #expect(planner.ready(limit: .max).isEmpty)
        #expect(planner.states["running"] == .running(attempt: 1))
        #expect(planner.states["retrying"] == .skipped)
        #expect(planner.states["later"] == .skipped)
        #expect(planner.states["dependent"] == .skipped)
        #expect(planner.outcome == .running, "a task is still running")

        planner.succeeded("running")
        #expect(planner.ready(limit: .max).isEmpty)
        #expect(planner.outcome == .cancelled)
    }

    @Test("after cancel, a retriable failure is not retried")
    func noRetryAfterCancel() {
        var planner = Planner(definition: Fixture.pipeline(Fixture.task("a", retries: 5), Fixture.task("b")))
        startReady(&planner, limit: 1)
        planner.cancel()
        #expect(planner.failed("a", retriable: true) == .fail)
        #expect(planner.states == ["a": .failed, "b": .skipped])
        #expect(planner.outcome == .cancelled)
    }

    @Test("cancel before anything starts skips every task")
    func cancelBeforeStart() {
        var planner = Planner(definition: Fixture.diamond())
        planner.cancel()
        #expect(planner.ready(limit: .max).isEmpty)
        #expect(planner.states.values.allSatisfy { $0 == .skipped })
        #expect(planner.outcome == .cancelled)
    }
}
