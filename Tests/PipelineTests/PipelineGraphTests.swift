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
        // Node ids are by position in the file: t0, t1, ...
        let positions = Dictionary(uniqueKeysWithValues: definition.tasks.enumerated().map { ($1.name, $0) })
        func id(_ name: String) -> String { "t\(positions[name] ?? -1)" }
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

    @Test("names that differ only in punctuation stay two nodes")
    func distinctNodes() {
        let definition = PipelineDefinition(
            name: "clash",
            tasks: [
                TaskDefinition(name: "stage-a", kind: "stage"),
                TaskDefinition(name: "stage_a", kind: "stage", needs: ["stage-a"]),
            ])
        let text = PipelineGraph.mermaid(definition)
        #expect(text.contains("t0[\"stage-a"))
        #expect(text.contains("t1[\"stage_a"))
        #expect(text.contains("t0 --> t1"))
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
                    t0["check source<br/><small>check-source</small>"]
                    t1["stage.v2<br/><small>stage</small>"]
                    t0 --> t1
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
