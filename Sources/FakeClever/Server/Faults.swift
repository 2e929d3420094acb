/// Failures the fake server injects, to test how a client copes with a real API's bad days.
///
/// Counted faults (`rateLimited`, `serverErrors`, `truncatedBodies`, `stalledBodies`,
/// `missingEnvelopes`, `wrongTypes`) are consumed one per API request, in that order, after `skipRequests` requests
/// were answered normally (so a test can break page 3 of a feed). `delayMilliseconds`,
/// `loopingNextLink`, `firstPagesOnly`, `omitNextLinks`, `refuseCourses` and `blankSISIDs` apply to every request while set. Change them at run time with
/// ``FakeCleverServer/setFaults(_:)`` or `POST /__faults` with this value as JSON.
public struct Faults: Sendable, Hashable, Codable {
    /// API requests answered normally before counted faults start.
    public var skipRequests: Int
    /// The next N requests get 429 with `Retry-After` and `X-RateLimit-*` headers.
    public var rateLimited: Int
    /// The `Retry-After` value of those 429s, in seconds (and `X-RateLimit-Reset` that far ahead).
    public var retryAfterSeconds: Int
    /// While set, those 429s carry only the `X-RateLimit-*` headers (`X-RateLimit-Reset` in Unix
    /// seconds), no `Retry-After`: what Clever's documentation describes.
    public var rateLimitResetOnly: Bool
    /// The next N requests get `serverErrorStatus` (500, 502 or 503).
    public var serverErrors: Int
    public var serverErrorStatus: Int
    /// Every response waits this long first.
    public var delayMilliseconds: Int
    /// The next N pages are cut in the middle of their JSON (with a consistent Content-Length).
    public var truncatedBodies: Int
    /// The next N pages send their head and half their body, then wait `stallMilliseconds`
    /// before the rest: a server that stalls mid-body.
    public var stalledBodies: Int
    public var stallMilliseconds: Int
    /// The next N pages come back as a 200 without the `data` envelope.
    public var missingEnvelopes: Int
    /// The next N pages hold objects of another type (teachers on `role=student`, terms on `/sections`).
    public var wrongTypes: Int
    /// While set, a page after the first is the first page again, whatever its `starting_after`
    /// (a server that ignores it), so its next link is one already followed.
    public var loopingNextLink: Bool
    /// While set, no page links to a next one and a page after the first holds nothing: every
    /// feed ends after its first page, a well-formed but truncated feed.
    public var firstPagesOnly: Bool
    /// While set, no page links to a next one, though the pages after it are served when asked
    /// for: links lost on the way (a proxy, a server bug).
    public var omitNextLinks: Bool
    /// While set, `/v3.0/courses` answers 403, as for a district that shares no course data.
    public var refuseCourses: Bool
    /// While set, the schools, users and sections of these SIS ids are served with `sis_id: ""`
    /// (their Clever ids unchanged): Clever's "no value", an id the SIS lost.
    public var blankSISIDs: Set<String>

    public init(
        skipRequests: Int = 0, rateLimited: Int = 0, retryAfterSeconds: Int = 1, serverErrors: Int = 0,
        serverErrorStatus: Int = 503, delayMilliseconds: Int = 0, truncatedBodies: Int = 0, stalledBodies: Int = 0,
        stallMilliseconds: Int = 2_000, missingEnvelopes: Int = 0, wrongTypes: Int = 0, loopingNextLink: Bool = false,
        firstPagesOnly: Bool = false, omitNextLinks: Bool = false, refuseCourses: Bool = false,
        rateLimitResetOnly: Bool = false, blankSISIDs: Set<String> = []
    ) {
        self.skipRequests = skipRequests
        self.rateLimited = rateLimited
        self.retryAfterSeconds = retryAfterSeconds
        self.serverErrors = serverErrors
        self.serverErrorStatus = serverErrorStatus
        self.delayMilliseconds = delayMilliseconds
        self.truncatedBodies = truncatedBodies
        self.stalledBodies = stalledBodies
        self.stallMilliseconds = stallMilliseconds
        self.missingEnvelopes = missingEnvelopes
        self.wrongTypes = wrongTypes
        self.loopingNextLink = loopingNextLink
        self.firstPagesOnly = firstPagesOnly
        self.omitNextLinks = omitNextLinks
        self.refuseCourses = refuseCourses
        self.rateLimitResetOnly = rateLimitResetOnly
        self.blankSISIDs = blankSISIDs
    }

