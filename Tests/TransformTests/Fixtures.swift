import RosterModel
import RosterTransform

/// Small builders so each table row states only what it tests.
enum Fixture {
    static let source = SourceRef.csv("test.csv", line: 2)

    static func student(
        sisID: String = "S1", email: String? = "ada@school.org", first: String? = "Ada", last: String? = "Lovelace",
        grade: String? = "3", dob: String? = nil
    ) -> StudentRecord {
        StudentRecord(
            source: source, sisID: sisID, school: .sis("SCH1"), email: email, firstName: first, lastName: last,
            grade: grade, dateOfBirth: dob)
    }

    static func teacher(sisID: String = "T1", email: String? = "grace@school.org") -> TeacherRecord {
        TeacherRecord(source: source, sisID: sisID, school: .sis("SCH1"), email: email, firstName: "Grace", lastName: "Hopper")
    }

    static func section(sisID: String = "SEC1", teachers: [String] = ["T1"], grade: String? = nil) -> SectionRecord {
        SectionRecord(source: source, sisID: sisID, school: .sis("SCH1"), name: "Math", grade: grade, teachers: teachers.map(Ref.sis))
    }

    static func term(sisID: String = "TERM1", start: String?, end: String?) -> TermRecord {
        TermRecord(source: source, sisID: sisID, name: "Fall", startDate: start, endDate: end)
    }

    static func transform(_ record: Record, domains: [String] = []) -> Transformer.Outcome {
        Transformer(settings: .init(allowedEmailDomains: domains)).transform(record)
    }
}

extension Transformer.Outcome {
    var reasons: [ReasonCode] { rejections.map(\.reason) }
    var student: StudentRecord? { if case .student(let r)? = record { r } else { nil } }
    var teacher: TeacherRecord? { if case .teacher(let r)? = record { r } else { nil } }
    var section: SectionRecord? { if case .section(let r)? = record { r } else { nil } }
    var term: TermRecord? { if case .term(let r)? = record { r } else { nil } }
    var school: SchoolRecord? { if case .school(let r)? = record { r } else { nil } }
}
