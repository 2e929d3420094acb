/// The DAG as text a person can paste into a viewer.
public enum PipelineGraph {
    public static func mermaid(_ definition: PipelineDefinition) -> String {
        // Node ids by position: names like `stage-a` and `stage_a` must not merge into one node.
        let ids = Dictionary(
            definition.tasks.enumerated().map { ($1.name, "t\($0)") }, uniquingKeysWith: { first, _ in first })
        var lines = ["flowchart LR"]
        for task in definition.tasks {
            lines.append("    \(ids[task.name] ?? "")[\"\(label(task.name))<br/><small>\(label(task.kind))</small>\"]")
        }
        for task in definition.tasks {
            for need in task.needs { lines.append("    \(ids[need] ?? "") --> \(ids[task.name] ?? "")") }
        }
        return lines.joined(separator: "\n")
    }

    public static func dot(_ definition: PipelineDefinition) -> String {
        var lines = ["digraph \"\(definition.name)\" {", "    rankdir=LR;"]
        for task in definition.tasks {
            lines.append("    \"\(escaped(task.name))\" [label=\"\(escaped(task.name))\\n(\(escaped(task.kind)))\"];")
        }
        for task in definition.tasks {
            for need in task.needs { lines.append("    \"\(escaped(need))\" -> \"\(escaped(task.name))\";") }
        }
        lines.append("}")
        return lines.joined(separator: "\n")
    }

    private static func label(_ text: String) -> String {
        text.replacingOccurrences(of: "\"", with: "#quot;")
    }

    /// The inside of a DOT double-quoted string.
    private static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    }
}
