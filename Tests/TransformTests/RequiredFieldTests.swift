import RosterModel
import RosterTransform
import Testing

@Suite("Required fields")
struct RequiredFieldTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let label: String
        let record: Record
        let field: String?
        var testDescription: String { label }
    }

    static let cases: [Case] = [
        Case(label: "school without sisID", record: .school(SchoolRecord(source: Fixture.source, sisID: " ", name: "Lincoln")), field: "sisID"),
        Case(label: "school without name", record: .school(SchoolRecord(source: Fixture.source, sisID: "SCH1", name: "  ")), field: "name"),
        Case(label: "teacher without sisID", record: .teacher(Fixture.teacher(sisID: "")), field: "sisID"),
        Case(label: "student without sisID", record: .student(Fixture.student(sisID: "\t")), field: "sisID"),
        Case(label: "section without sisID", record: .section(Fixture.section(sisID: "")), field: "sisID"),
        Case(
            label: "enrollment without section",
            record: .enrollment(EnrollmentRecord(source: Fixture.source, section: Ref(sisID: " "), student: .sis("S1"))),
            field: "section"),
        Case(
            label: "enrollment without student",
            record: .enrollment(EnrollmentRecord(source: Fixture.source, section: .sis("SEC1"), student: Ref())),
            field: "student"),
        Case(label: "complete school", record: .school(SchoolRecord(source: Fixture.source, sisID: "SCH1", name: "Lincoln")), field: nil),
        Case(
            label: "complete enrollment",
            record: .enrollment(EnrollmentRecord(source: Fixture.source, section: .sis("SEC1"), student: .clever("abc"))),
            field: nil),
    ]

    @Test("a record without a required field is rejected, naming the field", arguments: cases)
    func required(_ c: Case) {
        let outcome = Fixture.transform(c.record)
        let missing = outcome.rejections.filter { $0.reason == .missingRequiredField }
        if let field = c.field {
            #expect(outcome.record == nil)
            #expect(missing.count == 1)
            #expect(missing.first?.severity == .rejected)
            #expect(missing.first?.detail.hasPrefix(field) == true)
            #expect(missing.first?.source == Fixture.source)
        } else {
            #expect(outcome.record != nil)
            #expect(missing.isEmpty)
        }
    }
}
