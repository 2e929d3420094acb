import Foundation
import Logging
import NIOCore

/// Walks one feed's pages by `links` rel=next, one page per `next()` call, so a page is fetched
/// only when the consumer wants it and memory holds one page at a time.
actor PageCursor {
    private let feed: Feed
    private var pager: Pager
    /// Sections name their course by id: the district's courses (a few thousand at most, unlike
    /// its people) are read first, from this URL, into `courses`.
    private var coursesURL: URL?
    private var courses: [String: Clever.Course] = [:]

    init(requester: APIRequester, feed: Feed, baseURL: URL, firstURL: URL, coursesURL: URL? = nil) {
        self.feed = feed
        self.pager = Pager(requester: requester, baseURL: baseURL, nextURL: firstURL)
        self.coursesURL = coursesURL
    }

    /// The next non-empty batch, or nil at the end of the feed.
    func next() async throws -> ExtractBatch? {
        if let url = coursesURL {
            var catalog = Pager(requester: pager.requester, baseURL: pager.baseURL, nextURL: url)
            do {
                while let page = try await catalog.next(read: { bytes, endpoint throws(ExtractError) in
                    try PageMapper.courses(bytes, endpoint: endpoint)
                }) {
                    for course in page { courses[course.id] = course }
                }
            } catch let error as ExtractError
                where error.code == .unauthorized || (error.code == .refused && error.message.hasPrefix("Clever answered 404"))
            {
                // Course data is shared only where a district chooses to (and the app's plan has
                // it): refused (401, 403) or not shared (404), the sections load without course
                // names. Any other failure is the night's, as for every feed.
                courses = [:]
                pager.requester.logger.warning(
                    "Clever did not share the district's courses; sections load without course names and numbers",
                    metadata: ["clever.endpoint": "\(error.context ?? "")", "error.message": "\(error.message)"])
            }
            coursesURL = nil
        }
        let (feed, courses) = (feed, courses)
        // Worked on as a copy (a mutating call may not suspend on an actor's property); one
        // consumer asks for one page at a time.
        var pager = pager
        defer { self.pager = pager }
        while let batch = try await pager.next(read: { bytes, endpoint throws(ExtractError) in
            try PageMapper(feed: feed, endpoint: endpoint, courses: courses).map(bytes)
        }) {
            if !batch.records.isEmpty || !batch.rejections.isEmpty { return batch }
        }
        return nil
    }

    /// One listing's pages, followed by their next links with the checks every feed needs.
    struct Pager {
        let requester: APIRequester
        let baseURL: URL
        var nextURL: URL?
        /// Normalised page URLs already fetched: a `next` link among them is a loop.
        var seen: Set<String> = []
        var page = 0

        init(requester: APIRequester, baseURL: URL, nextURL: URL) {
            self.requester = requester
            self.baseURL = baseURL
            self.nextURL = nextURL
        }

        /// The next page's content as `read` makes it of the body, or nil after the last page.
        mutating func next<Content>(
            read: (UnsafeRawBufferPointer, String) throws(ExtractError) -> PageMapper.Mapped<Content>
        ) async throws -> Content? {
            guard let url = nextURL else { return nil }
            seen.insert(PageCursor.key(url))
            page += 1
            let body = try await requester.get(url, page: page)
            let endpoint = APIRequester.endpoint(url)
            let mapped = try body.withUnsafeReadableBytes { bytes in
                Result { () throws(ExtractError) in try read(bytes, endpoint) }
            }.get()
            nextURL = try mapped.next.map { try PageCursor.resolve($0, baseURL: baseURL, from: url) }
            // A full page that names no next one may be the last, or a page whose links were lost
            // (a proxy, a server bug): the feed would end short, and the run archive the rest.
            // The page after it is asked for, as Clever pages; the feed ends at a page that is not full.
            if nextURL == nil, let lastID = mapped.lastID, let limit = PageCursor.limit(of: url), mapped.objects >= limit {
                nextURL = PageCursor.url(url, startingAfter: lastID)
                requester.logger.debug(
                    "a full Clever page without a next link; asking for the page after it",
                    metadata: ["clever.endpoint": "\(endpoint)", "clever.page": "\(page)"])
            }
            if let nextURL, seen.contains(PageCursor.key(nextURL)) {
                throw ExtractError(
                    .pagingLoop,
                    "Clever's next link points to a page already read (\(APIRequester.endpoint(nextURL))); "
                        + "the feed is stopped rather than read forever. Run again later",
                    context: endpoint)
            }
            requester.logger.debug(
                "read a Clever page",
                metadata: [
                    "clever.endpoint": "\(endpoint)", "clever.page": "\(page)", "clever.objects": "\(mapped.objects)",
                ])
            return mapped.content
        }
    }

    /// Resolves a (usually relative) next link against the API root. It must stay on the same
    /// host: the token goes with every request.
    /// Clever's `next` link (`/v3.0/users?...`) on the API host. Under a base URL with a path
    /// (a proxy at `https://proxy.example.org/clever`) a link from Clever's root keeps that path.
    static func resolve(_ link: String, baseURL: URL, from current: URL) throws(ExtractError) -> URL {
        let prefix = baseURL.path.hasSuffix("/") ? String(baseURL.path.dropLast()) : baseURL.path
        let link = !prefix.isEmpty && link.hasPrefix("/v3.0/") ? prefix + link : link
        guard let url = URL(string: link, relativeTo: baseURL)?.absoluteURL,
            url.host == baseURL.host, url.scheme == baseURL.scheme, url.port == baseURL.port
        else {
            throw .malformed(endpoint: APIRequester.endpoint(current), "a next link that is not on the API host")
        }
        return url
    }

    /// The page size a URL asks for, if it says.
    static func limit(of url: URL) -> Int? {
        URLComponents(url: url, resolvingAgainstBaseURL: true)?.queryItems?.first { $0.name == "limit" }?.value
            .flatMap { Int($0) }
    }

    /// `url` asking for the objects after `id`.
    static func url(_ url: URL, startingAfter id: String) -> URL? {
        guard var components = URLComponents(url: url, resolvingAgainstBaseURL: true) else { return nil }
        components.queryItems = (components.queryItems ?? []).filter { $0.name != "starting_after" }
            + [URLQueryItem(name: "starting_after", value: id)]
        return components.url
    }

    /// Path plus sorted query items, so the same page reached by two spellings is one page.
    static func key(_ url: URL) -> String {
        guard let components = URLComponents(url: url, resolvingAgainstBaseURL: true) else { return url.absoluteString }
        let items = (components.queryItems ?? []).map { "\($0.name)=\($0.value ?? "")" }.sorted()
        return components.path + "?" + items.joined(separator: "&")
    }
}
