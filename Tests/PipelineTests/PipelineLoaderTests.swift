import Foundation
import Testing

@testable import Pipeline

@Suite("PipelineLoader")
struct PipelineLoaderTests {
    // MARK: - The repository's pipeline

    @Test("pipelines/nightly.yml loads with its six kinds, in file order")
    func loadsNightly() throws {
        let definition = try Fixture.nightly()

        #expect(definition.name == "nightly")
        #expect(definition.description == "Sync one district from Clever into the roster.")
        var kinds: [String] = []
        for task in definition.tasks where !kinds.contains(task.kind) { kinds.append(task.kind) }
        #expect(kinds == Fixture.nightlyKinds)

        let stages = [
            "stage-schools", "stage-terms", "stage-teachers", "stage-students", "stage-sections",
            "stage-enrollments",
        ]
        #expect(definition.tasks.map(\.name) == ["check-source"] + stages + ["prepare", "guard", "merge", "prune"])

        let checkSource = try #require(definition.task(named: "check-source"))
        #expect(checkSource.line == 7)
        #expect(checkSource.needs.isEmpty)
        #expect(checkSource.retries == 2)
        #expect(checkSource.timeout == .seconds(10 * 60))

        for name in stages {
            let stage = try #require(definition.task(named: name))
            #expect(stage.kind == "stage")
            #expect(stage.needs == ["check-source"])
            #expect(stage.settings == ["feed": String(name.dropFirst("stage-".count))])
            #expect(stage.retries == 2)
        }
        #expect(definition.task(named: "stage-students")?.timeout == .seconds(2 * 3600))
        #expect(definition.task(named: "stage-sections")?.timeout == .seconds(3600))

        let prepare = try #require(definition.task(named: "prepare"))
        #expect(prepare.needs == stages)
        #expect(prepare.retries == 0)
        #expect(definition.task(named: "guard")?.needs == ["prepare"])
        #expect(definition.task(named: "guard")?.timeout == nil)
        #expect(definition.task(named: "merge")?.needs == ["guard"])
        #expect(definition.task(named: "prune")?.needs == ["merge"])
        #expect(definition.task(named: "prune")?.settings == ["keep_runs": "7"])
    }

    @Test("nightly.yml needs every one of its kinds", arguments: Fixture.nightlyKinds)
    func nightlyNeedsEveryKind(missing kind: String) throws {
        var known = Set(Fixture.nightlyKinds)
        known.remove(kind)
        let error = try #require(
            throws: PipelineError.self,
            performing: { try PipelineLoader.load(contentsOf: Fixture.nightlyURL, knownKinds: known) })
        let definition = try Fixture.nightly()
        let first = try #require(definition.tasks.first { $0.kind == kind })

