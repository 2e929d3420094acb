import Foundation

/// When to retry a request and how long to wait first. Pure, so every rule is testable without IO.
struct RetryPolicy: Sendable {
    var maxAttempts: Int
    var backoffBase: Duration
    var backoffMax: Duration
    var maxRetryAfter: Duration
    var rateLimitFallback: Duration

    /// Exponential backoff with full jitter (a uniform wait in 0 ... base * 2^(attempt-1), capped),
    /// so many clients retrying after one outage spread out instead of hitting Clever in step.
    func backoff(afterAttempt attempt: Int, random: Double = Double.random(in: 0...1)) -> Duration {
        let exponent = min(max(0, attempt - 1), 30)
        let ceiling = min(backoffMax, backoffBase * (1 << exponent))
        return .seconds(Self.seconds(ceiling) * max(0, min(1, random)))
    }

    /// The wait after a 429 that names no time still to come: a random half to whole of
    /// `rateLimitFallback` (Clever's one-minute window), so the retries outlast the window they
    /// were refused in, and many clients do not come back in step.
    func rateLimitFallbackWait(random: Double = Double.random(in: 0...1)) -> Duration {
        .seconds(Self.seconds(rateLimitFallback) * (0.5 + 0.5 * max(0, min(1, random))))
    }

    /// The wait a 429 asks for: `Retry-After` (seconds or an HTTP date), else `X-RateLimit-Reset`
    /// (epoch seconds), capped at `maxRetryAfter`; nil (use ``rateLimitFallbackWait(random:)``)
    /// when neither says, or when the time they name has passed.
    ///
    /// A reset already past (the client's clock ahead of Clever's, a reset rounded down to the
    /// second) would retry at once, be refused again with the same reset, and spend every attempt
    /// in a quarter of a second. Only `Retry-After: 0` means now.
    func rateLimitWait(retryAfter: String?, rateLimitReset: String?, now: Date = Date()) -> Duration? {
        var seconds: Double?
        if let retryAfter = retryAfter?.trimmingCharacters(in: .whitespaces), !retryAfter.isEmpty {
            if let value = Double(retryAfter) {
                if value == 0 { return .zero }
                seconds = value
            } else if let date = Self.httpDate(retryAfter) {
                seconds = date.timeIntervalSince(now)
            }
        }
        if seconds == nil, let reset = rateLimitReset.flatMap({ Double($0.trimmingCharacters(in: .whitespaces)) }) {
            seconds = reset - now.timeIntervalSince1970
        }
        // NaN compares false: no usable wait.
        guard let seconds, seconds > 0 else { return nil }
        // Capped before it becomes an integer: `1e30` or `inf` from a header would trap the conversion.
        return .milliseconds(Int64(min(seconds, Self.seconds(maxRetryAfter)) * 1_000))
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// IMF-fixdate, the HTTP date format (`Sun, 06 Nov 1994 08:49:37 GMT`).
    static func httpDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: text)
    }
}
