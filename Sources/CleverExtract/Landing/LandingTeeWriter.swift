import Foundation
import NIOCore
import RosterModel

/// Pulls one feed's batches from the upstream source and writes their records and rejections to the landing file,
/// a batch per call, so the consumer sets the pace and nothing is read ahead.
actor LandingTeeWriter {
    /// What the manifest says about the night besides its feeds.
    struct Night: Sendable {
        var district: String
        var date: String
        var source: String
        var run: LandingRun?
    }

    private var upstream: AsyncThrowingStream<ExtractBatch, any Error>.AsyncIterator
    private let feed: Feed
    private let folder: URL
    private let night: Night
    private var file: GzipFileWriter?
    private var records = 0
    private var rejected = 0
    private var finished = false
    private let encoder: JSONEncoder
    /// Reused for each batch's JSON lines.
    private var lines = ByteBufferAllocator().buffer(capacity: 1024 * 1024)

    init(upstream: AsyncThrowingStream<ExtractBatch, any Error>, feed: Feed, folder: URL, night: Night) {
        self.upstream = upstream.makeAsyncIterator()
        self.feed = feed
        self.folder = folder
        self.night = night
        encoder = JSONEncoder()
        // Sorted keys: the same records make the same file, so checksums compare across nights.
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    }

    /// The next upstream batch, after its records are archived; nil once the feed is archived and listed.
    func next() async throws -> ExtractBatch? {
        guard !finished else { return nil }
        do {
            let file = try openFile()
            var iterator = upstream
            let batch = try await iterator.next(isolation: self)
            upstream = iterator
            guard let batch else {
                // A stream whose consumer was cancelled ends without an error, as a finished one
                // does: a feed cut short by a timeout or SIGTERM must not be listed as whole.
                try Task.checkCancellation()
                try await commit(file)
                return nil
            }
            try write(batch, to: file)
            return batch
        } catch {
            // The upstream failed, the read was cancelled, or the archive could not be written:
            // leave nothing behind.
            finished = true
            file?.discard()
            file = nil
            throw error
        }
    }

    private func openFile() throws(ExtractError) -> GzipFileWriter {
        if let file { return file }
        try LandingFiles.createFolder(folder)
        let file = try GzipFileWriter(in: folder)
        self.file = file
        return file
    }

    private func write(_ batch: ExtractBatch, to file: GzipFileWriter) throws {
        lines.clear()
        for record in batch.records {
            do {
                lines.writeBytes(try encoder.encode(record))
            } catch {
                throw ExtractError(
                    .landingWrite, "cannot encode a record for the landing archive", context: record.source.description,
                    cause: error)
            }
            lines.writeInteger(UInt8(ascii: "\n"))
        }
        for rejection in batch.rejections {
            do {
                lines.writeBytes(try encoder.encode(LandingManifest.ArchivedRejection(rejection: rejection)))
            } catch {
                throw ExtractError(
                    .landingWrite, "cannot encode a rejection for the landing archive", context: rejection.source.description,
                    cause: error)
            }
            lines.writeInteger(UInt8(ascii: "\n"))
        }
        try file.write(&lines)
        records += batch.records.count
        rejected += batch.rejections.count
    }

    private func commit(_ file: GzipFileWriter) async throws(ExtractError) {
        let (bytes, sha256) = try file.finish()
        self.file = nil
        finished = true
        // The ledger names the file (a name nothing in the folder has) and lists it.
        let entry = LandingManifest.FeedEntry(
            file: "", records: records, rejected: rejected, bytes: bytes, sha256: sha256, run: night.run?.id,
            runUID: night.run?.uid, rejectionsArchived: true)
        try await LandingManifestLedger.shared.commit(
            feed, file: file.temporaryURL, entry: entry, in: folder, district: night.district, date: night.date,
            source: night.source)
        file.markMoved()
    }

    // No deinit: a consumer that stops early (cancellation, an error elsewhere) releases this writer,
    // and the unfinished GzipFileWriter it held removes its temporary file as it goes.
}