        #expect(error.file == "nightly.yml")
        #expect(error.task == first.name)
        #expect(error.line == first.line + 1, "the line of its 'kind'")
        #expect(error.message.contains("unknown kind '\(kind)'"))
        #expect(error.description.contains("nightly.yml:\(first.line + 1) (task '\(first.name)')"))
    }

    @Test("a file that cannot be read names its path")
    func unreadableFile() throws {
        let url = URL(fileURLWithPath: "/nonexistent/rostersync/pipelines/missing.yml")
        let error = try #require(
            throws: PipelineError.self, performing: { try PipelineLoader.load(contentsOf: url, knownKinds: Fixture.kinds) })
        #expect(error.file == url.path)
        #expect(error.message.contains("cannot read the pipeline file"))
    }

    @Test("two YAML keys that name one task (1 and \"1\") are an error, not a crash")
    func duplicateTaskName() throws {
        let error = try #require(
            throws: PipelineError.self,
            performing: {
                try PipelineLoader.parse(
                    """
                    tasks:
                      1:
                        kind: work
                      "1":
                        kind: work
                    """, file: "twice.yml", knownKinds: Fixture.kinds)
            })
        #expect(error.task == "1")
        #expect(error.message.contains("a second task with this name"))
    }

    // MARK: - Valid shapes

    @Test("defaults: name from the file, no needs, settings, retries or timeout")
    func defaults() throws {
        let definition = try PipelineLoader.parse(
            """
            tasks:
              only:
                kind: work
            """, file: "weekly.yml", knownKinds: Fixture.kinds)
        #expect(definition.name == "weekly")
        #expect(definition.description == nil)
        #expect(definition.tasks == [TaskDefinition(name: "only", kind: "work", line: 2)])
    }

    @Test("'needs' takes a single task name or a list")
    func needsAsStringOrList() throws {
        let definition = try PipelineLoader.parse(
            """
            name: shapes
            description: needs in both shapes
            tasks:
              a:
                kind: work
              b:
                kind: work
                needs: a
              c:
                kind: work
                needs: [a, b]
              d:
                kind: work
                needs:
                  - c
                description: block list
            """, file: "shapes.yml", knownKinds: Fixture.kinds)
        #expect(definition.name == "shapes")
        #expect(definition.description == "needs in both shapes")
        #expect(definition.tasks.map(\.needs) == [[], ["a"], ["a", "b"], ["c"]])
        #expect(definition.tasks.map(\.line) == [4, 6, 9, 12])
    }

    @Test("settings keep plain values as text")
    func settingsAsText() throws {
        let definition = try PipelineLoader.parse(
            """
            tasks:
              a:
                kind: work
                settings:
                  feed: schools
                  keep_runs: 7
                  dry_run: true
                retries: 20
            """, file: "s.yml", knownKinds: Fixture.kinds)
        let task = try #require(definition.tasks.first)
        #expect(task.settings == ["feed": "schools", "keep_runs": "7", "dry_run": "true"])
        #expect(task.retries == 20)
        // Retries read as decimal, as written: not YAML 1.1's octal 010, and quoted or not.
        for (text, value) in [("010", 10), ("\"2\"", 2), ("0", 0)] {
            let parsed = try PipelineLoader.parse(Self.badTaskValue("retries", text), file: "r.yml", knownKinds: Fixture.kinds)
            #expect(parsed.tasks.first?.retries == value, "\(text)")
        }
    }

    struct DurationCase: Sendable, CustomTestStringConvertible {
        var text: String
        var duration: Duration
        var testDescription: String { "\(text) = \(duration)" }
    }

    @Test(
        "timeouts in seconds, minutes and hours",
        arguments: [
            DurationCase(text: "90s", duration: .seconds(90)),
            DurationCase(text: "30m", duration: .seconds(1800)),
            DurationCase(text: "2h", duration: .seconds(7200)),
            DurationCase(text: "1s", duration: .seconds(1)),
            DurationCase(text: "'45m'", duration: .seconds(2700)),
        ])
    func timeouts(_ example: DurationCase) throws {
        let definition = try PipelineLoader.parse(
            """
            tasks:
              a:
                kind: work
                timeout: \(example.text)
            """, file: "t.yml", knownKinds: Fixture.kinds)
        #expect(definition.tasks.first?.timeout == example.duration)
    }

    @Test("parseDuration", arguments: [
        ("90s", Duration.seconds(90)), ("30m", .seconds(1800)), ("2h", .seconds(7200)), (" 5m ", .seconds(300)),
    ])
    func parseDuration(text: String, expected: Duration) {
        #expect(PipelineLoader.parseDuration(text) == expected)
    }

    @Test("parseDuration rejects", arguments: ["", "s", "10x", "0s", "0m", "-5s", "90", "1.5h", "h2", "5 m", "ten s"])
    func parseDurationRejects(text: String) {
        #expect(PipelineLoader.parseDuration(text) == nil)
    }

    // MARK: - Errors name the file, the line and the task

    struct BadPipeline: Sendable, CustomTestStringConvertible {
        var label: String
        var yaml: String
        var line: Int?
        var task: String?
        var message: String
        var testDescription: String { label }
    }

    static func badTaskValue(_ key: String, _ value: String) -> String {
        """
        name: demo
        tasks:
          a:
            kind: work
            \(key): \(value)
        """
    }

    static let badPipelines: [BadPipeline] = [
        BadPipeline(
            label: "unknown top-level key",
            yaml: """
                name: demo
                tasks:
                  a:
                    kind: work
                schedule: nightly
                """, line: 5, task: nil, message: "unknown key 'schedule'; expected one of description, name, tasks"),
        BadPipeline(
            label: "unknown task key",
            yaml: badTaskValue("retry", "2"), line: 5, task: "a",
            message: "unknown key 'retry'; expected one of description, kind, needs, retries, settings, timeout"),
        BadPipeline(
            label: "unknown kind",
            yaml: """
                name: demo
                tasks:
                  a:
                    kind: work
                  b:
                    kind: teleport
                    needs: a
                """, line: 6, task: "b", message: "unknown kind 'teleport'; known kinds: work"),
        BadPipeline(
            label: "missing kind",
            yaml: """
                name: demo
                tasks:
                  a:
                    kind: work
                  b:
                    needs: a
                """, line: 5, task: "b", message: "missing 'kind'"),
        BadPipeline(
            label: "needs an unknown task",
            yaml: """
                name: demo
                tasks:
                  a:
                    kind: work
                  b:
                    kind: work
                    needs: [a, stage-everything]
                """, line: 5, task: "b", message: "needs 'stage-everything', which is not a task of this pipeline"),
        BadPipeline(
            label: "a task needing itself",
            yaml: """
                tasks:
                  a:
                    kind: work
                  loop:
                    kind: work
                    needs: [a, loop]
                """, line: 4, task: "loop", message: "a task cannot need itself"),
        BadPipeline(
            label: "a three-task cycle",
            yaml: """
                name: demo
                tasks:
                  start:
                    kind: work
                  a:
                    kind: work
                    needs: [start, c]
                  b:
                    kind: work
                    needs: a
                  c:
                    kind: work
                    needs: b
                  end:
                    kind: work
                    needs: c
                """, line: 5, task: "a", message: "cycle: a -> c -> b -> a"),
        BadPipeline(
            label: "a two-task cycle",
            yaml: """
                tasks:
                  x:
                    kind: work
                    needs: y
                  y:
                    kind: work
                    needs: x
                """, line: 2, task: "x", message: "cycle: x -> y -> x"),
        BadPipeline(
            label: "negative retries", yaml: badTaskValue("retries", "-1"), line: 5, task: "a",
            message: "'retries' must be a whole number from 0 to 20, not '-1'"),
        BadPipeline(
            label: "too many retries", yaml: badTaskValue("retries", "21"), line: 5, task: "a",
            message: "'retries' must be a whole number from 0 to 20, not '21'"),
        BadPipeline(
            label: "retries not a number", yaml: badTaskValue("retries", "twice"), line: 5, task: "a",
            message: "'retries' must be a whole number from 0 to 20, not 'twice'"),
        BadPipeline(
            label: "fractional retries", yaml: badTaskValue("retries", "1.5"), line: 5, task: "a",
            message: "'retries' must be a whole number from 0 to 20, not '1.5'"),
        BadPipeline(
            label: "retries a list", yaml: badTaskValue("retries", "[1]"), line: 5, task: "a",
            message: "'retries' must be a whole number from 0 to 20, not 'a list or mapping'"),
        BadPipeline(
            label: "needs with no value", yaml: badTaskValue("needs", ""), line: 5, task: "a",
            message: "'needs' is empty; list task names, or leave it out"),
        BadPipeline(
            label: "an empty name",
            yaml: """
                name: ""
                tasks:
                  a:
                    kind: work
                """, line: 1, task: nil, message: "'name' is empty; name the pipeline or leave it out"),
        BadPipeline(
            label: "timeout with an unknown unit", yaml: badTaskValue("timeout", "10x"), line: 5, task: "a",
            message: "'timeout' must look like 90s, 30m or 2h (at most a week)"),
        BadPipeline(
            label: "zero timeout", yaml: badTaskValue("timeout", "0s"), line: 5, task: "a",
            message: "'timeout' must look like 90s, 30m or 2h (at most a week)"),
        BadPipeline(
            label: "negative timeout", yaml: badTaskValue("timeout", "-5m"), line: 5, task: "a",
            message: "'timeout' must look like 90s, 30m or 2h (at most a week)"),
        BadPipeline(
            label: "timeout without a unit", yaml: badTaskValue("timeout", "90"), line: 5, task: "a",
            message: "'timeout' must look like 90s, 30m or 2h (at most a week)"),
        BadPipeline(
            label: "settings a list", yaml: badTaskValue("settings", "[feed, schools]"), line: 5, task: "a",
            message: "'settings' must be a mapping"),
        BadPipeline(
            label: "settings a string", yaml: badTaskValue("settings", "schools"), line: 5, task: "a",
            message: "'settings' must be a mapping"),
        BadPipeline(
            label: "a setting that is not a plain value", yaml: badTaskValue("settings", "{ feed: [a, b] }"),
            line: 5, task: "a", message: "settings take plain values"),
        BadPipeline(
            label: "needs a mapping", yaml: badTaskValue("needs", "{ b: 1 }"), line: 5, task: "a",
            message: "'needs' lists task names"),
        BadPipeline(
            label: "needs a nested list", yaml: badTaskValue("needs", "[[b]]"), line: 5, task: "a",
            message: "'needs' lists task names"),
        BadPipeline(
            label: "a task that is not a mapping",
            yaml: """
                name: demo
                tasks:
                  a: work
                """, line: 3, task: "a", message: "a task must be a mapping with at least 'kind'"),
        BadPipeline(
            label: "empty tasks",
            yaml: """
                name: demo
                tasks: {}
                """, line: 1, task: nil, message: "'tasks' must be a non-empty mapping of task name to task"),
        BadPipeline(
            label: "null tasks",
            yaml: """
                name: demo
                tasks:
                """, line: 1, task: nil, message: "'tasks' must be a non-empty mapping of task name to task"),
        BadPipeline(
            label: "no tasks key",
            yaml: """
                name: demo
                description: nothing to do
                """, line: 1, task: nil, message: "'tasks' must be a non-empty mapping of task name to task"),
        BadPipeline(
            label: "tasks a list",
            yaml: """
                name: demo
                tasks:
                  - a
                """, line: 1, task: nil, message: "'tasks' must be a non-empty mapping of task name to task"),
        BadPipeline(
            label: "a list at the top", yaml: "- a\n- b\n", line: 1, task: nil,
            message: "expected a mapping with 'name' and 'tasks'"),
    ]

    @Test("invalid pipelines", arguments: badPipelines)
    func rejects(_ bad: BadPipeline) throws {
        let error = try #require(
            throws: PipelineError.self,
            performing: { try PipelineLoader.parse(bad.yaml, file: "bad.yml", knownKinds: Fixture.kinds) })
        #expect(error.file == "bad.yml")
        #expect(error.line == bad.line)
        #expect(error.task == bad.task)
        #expect(error.message == bad.message)

        var location = "bad.yml"
        if let line = bad.line { location += ":\(line)" }
        if let task = bad.task { location += " (task '\(task)')" }
        #expect(error.description == "\(location): \(bad.message)")
    }

    struct BadYAML: Sendable, CustomTestStringConvertible {
        var label: String
        var yaml: String
        /// Where the YAML parser reports the problem, in its own words.
        var mark: String
        var testDescription: String { label }
    }

    @Test(
        "invalid YAML names the file and where the parser stopped",
        arguments: [
            BadYAML(label: "unclosed flow sequence", yaml: "name: demo\ntasks:\n  a:\n    kind: [work\n", mark: "5:1"),
            BadYAML(label: "bad indentation", yaml: "name: demo\ntasks:\n  a:\n    kind: work\n   needs: b\n", mark: "5:4"),
            BadYAML(label: "unclosed quote", yaml: "name: \"demo\ntasks: {}\n", mark: "3:1"),
            BadYAML(
                label: "duplicate task names", yaml: "tasks:\n  a:\n    kind: work\n  a:\n    kind: work\n", mark: "line 2, column 3"),
        ])
    func rejectsInvalidYAML(_ bad: BadYAML) throws {
        let error = try #require(
            throws: PipelineError.self,
            performing: { try PipelineLoader.parse(bad.yaml, file: "bad.yml", knownKinds: Fixture.kinds) })
        #expect(error.file == "bad.yml")
        #expect(error.task == nil)
        #expect(error.message.hasPrefix("not valid YAML: "))
        #expect(error.description.hasPrefix("bad.yml"))
        #expect(error.message.contains(bad.mark), "\(error.message)")
    }
}
