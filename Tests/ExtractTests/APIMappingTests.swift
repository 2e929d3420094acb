@testable import CleverExtract
import Foundation
import RosterModel
import Testing

@Suite("Clever API pages and retry rules (no IO)")
struct APIMappingTests {
    func map(_ feed: Feed, _ json: String) throws -> (batch: ExtractBatch, next: String?) {
        try PageMapper(feed: feed, endpoint: "GET /v3.0/test").map(Data(json.utf8))
    }

    @Test("a user without sis_id is a missing_required_field rejection with its object id")
    func missingSISID() throws {
        let json = """
            {"data": [
              {"data": {"id": "u1", "email": "a@x.org", "name": {"first": "A", "last": "B"},
                        "roles": {"student": {"school": "s1", "grade": "3"}}}, "uri": "/v3.0/users/u1"},
              {"data": {"id": "u2", "name": {"first": "C"},
                        "roles": {"student": {"sis_id": "200", "school": "s1", "schools": ["s1"]}}}, "uri": "/v3.0/users/u2"}
            ], "links": [{"rel": "self", "uri": "/v3.0/users?role=student"},
                         {"rel": "next", "uri": "/v3.0/users?role=student&starting_after=u2"}]}
            """
        let (batch, next) = try map(.students, json)
        #expect(next == "/v3.0/users?role=student&starting_after=u2")
        #expect(batch.records.count == 1)
        #expect(batch.rejections.count == 1)
        let rejection = try #require(batch.rejections.first)
        #expect(rejection.reason == .missingRequiredField)
        #expect(rejection.source == .api("users", id: "u1"))
        #expect(rejection.entity == .student)
        #expect(rejection.recordKey == nil, "no SIS id: prepare keys it by the roster's record of its Clever id")
        guard case .student(let student) = batch.records.first else {
            Issue.record("expected a student")
            return
        }
        #expect(student.sisID == "200")
        #expect(student.school == .clever("s1"))
        #expect(student.source == .api("users", id: "u2"))
    }

    @Test("a next link that starts after another object than the page's last is malformed: the objects between would be skipped")
    func nextLinkMustStartAfterTheLastObject() throws {
        let page = { (after: String) in
            """
            {"data": [{"data": {"id": "u1", "roles": {"student": {"sis_id": "100", "school": "s1"}}}},
                      {"data": {"id": "u2", "roles": {"student": {"sis_id": "200", "school": "s1"}}}}],
             "links": [{"rel": "next", "uri": "/v3.0/users?role=student&limit=2&starting_after=\(after)"}]}
            """
        }
        #expect(try map(.students, page("u2")).next == "/v3.0/users?role=student&limit=2&starting_after=u2")
        let error = try #require(throws: ExtractError.self) { _ = try map(.students, page("u7")) }
        #expect(error.code == .malformedResponse)
        #expect(error.message.contains("the next link starts after u7, not after the page's last object u2"), "\(error.message)")
    }

    @Test("an empty page that links on, or a next link that does not say where it starts, is malformed: objects could be skipped unseen")
    func nextLinksThatCannotBeChecked() throws {
        let empty = #"{"data": [], "links": [{"rel": "next", "uri": "/v3.0/users?role=student&limit=2&starting_after=u9"}]}"#
        let emptyError = try #require(throws: ExtractError.self) { _ = try map(.students, empty) }
        #expect(emptyError.code == .malformedResponse)
        #expect(emptyError.message.contains("an empty page that links to a next one"), "\(emptyError.message)")
        let unplaced = """
            {"data": [{"data": {"id": "u1", "roles": {"student": {"sis_id": "100", "school": "s1"}}}}],
             "links": [{"rel": "next", "uri": "/v3.0/users?role=student&page=2"}]}
            """
        let unplacedError = try #require(throws: ExtractError.self) { _ = try map(.students, unplaced) }
        #expect(unplacedError.code == .malformedResponse)
        #expect(unplacedError.message.contains("a next link without starting_after"), "\(unplacedError.message)")
        // An empty page that links nowhere is the end of a feed.
        #expect(try map(.students, #"{"data": [], "links": [{"rel": "self", "uri": "/v3.0/users"}]}"#).next == nil)
    }

