public import Foundation
import Yams

/// Reads and validates pipeline files. Validation happens before anything runs: unknown keys,
/// unknown kinds, missing dependencies and cycles are errors naming the file, line and task.
public enum PipelineLoader {
    static let taskKeys: Set<String> = ["kind", "needs", "settings", "retries", "timeout", "description"]
    static let topKeys: Set<String> = ["name", "description", "tasks"]

    public static func load(contentsOf url: URL, knownKinds: Set<String>) throws -> PipelineDefinition {
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw PipelineError(file: url.path, message: "cannot read the pipeline file: \(error.localizedDescription)")
        }
        return try parse(text, file: url.lastPathComponent, knownKinds: knownKinds)
    }

    public static func parse(_ text: String, file: String, knownKinds: Set<String>) throws -> PipelineDefinition {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw PipelineError(file: file, message: "not valid YAML: \(error)")
        }
        guard let mapping = root?.mapping else {
            throw PipelineError(file: file, line: root.flatMap(line), message: "expected a mapping with 'name' and 'tasks'")
        }
        for (key, _) in mapping {
            guard let name = key.string, topKeys.contains(name) else {
                throw PipelineError(
                    file: file, line: line(key),
                    message: "unknown key '\(key.string ?? "?")'; expected one of \(topKeys.sorted().joined(separator: ", "))")
            }
        }
        let name = mapping["name"]?.string ?? (file as NSString).deletingPathExtension
        // The name is recorded in etl.runs.pipeline: an empty one would say nothing there.
        guard !name.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw PipelineError(file: file, line: mapping["name"].flatMap(line), message: "'name' is empty; name the pipeline or leave it out")
        }
        guard let tasksNode = mapping["tasks"], let tasksMapping = tasksNode.mapping, !tasksMapping.isEmpty else {
            throw PipelineError(file: file, line: root.flatMap(line), message: "'tasks' must be a non-empty mapping of task name to task")
        }
        var tasks: [TaskDefinition] = []
        for (keyNode, taskNode) in tasksMapping {
            guard let taskName = keyNode.string, !taskName.isEmpty else {
                throw PipelineError(file: file, line: line(keyNode), message: "a task name must be a string")
            }
            tasks.append(try parseTask(taskName, taskNode, line: line(keyNode) ?? 0, file: file, knownKinds: knownKinds))
        }
        let definition = PipelineDefinition(name: name, description: mapping["description"]?.string, tasks: tasks)
        try validate(definition, file: file)
        return definition
    }

    private static func parseTask(_ name: String, _ node: Node, line taskLine: Int, file: String, knownKinds: Set<String>)
        throws -> TaskDefinition
    {
        guard let mapping = node.mapping else {
            throw PipelineError(file: file, line: taskLine, task: name, message: "a task must be a mapping with at least 'kind'")
        }
        for (key, _) in mapping {
            guard let keyName = key.string, taskKeys.contains(keyName) else {
                throw PipelineError(
                    file: file, line: line(key), task: name,
                    message: "unknown key '\(key.string ?? "?")'; expected one of \(taskKeys.sorted().joined(separator: ", "))")
            }
        }
        guard let kind = mapping["kind"]?.string else {
            throw PipelineError(file: file, line: taskLine, task: name, message: "missing 'kind'")
        }
        guard knownKinds.contains(kind) else {
            throw PipelineError(
                file: file, line: mapping["kind"].flatMap(line), task: name,
                message: "unknown kind '\(kind)'; known kinds: \(knownKinds.sorted().joined(separator: ", "))")
        }
        var needs: [String] = []
        if let needsNode = mapping["needs"] {
            if needsNode.string?.isEmpty == true || needsNode.null != nil {
                throw PipelineError(
                    file: file, line: line(needsNode), task: name, message: "'needs' is empty; list task names, or leave it out")
            } else if let single = needsNode.string {
                needs = [single]
            } else if let sequence = needsNode.sequence {
                needs = try sequence.map {
                    guard let value = $0.string else {
                        throw PipelineError(file: file, line: line($0), task: name, message: "'needs' lists task names")
                    }
                    return value
                }
            } else {
                throw PipelineError(file: file, line: line(needsNode), task: name, message: "'needs' lists task names")
            }
        }
        var settings: [String: String] = [:]
        if let settingsNode = mapping["settings"] {
            guard let settingsMapping = settingsNode.mapping else {
                throw PipelineError(file: file, line: line(settingsNode), task: name, message: "'settings' must be a mapping")
            }
            for (key, value) in settingsMapping {
                guard let keyName = key.string, let scalar = value.scalar?.string else {
                    throw PipelineError(file: file, line: line(key), task: name, message: "settings take plain values")
                }
                settings[keyName] = scalar
            }
        }
        var retries = 0
        if let retriesNode = mapping["retries"] {
            // Read as written in decimal: YAML 1.1's integers would take 010 for 8, and a quoted
            // "2" is still plainly two.
            guard let text = retriesNode.scalar?.string, !text.isEmpty, text.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
                let value = Int(text), value <= 20
            else {
                throw PipelineError(
                    file: file, line: line(retriesNode), task: name,
                    message: "'retries' must be a whole number from 0 to 20, not '\(retriesNode.scalar?.string ?? "a list or mapping")'")
            }
            retries = value
        }
        var timeout: Duration?
        if let timeoutNode = mapping["timeout"] {
            guard let text = timeoutNode.string, let value = parseDuration(text) else {
                throw PipelineError(
                    file: file, line: line(timeoutNode), task: name,
                    message: "'timeout' must look like 90s, 30m or 2h (at most a week)")
            }
            timeout = value
        }
        return TaskDefinition(
            name: name, kind: kind, needs: needs, settings: settings, retries: retries, timeout: timeout, line: taskLine)
    }

    /// Missing dependencies and cycles.
    static func validate(_ definition: PipelineDefinition, file: String) throws {
        // YAML may hold `1:` and `"1":` as two keys that name one task.
        var seen = Set<String>()
        for task in definition.tasks where !seen.insert(task.name).inserted {
            throw PipelineError(file: file, line: task.line, task: task.name, message: "a second task with this name")
        }
        let names = Set(definition.tasks.map(\.name))
        for task in definition.tasks {
            for need in task.needs where !names.contains(need) {
                throw PipelineError(file: file, line: task.line, task: task.name, message: "needs '\(need)', which is not a task of this pipeline")
            }
            if task.needs.contains(task.name) {
                throw PipelineError(file: file, line: task.line, task: task.name, message: "a task cannot need itself")
            }
        }
        // Depth-first search; the first back edge names the cycle.
        var state: [String: Int] = [:]  // 1 visiting, 2 done
        let byName = Dictionary(uniqueKeysWithValues: definition.tasks.map { ($0.name, $0) })
        func visit(_ name: String, path: [String]) throws {
            if state[name] == 2 { return }
            if state[name] == 1 {
                let cycle = (path.drop(while: { $0 != name }) + [name]).joined(separator: " -> ")
                throw PipelineError(file: file, line: byName[name]?.line, task: name, message: "cycle: \(cycle)")
            }
            state[name] = 1
            for need in byName[name]?.needs ?? [] { try visit(need, path: path + [name]) }
            state[name] = 2
        }
        for task in definition.tasks { try visit(task.name, path: []) }
    }

    static func parseDuration(_ text: String) -> Duration? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        // At most a week: a bigger number is a typo, and would overflow as seconds.
        guard let unit = trimmed.last, let value = Int(trimmed.dropLast()), value > 0, value <= 604_800 else {
            return nil
        }
        switch unit {
        case "s": return .seconds(value)
        case "m" where value <= 10_080: return .seconds(value * 60)
        case "h" where value <= 168: return .seconds(value * 3600)
        default: return nil
        }
    }

    private static func line(_ node: Node) -> Int? { node.mark.map { $0.line } }
}
