public import AsyncHTTPClient
public import Foundation
public import Logging
import NIOCore

/// Reads a district from Clever's Data API v3.0.
///
/// Each feed pages through one collection with `limit` and the `links` rel=next URI and yields
/// one ``ExtractBatch`` per page, fetched only when the consumer asks for it. Schools, terms and
/// sections come from their collections (sections with their course names and numbers from
/// `/v3.0/courses`, read first), teachers and students from `/v3.0/users?role=...`, and
/// enrollments from a second read of `/v3.0/sections` (one record per section and student). All
/// references are Clever ids (`.clever(id)`); sources are `.api(collection, id:)`.
///
/// 429 (honouring `Retry-After` and `X-RateLimit-Reset`), 5xx and network failures are retried
/// with backoff; a 200 that is not a proper page is an error, never an empty feed; a record
/// without a SIS id is a rejection.
public struct CleverAPISource: RosterSource {
    public let configuration: Configuration
    let client: HTTPClient
    let logger: Logger

    /// - Parameters:
    ///   - httpClient: the client to use; the caller owns its lifecycle (`HTTPClient.shared` is fine).
    ///   - logger: receives page and retry events with `clever.*` metadata; never the token.
    public init(configuration: Configuration, httpClient: HTTPClient = .shared, logger: Logger) {
        self.configuration = configuration
        self.client = httpClient
        self.logger = logger
    }

    public var description: String { "clever:\(configuration.baseURL.absoluteString)" }

    static func checkDistrict(_ districts: [Clever.District], expected: String, context: String) throws(ExtractError) {
        guard districts.count < 2 else {
            throw ExtractError(
                .configuration,
                "this Clever token opens several districts (\(districts.map(\.id).joined(separator: ", ")), ...): "
                    + "its pages would mix them under \(expected). Use the district's own token", context: context)
        }
        guard let district = districts.first else {
            throw ExtractError(
                .configuration,
                "this Clever token opens no district (GET /v3.0/districts is empty): the district has not shared "
                    + "its data with the app yet, or the token is not a district token", context: context)
        }
        guard district.id == expected else {
            let name = district.name.map { " (\($0))" } ?? ""
            throw ExtractError(
                .configuration,
                "this Clever token is for district \(district.id)\(name), not \(expected): each district is synced "
                    + "with its own token. Check --district (the Clever district id) and CLEVER_TOKEN",
                context: context)
        }
    }

    /// An http(s) URL with a host and, if it names one, a port that exists (NIO traps on a port
    /// above 65535 rather than failing the request).
    public static func isUsable(_ url: URL) -> Bool {
        (url.scheme == "http" || url.scheme == "https") && url.host != nil
            && url.port.map { (1...65_535).contains($0) } ?? true
    }

    var requester: APIRequester { APIRequester(configuration: configuration, client: client, logger: logger) }

    /// One cheap request (`GET /v3.0/districts`): the API is reachable, the token valid, the
    /// answer a page of districts and, with ``Configuration/district``, the token that district's.
    ///
    /// A Clever token opens one district. Synced under another district's id (a mistyped
    /// `--district`, `--district all` with one token), its children would load into a district
    /// that is not theirs, or remove that district's own at the next run.
    public func check() async throws {
        guard Self.isUsable(configuration.baseURL) else {
            throw ExtractError(
                .configuration, "the Clever API URL must be http(s)://host, with a port from 1 to 65535 if any",
                context: description)
        }
        guard !configuration.token.isEmpty else {
            throw ExtractError(.configuration, "no Clever token; set CLEVER_TOKEN", context: description)
        }
        // Two: a token that opens more than one district is told from one that opens one.
        let url = try url(path: "/v3.0/districts", query: [URLQueryItem(name: "limit", value: "2")])
        let body: ByteBuffer
        do {
            body = try await requester.get(url, page: 1)
        } catch let error as ExtractError
            where error.code == .refused
            && ["Clever answered 404", "Clever answered 400"].contains(where: error.message.hasPrefix)
        {
            // The first request of every run: not found or a bad request here, the URL is wrong,
            // not the night. Exit 2, not a failed run to try again. (Other refusals stay failures.)
            throw ExtractError(
                .configuration,
                "\(error.message). --clever-url is Clever's API root (https://api.clever.com), without /v3.0",
                context: error.context)
        }
        let read = body.withUnsafeReadableBytes { bytes in
            Result { () throws(JSONReader.Error) in try Clever.Page<Clever.District>.read(bytes) }
        }
        switch read {
        case .success(let page):
            if let uri = page.data.first?.uri, !uri.contains("/districts/") {
                throw ExtractError.malformed(endpoint: APIRequester.endpoint(url), "an object of another type (\(uri))")
            }
            if let expected = configuration.district {
                try Self.checkDistrict(page.data.map(\.data), expected: expected, context: description)
            }
        case .failure(let error):
            throw ExtractError.malformed(endpoint: APIRequester.endpoint(url), error.detail, cause: error)
        }
    }

    /// Streams one feed, a page per batch, fetching the next page only when asked.
    public func batches(of feed: Feed) -> AsyncThrowingStream<ExtractBatch, any Error> {
        let (path, role) = PageMapper.path(for: feed)
        var query = role.map { [URLQueryItem(name: "role", value: $0)] } ?? []
        query.append(URLQueryItem(name: "limit", value: String(configuration.pageSize)))
        let first: URL
        do {
            first = try url(path: path, query: query)
        } catch {
            return AsyncThrowingStream { $0.finish(throwing: error) }
        }
        // The largest page Clever serves: a district's courses fit one or two.
        let courses = feed == .sections ? try? url(path: "/v3.0/courses", query: [URLQueryItem(name: "limit", value: "10000")]) : nil
        let cursor = PageCursor(
            requester: requester, feed: feed, baseURL: configuration.baseURL, firstURL: first, coursesURL: courses)
        return AsyncThrowingStream(unfolding: { try await cursor.next() })
    }

    private func url(path: String, query: [URLQueryItem]) throws(ExtractError) -> URL {
        guard var components = URLComponents(url: configuration.baseURL, resolvingAgainstBaseURL: true) else {
            throw ExtractError(.configuration, "the Clever API URL cannot be read", context: description)
        }
        let root = components.path.hasSuffix("/") ? String(components.path.dropLast()) : components.path
        components.path = root + path
        components.queryItems = query
        guard let url = components.url else {
            throw ExtractError(.configuration, "the Clever API URL cannot be read", context: description)
        }
        return url
    }
}
