import AsyncHTTPClient
import CleverExtract
import FakeClever
import Foundation
import RosterModel
import Testing

@Suite("FakeClever server", .timeLimit(.minutes(3)))
struct FakeCleverServerTests {
    @Test("serves a CSV fixture folder: the API gives the folder's records")
    func fixtureFolder() async throws {
        let district = SyntheticDistrict(students: 120, seed: 2)
        let folder = FileManager.default.temporaryDirectory.appending(path: "fixture-\(UUID().uuidString)")
        try CleverCSVWriter(district: district).write(to: folder)
        defer { try? FileManager.default.removeItem(at: folder) }
        let server = try FakeCleverServer(
            csvDirectory: folder, configuration: .init(token: FakeCleverHarness.token),
            logger: FakeCleverHarness.quietLogger)
        try await server.withRunning { url in
            let source = FakeCleverHarness.source(FakeCleverHarness.configuration(url, pageSize: 50))
            try await source.check()
            let students = try await FakeCleverHarness.collect(source, .students).0.records
            let sisIDs = students.compactMap { if case .student(let s) = $0 { s.sisID } else { nil } }
            #expect(sisIDs.sorted() == district.students.map(\.sisID).sorted())
            let terms = try await FakeCleverHarness.collect(source, .terms).0.records
            // Keyed on their Clever ids (the API's terms have no SIS id), with the folder's names and dates.
            let termKeys = terms.compactMap { if case .term(let t) = $0 { TermRecord.derivedSISID(name: t.name, start: t.startDate, end: t.endDate) } else { nil } }
            #expect(Set(termKeys) == Set(district.terms.map(\.sisID)))
            #expect(terms.allSatisfy { if case .term(let t) = $0 { t.sisID == t.cleverID } else { false } })
            let teachers = try await FakeCleverHarness.collect(source, .teachers).0.records
            #expect(teachers.count == district.teacherCount)
            let enrollments = try await FakeCleverHarness.collect(source, .enrollments).0.records
            #expect(enrollments.count == 120 * 5)
        }
    }

    @Test("limit above 10,000 and an unknown starting_after are 400s; no token is a 401")
    func badRequests() async throws {
        try await FakeCleverHarness.run { _, url in
            func status(_ path: String, token: String? = FakeCleverHarness.token) async throws -> UInt {
                var request = HTTPClientRequest(url: url.absoluteString + path)
                if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
                return try await HTTPClient.shared.execute(request, timeout: .seconds(5)).status.code
            }
            let cases: [(String, String?, UInt)] = [
                ("/v3.0/schools?limit=10001", FakeCleverHarness.token, 400),
                ("/v3.0/schools?limit=10000", FakeCleverHarness.token, 200),
                ("/v3.0/schools?starting_after=nope", FakeCleverHarness.token, 400),
                ("/v3.0/users", FakeCleverHarness.token, 400),
                ("/v3.0/users?role=district_admin", FakeCleverHarness.token, 200),
                ("/v3.0/courses", FakeCleverHarness.token, 200),
                ("/v3.0/schools", nil, 401),
            ]
            for (path, token, expected) in cases {
                let code = try await status(path, token: token)
                #expect(code == expected, "\(path)")
            }
        }
    }

    @Test("two servers run side by side on their own ports")
    func portZero() async throws {
        try await FakeCleverHarness.run { _, first in
            try await FakeCleverHarness.run { _, second in
                #expect(first.port != second.port)
                #expect(first.port != 0)
            }
        }
    }
}
