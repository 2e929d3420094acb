import Foundation
import RosterModel

/// Reads one archived feed, a batch per call, so the consumer sets the pace: nothing is decompressed
/// ahead of the batch asked for.
///
/// Works without ``LandingSource/check()`` having run: the manifest entry is read on the first call,
/// and at the end the line count and SHA-256 are compared with it, so a damaged file fails the feed
/// (before the load commits) rather than loading a partial roster.
actor LandingFeedReader {
    private let folder: URL
    private let feed: Feed
    private let batchSize: Int
    private var reader: GzipLineReader?
    private var entry: LandingManifest.FeedEntry?
    private var finished = false
    /// Rejection lines read so far; the rest of the lines are records.
    private var rejections = 0
    private let decoder = JSONDecoder()

    init(folder: URL, feed: Feed, batchSize: Int) {
        self.folder = folder
        self.feed = feed
        self.batchSize = max(1, batchSize)
    }

    /// The next batch, or nil when the feed is done.
    func nextBatch() throws -> ExtractBatch? {
        guard !finished else { return nil }
        try Task.checkCancellation()
        let (reader, entry) = try open()
        var batch = ExtractBatch()
        batch.records.reserveCapacity(batchSize)
        do {
            while batch.records.count + batch.rejections.count < batchSize {
                guard let line = try reader.nextLine() else {
                    try finish(reader, entry)
                    break
                }
                if line.starts(with: LandingManifest.ArchivedRejection.prefix) {
                    let archived = try decode(LandingManifest.ArchivedRejection.self, "rejection", line, reader)
                    batch.rejections.append(archived.rejection)
                    rejections += 1
                } else {
                    batch.records.append(try decode(Record.self, "record", line, reader))
                }
            }
        } catch {
            finished = true
            self.reader = nil
            throw error
        }
        return batch.records.isEmpty && batch.rejections.isEmpty ? nil : batch
    }

    private func open() throws(ExtractError) -> (GzipLineReader, LandingManifest.FeedEntry) {
        if let reader, let entry { return (reader, entry) }
        let manifest = try LandingManifest.read(in: folder)
        let entry = try LandingSource.entry(for: feed, in: manifest, folder: folder)
        let reader = try GzipLineReader(url: try LandingSource.fileURL(of: entry, feed: feed, in: folder))
        (self.reader, self.entry) = (reader, entry)
        return (reader, entry)
    }

    /// The reader's current line as `type` (`what` names it in the error).
    private func decode<T: Decodable>(_ type: T.Type, _ what: String, _ line: Data, _ reader: GzipLineReader)
        throws(ExtractError) -> T
    {
        do {
            return try decoder.decode(type, from: line)
        } catch {
            throw ExtractError(
                .corruptArchive,
                "line \(reader.line) of \(reader.url.lastPathComponent) is not an archived \(what); the file is damaged "
                    + "or was written by an incompatible version. Restore it from a backup or replay another night",
                context: "\(reader.url.path):\(reader.line)", cause: error)
        }
    }

    private func finish(_ reader: GzipLineReader, _ entry: LandingManifest.FeedEntry) throws(ExtractError) {
        finished = true
        self.reader = nil  // closes the file now rather than when the stream is dropped
        let sha256 = reader.sha256
        guard sha256 == entry.sha256 else {
            throw LandingSource.checksumError(url: reader.url, expected: entry.sha256, actual: sha256)
        }
        // Entries written before rejections were archived count them without holding them.
        let expectedRejections = entry.rejectionsArchived == true ? entry.rejected : 0
        let records = reader.line - rejections
        guard records == entry.records, rejections == expectedRejections else {
            throw ExtractError(
                .corruptArchive,
                "\(entry.file) holds \(records) records and \(rejections) rejections but the manifest recorded "
                    + "\(entry.records) and \(expectedRejections); restore the landing folder from a backup or replay "
                    + "another night",
                context: reader.url.path)
        }
    }
}
