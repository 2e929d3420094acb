import AsyncHTTPClient
import CleverExtract
import FakeClever
import Foundation
import RosterModel
import Testing

@Suite("Clever API source: injected faults", .timeLimit(.minutes(3)))
struct APIFaultTests {
    static let district = SyntheticDistrict(students: 300, seed: 21)

    /// Reads students at 100 a page with `faults`, returning the records or the error: 4 requests
    /// when nothing fails (three full pages, the last naming no next one, then the empty page after it).
    func readStudents(
        _ faults: Faults, maxAttempts: Int = 6, requestTimeout: Duration = .seconds(10),
        rateLimitFallback: Duration = .milliseconds(20)
    ) async throws -> (Result<[Record], ExtractError>, requests: Int, elapsed: Duration) {
        try await FakeCleverHarness.run(district: Self.district, faults: faults) { server, url in
            let source = FakeCleverHarness.source(
                FakeCleverHarness.configuration(
                    url, pageSize: 100, maxAttempts: maxAttempts, requestTimeout: requestTimeout,
                    rateLimitFallback: rateLimitFallback))
            let clock = ContinuousClock()
            let start = clock.now
            let result: Result<[Record], ExtractError>
            do {
                result = .success(try await FakeCleverHarness.collect(source, .students).0.records)
            } catch let error as ExtractError {
                result = .failure(error)
            }
            return (result, await server.requestCount(), clock.now - start)
        }
    }

    func expectAllStudents(_ result: Result<[Record], ExtractError>) {
        switch result {
        case .success(let records): #expect(Set(records) == Set(AsAPI.records(of: Self.district, .students)))
        case .failure(let error): Issue.record("expected every student, got \(error)")
        }
    }

    func expectError(_ result: Result<[Record], ExtractError>, _ code: ExtractError.Code) -> ExtractError? {
        switch result {
        case .success(let records):
            Issue.record("expected \(code), got \(records.count) records")
            return nil
        case .failure(let error):
            #expect(error.code == code, "\(error)")
            #expect(error.context?.contains("/v3.0/users") == true)
            return error
        }
    }

    @Test("429s as Clever sends them, with X-RateLimit-Reset and no Retry-After, are waited out until the reset")
    func rateLimitResetOnly() async throws {
        let (result, requests, elapsed) = try await readStudents(
            Faults(skipRequests: 1, rateLimited: 2, retryAfterSeconds: 2, rateLimitResetOnly: true))
        expectAllStudents(result)
        #expect(requests == 4 + 2)
        // Each reset is 2 s ahead in whole Unix seconds: more than 1 s away, where the client's own
        // backoff here is 1 to 10 ms.
        #expect(elapsed >= .milliseconds(1_900))
    }

    @Test("a burst of 429s is waited out, honouring Retry-After")
    func rateLimitBurst() async throws {
        let (result, requests, elapsed) = try await readStudents(
            Faults(skipRequests: 1, rateLimited: 2, retryAfterSeconds: 1))
        expectAllStudents(result)
        #expect(requests == 4 + 2)
        // The client's own backoff is 1-10 ms here: two waits of ~1 s come from Retry-After.
        #expect(elapsed >= .milliseconds(1_900))
    }

    @Test("500s are retried and recovered", arguments: [500, 502, 503])
    func serverErrorsRecovered(status: Int) async throws {
        let (result, requests, _) = try await readStudents(Faults(serverErrors: 3, serverErrorStatus: status))
        expectAllStudents(result)
        #expect(requests == 4 + 3)
    }

    @Test("too many 500s: an error after maxAttempts, not an empty feed")
    func tooManyServerErrors() async throws {
        let (result, requests, _) = try await readStudents(
            Faults(skipRequests: 1, serverErrors: 10, serverErrorStatus: 500), maxAttempts: 3)
        let error = expectError(result, .httpStatus)
        #expect(error?.message.contains("500") == true)
        #expect(requests == 1 + 3)
    }

    @Test("400, 404 and 501 are not retried: Clever answers them the same every time", arguments: [400, 404, 501])
    func notRetried(status: Int) async throws {
        let (result, requests, _) = try await readStudents(
            Faults(skipRequests: 1, serverErrors: 5, serverErrorStatus: status))
        let error = expectError(result, .refused)
        #expect(error?.message.contains("\(status)") == true, "\(String(describing: error))")
        #expect(requests == 1 + 1)
    }

