import Testing

@testable import Pipeline

/// The runner with real async closures. Durations are milliseconds; nothing asserts on wall-clock speed.
@Suite("Runner", .timeLimit(.minutes(1)))
struct RunnerTests {
    @Test("a diamond runs in dependency order")
    func diamondInDependencyOrder() async throws {
        let events = Recorder<String>()
        let planner = await Runner.forTests(maxParallelTasks: 4).run(
            Planner(definition: Fixture.diamond()), isRetriable: Runner.testRetriable
        ) { task, attempt in
            #expect(attempt == 1)
            await events.append("start \(task.name)")
            try await Task.sleep(for: .milliseconds(3))
            await events.append("end \(task.name)")
            return .init()
        }

        #expect(planner.outcome == .succeeded)
        let log = await events.values
        #expect(log.count == 8, "each task ran once: \(log)")
        func at(_ event: String) throws -> Int { try #require(log.firstIndex(of: event), "\(event) in \(log)") }
        #expect(try at("end a") < at("start b"))
        #expect(try at("end a") < at("start c"))
        #expect(try at("end b") < at("start d"))
        #expect(try at("end c") < at("start d"))
    }

    @Test("never runs more than maxParallelTasks at once", arguments: [1, 2, 3])
    func respectsParallelLimit(limit: Int) async {
        let gauge = Gauge()
        let definition = PipelineDefinition(
            name: "wide",
            tasks: [Fixture.task("root")] + (1...9).map { Fixture.task("t\($0)", needs: ["root"]) })
        let planner = await Runner.forTests(maxParallelTasks: limit).run(
            Planner(definition: definition), isRetriable: Runner.testRetriable
        ) { task, _ in
            await gauge.enter()
            // Hold the first tasks until the limit has been reached once (bounded), so the peak does not
            // depend on scheduling; the rest just sleep a little.
            let deadline = ContinuousClock.now + .seconds(2)
            while task.name != "root", await gauge.peak < limit, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(1))
            }
            try await Task.sleep(for: .milliseconds(2))
            await gauge.leave()
            return .init()
        }

