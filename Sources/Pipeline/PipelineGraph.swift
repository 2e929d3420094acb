/// The DAG as text a person can paste into a viewer.
public enum PipelineGraph {
    public static func mermaid(_ definition: PipelineDefinition) -> String {
        var lines = ["flowchart LR"]
        for task in definition.tasks {
            lines.append("    \(id(task.name))[\"\(task.name)<br/><small>\(task.kind)</small>\"]")
        }
        for task in definition.tasks {
            for need in task.needs { lines.append("    \(id(need)) --> \(id(task.name))") }
        }
        return lines.joined(separator: "\n")
    }

    public static func dot(_ definition: PipelineDefinition) -> String {
        var lines = ["digraph \"\(definition.name)\" {", "    rankdir=LR;"]
        for task in definition.tasks {
            lines.append("    \"\(task.name)\" [label=\"\(task.name)\\n(\(task.kind))\"];")
        }
        for task in definition.tasks {
            for need in task.needs { lines.append("    \"\(need)\" -> \"\(task.name)\";") }
        }
        lines.append("}")
        return lines.joined(separator: "\n")
    }

    private static func id(_ name: String) -> String {
        String(name.map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }
}
