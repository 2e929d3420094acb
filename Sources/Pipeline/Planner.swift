/// The pure state machine behind the runner: which tasks may start, what a failure means.
/// No IO and no clocks, so every path is tested directly.
public struct Planner: Sendable {
    public enum TaskState: Sendable, Equatable {
        case pending
        case running(attempt: Int)
        /// Failed with a retriable error; may start again as `attempt + 1`.
        case waitingToRetry(attempt: Int)
        case succeeded
        case failed
        /// Not run because a task it needs failed (or the run was cancelled).
        case skipped
    }

    /// What the runner should do after a failure.
    public enum FailureDecision: Sendable, Equatable {
        case retry(nextAttempt: Int)
        case fail
    }

    public enum Outcome: Sendable, Equatable {
        case running
        case succeeded
        case failed(failedTasks: [String])
        case cancelled
    }

    public let definition: PipelineDefinition
    public private(set) var states: [String: TaskState]
    private var cancelled = false

    /// `completed`: tasks that succeeded in an earlier attempt of this run (resume).
    public init(definition: PipelineDefinition, completed: Set<String> = []) {
        self.definition = definition
        var states: [String: TaskState] = [:]
        for task in definition.tasks { states[task.name] = completed.contains(task.name) ? .succeeded : .pending }
        self.states = states
    }

    /// Tasks that may start now, in file order, at most `limit` of them counting those running.
    public func ready(limit: Int) -> [(task: TaskDefinition, attempt: Int)] {
        guard !cancelled else { return [] }
        let running = states.values.filter { if case .running = $0 { true } else { false } }.count
        var result: [(TaskDefinition, Int)] = []
        for task in definition.tasks where result.count + running < limit {
            let attempt: Int
            switch states[task.name] {
            case .pending: attempt = 1
            case .waitingToRetry(let previous): attempt = previous + 1
            default: continue
            }
            if task.needs.allSatisfy({ states[$0] == .succeeded }) { result.append((task, attempt)) }
        }
        return result
    }

    public mutating func started(_ name: String, attempt: Int) {
        states[name] = .running(attempt: attempt)
    }

    public mutating func succeeded(_ name: String) {
        states[name] = .succeeded
    }

    /// Records a failure; a retriable one with attempts left is retried, anything else fails the
    /// task and skips everything that depends on it.
    public mutating func failed(_ name: String, retriable: Bool) -> FailureDecision {
        guard case .running(let attempt) = states[name], let task = definition.task(named: name) else {
            states[name] = .failed
            skipDependents()
            return .fail
        }
        if retriable && attempt <= task.retries && !cancelled {
            states[name] = .waitingToRetry(attempt: attempt)
            return .retry(nextAttempt: attempt + 1)
        }
        states[name] = .failed
        skipDependents()
        return .fail
    }

    /// Stops starting tasks; running ones finish or fail on their own.
    public mutating func cancel() {
        cancelled = true
        for (name, state) in states where state == .pending || isWaiting(state) { states[name] = .skipped }
    }

    public var outcome: Outcome {
        if states.values.contains(where: { if case .running = $0 { true } else { false } }) { return .running }
        if cancelled { return .cancelled }
        let failed = definition.tasks.map(\.name).filter { states[$0] == .failed }
        if !failed.isEmpty {
            if states.values.contains(where: { $0 == .pending || isWaiting($0) }) && !ready(limit: .max).isEmpty {
                return .running
            }
            return .failed(failedTasks: failed)
        }
        if states.values.allSatisfy({ $0 == .succeeded }) { return .succeeded }
        return .running
    }

    private func isWaiting(_ state: TaskState) -> Bool {
        if case .waitingToRetry = state { return true }
        return false
    }

    private mutating func skipDependents() {
        var changed = true
        while changed {
            changed = false
            for task in definition.tasks where states[task.name] == .pending || isWaiting(states[task.name] ?? .pending) {
                if task.needs.contains(where: { states[$0] == .failed || states[$0] == .skipped }) {
                    states[task.name] = .skipped
                    changed = true
                }
            }
        }
    }
}