    /// A well-behaved server.
    public static let none = Faults()

    // Every key is optional in JSON so `POST /__faults {"rateLimited": 3}` is enough.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            skipRequests: try c.decodeIfPresent(Int.self, forKey: .skipRequests) ?? 0,
            rateLimited: try c.decodeIfPresent(Int.self, forKey: .rateLimited) ?? 0,
            retryAfterSeconds: try c.decodeIfPresent(Int.self, forKey: .retryAfterSeconds) ?? 1,
            serverErrors: try c.decodeIfPresent(Int.self, forKey: .serverErrors) ?? 0,
            serverErrorStatus: try c.decodeIfPresent(Int.self, forKey: .serverErrorStatus) ?? 503,
            delayMilliseconds: try c.decodeIfPresent(Int.self, forKey: .delayMilliseconds) ?? 0,
            truncatedBodies: try c.decodeIfPresent(Int.self, forKey: .truncatedBodies) ?? 0,
            stalledBodies: try c.decodeIfPresent(Int.self, forKey: .stalledBodies) ?? 0,
            stallMilliseconds: try c.decodeIfPresent(Int.self, forKey: .stallMilliseconds) ?? 2_000,
            missingEnvelopes: try c.decodeIfPresent(Int.self, forKey: .missingEnvelopes) ?? 0,
            wrongTypes: try c.decodeIfPresent(Int.self, forKey: .wrongTypes) ?? 0,
            loopingNextLink: try c.decodeIfPresent(Bool.self, forKey: .loopingNextLink) ?? false,
            firstPagesOnly: try c.decodeIfPresent(Bool.self, forKey: .firstPagesOnly) ?? false,
            omitNextLinks: try c.decodeIfPresent(Bool.self, forKey: .omitNextLinks) ?? false,
            refuseCourses: try c.decodeIfPresent(Bool.self, forKey: .refuseCourses) ?? false,
            rateLimitResetOnly: try c.decodeIfPresent(Bool.self, forKey: .rateLimitResetOnly) ?? false,
            blankSISIDs: try c.decodeIfPresent(Set<String>.self, forKey: .blankSISIDs) ?? [])
    }

    /// What to do to one request; consumes one counted fault.
    mutating func take() -> Fault {
        if skipRequests > 0 {
            skipRequests -= 1
            return .none
        }
        if rateLimited > 0 {
            rateLimited -= 1
            return .rateLimited(retryAfter: retryAfterSeconds, resetOnly: rateLimitResetOnly)
        }
        if serverErrors > 0 {
            serverErrors -= 1
            return .serverError(status: serverErrorStatus)
        }
        if truncatedBodies > 0 {
            truncatedBodies -= 1
            return .truncated
        }
        if stalledBodies > 0 {
            stalledBodies -= 1
            return .stalled(milliseconds: stallMilliseconds)
        }
        if missingEnvelopes > 0 {
            missingEnvelopes -= 1
            return .missingEnvelope
        }
        if wrongTypes > 0 {
            wrongTypes -= 1
            return .wrongType
        }
        return .none
    }
}

/// The fault applied to one request.
enum Fault: Equatable {
    case none
    case rateLimited(retryAfter: Int, resetOnly: Bool)
    case serverError(status: Int)
    case truncated
    case stalled(milliseconds: Int)
    case missingEnvelope
    case wrongType
}
