import AsyncHTTPClient
import CleverExtract
import FakeClever
import Foundation
import Logging
import RosterModel

/// A fake Clever on loopback and a client pointed at it, both torn down when `body` returns.
enum FakeCleverHarness {
    static let token = "test-token-5f0c2b"

    static var quietLogger: Logger {
        var logger = Logger(label: "extract-tests")
        logger.logLevel = .critical
        return logger
    }

    /// Fast retries so fault tests take milliseconds, unless they test Retry-After on purpose.
    static func configuration(
        _ url: URL, token: String = token, pageSize: Int = 100, maxAttempts: Int = 6,
        requestTimeout: Duration = .seconds(10), rateLimitFallback: Duration = .milliseconds(20)
    ) -> CleverAPISource.Configuration {
        CleverAPISource.Configuration(
            baseURL: url, token: token, pageSize: pageSize, maxAttempts: maxAttempts, requestTimeout: requestTimeout,
            backoffBase: .milliseconds(1), backoffMax: .milliseconds(10), rateLimitFallback: rateLimitFallback)
    }

    static func run<Result: Sendable>(
        district: SyntheticDistrict = SyntheticDistrict(students: 300, seed: 7), faults: Faults = .none,
        _ body: (FakeCleverServer, URL) async throws -> Result
    ) async throws -> Result {
        let server = FakeCleverServer(
            district: district, configuration: .init(token: token, faults: faults), logger: quietLogger)
        return try await server.withRunning { url in try await body(server, url) }
    }

    static func source(_ configuration: CleverAPISource.Configuration) -> CleverAPISource {
        CleverAPISource(configuration: configuration, httpClient: .shared, logger: quietLogger)
    }

    /// Every record and rejection of a feed, and the number of batches.
    static func collect(_ source: some RosterSource, _ feed: Feed) async throws -> (ExtractBatch, batches: Int) {
        var all = ExtractBatch()
        var batches = 0
        for try await batch in source.batches(of: feed) {
            batches += 1
            all.records += batch.records
            all.rejections += batch.rejections
        }
        return (all, batches)
    }
}

/// The generator's records as the API client sees them: references by Clever id only (but an
/// enrollment keeps its section's SIS id, which is on the same page); a section's course name and
/// number come from the district's courses.
enum AsAPI {
    static func ref(_ ref: Ref) -> Ref { ref.cleverID.map(Ref.clever) ?? Ref() }

    static func records(of district: SyntheticDistrict, _ feed: Feed) -> [Record] {
        switch feed {
        case .schools: return district.schools.map(Record.school)
        case .teachers:
            return district.teachers.map { teacher in
                var teacher = teacher
                teacher.school = ref(teacher.school)
                teacher.otherSchools = teacher.otherSchools.map(ref)
                return .teacher(teacher)
            }
        case .students:
            return district.students.map { student in
                var student = student
                student.school = ref(student.school)
                return .student(student)
            }
        case .terms:
            // Clever's API terms have no SIS id: keyed on the Clever id.
            return district.terms.map { term in
                var term = term
                term.sisID = term.cleverID ?? ""
                return .term(term)
            }
        case .sections:
            return district.sections.map { section in
                var section = section
                section.school = ref(section.school)
                section.term = ref(section.term)
                section.teachers = section.teachers.map(ref)
                return .section(section)
            }
        case .enrollments:
            return district.enrollments.map { enrollment in
                var enrollment = enrollment
                enrollment.student = ref(enrollment.student)
                return .enrollment(enrollment)
            }
        }
    }
}
