import RosterModel
import RosterTransform
import Testing

@Suite("Emails")
struct EmailTests {
    @Test(
        "valid emails are trimmed and lowercased",
        arguments: [
            (" Ada.Lovelace@School.ORG ", "ada.lovelace@school.org"),
            ("o'brien+math@k12.ca.us", "o'brien+math@k12.ca.us"),
            ("a@b-c.io", "a@b-c.io"),
            ("x_y@d1.school.edu", "x_y@d1.school.edu"),
            ("teacher@school.xn--p1ai", "teacher@school.xn--p1ai"),
        ])
    func valid(raw: String, expected: String) {
        #expect((try? EmailValidator.validate(raw).get()) == expected)
    }

    @Test(
        "invalid emails say why",
        arguments: [
            ("ada.school.org", "no '@'"),
            ("a@b@school.org", "exactly one"),
            ("@school.org", "nothing before"),
            ("ada@", "nothing after"),
            (".ada@school.org", "starts or ends with a dot"),
            ("ada.@school.org", "starts or ends with a dot"),
            ("a..da@school.org", "two dots"),
            ("a da@school.org", "not allowed"),
            ("ad\u{00E9}@school.org", "non-ASCII"),
            // The Kelvin sign lowercases to "k": checked before, so the SIS's address is not changed.
            ("\u{212A}im@school.org", "non-ASCII"),
            ("ada@school", "no top-level domain"),
            ("ada@school.c", "top-level domain"),
            ("ada@school.c0m", "top-level domain"),
            ("ada@-school.org", "hyphen"),
            ("ada@school-.org", "hyphen"),
            ("ada@school..org", "empty label"),
            ("ada@sch_ool.org", "not allowed"),
            (String(repeating: "a", count: 65) + "@school.org", "64"),
            ("ada@" + String(repeating: "a", count: 64) + ".org", "63"),
            ("ada@" + String(repeating: "abcdefghi.", count: 25) + "org", "longer than"),
        ])
    func invalid(raw: String, why: String) {
        #expect(throws: EmailValidator.Problem.self) { try EmailValidator.validate(raw).get() }
        if case .failure(let problem) = EmailValidator.validate(raw) {
            #expect(problem.description.contains(why), "\(problem.description)")
        }
    }

    @Test(
        "students: canLogin follows the validated email, with the right warning",
        arguments: [
            ("ada@school.org", true, [ReasonCode]()),
            ("not-an-email", false, [.invalidEmail]),
            ("   ", false, [.missingEmail]),
        ] as [(String?, Bool, [ReasonCode])])
    func studentLogin(email: String?, canLogin: Bool, reasons: [ReasonCode]) throws {
        let outcome = Fixture.transform(.student(Fixture.student(email: email)))
        let student = try #require(outcome.student)
        #expect(student.canLogin == canLogin)
        #expect((student.email != nil) == canLogin)
        #expect(outcome.reasons == reasons)
        #expect(outcome.rejections.allSatisfy { $0.severity == .warning })
    }

    @Test("a missing student email is a warning")
    func missingStudentEmail() {
        let outcome = Fixture.transform(.student(Fixture.student(email: nil)))
        #expect(outcome.student?.canLogin == false)
        #expect(outcome.reasons == [.missingEmail])
    }

    @Test("the invalid_email detail names the reason and the original value")
    func invalidDetail() throws {
        let outcome = Fixture.transform(.teacher(Fixture.teacher(email: "Grace@@school.org")))
        let teacher = try #require(outcome.teacher)
        #expect(teacher.email == nil)
        let warning = try #require(outcome.rejections.first)
        #expect(warning.reason == .invalidEmail)
        #expect(warning.severity == .warning)
        #expect(warning.detail.contains("Grace@@school.org"))
        #expect(warning.detail.contains("'@'"))
    }

    @Test(
        "allowed domains: exact match only, email kept either way",
        arguments: [
            ("ada@school.org", ["school.org"], false),
            ("ada@SCHOOL.org", [" School.Org "], false),
            ("ada@kids.school.org", ["school.org"], true),
            ("ada@gmail.com", ["school.org", "district.k12.us"], true),
            ("ada@gmail.com", [], false),
        ] as [(String, [String], Bool)])
    func allowedDomains(email: String, domains: [String], warned: Bool) throws {
        let outcome = Fixture.transform(.teacher(Fixture.teacher(email: email)), domains: domains)
        let teacher = try #require(outcome.teacher)
        #expect(teacher.email == email.lowercased())
        #expect(outcome.reasons == (warned ? [.emailDomainNotAllowed] : []))
    }
}
