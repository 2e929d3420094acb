import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// GETs one API URL with the bearer token, retrying what a retry can fix: 429 (honouring
/// `Retry-After` and `X-RateLimit-Reset`), 500, 502, 503, 504, timeouts and connection failures,
/// with exponential backoff and full jitter, at most `maxAttempts` times. 401/403 fail at once as
/// unauthorised; other statuses (400, 404, 501, ...) fail at once as refused.
struct APIRequester: Sendable {
    let configuration: CleverAPISource.Configuration
    let client: HTTPClient
    let logger: Logger

    var policy: RetryPolicy {
        RetryPolicy(
            maxAttempts: configuration.maxAttempts, backoffBase: configuration.backoffBase,
            backoffMax: configuration.backoffMax, maxRetryAfter: configuration.maxRetryAfter,
            rateLimitFallback: configuration.rateLimitFallback)
    }

    /// `GET /v3.0/users?role=student&limit=1000`: what errors and logs name (never the token).
    static func endpoint(_ url: URL) -> String {
        "GET \(url.path)" + (url.query.map { "?\($0)" } ?? "")
    }

    /// The body of a 2xx answer, as received: pages are read in place, not copied into `Data`.
    func get(_ url: URL, page: Int) async throws -> ByteBuffer {
        let endpoint = Self.endpoint(url)
        var logger = logger
        logger[metadataKey: "clever.endpoint"] = "\(endpoint)"
        logger[metadataKey: "clever.page"] = "\(page)"
        // A token with a space or a control character inside would be refused by the HTTP client
        // with an error that quotes the header, token and all, into logs and etl.task_runs.
        guard configuration.token.unicodeScalars.allSatisfy({ (0x21...0x7E).contains($0.value) }) else {
            throw ExtractError(
                .configuration,
                "CLEVER_TOKEN holds a character no token has (a space, a control character or a letter outside "
                    + "ASCII, inside it); set it again from the token Clever shows",
                context: endpoint)
        }
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = .GET
        request.headers.add(name: "Authorization", value: "Bearer \(configuration.token)")
        request.headers.add(name: "Accept", value: "application/json")
        let timeout = TimeAmount.nanoseconds(Int64(RetryPolicy.seconds(configuration.requestTimeout) * 1e9))
        let policy = policy

        var attempt = 0
        while true {
            attempt += 1
            let isLast = attempt >= policy.maxAttempts
            let status: HTTPResponseStatus
            let headers: HTTPHeaders
            let body: ByteBuffer
            do {
                // AsyncHTTPClient's timeout ends when the head arrives; the body gets its own limit
                // (the whole request's), so a server that stalls mid-body fails the attempt too.
                let (client, request, logger) = (client, request, logger)
                let maxBytes = configuration.maxResponseBytes
                (status, headers, body) = try await Self.within(configuration.requestTimeout) {
                    let response = try await client.execute(request, timeout: timeout, logger: logger)
                    return (response.status, response.headers, try await response.body.collect(upTo: maxBytes))
                }
            } catch let error as CancellationError {
                throw error
            } catch is NIOTooManyBytesError {
                throw ExtractError(
                    .refused,
                    "a page is larger than \(Self.size(configuration.maxResponseBytes)); lower the page size",
                    context: endpoint)
            } catch {
                if Task.isCancelled { throw CancellationError() }
                guard !isLast else {
                    throw ExtractError(
                        .network,
                        "could not reach Clever after \(attempt) attempts; check the network and the API URL",
                        context: endpoint, cause: Redacted.ifQuoting(configuration.token, in: error))
                }
                let wait = policy.backoff(afterAttempt: attempt)
                logger.warning(
                    "Clever request failed; retrying",
                    metadata: ["clever.attempt": "\(attempt)", "clever.wait_ms": "\(Self.milliseconds(wait))",
                               "error.type": "\(type(of: error))"])
                try await Task.sleep(for: wait)
                continue
            }

            switch status.code {
            case 200..<300:
                return body
            case 401, 403:
                throw ExtractError.unauthorized(endpoint: endpoint, status: Int(status.code))
            // Clever's advice: 429 after the reset, 500/502/503 with backoff (504 too: a gateway
            // timing out); never 400, 401 or 501, which answer the same every time.
            case 429, 500, 502, 503, 504:
                guard !isLast else {
                    throw ExtractError(
                        .httpStatus,
                        "Clever answered \(status.code) \(status.reasonPhrase) \(attempt) times; "
                            + (status.code == 429 ? "the app is rate limited, " : "Clever is failing, ")
                            + "run again later",
                        context: endpoint)
                }
                let wait =
                    status.code == 429
                    ? policy.rateLimitWait(
                        retryAfter: headers.first(name: "Retry-After"),
                        rateLimitReset: headers.first(name: "X-RateLimit-Reset"))
                        ?? policy.rateLimitFallbackWait()
                    : policy.backoff(afterAttempt: attempt)
                logger.warning(
                    "Clever answered \(status.code); retrying",
                    metadata: ["clever.attempt": "\(attempt)", "clever.status": "\(status.code)",
                               "clever.wait_ms": "\(Self.milliseconds(wait))"])
                try await Task.sleep(for: wait)
            default:
                throw ExtractError(
                    .refused,
                    "Clever answered \(status.code) \(status.reasonPhrase)\(Self.message(body)); "
                        + "check the API URL and that this endpoint is shared with the app",
                    context: endpoint)
            }
        }
    }

    /// The `message` of a Clever error body, if short and readable.
    static func message(_ body: ByteBuffer) -> String {
        struct ErrorBody: Decodable { let message: String }
        guard body.readableBytes < 4_096,
            let error = try? JSONDecoder().decode(ErrorBody.self, from: Data(body.readableBytesView))
        else { return "" }
        return ": \(error.message)"
    }

    /// An error whose description might quote the token (an HTTP client error naming a header),
    /// as its description with the token cut out.
    struct Redacted: Error, CustomStringConvertible {
        var description: String

        /// `error` itself when its description does not quote `token`.
        static func ifQuoting(_ token: String, in error: any Error) -> any Error {
            let text = String(describing: error)
            guard !token.isEmpty, text.contains(token) else { return error }
            return Redacted(description: text.replacingOccurrences(of: token, with: "<token>"))
        }
    }

    /// The request's time ran out (head and body).
    struct TimedOut: Error, CustomStringConvertible {
        var limit: Duration
        var description: String { "no complete response within \(limit)" }
    }

    /// `operation`'s result, or ``TimedOut`` when it takes longer than `limit` (it is cancelled).
    static func within<T: Sendable>(_ limit: Duration, _ operation: @escaping @Sendable () async throws -> T)
        async throws -> T
    {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await operation() }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else { throw TimedOut(limit: limit) }
            return value
        }
    }

    static func size(_ bytes: Int) -> String { bytes >= 1 << 20 ? "\(bytes >> 20) MiB" : "\(bytes) bytes" }

    static func milliseconds(_ duration: Duration) -> Int { Int(RetryPolicy.seconds(duration) * 1_000) }
}