    @Test("a section's course name and number come from the district's courses by its course id; a course not listed leaves them empty")
    func sectionCourses() throws {
        let courses = """
            {"data": [{"data": {"id": "c1", "district": "d", "name": "Algebra I", "number": "H90"}, "uri": "/v3.0/courses/c1"},
                      {"data": {"id": "c2", "district": "d", "name": null}, "uri": "/v3.0/courses/c2"}],
             "links": [{"rel": "self", "uri": "/v3.0/courses?limit=10000"}]}
            """
        let read = try Data(courses.utf8).withUnsafeBytes { bytes in
            try PageMapper.courses(bytes, endpoint: "GET /v3.0/courses")
        }
        #expect(read.content.map(\.id) == ["c1", "c2"] && read.next == nil && read.lastID == "c2")
        let catalog = Dictionary(uniqueKeysWithValues: read.content.map { ($0.id, $0) })
        let page = { (course: String) in
            """
            {"data": [{"data": {"id": "sec1", "sis_id": "S-1", "school": "sch", "course": "\(course)",
                                "teachers": [], "students": []}}]}
            """
        }
        for (course, name, number) in [("c1", "Algebra I", "H90"), ("c2", nil, nil), ("c9", nil, nil)] as [(String, String?, String?)] {
            let batch = try PageMapper(feed: .sections, endpoint: "GET /v3.0/sections", courses: catalog)
                .map(Data(page(course).utf8)).batch
            guard case .section(let section) = batch.records.first else {
                Issue.record("expected a section for \(course)")
                continue
            }
            #expect(section.courseName == name && section.courseNumber == number, "\(course)")
        }
    }

