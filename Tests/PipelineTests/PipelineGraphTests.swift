import Testing

@testable import Pipeline

@Suite("PipelineGraph")
struct PipelineGraphTests {
    /// Every edge of a pipeline as (needed task, task that needs it).
    private func edges(_ definition: PipelineDefinition) -> [(from: String, to: String)] {
        definition.tasks.flatMap { task in task.needs.map { (from: $0, to: task.name) } }
    }

    @Test("mermaid of nightly.yml has every task and every edge")
    func mermaidNightly() throws {
        let definition = try Fixture.nightly()
        let text = PipelineGraph.mermaid(definition)
        let lines = text.split(separator: "\n").map(String.init)

        #expect(lines.first == "flowchart LR")
        // Task names in nightly.yml use only letters and '-', which mermaid ids spell as '_'.
        func id(_ name: String) -> String { name.replacingOccurrences(of: "-", with: "_") }
        for task in definition.tasks {
            #expect(lines.contains("    \(id(task.name))[\"\(task.name)<br/><small>\(task.kind)</small>\"]"))
        }
        let expectedEdges = edges(definition)
        #expect(expectedEdges.count == 15)
        for edge in expectedEdges {
            #expect(lines.contains("    \(id(edge.from)) --> \(id(edge.to))"), "\(edge.from) --> \(edge.to)")
        }
        #expect(lines.filter { $0.contains("-->") }.count == expectedEdges.count)
        #expect(lines.count == 1 + definition.tasks.count + expectedEdges.count)
    }

    @Test("dot of nightly.yml has every task and every edge")
    func dotNightly() throws {
        let definition = try Fixture.nightly()
        let text = PipelineGraph.dot(definition)
        let lines = text.split(separator: "\n").map(String.init)

        #expect(lines.first == "digraph \"nightly\" {")
        #expect(lines.last == "}")
        for task in definition.tasks {
            #expect(lines.contains("    \"\(task.name)\" [label=\"\(task.name)\\n(\(task.kind))\"];"))
        }
        let expectedEdges = edges(definition)
        for edge in expectedEdges {
            #expect(lines.contains("    \"\(edge.from)\" -> \"\(edge.to)\";"), "\(edge.from) -> \(edge.to)")
        }
        #expect(lines.filter { $0.contains("\" -> \"") }.count == expectedEdges.count)
    }

    @Test("a small pipeline, exactly")
    func exactOutput() {
        let definition = PipelineDefinition(
            name: "tiny",
            tasks: [
                TaskDefinition(name: "check source", kind: "check-source"),
                TaskDefinition(name: "stage.v2", kind: "stage", needs: ["check source"]),
            ])
        #expect(
            PipelineGraph.mermaid(definition) == """
                flowchart LR
                    check_source["check source<br/><small>check-source</small>"]
                    stage_v2["stage.v2<br/><small>stage</small>"]
                    check_source --> stage_v2
                """)
        #expect(
            PipelineGraph.dot(definition) == """
                digraph "tiny" {
                    rankdir=LR;
                    "check source" [label="check source\\n(check-source)"];
                    "stage.v2" [label="stage.v2\\n(stage)"];
                    "check source" -> "stage.v2";
                }
                """)
    }
}
