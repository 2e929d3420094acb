/// A source that runs a check when a feed has been read to its end, before the end reaches the
/// consumer: a check that throws fails the feed, as if its last read had.
///
/// What sits downstream sees a feed end only once the check has passed: the landing archive
/// (``LandingTeeSource``) lists a feed when its stream ends, so a file found changed while it was
/// read (an upload still being written, the next export landing) is never archived as whole.
public struct EndCheckedSource: RosterSource {
    public let upstream: any RosterSource
    /// Runs once per feed, after its last batch.
    public let atEnd: @Sendable (Feed) throws -> Void

    public init(upstream: any RosterSource, atEnd: @escaping @Sendable (Feed) throws -> Void) {
        self.upstream = upstream
        self.atEnd = atEnd
    }

    public var description: String { upstream.description }

    public func check() async throws { try await upstream.check() }

    public func batches(of feed: Feed) -> AsyncThrowingStream<ExtractBatch, any Error> {
        let reader = EndCheckedReader(upstream: upstream.batches(of: feed), feed: feed, check: atEnd)
        return AsyncThrowingStream(unfolding: { try await reader.next() })
    }
}

/// Pulls one batch per call, so the consumer sets the pace and nothing is read ahead.
private actor EndCheckedReader {
    private var upstream: AsyncThrowingStream<ExtractBatch, any Error>.AsyncIterator
    private let feed: Feed
    private let check: @Sendable (Feed) throws -> Void

    init(
        upstream: AsyncThrowingStream<ExtractBatch, any Error>, feed: Feed, check: @escaping @Sendable (Feed) throws -> Void
    ) {
        self.upstream = upstream.makeAsyncIterator()
        self.feed = feed
        self.check = check
    }

    func next() async throws -> ExtractBatch? {
        var iterator = upstream
        let batch = try await iterator.next(isolation: self)
        upstream = iterator
        if batch == nil {
            // A cancelled consumer's stream ends without an error, as a finished one does.
            try Task.checkCancellation()
            try check(feed)
        }
        return batch
    }
}
