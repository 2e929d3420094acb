import RosterModel
import RosterTransform
import Testing

@Suite("Section teachers")
struct SectionTeacherTests {
    static let eleven = (1...11).map { "T\($0)" }
    static let twelve = (1...12).map { "T\($0)" }

    @Test(
        "teachers are deduplicated in order, capped at ten, and a section needs one",
        arguments: [
            (["T1", "T2"], ["T1", "T2"], [ReasonCode](), nil),
            (["T1", "T2", "T1", " T2 ", ""], ["T1", "T2"], [], nil),
            (eleven, Array(eleven.prefix(10)), [.tooManyTeachers], "T11"),
            (twelve + ["T1"], Array(twelve.prefix(10)), [.tooManyTeachers], "T11, T12"),
            ([], [], [.missingPrimaryTeacher], nil),
            (["", " "], [], [.missingPrimaryTeacher], nil),
            // A blank primary: the co-teachers stay co-teachers behind an empty first entry.
            ([" ", "T2", "", "T3"], ["", "T2", "T3"], [.missingPrimaryTeacher], nil),
            ([""] + eleven, [""] + Array(eleven.prefix(9)), [.missingPrimaryTeacher, .tooManyTeachers], "T10, T11"),
        ] as [([String], [String], [ReasonCode], String?)])
    func teachers(input: [String], kept: [String], reasons: [ReasonCode], dropped: String?) throws {
        let outcome = Fixture.transform(.section(Fixture.section(teachers: input)))
        let section = try #require(outcome.section)
        #expect(section.teachers == kept.map { $0.isEmpty ? Ref() : Ref.sis($0) })
        #expect(outcome.reasons == reasons)
        #expect(outcome.rejections.allSatisfy { $0.severity == .warning })
        if let dropped { #expect(outcome.rejections.last?.detail.contains("dropped: \(dropped)") == true) }
    }
}