        #expect(planner.outcome == .succeeded)
        #expect(await gauge.peak == limit)
        #expect(await gauge.current == 0)
    }

    @Test("the configuration runs at least one task at a time", arguments: [-3, 0, 1])
    func parallelLimitAtLeastOne(requested: Int) {
        #expect(Runner.Configuration(maxParallelTasks: requested).maxParallelTasks == 1)
    }

    @Test("a task that fails twice then succeeds is retried (retries: 2)")
    func retriesUntilSuccess() async {
        let ran = Recorder<String>()
        let definition = Fixture.pipeline(Fixture.task("flaky", retries: 2), Fixture.task("after", needs: ["flaky"]))
        let planner = await Runner.forTests().run(Planner(definition: definition), isRetriable: Runner.testRetriable) {
            task, attempt in
            await ran.append("\(task.name)#\(attempt)")
            if task.name == "flaky" && attempt < 3 { throw TestFailure(retriable: true) }
            return .init()
        }

        #expect(await ran.values == ["flaky#1", "flaky#2", "flaky#3", "after#1"])
        #expect(planner.outcome == .succeeded)
    }

    @Test("retries exhausted: the task fails, its dependents are skipped, other branches finish")
    func givesUpAfterRetries() async {
        let ran = Recorder<String>()
        let definition = Fixture.pipeline(
            Fixture.task("flaky", retries: 2),
            Fixture.task("after", needs: ["flaky"]),
            Fixture.task("afterAfter", needs: ["after"]),
            Fixture.task("independent"))
        let planner = await Runner.forTests().run(Planner(definition: definition), isRetriable: Runner.testRetriable) {
            task, attempt in
            await ran.append("\(task.name)#\(attempt)")
            if task.name == "flaky" { throw TestFailure(retriable: true) }
            return .init()
        }

        let log = await ran.values
        #expect(log.filter { $0.hasPrefix("flaky#") }.sorted() == ["flaky#1", "flaky#2", "flaky#3"])
        #expect(log.contains("independent#1"))
        #expect(!log.contains { $0.hasPrefix("after") }, "\(log)")
        #expect(planner.outcome == .failed(failedTasks: ["flaky"]))
        #expect(
            planner.states == ["flaky": .failed, "after": .skipped, "afterAfter": .skipped, "independent": .succeeded])
    }

    @Test("a non-retriable error is not retried")
    func nonRetriableNotRetried() async {
        let ran = Recorder<Int>()
        let planner = await Runner.forTests().run(
            Planner(definition: Fixture.pipeline(Fixture.task("a", retries: 3))), isRetriable: Runner.testRetriable
        ) { _, attempt in
            await ran.append(attempt)
            throw TestFailure(retriable: false)
        }
        #expect(await ran.values == [1])
        #expect(planner.outcome == .failed(failedTasks: ["a"]))
    }

    @Test("a CancellationError from a task is never retried, whatever isRetriable says")
    func cancellationErrorNotRetried() async {
        let ran = Recorder<Int>()
        let planner = await Runner.forTests().run(
            Planner(definition: Fixture.pipeline(Fixture.task("a", retries: 3))), isRetriable: { _ in true }
        ) { _, attempt in
            await ran.append(attempt)
            throw CancellationError()
        }
        #expect(await ran.values == [1])
        #expect(planner.outcome == .failed(failedTasks: ["a"]))
    }

    @Test("a task past its timeout fails with Runner.TimeoutError and its dependents are skipped")
    func timeout() async {
        let failures = Recorder<String>()
        let observer = Runner.Observer(finished: { task, attempt, result in
            guard case .failure(let error) = result else { return }
            if let timeout = error as? Runner.TimeoutError {
                await failures.append("\(task.name)#\(attempt) timeout \(timeout.task) \(timeout.timeout)")
                #expect(timeout.description.contains("'\(task.name)'"))
            } else {
                await failures.append("\(task.name)#\(attempt) \(error)")
            }
        })
        let definition = Fixture.pipeline(
            Fixture.task("slow", timeout: .milliseconds(50)), Fixture.task("after", needs: ["slow"]))
        let planner = await Runner.forTests().run(
            Planner(definition: definition), observer: observer, isRetriable: { _ in false }
        ) { _, _ in
            try await Task.sleep(for: .seconds(5))
            return .init()
        }

        #expect(await failures.values == ["slow#1 timeout slow \(Duration.milliseconds(50))"])
        #expect(planner.states == ["slow": .failed, "after": .skipped])
        #expect(planner.outcome == .failed(failedTasks: ["slow"]))
    }

    @Test("a timed-out attempt is retried when the error is classed retriable")
    func timeoutRetried() async {
        let ran = Recorder<Int>()
        let definition = Fixture.pipeline(Fixture.task("slow", retries: 1, timeout: .milliseconds(30)))
        let planner = await Runner.forTests().run(
            Planner(definition: definition), isRetriable: { $0 is Runner.TimeoutError }
        ) { _, attempt in
            await ran.append(attempt)
            if attempt == 1 { try await Task.sleep(for: .seconds(5)) }
            return .init()
        }
        #expect(await ran.values == [1, 2])
        #expect(planner.outcome == .succeeded)
    }

    @Test("a task that ends within its timeout succeeds with its result")
    func withinTimeout() async {
        let rows = Recorder<Int>()
        let observer = Runner.Observer(finished: { _, _, result in
            if case .success(let value) = result { await rows.append(value.rowsOut ?? -1) }
        })
        let definition = Fixture.pipeline(Fixture.task("quick", timeout: .seconds(30)))
        let planner = await Runner.forTests().run(
            Planner(definition: definition), observer: observer, isRetriable: Runner.testRetriable
        ) { _, _ in
            try await Task.sleep(for: .milliseconds(1))
            return .init(rowsIn: 10, rowsOut: 7)
        }
        #expect(planner.outcome == .succeeded)
        #expect(await rows.values == [7])
    }

    @Test("the observer hears started and finished for every attempt, in that order")
    func observerSeesEveryAttempt() async throws {
        let events = Recorder<String>()
        let executed = Recorder<String>()
        let observer = Runner.Observer(
            started: { task, attempt in await events.append("started \(task.name)#\(attempt)") },
            finished: { task, attempt, result in
                let outcome: String
                switch result {
                case .success(let value): outcome = "ok \(value.rowsIn ?? 0)"
                case .failure: outcome = "failed"
                }
                await events.append("finished \(task.name)#\(attempt) \(outcome)")
            })
        let definition = Fixture.pipeline(
            Fixture.task("flaky", retries: 2), Fixture.task("a"), Fixture.task("b", needs: ["a"]),
            Fixture.task("c", needs: ["b"]))
        let planner = await Runner.forTests(maxParallelTasks: 2).run(
            Planner(definition: definition), observer: observer, isRetriable: Runner.testRetriable
        ) { task, attempt in
            await executed.append("\(task.name)#\(attempt)")
            switch (task.name, attempt) {
            case ("flaky", 1), ("flaky", 2): throw TestFailure(retriable: true)
            case ("b", _): throw TestFailure(retriable: false)
            default: return .init(rowsIn: attempt)
            }
        }

        #expect(planner.outcome == .failed(failedTasks: ["b"]))
        #expect(planner.states["c"] == .skipped)
        let log = await events.values
        let attempts = await executed.values
        #expect(Set(attempts) == ["flaky#1", "flaky#2", "flaky#3", "a#1", "b#1"])
        #expect(log.count == 2 * attempts.count)
        for attempt in attempts {
            let started = try #require(log.firstIndex(of: "started \(attempt)"))
            let finished = try #require(log.firstIndex { $0.hasPrefix("finished \(attempt) ") })
            #expect(started < finished)
        }
        #expect(log.contains("finished flaky#1 failed"))
        #expect(log.contains("finished flaky#2 failed"))
        #expect(log.contains("finished flaky#3 ok 3"))
        #expect(log.contains("finished a#1 ok 1"))
        #expect(log.contains("finished b#1 failed"))
    }

    @Test("resume: the runner executes only the tasks not completed before")
    func resume() async {
        let ran = Recorder<String>()
        let planner = await Runner.forTests().run(
            Planner(definition: Fixture.diamond(), completed: ["a", "c"]), isRetriable: Runner.testRetriable
        ) { task, _ in
            await ran.append(task.name)
            return .init()
        }
        #expect(await ran.values == ["b", "d"])
        #expect(planner.outcome == .succeeded)
    }

    // MARK: - Cancellation

    /// Runs `definition` in a child task, cancels it once `trigger` has fired, and returns the final planner.
    private func runAndCancel(
        _ definition: PipelineDefinition, trigger: AsyncStream<Void>,
        execute: @escaping @Sendable (TaskDefinition, Int) async throws -> Runner.TaskResult
    ) async throws -> Planner {
        let runner = Runner.forTests(maxParallelTasks: 1)
        let planner = await withTaskGroup(of: Planner.self) { group in
            group.addTask {
                await runner.run(Planner(definition: definition), isRetriable: { _ in true }, execute: execute)
            }
            for await _ in trigger { break }
            group.cancelAll()
            return await group.next()
        }
        return try #require(planner)
    }

    @Test("cancelling the surrounding task stops new tasks; the interrupted task is not retried")
    func cancellationStopsNewTasks() async throws {
        let (started, signal) = AsyncStream<Void>.makeStream()
        let ran = Recorder<String>()
        let definition = Fixture.pipeline(
            Fixture.task("long", retries: 3), Fixture.task("after", needs: ["long"]), Fixture.task("queued"))

        let planner = try await runAndCancel(definition, trigger: started) { task, _ in
            await ran.append(task.name)
            if task.name == "long" {
                signal.yield()
                try await Task.sleep(for: .seconds(10))
            }
            return .init()
        }

        #expect(await ran.values == ["long"])
        #expect(planner.outcome == .cancelled)
        #expect(planner.states == ["long": .failed, "after": .skipped, "queued": .skipped])
    }

    @Test("after cancellation a running task may still finish well; nothing new starts")
    func cancellationLetsRunningTaskFinish() async throws {
        let (started, signal) = AsyncStream<Void>.makeStream()
        let ran = Recorder<String>()
        let definition = Fixture.pipeline(Fixture.task("first"), Fixture.task("second"), Fixture.task("third"))

        let planner = try await runAndCancel(definition, trigger: started) { task, _ in
            await ran.append(task.name)
            if task.name == "first" {
                signal.yield()
                let deadline = ContinuousClock.now + .seconds(5)
                while !Task.isCancelled, ContinuousClock.now < deadline { await Task.yield() }
            }
            return .init()
        }

        #expect(await ran.values == ["first"])
        #expect(planner.outcome == .cancelled)
        #expect(planner.states == ["first": .succeeded, "second": .skipped, "third": .skipped])
    }

    // MARK: - Backoff

    @Test(
        "backoff is full jitter under base * 2^(n-1), capped",
        arguments: [(1, 100), (2, 200), (3, 400), (4, 800), (5, 1000), (30, 1000)])
    func backoffBounds(attempt: Int, ceilingMillis: Int) {
        let runner = Runner(
            configuration: .init(backoffBase: .milliseconds(100), backoffMax: .seconds(1)), logger: .init(label: "t"))
        for _ in 0..<200 {
            let delay = runner.backoff(attempt: attempt)
            #expect(delay >= .zero)
            #expect(delay <= .milliseconds(ceilingMillis))
        }
    }
}
