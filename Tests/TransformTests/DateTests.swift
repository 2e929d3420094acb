import RosterModel
import RosterTransform
import Testing

@Suite("Dates")
struct DateTests {
    @Test(
        "accepted spellings become ISO dates",
        arguments: [
            ("2024-08-20", "2024-08-20"),
            ("08/20/2024", "2024-08-20"),
            ("8/2/2024", "2024-08-02"),
            ("2024-08-20T00:00:00.000Z", "2024-08-20"),
            ("2024-08-20T23:59:59+02:00", "2024-08-20"),
            (" 2024-02-29 ", "2024-02-29"),
            ("2/29/2000", "2000-02-29"),
            ("2024/08/20", "2024-08-20"),
            ("2024/8/2", "2024-08-02"),
            ("8/20/2024 0:00", "2024-08-20"),
            ("8/20/2024 12:00:00 AM", "2024-08-20"),
            ("08/20/2024 11:59 pm", "2024-08-20"),
        ])
    func accepted(raw: String, expected: String) {
        #expect((try? DateParser.isoDate(from: raw).get()) == expected)
    }

    @Test(
        "impossible or unreadable dates are refused",
        arguments: ["2024-02-30", "13/01/2024", "2023-02-29", "1900-02-29", "2024-00-10", "2024-04-31", "0/5/2024",
            "20-08-2024", "8/20/2024 noon", "8/20/2024 0:0", "8/20/2024 x0:00", "2024/20/08", "Aug 20 2024", "2024-08-20junk", "2024-8-20", "08/20/24", "",
            "0000-01-01", "01/01/0000", "0000-02-29T00:00:00Z"])
    func refused(raw: String) {
        #expect(throws: DateParser.Problem.self) { try DateParser.isoDate(from: raw).get() }
    }

    @Test(
        "a term with a bad date, or an end before its start, is rejected",
        arguments: [
            ("2024-02-30", "2024-06-01", "startDate"),
            ("2024-01-01", "13/01/2024", "endDate"),
            ("2024-06-01", "2024-01-01", "endDate 2024-01-01 is before startDate 2024-06-01"),
        ])
    func badTerm(start: String, end: String, detail: String) {
        let outcome = Fixture.transform(.term(Fixture.term(start: start, end: end)))
        #expect(outcome.record == nil)
        #expect(outcome.reasons == [.invalidDate])
        #expect(outcome.rejections.first?.severity == .rejected)
        #expect(outcome.rejections.first?.detail.contains(detail) == true)
    }

    @Test("a good term gets ISO dates; a term without dates is fine")
    func goodTerm() throws {
        let out = try #require(Fixture.transform(.term(Fixture.term(start: "8/20/2024", end: "2024-12-20T00:00:00.000Z"))).term)
        #expect(out.startDate == "2024-08-20")
        #expect(out.endDate == "2024-12-20")
        #expect(Fixture.transform(.term(Fixture.term(start: nil, end: " "))).rejections.isEmpty)
    }

    @Test(
        "a student's bad birth date is dropped with a warning; a good one is ISO",
        arguments: [
            ("2012-02-30", nil, true),
            ("13/01/2012", nil, true),
            ("1/9/2012", "2012-01-09", false),
            ("", nil, false),
        ] as [(String, String?, Bool)])
    func birthDate(raw: String, expected: String?, warned: Bool) throws {
        let outcome = Fixture.transform(.student(Fixture.student(dob: raw)))
        let student = try #require(outcome.student)
        #expect(student.dateOfBirth == expected)
        let warning = outcome.rejections.first { $0.reason == .invalidDate }
        #expect((warning != nil) == warned)
        #expect(warning.map { $0.severity == .warning && $0.detail.contains(raw) } ?? true)
    }
}