    @Test("a page over the size limit fails at once, saying so (not 'could not reach Clever')")
    func pageTooLarge() async throws {
        try await FakeCleverHarness.run(district: Self.district) { server, url in
            var configuration = FakeCleverHarness.configuration(url, pageSize: 100)
            configuration.maxResponseBytes = 4_000
            let error = await #expect(throws: ExtractError.self) {
                _ = try await FakeCleverHarness.collect(FakeCleverHarness.source(configuration), .students)
            }
            #expect(error?.code == .refused)
            #expect(error?.message == "a page is larger than 4000 bytes; lower the page size")
            #expect(await server.requestCount() == 1)
        }
    }

    @Test("slow responses past the request timeout: a network error after every attempt")
    func slowResponses() async throws {
        let (result, _, _) = try await readStudents(
            Faults(delayMilliseconds: 400), maxAttempts: 2, requestTimeout: .milliseconds(100))
        _ = expectError(result, .network)
    }

    @Test("a body that stalls past the request timeout fails the attempt (the timeout covers the body); a short stall is fine")
    func stalledBody() async throws {
        // Every attempt at the first page stalls far longer than the timeout: no timing race, and
        // the attempts end at the timeout, not when the stalled body would have finished.
        let (result, requests, elapsed) = try await readStudents(
            Faults(stalledBodies: 5, stallMilliseconds: 60_000), maxAttempts: 2, requestTimeout: .seconds(1))
        let error = expectError(result, .network)
        #expect(error?.description.contains("no complete response within") == true, "\(String(describing: error))")
        #expect(requests == 2)
        #expect(elapsed < .seconds(20), "\(elapsed)")
        let (stalledBriefly, _, _) = try await readStudents(Faults(stalledBodies: 2, stallMilliseconds: 50))
        expectAllStudents(stalledBriefly)
    }

    @Test("slow responses within the timeout are fine")
    func slowButInTime() async throws {
        let (result, _, _) = try await readStudents(Faults(delayMilliseconds: 30))
        expectAllStudents(result)
    }

    @Test("a truncated page is a malformed response, not an empty or short feed")
    func truncatedBody() async throws {
        let (result, _, _) = try await readStudents(Faults(skipRequests: 1, truncatedBodies: 1))
        let error = expectError(result, .malformedResponse)
        #expect(error?.message.contains("JSON") == true)
    }

    @Test("a 200 without the data envelope is a malformed response")
    func missingEnvelope() async throws {
        let (result, _, _) = try await readStudents(Faults(missingEnvelopes: 1))
        _ = expectError(result, .malformedResponse)
    }

    @Test("a page of the wrong object type is a malformed response", arguments: Feed.allCases)
    func wrongType(feed: Feed) async throws {
        try await FakeCleverHarness.run(district: Self.district, faults: Faults(wrongTypes: 1)) { _, url in
            let source = FakeCleverHarness.source(FakeCleverHarness.configuration(url))
            let error = await #expect(throws: ExtractError.self) {
                _ = try await FakeCleverHarness.collect(source, feed)
            }
            #expect(error?.code == .malformedResponse)
        }
    }

    @Test("the districts check rejects a wrong-type page and a missing envelope")
    func checkMalformed() async throws {
        for faults in [Faults(wrongTypes: 1), Faults(missingEnvelopes: 1), Faults(truncatedBodies: 1)] {
            try await FakeCleverHarness.run(faults: faults) { _, url in
                let error = await #expect(throws: ExtractError.self) {
                    try await FakeCleverHarness.source(FakeCleverHarness.configuration(url)).check()
                }
                #expect(error?.code == .malformedResponse)
            }
        }
    }

    @Test("full pages whose next links were lost are read on: the page after a full one is asked for, and the feed ends at one that is not full")
    func lostNextLinks() async throws {
        let (result, requests, _) = try await readStudents(Faults(omitNextLinks: true))
        expectAllStudents(result)
        // Three full pages, then the empty one after them.
        #expect(requests == 3 + 1)
    }

    @Test("a district whose courses are not shared (403) still loads its sections, without course names")
    func coursesRefused() async throws {
        try await FakeCleverHarness.run(district: Self.district, faults: Faults(refuseCourses: true)) { _, url in
            let source = FakeCleverHarness.source(FakeCleverHarness.configuration(url, pageSize: 100))
            let records = try await FakeCleverHarness.collect(source, .sections).0.records
            let expected = AsAPI.records(of: Self.district, .sections)
            func courses(_ records: [Record]) -> [String?] {
                records.map { record in if case .section(let section) = record { section.courseName } else { "not a section" } }
            }
            #expect(records.count == expected.count)
            #expect(courses(records).allSatisfy { $0 == nil }, "\(courses(records).prefix(3))")
            #expect(courses(expected).allSatisfy { $0 != nil }, "the district has courses to refuse")
        }
    }

    @Test("a /courses request that keeps failing (503) stops the sections feed: only a refusal is taken as courses not shared")
    func coursesFailing() async throws {
        let (result, _, _) = try await FakeCleverHarness.run(district: Self.district, faults: Faults(serverErrors: 50)) { server, url in
            let source = FakeCleverHarness.source(FakeCleverHarness.configuration(url, pageSize: 100, maxAttempts: 2))
            let result: Result<Int, ExtractError>
            do {
                result = .success(try await FakeCleverHarness.collect(source, .sections).0.records.count)
            } catch let error as ExtractError {
                result = .failure(error)
            }
            return (result, await server.requestCount(), 0)
        }
        guard case .failure(let error) = result else {
            Issue.record("expected the sections feed to fail, got \(result)")
            return
        }
        #expect(error.code == .httpStatus, "\(error)")
        #expect(error.context?.contains("/v3.0/courses") == true, "\(error)")
    }

    @Test("a 429 whose reset has passed by this machine's clock waits the rate-limit fallback, not the short backoff")
    func rateLimitResetPassed() async throws {
        let (result, requests, elapsed) = try await readStudents(
            Faults(skipRequests: 1, rateLimited: 2, retryAfterSeconds: 0, rateLimitResetOnly: true),
            rateLimitFallback: .milliseconds(800))
        expectAllStudents(result)
        #expect(requests == 4 + 2)
        // Two waits of half to all of the fallback: at least 800 ms, where the backoff's are 1 to 10 ms.
        #expect(elapsed >= .milliseconds(800))
    }

    @Test("a token with a control character inside is a configuration error that does not quote it; a trailing line end is cut")
    func tokenWithControlCharacters() async throws {
        try await FakeCleverHarness.run(district: Self.district) { server, url in
            let secret = "\(FakeCleverHarness.token)\u{7}x"
            let source = FakeCleverHarness.source(FakeCleverHarness.configuration(url, token: secret))
            let error = await #expect(throws: ExtractError.self) { try await source.check() }
            #expect(error?.code == .configuration)
            #expect(error.map { !"\($0)".contains(secret) && !"\($0)".contains(FakeCleverHarness.token) } == true, "\(String(describing: error))")
            #expect(await server.requestCount() == 0, "refused before any request")
            let fromAFile = FakeCleverHarness.source(FakeCleverHarness.configuration(url, token: FakeCleverHarness.token + "\r\n"))
            try await fromAFile.check()
        }
    }

    @Test("a next link that loops back is a paging loop")
    func pagingLoop() async throws {
        let (result, requests, _) = try await readStudents(Faults(loopingNextLink: true))
        _ = expectError(result, .pagingLoop)
        #expect(requests == 2)
    }

    @Test("faults changed at run time over POST /__faults")
    func faultsOverHTTP() async throws {
        try await FakeCleverHarness.run(district: Self.district) { server, url in
            var request = HTTPClientRequest(url: url.appending(path: "__faults").absoluteString)
            request.method = .POST
            request.body = .bytes(Data(#"{"serverErrors": 2, "serverErrorStatus": 502}"#.utf8))
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
            #expect(response.status.code == 200)
            #expect(await server.faults().serverErrors == 2)
            let source = FakeCleverHarness.source(FakeCleverHarness.configuration(url))
            _ = try await FakeCleverHarness.collect(source, .schools)
            #expect(await server.requestCount() == 3)
        }
    }
}
