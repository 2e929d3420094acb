public import Foundation

extension CleverAPISource {
    /// How to reach Clever and how hard to try. The token never appears in `description`,
    /// reflection, logs or errors.
    public struct Configuration: Sendable, CustomStringConvertible, CustomReflectable {
        /// Clever's API root, without `/v3.0` (tests point it at a server on loopback).
        public var baseURL: URL
        /// The district's bearer token (`CLEVER_TOKEN`).
        public var token: String
        /// Objects per page, 1 to 10,000 (Clever's maximum).
        public var pageSize: Int
        /// Attempts per request, the first included, before a 429, a 5xx or a network failure ends the feed.
        public var maxAttempts: Int
        /// The time one request may take, body included.
        public var requestTimeout: Duration
        /// The first retry waits up to this long; each further retry doubles it (full jitter).
        public var backoffBase: Duration
        /// The longest exponential backoff.
        public var backoffMax: Duration
        /// The longest wait a `Retry-After` or `X-RateLimit-Reset` header is honoured for; a longer
        /// one is cut to this (the retry then probably fails fast and the feed stops with an error).
        public var maxRetryAfter: Duration
        /// The wait after a 429 whose headers name no time still to come (none sent, or a reset
        /// already past by this machine's clock): Clever's limits reset every minute, so shorter
        /// waits would spend every attempt inside one window. Each wait is a random half to whole of it.
        public var rateLimitFallback: Duration
        /// The largest page body accepted, in bytes.
        public var maxResponseBytes: Int
        /// The Clever district id the token must be for (a sync's `--district`), checked by
        /// ``CleverAPISource/check()``; nil reads whatever district the token opens.
        public var district: String?

        /// Clever's own API.
        public static let cleverBaseURL = URL(string: "https://api.clever.com") ?? URL(fileURLWithPath: "/")

        public init(
            baseURL: URL = Configuration.cleverBaseURL, token: String, pageSize: Int = 1_000, maxAttempts: Int = 6,
            requestTimeout: Duration = .seconds(60), backoffBase: Duration = .milliseconds(500),
            backoffMax: Duration = .seconds(30), maxRetryAfter: Duration = .seconds(300),
            rateLimitFallback: Duration = .seconds(60), maxResponseBytes: Int = 256 * 1024 * 1024, district: String? = nil
        ) {
            self.baseURL = baseURL
            // A secret file's last line end, or a CRLF env file, comes with the token; no token
            // holds white space.
            self.token = token.trimmingCharacters(in: .whitespacesAndNewlines)
            self.pageSize = min(max(1, pageSize), 10_000)
            self.maxAttempts = max(1, maxAttempts)
            self.requestTimeout = requestTimeout
            self.backoffBase = backoffBase
            self.backoffMax = backoffMax
            self.maxRetryAfter = maxRetryAfter
            self.rateLimitFallback = rateLimitFallback
            self.maxResponseBytes = maxResponseBytes
            self.district = district
        }

        public var description: String {
            "clever:\(baseURL.absoluteString) (page size \(pageSize), \(maxAttempts) attempts)"
        }

        /// Keeps the token out of `dump` and `String(reflecting:)`.
        public var customMirror: Mirror {
            Mirror(
                self,
                children: [
                    "baseURL": baseURL, "token": "<redacted>", "pageSize": pageSize, "maxAttempts": maxAttempts,
                    "requestTimeout": requestTimeout, "backoffBase": backoffBase, "backoffMax": backoffMax,
                ])
        }
    }
}
