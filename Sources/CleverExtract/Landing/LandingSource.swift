public import Foundation
import Crypto

/// Reads one night from the landing archive, as a backfill replays it.
///
/// Records come back exactly as they were archived, in the same order, with the rows the night's
/// source could not read (its rejections), so a replay stages them as the night did: an unreadable
/// row still holds its record. Nights archived before rejections were only counted them; their
/// replays yield none.
public struct LandingSource: RosterSource {
    /// The night's folder (`<root>/<district>/<date>/`).
    public let folder: URL
    /// The most records in one batch.
    public let batchSize: Int

    public init(folder: URL, batchSize: Int = 2_000) {
        self.folder = folder
        self.batchSize = max(1, batchSize)
    }

    /// The night `date` of `district` in `archive`.
    public init(archive: LandingArchive, district: String, date: String, batchSize: Int = 2_000) {
        self.init(folder: archive.folder(district: district, date: date), batchSize: batchSize)
    }

    public var description: String { "landing:\(folder.path)" }

    /// Checks the manifest lists all six feeds, from one run, that every file is there and that its
    /// SHA-256 is the one recorded. Reads every file once; they are compressed, so this is quick next
    /// to the load.
    public func check() async throws {
        let manifest = try LandingManifest.read(in: folder)
        for feed in Feed.allCases {
            let entry = try Self.entry(for: feed, in: manifest, folder: folder)
            let url = try Self.fileURL(of: entry, feed: feed, in: folder)
            let sha256 = try Self.sha256(of: url)
            guard sha256 == entry.sha256 else { throw Self.checksumError(url: url, expected: entry.sha256, actual: sha256) }
            try Task.checkCancellation()
        }
    }

    /// Streams one feed. Batches are decompressed and decoded only when the consumer asks for them.
    public func batches(of feed: Feed) -> AsyncThrowingStream<ExtractBatch, any Error> {
        let reader = LandingFeedReader(folder: folder, feed: feed, batchSize: batchSize)
        return AsyncThrowingStream(unfolding: { try await reader.nextBatch() })
    }

    // MARK: - Checks shared with the reader

    static func entry(
        for feed: Feed, in manifest: LandingManifest, folder: URL
    ) throws(ExtractError) -> LandingManifest.FeedEntry {
        guard let entry = manifest.entry(for: feed) else {
            throw ExtractError(
                .missingFile,
                "the manifest does not list \(feed.rawValue): that night's extract did not finish it, so the night "
                    + "cannot be replayed in full. Pick another night (`rostersync nights` lists them)",
                context: folder.appending(path: LandingManifest.fileName).path)
        }
        // Feeds of two runs are two extracts: checked for each feed, so a reader that runs without
        // check() cannot stage half of one night and half of another.
        if let problem = manifest.mixedRuns {
            throw ExtractError(
                .incompleteNight,
                "this night cannot be replayed as one extract: \(problem). Sync the night again from its source, "
                    + "or pick another night (`rostersync nights` lists them)",
                context: folder.appending(path: LandingManifest.fileName).path)
        }
        return entry
    }

    static func fileURL(
        of entry: LandingManifest.FeedEntry, feed: Feed, in folder: URL
    ) throws(ExtractError) -> URL {
        // The manifest is data: a file name that is not a plain name must not lead out of the folder.
        guard !entry.file.contains("/"), !entry.file.hasPrefix(".") else {
            throw ExtractError(
                .corruptArchive, "the manifest names \"\(entry.file)\" for \(feed.rawValue), which is not a file in "
                    + "this folder; the manifest was edited. Restore it from a backup",
                context: folder.appending(path: LandingManifest.fileName).path)
        }
        let url = folder.appending(path: entry.file)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ExtractError(
                .missingFile,
                "\(entry.file) is listed in the manifest but missing; restore the landing folder from a backup or "
                    + "replay another night",
                context: url.path)
        }
        return url
    }

    static func checksumError(url: URL, expected: String, actual: String) -> ExtractError {
        ExtractError(
            .checksumMismatch,
            "\(url.lastPathComponent) has SHA-256 \(actual) but the manifest recorded \(expected): the file changed "
                + "after the extract. Restore it from a backup or replay another night",
            context: url.path)
    }

    private static func sha256(of url: URL) throws(ExtractError) -> String {
        let handle: FileHandle
        do {
            handle = try FileHandle(forReadingFrom: url)
        } catch {
            throw ExtractError(
                .unreadable, "cannot open \(url.lastPathComponent); check it is readable by this user",
                context: url.path, cause: error)
        }
        defer { try? handle.close() }
        var hash = SHA256()
        do {
            while let chunk = try handle.read(upToCount: GzipLineReader.chunkSize), !chunk.isEmpty {
                hash.update(chunk)
            }
        } catch {
            throw ExtractError(.unreadable, "cannot read \(url.lastPathComponent)", context: url.path, cause: error)
        }
        return hash.hexDigest()
    }
}
