/// A pipeline as written in `pipelines/*.yml`: named tasks, each of a kind the runner knows,
/// with the tasks it needs, its settings, retries and timeout.
public struct PipelineDefinition: Sendable, Equatable {
    public var name: String
    public var description: String?
    /// Tasks in file order.
    public var tasks: [TaskDefinition]

    public init(name: String, description: String? = nil, tasks: [TaskDefinition]) {
        self.name = name
        self.description = description
        self.tasks = tasks
    }

    public func task(named name: String) -> TaskDefinition? { tasks.first { $0.name == name } }
}

/// One task of a pipeline.
public struct TaskDefinition: Sendable, Equatable {
    public var name: String
    public var kind: String
    public var needs: [String]
    public var settings: [String: String]
    /// Further attempts after a retriable failure (0 = one attempt only).
    public var retries: Int
    public var timeout: Duration?
    /// The line of the task in its file, for error messages.
    public var line: Int

    public init(
        name: String, kind: String, needs: [String] = [], settings: [String: String] = [:], retries: Int = 0,
        timeout: Duration? = nil, line: Int = 0
    ) {
        self.name = name
        self.kind = kind
        self.needs = needs
        self.settings = settings
        self.retries = retries
        self.timeout = timeout
        self.line = line
    }
}

/// A pipeline file that cannot be used; the message names the file, line and task.
public struct PipelineError: Error, Sendable, CustomStringConvertible, Equatable {
    public var file: String
    public var line: Int?
    public var task: String?
    public var message: String

    public init(file: String, line: Int? = nil, task: String? = nil, message: String) {
        self.file = file
        self.line = line
        self.task = task
        self.message = message
    }

    public var description: String {
        var where_ = file
        if let line { where_ += ":\(line)" }
        if let task { where_ += " (task '\(task)')" }
        return "\(where_): \(message)"
    }
}
