import RosterModel
import RosterTransform
import Testing

@Suite("Normalisation")
struct NormalizationTests {
    @Test(
        "free text is NFC, trimmed, collapsed; empty is nil",
        arguments: [
            ("  Ada  ", "Ada"),
            ("Mary   Ann", "Mary Ann"),
            ("Mary\t\nAnn", "Mary Ann"),
            ("Mary\u{00A0}Ann", "Mary Ann"),
            ("Jose\u{0301}", "Jos\u{00E9}"),
            ("\u{2001}Zo\u{00EB}\u{2001}", "Zo\u{00EB}"),
            ("", nil),
            ("   \t ", nil),
        ] as [(String, String?)])
    func text(raw: String, expected: String?) {
        let out = TextNormalizer.text(raw)
        #expect(out == expected)
        #expect(out.map { $0.unicodeScalars.elementsEqual(expected?.unicodeScalars ?? "".unicodeScalars) } ?? true)
        #expect(TextNormalizer.text(out) == out)
    }

    @Test("identifiers are trimmed only", arguments: [(" S1 ", "S1"), ("A  B", "A  B"), ("  ", nil)] as [(String, String?)])
    func identifier(raw: String, expected: String?) {
        #expect(TextNormalizer.identifier(raw) == expected)
    }

    @Test("a student's fields are normalised and a second pass changes nothing")
    func studentFields() throws {
        let raw = Fixture.student(sisID: " S1 ", email: "  Ada@School.ORG ", first: " Ada\u{00A0} ", last: "Love  lace")
        let out = try #require(Fixture.transform(.student(raw)).student)
        #expect(out.sisID == "S1")
        #expect(out.firstName == "Ada")
        #expect(out.lastName == "Love lace")
        #expect(out.email == "ada@school.org")
        #expect(Fixture.transform(.student(out)).student == out)
    }

    @Test("refs are trimmed and empty refs are empty")
    func refs() throws {
        var raw = Fixture.student()
        raw.school = Ref(sisID: " SCH1 ", cleverID: "")
        let out = try #require(Fixture.transform(.student(raw)).student)
        #expect(out.school == .sis("SCH1"))
    }
}
