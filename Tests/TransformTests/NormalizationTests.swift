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

    @Test(
        "a term keyed by its name and dates keys on the name as normalised and the dates as ISO, for the term and its sections",
        arguments: [
            ("Fall 2026|2026-08-24|2027-01-15", "Fall 2026|2026-08-24|2027-01-15"),
            ("Fall 2026|8/24/2026|01/15/2027", "Fall 2026|2026-08-24|2027-01-15"),
            ("  Fall   2026 |2026-08-24| 2027-01-15 ", "Fall 2026|2026-08-24|2027-01-15"),
            ("Q1|Q2|8/24/2026|", "Q1|Q2|2026-08-24|"),
            ("Fall||not a date", "Fall||not a date"),
            ("5f1a0c3e9b", "5f1a0c3e9b"),
        ])
    func termKeys(raw: String, key: String) throws {
        guard case .term(let term) = Fixture.transform(.term(Fixture.term(sisID: raw, start: nil, end: nil))).record else {
            Issue.record("expected a term")
            return
        }
        #expect(term.sisID == key)
        var section = Fixture.section()
        section.term = .sis(raw)
        guard case .section(let transformed) = Fixture.transform(.section(section)).record else {
            Issue.record("expected a section")
            return
        }
        #expect(transformed.term == .sis(key))
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