    @Test("a section without its students or teachers list is unreadable, keyed by SIS id, so its members are kept; an empty list is read")
    func sectionWithoutLists() throws {
        let section = """
            {"data": [{"data": {"id": "sec1", "sis_id": "S-1", "school": "sch", "term_id": "t1",
                                "teacher": "t-a", "teachers": ["t-a"], "students": ["st1"]}}], "links": []}
            """
        for (list, json) in [
            ("students", section.replacingOccurrences(of: #", "students": ["st1"]"#, with: "")),
            ("students", section.replacingOccurrences(of: #""students": ["st1"]"#, with: #""students": null"#)),
            ("teachers", section.replacingOccurrences(of: #""teachers": ["t-a"], "#, with: "")),
        ] {
            let batch = try map(.sections, json).batch
            #expect(batch.records.isEmpty, "\(json)")
            let rejection = try #require(batch.rejections.first)
            #expect(rejection.reason == .missingRequiredField)
            #expect(rejection.recordKey == "S-1")
            #expect(rejection.detail == "Clever object sec1 has no \(list) list")
            #expect(try map(.enrollments, json).batch.records.isEmpty, "\(json)")
        }
        let nobody = section.replacingOccurrences(of: #""students": ["st1"]"#, with: #""students": []"#)
        #expect(try map(.sections, nobody).batch.records.count == 1)
        #expect(try map(.sections, nobody).batch.rejections.isEmpty)
    }

    @Test("a teacher or student without a school is keyed by SIS id, so the merge keeps their record for the night")
    func missingSchoolKeyedBySISID() throws {
        let teachers = try map(.teachers, #"{"data": [{"data": {"id": "u9", "roles": {"teacher": {"sis_id": " T-9 "}}}}]}"#)
        #expect(teachers.batch.rejections.map(\.recordKey) == ["T-9"])
        #expect(teachers.batch.rejections.map(\.source) == [.api("users", id: "u9")])
        let students = try map(.students, #"{"data": [{"data": {"id": "u8", "roles": {"student": {"sis_id": "S-8"}}}}]}"#)
        #expect(students.batch.rejections.map(\.recordKey) == ["S-8"])
        #expect(students.batch.rejections.map(\.reason) == [.missingRequiredField])
        // Clever's "" is no value: no school at all is the same rejection, and an empty `school`
        // gives way to the first school of `schools`.
        let blank = try map(.students, #"{"data": [{"data": {"id": "u7", "roles": {"student": {"sis_id": "S-7", "school": "", "schools": [""]}}}}]}"#)
        #expect(blank.batch.records.isEmpty && blank.batch.rejections.map(\.recordKey) == ["S-7"])
        let listed = try map(.teachers, #"{"data": [{"data": {"id": "u6", "roles": {"teacher": {"sis_id": "T-6", "school": "", "schools": ["", "s2", "s3"]}}}}]}"#)
        guard case .teacher(let teacher) = listed.batch.records.first else {
            Issue.record("expected a teacher")
            return
        }
        #expect(teacher.school == .clever("s2") && teacher.otherSchools == [.clever("s3")])
    }

    @Test("section teachers: the primary first, then the others once, more than ten all read; a term keys on its Clever id")
    func sectionTeachersAndTerms() throws {
        let section = """
            {"data": [{"data": {"id": "sec1", "sis_id": "S-1", "school": "sch", "term_id": "t1",
                                "teacher": "t-b", "teachers": ["t-a", "t-b", "t-c"], "students": ["st1", "st2"]},
                       "uri": "/v3.0/sections/sec1"}], "links": []}
            """
        guard case .section(let record) = try map(.sections, section).batch.records.first else {
            Issue.record("expected a section")
            return
        }
        #expect(record.teachers == [.clever("t-b"), .clever("t-a"), .clever("t-c")])
        #expect(record.term == .clever("t1"))
        // No primary named: an empty first ref, so no co-teacher moves up to primary.
        let noPrimary = section.replacingOccurrences(of: #""teacher": "t-b""#, with: #""teacher": null"#)
        guard case .section(let unled) = try map(.sections, noPrimary).batch.records.first else {
            Issue.record("expected a section")
            return
        }
        #expect(unled.teachers == [Ref(), .clever("t-a"), .clever("t-b"), .clever("t-c")])
        // More than the CSV format's ten: all are read, the primary first. The transform keeps
        // ten and reports the rest (SectionTeacherTests), the same rule as for the CSV files.
        let twelve = (1...12).map { "t-\($0)" }
        let crowded = section
            .replacingOccurrences(of: #""teacher": "t-b""#, with: #""teacher": "t-12""#)
            .replacingOccurrences(
                of: #"["t-a", "t-b", "t-c"]"#, with: "[" + twelve.map { "\"\($0)\"" }.joined(separator: ", ") + "]")
        guard case .section(let full) = try map(.sections, crowded).batch.records.first else {
            Issue.record("expected a section")
            return
        }
        #expect(full.teachers == (["t-12"] + twelve.dropLast()).map(Ref.clever))
        let enrollments = try map(.enrollments, section).batch.records
        #expect(enrollments == ["st1", "st2"].map {
            .enrollment(
                EnrollmentRecord(
                    source: .api("sections", id: "sec1"), section: Ref(sisID: "S-1", cleverID: "sec1"), student: .clever($0)))
        })
        // A section without a SIS id (rejected itself): its enrollments refer by Clever id alone.
        let bare = section.replacingOccurrences(of: #""sis_id": "S-1", "#, with: "")
        #expect(try map(.enrollments, bare).batch.records.first == .enrollment(
            EnrollmentRecord(source: .api("sections", id: "sec1"), section: .clever("sec1"), student: .clever("st1"))))
        // Terms have no SIS id in Clever's API: keyed on the Clever id. A sis_id a page might
        // carry is not read.
        let terms = """
            {"data": [{"data": {"id": "t9", "name": "Fall", "start_date": "2026-08-24", "end_date": "2027-01-15",
                                "sis_id": "ignored"}},
                      {"data": {"id": "t8", "name": "Spring", "start_date": ""}},
                      {"data": {"id": "t7", "name": "", "start_date": null}}]}
            """
        let keys = try map(.terms, terms).batch.records.map { record -> String? in
            if case .term(let term) = record { term.sisID } else { nil }
        }
        #expect(keys == ["t9", "t8", "t7"])
    }

    @Test("not a page: an error naming the endpoint", arguments: [
        #"{"links": []}"#,
        #"{"data": [{"id": "x"}]}"#,
        #"{"data": [{"data": {"sis_id": "1", "school": "s"}}]}"#,
        #"{"data": [{"data": {"id": "sec"#,
        "<html>Bad gateway</html>",
    ])
    func malformed(json: String) {
        let error = #expect(throws: ExtractError.self) { try map(.sections, json) }
        #expect(error?.code == .malformedResponse)
        #expect(error?.context == "GET /v3.0/test")
    }

    @Test("next links: from Clever's root, kept under a base URL's path; another host is refused")
    func nextLinks() throws {
        let page = URL(string: "https://api.clever.com/v3.0/users?role=student")!
        let next = "/v3.0/users?role=student&starting_after=abc"
        #expect(try PageCursor.resolve(next, baseURL: URL(string: "https://api.clever.com")!, from: page).absoluteString
            == "https://api.clever.com/v3.0/users?role=student&starting_after=abc")
        let proxy = URL(string: "https://proxy.example.org/clever/")!
        #expect(try PageCursor.resolve(next, baseURL: proxy, from: page).absoluteString
            == "https://proxy.example.org/clever/v3.0/users?role=student&starting_after=abc")
        #expect(try PageCursor.resolve("/clever/v3.0/users?starting_after=abc", baseURL: proxy, from: page).absoluteString
            == "https://proxy.example.org/clever/v3.0/users?starting_after=abc", "a proxy that rewrote its links")
        #expect(throws: ExtractError.self) {
            _ = try PageCursor.resolve("https://evil.example.com/v3.0/users", baseURL: proxy, from: page)
        }
    }

    @Test("a teacher on a role=student page is a malformed response")
    func wrongRole() {
        let json = """
            {"data": [{"data": {"id": "u1", "roles": {"teacher": {"sis_id": "T1", "school": "s"}}}}]}
            """
        let error = #expect(throws: ExtractError.self) { try map(.students, json) }
        #expect(error?.code == .malformedResponse)
    }

    @Test("JSON details: escapes, surrogate pairs, nulls, and unknown keys of every type skipped")
    func jsonDetails() throws {
        let json = #"""
            {"extra": [1, -2.5e+3, 0, true, false, null, {"a": [{}, []]}, "x\"y\u00e9"], "data": [
              {"uri": "/v3.0/users/u\u0031", "data": {"id": "u1", "email": null, "unknown": {"deep": [0.1, 1E5, -0]},
                "name": {"first": "Jos\u00e9 \ud83d\ude00 Zo\u00EB", "middle": null, "last": "O\"Brien\\\/ Nguyễn"},
                "roles": {"student": {"sis_id": "7", "schools": ["s\/2", "s3"], "grade": "3", "dob": null},
                          "teacher": null}}}
            ] , "links" : null }
            """#
        let (batch, next) = try map(.students, json)
        #expect(next == nil)
        guard case .student(let student) = batch.records.first, batch.records.count == 1 else {
            Issue.record("expected one student")
            return
        }
        #expect(student.firstName == "José 😀 Zoë")
        #expect(student.lastName == "O\"Brien\\/ Nguyễn")
        #expect(student.middleName == nil)
        #expect(student.email == nil)
        #expect(student.school == .clever("s/2"))
        #expect(student.dateOfBirth == nil)
        #expect(student.source == .api("users", id: "u1"))
    }

    @Test("not JSON, or JSON of the wrong shape: a malformed response that says where", arguments: [
        (#"{"data": []} x"#, "invalid or truncated JSON"),
        (#"{"data": [],}"#, "invalid or truncated JSON"),
        (#"{"data": [], "n": 01}"#, "invalid or truncated JSON"),
        (#"{"data": [], "n": 1.}"#, "invalid or truncated JSON"),
        (#"{"data": [], "s": "\x"}"#, "invalid or truncated JSON"),
        (#"{"data": [], "s": "\ud83d"}"#, "invalid or truncated JSON"),
        ("{\"data\": [], \"s\": \"a\u{01}b\"}", "invalid or truncated JSON"),
        (#"{"data": [], "t": tru}"#, "invalid or truncated JSON"),
        (#"{"data": [{"data": {"school": "s"}, "uri": "/v3.0/sections/x"}]}"#, "missing data.0.data.id"),
        (#"{"data": [{"data": {"id": 5, "school": "s"}}]}"#, "unexpected value at data.0.data.id"),
        (#"{"data": [{"data": {"id": "a", "school": "s", "students": ["a", null]}}]}"#,
         "unexpected value at data.0.data.students.1"),
        (#"{"data": {}}"#, "unexpected value at data"),
        (#"{"data": [{"data": {"id": "a", "school": "s"}}], "links": [{"rel": "next"}]}"#, "missing links.0.uri"),
    ])
    func malformedDetail(json: String, detail: String) {
        let error = #expect(throws: ExtractError.self) { try map(.sections, json) }
        #expect(error?.code == .malformedResponse)
        #expect(error?.message.contains("(\(detail))") == true, "\(error?.message ?? "")")
    }

    @Test("invalid UTF-8 in a string is malformed, not repaired")
    func invalidUTF8() {
        var body = Data(#"{"data": [{"data": {"id": "a"#.utf8)
        body.append(contentsOf: [0xFF, 0xFE])
        body.append(contentsOf: Data(#"", "school": "s"}}]}"#.utf8))
        let error = #expect(throws: ExtractError.self) {
            try PageMapper(feed: .sections, endpoint: "GET /v3.0/test").map(body)
        }
        #expect(error?.code == .malformedResponse)
    }

    @Test("the token's district must be the one synced; a token that opens none says so")
    func tokenDistrict() throws {
        try CleverAPISource.checkDistrict([Clever.District(id: "d1", name: nil)], expected: "d1", context: "c")
        let other = #expect(throws: ExtractError.self) {
            try CleverAPISource.checkDistrict([Clever.District(id: "d2", name: "Springfield")], expected: "d1", context: "c")
        }
        #expect(other?.code == .configuration && other?.message.hasPrefix("this Clever token is for district d2 (Springfield), not d1") == true)
        let none = #expect(throws: ExtractError.self) { try CleverAPISource.checkDistrict([], expected: "d1", context: "c") }
        #expect(none?.code == .configuration && none?.message.contains("opens no district") == true)
        // Even with the district synced among them: the feeds would hold them all.
        let several = #expect(throws: ExtractError.self) {
            try CleverAPISource.checkDistrict(
                [Clever.District(id: "d1", name: nil), Clever.District(id: "d2", name: nil)], expected: "d1", context: "c")
        }
        #expect(several?.code == .configuration && several?.message.contains("opens several districts (d1, d2, ...)") == true)
    }

    @Test("a page nested deeper than 512 levels is a malformed response, not a stack overflow")
    func deeplyNested() throws {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        let error = #expect(throws: ExtractError.self) { try map(.students, #"{"data": [], "x": "# + deep + "}") }
        #expect(error?.code == .malformedResponse)
        #expect(error?.message.contains("nested more than 512 deep") == true, "\(String(describing: error))")
        // As deep as allowed still reads.
        let allowed = String(repeating: "[", count: 510) + String(repeating: "]", count: 510)
        #expect(try map(.students, #"{"data": [], "x": "# + allowed + "}").batch.records.isEmpty)
    }

    @Test("Retry-After in seconds or as an HTTP date, else X-RateLimit-Reset, capped")
    func rateLimitWaits() throws {
        let policy = RetryPolicy(
            maxAttempts: 6, backoffBase: .milliseconds(500), backoffMax: .seconds(30), maxRetryAfter: .seconds(120),
            rateLimitFallback: .seconds(60))
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(policy.rateLimitWait(retryAfter: "3", rateLimitReset: nil, now: now) == .seconds(3))
        let date = RetryPolicy.httpDate("Fri, 15 Jan 2027 08:00:10 GMT")
        let base = try #require(RetryPolicy.httpDate("Fri, 15 Jan 2027 08:00:00 GMT"))
        #expect(date != nil)
        #expect(policy.rateLimitWait(retryAfter: "Fri, 15 Jan 2027 08:00:10 GMT", rateLimitReset: nil, now: base) == .seconds(10))
        #expect(policy.rateLimitWait(retryAfter: nil, rateLimitReset: "1800000007", now: now) == .seconds(7))
        #expect(policy.rateLimitWait(retryAfter: "9999", rateLimitReset: nil, now: now) == .seconds(120))
        #expect(policy.rateLimitWait(retryAfter: nil, rateLimitReset: nil, now: now) == nil)
        #expect(policy.rateLimitWait(retryAfter: "0", rateLimitReset: nil, now: now) == .zero)
        // A wait that has passed is no wait: the backoff applies, not a burst of immediate retries.
        #expect(policy.rateLimitWait(retryAfter: "-5", rateLimitReset: nil, now: now) == nil)
        #expect(policy.rateLimitWait(retryAfter: nil, rateLimitReset: "1799999995", now: now) == nil)
        #expect(policy.rateLimitWait(retryAfter: nil, rateLimitReset: "1800000000", now: now) == nil)
        // Values no integer holds are capped, not a crash.
        for huge in ["1e30", "inf", "9999999999999999999"] {
            #expect(policy.rateLimitWait(retryAfter: huge, rateLimitReset: nil, now: now) == .seconds(120))
        }
        #expect(policy.rateLimitWait(retryAfter: nil, rateLimitReset: "1e300", now: now) == .seconds(120))
        #expect(policy.rateLimitWait(retryAfter: "nan", rateLimitReset: nil, now: now) == nil)
        // Then the wait outlasts Clever's one-minute window: half of it to all of it.
        #expect(policy.rateLimitFallbackWait(random: 0) == .seconds(30))
        #expect(policy.rateLimitFallbackWait(random: 1) == .seconds(60))
    }

    @Test("backoff: full jitter under an exponential ceiling, capped")
    func backoff() {
        let policy = RetryPolicy(
            maxAttempts: 6, backoffBase: .milliseconds(500), backoffMax: .seconds(4), maxRetryAfter: .seconds(120),
            rateLimitFallback: .seconds(60))
        #expect(policy.backoff(afterAttempt: 1, random: 1) == .milliseconds(500))
        #expect(policy.backoff(afterAttempt: 3, random: 1) == .seconds(2))
        #expect(policy.backoff(afterAttempt: 10, random: 1) == .seconds(4))
        #expect(policy.backoff(afterAttempt: 3, random: 0) == .zero)
        #expect(policy.backoff(afterAttempt: 2, random: 0.5) == .milliseconds(500))
    }
}
