import AsyncHTTPClient
import CleverExtract
import FakeClever
import Foundation
import RosterModel
import Testing

@Suite("Clever API source against FakeClever", .timeLimit(.minutes(3)))
struct APISourceTests {
    @Test("1,050 students at 100 a page: 11 pages, every student exactly once")
    func pagingAcrossManyPages() async throws {
        let district = SyntheticDistrict(students: 1_050, seed: 3)
        try await FakeCleverHarness.run(district: district) { server, url in
            let source = FakeCleverHarness.source(FakeCleverHarness.configuration(url, pageSize: 100))
            let (all, batches) = try await FakeCleverHarness.collect(source, .students)
            let ids = all.records.compactMap { record -> String? in
                if case .student(let student) = record { student.sisID } else { nil }
            }
            #expect(batches == 11)
            #expect(ids.count == 1_050)
            #expect(Set(ids).count == 1_050)
            #expect(Set(ids) == Set(district.students.map(\.sisID)))
            #expect(await server.requestCount() == 11)
        }
    }

    @Test("every feed from the API equals the generated district", arguments: Feed.allCases)
    func sameRecordsAsGenerator(feed: Feed) async throws {
        let district = SyntheticDistrict(students: 400, seed: 11)
        try await FakeCleverHarness.run(district: district) { _, url in
            let source = FakeCleverHarness.source(FakeCleverHarness.configuration(url, pageSize: 37))
            let (all, _) = try await FakeCleverHarness.collect(source, feed)
            #expect(all.rejections.isEmpty)
            let expected = AsAPI.records(of: district, feed)
            #expect(all.records.count == expected.count)
            #expect(Set(all.records) == Set(expected))
        }
    }

    @Test("a changed district between runs: the next night's students are read")
    func nextNight() async throws {
        let district = SyntheticDistrict(students: 600, seed: 5)
        try await FakeCleverHarness.run(district: district) { server, url in
            let source = FakeCleverHarness.source(FakeCleverHarness.configuration(url, pageSize: 250))
            let before = try await FakeCleverHarness.collect(source, .students).0.records
            let next = district.nextNight(changed: 0.05, removed: 0.02, added: 0.02)
            await server.serve(next)
            let after = try await FakeCleverHarness.collect(source, .students).0.records
            #expect(Set(after) == Set(AsAPI.records(of: next, .students)))
            #expect(Set(before) != Set(after))
            #expect(after.count == 600 - (0..<600).filter { next.student(at: $0) == nil }.count + 12)
        }
    }

    @Test("check() passes with the right token")
    func checkPasses() async throws {
        try await FakeCleverHarness.run { _, url in
            try await FakeCleverHarness.source(FakeCleverHarness.configuration(url)).check()
        }
    }

    @Test("a URL without a host or with a port that cannot exist is a configuration error before any request")
    func unusableURLs() async throws {
        for text in ["http://127.0.0.1:80800", "ftp://clever.example", "http:///v3.0", "http://127.0.0.1:0"] {
            let url = try #require(URL(string: text))
            #expect(!CleverAPISource.isUsable(url), "\(text)")
            let error = await #expect(throws: ExtractError.self) {
                try await FakeCleverHarness.source(FakeCleverHarness.configuration(url)).check()
            }
            #expect(error?.code == .configuration, "\(text)")
        }
        #expect(try ["https://api.clever.com", "http://127.0.0.1:65535/base"].allSatisfy { CleverAPISource.isUsable(try #require(URL(string: $0))) })
    }

    @Test("401: unauthorized, and the token appears in no message")
    func unauthorized() async throws {
        try await FakeCleverHarness.run { _, url in
            let secret = "wrong-secret-token-123"
            let source = FakeCleverHarness.source(FakeCleverHarness.configuration(url, token: secret))
            for attempt in 0..<2 {
                let error = await #expect(throws: ExtractError.self) {
                    if attempt == 0 {
                        try await source.check()
                    } else {
                        _ = try await FakeCleverHarness.collect(source, .teachers)
                    }
                }
                #expect(error?.code == .unauthorized)
                #expect(error?.message.contains("CLEVER_TOKEN") == true)
                for text in [error.map(String.init(describing:)), error.map { String(reflecting: $0) }] {
                    #expect(text?.contains(secret) == false)
                }
            }
            #expect(!String(describing: source).contains(secret))
            #expect(!String(reflecting: source.configuration).contains(secret))
            #expect(!source.configuration.description.contains(secret))
        }
    }

    @Test("404: fails at once naming the endpoint")
    func notFound() async throws {
        try await FakeCleverHarness.run { server, url in
            let source = FakeCleverHarness.source(FakeCleverHarness.configuration(url.appending(path: "nothing-here")))
            let error = await #expect(throws: ExtractError.self) {
                _ = try await FakeCleverHarness.collect(source, .schools)
            }
            #expect(error?.code == .refused)
            #expect(error?.context?.contains("/nothing-here/v3.0/schools") == true)
            #expect(error?.message.contains("404") == true)
            #expect(await server.requestCount() == 0)
        }
    }
}
