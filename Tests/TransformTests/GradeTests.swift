import RosterModel
import RosterTransform
import Testing

@Suite("Grades")
struct GradeTests {
    @Test(
        "every Clever v3.0 grade word maps to itself",
        arguments: Grade.allGrades)
    func cleverWords(grade: Grade) {
        #expect(GradeParser.grade(from: grade.cleverWord) == grade)
        #expect(GradeParser.grade(from: grade.cleverWord.uppercased()) == grade)
    }

    @Test(
        "district CSV spellings",
        arguments: [
            ("PK", Grade.preKindergarten), ("Pre-K", .preKindergarten), ("pre k", .preKindergarten),
            ("TK", .transitionalKindergarten), ("K", .kindergarten), ("kg", .kindergarten), ("KG", .kindergarten),
            ("PK3", .preKindergarten), ("PK4", .preKindergarten), ("Pre-K 4", .preKindergarten), ("4K", .preKindergarten),
            ("K4", .preKindergarten), ("K5", .kindergarten), ("5K", .kindergarten),
            ("01", .numbered(1)), ("09", .numbered(9)), ("12", .numbered(12)), ("13", .numbered(13)),
            ("1st", .numbered(1)), ("2nd", .numbered(2)), ("3rd", .numbered(3)), ("10th", .numbered(10)),
            ("Grade 3", .numbered(3)), ("grade 10", .numbered(10)), ("Grade K", .kindergarten),
            ("IT", .infantToddler), ("Infant/Toddler", .infantToddler), ("PS", .preschool), ("PG", .postGraduate),
            ("Post-Graduate", .postGraduate), ("ungraded", .ungraded), ("other", .other), ("0", .kindergarten),
        ])
    func spellings(raw: String, expected: Grade) {
        #expect(GradeParser.grade(from: raw) == expected)
    }

    @Test("not grades", arguments: ["14", "Grade 20", "freshman", "1.5", "-1", "+3", "", "  "])
    func unknown(raw: String) {
        #expect(GradeParser.grade(from: raw) == nil)
    }

    @Test(
        "students get the Clever word and rank; unknown is Other with a warning; empty is nil",
        arguments: [
            ("KG", "Kindergarten", 0, false),
            ("Grade 3", "3", 3, false),
            ("PK", "PreKindergarten", -2, false),
            ("Freshman", "Other", 16, true),
            ("", nil, nil, false),
        ] as [(String, String?, Int?, Bool)])
    func student(raw: String, word: String?, rank: Int?, warned: Bool) throws {
        let outcome = Fixture.transform(.student(Fixture.student(grade: raw)))
        let student = try #require(outcome.student)
        #expect(student.grade == word)
        #expect(student.gradeRank == rank)
        #expect(outcome.reasons.contains(.unknownGrade) == warned)
    }

    @Test("schools and sections store the Clever word too")
    func schoolAndSection() throws {
        let school = SchoolRecord(source: Fixture.source, sisID: "SCH1", name: "Lincoln", lowGrade: "PK", highGrade: "05")
        let out = try #require(Fixture.transform(.school(school)).school)
        #expect(out.lowGrade == "PreKindergarten")
        #expect(out.highGrade == "5")
        let section = Fixture.transform(.section(Fixture.section(grade: "Sophomore")))
        #expect(section.section?.grade == "Other")
        #expect(section.reasons == [.unknownGrade])
        #expect(section.rejections.first?.severity == .warning)
    }
}
