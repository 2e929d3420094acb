import Foundation

/// An extract failure that makes a feed unusable. The message says what to check next.
public struct ExtractError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }

        /// A file the feed needs is not there.
        public static let missingFile = Code(name: "missing_file")
        /// A file or folder cannot be read.
        public static let unreadable = Code(name: "unreadable")
        /// A header is missing a required column, has an unknown one, or invisible characters.
        public static let badHeader = Code(name: "bad_header")
        /// A file has a header and no rows where rows were expected.
        public static let emptyFile = Code(name: "empty_file")
        /// The API answered 401 or 403.
        public static let unauthorized = Code(name: "unauthorized")
        /// The API answered 429, 500, 502, 503 or 504 after every retry.
        public static let httpStatus = Code(name: "http_status")
        /// The API answered a status that asking again cannot change (400, 404, 501, another 4xx
        /// or 5xx), or a page too large to read: not retried.
        public static let refused = Code(name: "refused")
        /// The API answered something that is not a page of the expected objects.
        public static let malformedResponse = Code(name: "malformed_response")
        /// A `next` link that was already followed.
        public static let pagingLoop = Code(name: "paging_loop")
        /// The network failed after every retry.
        public static let network = Code(name: "network")
        /// The configuration is wrong (a bad URL, a missing token).
        public static let configuration = Code(name: "configuration")
        /// A feed lacks records that another feed of the same extract names: it was cut short.
        public static let cutShort = Code(name: "cut_short")
        /// So many of a feed's records have rows that cannot be read that the feed looks damaged.
        public static let unreadableRows = Code(name: "unreadable_rows")
    }

    public var code: Code
    public var message: String
    /// The file (with line) or endpoint the failure is about.
    public var context: String?
    public var cause: (any Error)?
    public var location: String

    public init(
        _ code: Code, _ message: String, context: String? = nil, cause: (any Error)? = nil,
        file: String = #fileID, line: Int = #line
    ) {
        self.code = code
        self.message = message
        self.context = context
        self.cause = cause
        self.location = "\(file):\(line)"
    }

    public var description: String {
        var text = context.map { "\($0): \(message)" } ?? message
        if let cause {
            // A file error reads as a sentence ("The file ... doesn't exist."), not as an NSError dump.
            let reason = (cause as? CocoaError)?.localizedDescription ?? String(describing: cause)
            text += " (cause: \(reason))"
        }
        return text
    }

    /// Failures that mean the configuration or input is wrong (exit code 2) rather than
    /// a run that failed on the way (exit code 1).
    public var isUsageError: Bool {
        [.missingFile, .unreadable, .badHeader, .configuration, .unauthorized, .incompleteNight].contains(code)
    }
}
