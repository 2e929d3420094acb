public import Foundation
import RosterModel

/// Which run extracted a feed, as the archive tells runs apart: the id in `etl.runs`, and the random
/// uid the run recorded when it started (`etl.runs.options ->> 'landing_run_uid'`).
///
/// Ids alone repeat: a database restored from a backup, or a new one on the same landing root,
/// numbers its runs again, and its run 12 is not the run 12 whose extract the archive holds. Taken
/// for it, it would write over that night's files in place, a mix of two extracts that reads as
/// complete. Runs recorded before uids have none, and neither do their entries.
struct LandingRun: Sendable, Hashable, CustomStringConvertible {
    var id: Int64
    var uid: String?

    var description: String { "run \(id)" }
}

/// What one night's landing folder holds: `manifest.json`, written by ``LandingTeeSource`` as each
/// feed finishes and read by ``LandingSource`` before a replay.
///
/// A feed is listed only once its file is complete and renamed into place, so a listed feed can be
/// replayed; a night is complete when all six feeds are listed and one run extracted them all.
public struct LandingManifest: Sendable, Hashable, Codable {
    /// One archived feed.
    public struct FeedEntry: Sendable, Hashable, Codable {
        /// The file's name inside the night's folder (`students.ndjson.gz`).
        public var file: String
        /// Records in the file (one JSON line each).
        public var records: Int
        /// Rows the source could not read as records (and marks such as `no_line_end`). Archived
        /// in the file too, one `{"rejection": ...}` line each, when `rejectionsArchived`.
        public var rejected: Int
        /// The file holds the rejections as well as the records, so a replay stages them as the
        /// night did (an unreadable row still holds its record). Nil in entries written before.
        public var rejectionsArchived: Bool?
        /// The compressed file's size.
        public var bytes: Int
        /// SHA-256 of the compressed file, as `sha256sum` prints it.
        public var sha256: String
        /// The run (`etl.runs.id`) that extracted the feed; nil in manifests written before runs
        /// were recorded, and for extracts made outside a run.
        public var run: Int64?
        /// The run's random uid (``LandingRun``); nil for runs recorded before uids.
        public var runUID: String?

        public init(
            file: String, records: Int, rejected: Int, bytes: Int, sha256: String, run: Int64? = nil,
            runUID: String? = nil, rejectionsArchived: Bool? = nil
        ) {
            self.file = file
            self.records = records
            self.rejected = rejected
            self.rejectionsArchived = rejectionsArchived
            self.bytes = bytes
            self.sha256 = sha256
            self.run = run
            self.runUID = runUID
        }

        /// The run that extracted the feed, nil when the entry predates run ids.
        var extractor: LandingRun? { run.map { LandingRun(id: $0, uid: runUID) } }

        enum CodingKeys: String, CodingKey {
            case file, records, rejected, bytes, sha256, run
            case runUID = "run_uid"
            case rejectionsArchived = "rejections_archived"
        }
    }

    /// A rejection's line in a feed file, told apart from a record's by its one key.
    struct ArchivedRejection: Codable {
        var rejection: Rejection
        static let prefix = Data(#"{"rejection":"#.utf8)
    }

    /// The layout version, so a later change to the archive can still read old nights.
    public var format: Int
    public var district: String
    /// The run date, `YYYY-MM-DD`.
    public var date: String
    /// The source the records came from (``RosterSource/description``).
    public var source: String
    /// When the first feed of this night was archived.
    public var createdAt: Date
    /// Archived feeds by ``Feed`` raw value.
    public var feeds: [String: FeedEntry]

    /// The only format written so far.
    public static let currentFormat = 1
    /// The manifest's file name inside a night's folder.
    public static let fileName = "manifest.json"

    /// The manifest of a run's extract set aside beside a complete night of another run
    /// (``LandingManifestLedger/Placement/pending(run:)``) until the run has archived every feed.
    /// `manifest.run-<id>-<uid>.pending.json`, or `manifest.run-<id>.pending.json` for a run
    /// without a uid: two databases' runs of one id set their extracts aside apart.
    static func pendingFileName(run: LandingRun) -> String {
        "manifest.run-\(run.id)\(run.uid.map { "-\($0)" } ?? "").pending.json"
    }

    /// The run whose set-aside extract a file of this name lists, or nil for any other name.
    static func pendingRun(fileName name: String) -> LandingRun? {
        let (prefix, suffix) = ("manifest.run-", ".pending.json")
        guard name.hasPrefix(prefix), name.hasSuffix(suffix), name.count > prefix.count + suffix.count else { return nil }
        let run = name.dropFirst(prefix.count).dropLast(suffix.count)
        let parts = run.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard let id = Int64(parts[0]), parts.count == 1 || !parts[1].isEmpty else { return nil }
        return LandingRun(id: id, uid: parts.count == 2 ? String(parts[1]) : nil)
    }

    public init(
        district: String, date: String, source: String, createdAt: Date = Date(), feeds: [String: FeedEntry] = [:]
    ) {
        self.format = Self.currentFormat
        self.district = district
        self.date = date
        self.source = source
        self.createdAt = createdAt
        self.feeds = feeds
    }

    /// The entry for one feed, if that feed was archived.
    public func entry(for feed: Feed) -> FeedEntry? { feeds[feed.rawValue] }

    /// The run that extracted every feed of a complete night; nil when the night is not complete or
    /// its manifest predates run ids.
    public var run: Int64? { extractor?.id }

    /// The run that extracted every feed of a complete night; nil as for ``run``.
    var extractor: LandingRun? {
        isComplete ? feeds.values.first?.extractor : nil
    }

    /// True when every feed a sync reads is archived by one run, so the night can be replayed in full
    /// as one extract.
    public var isComplete: Bool { incompleteness == nil }

    /// Why the night cannot be replayed, or nil when it can: feeds not archived, or feeds archived by
    /// different runs. A run re-extracting a night that is not complete replaces its files feed by
    /// feed; if it stops part-way, the night holds two extracts (students from one, enrollments from
    /// the other) and replaying it would load a roster that never existed. (A complete night is not
    /// touched until a new run has archived every feed: ``LandingManifestLedger``.)
    public var incompleteness: String? {
        let missing = Feed.allCases.filter { feeds[$0.rawValue] == nil }
        if !missing.isEmpty {
            return "not archived: \(missing.map(\.rawValue).joined(separator: ", ")) (the extract stopped part-way)"
        }
        return mixedRuns
    }

    /// Names the runs when the archived feeds come from more than one, else nil.
    var mixedRuns: String? {
        let archived = Feed.allCases.filter { feeds[$0.rawValue] != nil }
        let byRun = Dictionary(grouping: archived) { feeds[$0.rawValue]?.extractor }
        guard byRun.count > 1 else { return nil }
        // Two runs of one id (two databases) are told apart by their uids.
        let sameIDs = Dictionary(grouping: byRun.keys.compactMap { $0 }, by: \.id).values.contains { $0.count > 1 }
        let order = { (run: LandingRun?) in (run?.id ?? -1, run?.uid ?? "") }
        let runs = byRun.sorted { order($0.key) < order($1.key) }.map { run, feeds in
            let name = run.map { run in sameIDs ? "\(run) (uid \(run.uid ?? "none"))" : "\(run)" } ?? "an earlier run"
            return "\(name): \(feeds.map(\.rawValue).joined(separator: ", "))"
        }
        return "feeds from different runs (\(runs.joined(separator: "; "))): a later run of this night stopped part-way"
    }

    enum CodingKeys: String, CodingKey {
        case format, district, date, source, feeds
        case createdAt = "created_at"
    }

    // MARK: - Files

    /// Reads the manifest in `folder`.
    ///
    /// Throws ``ExtractError/Code/missingFile`` when there is none and
    /// ``ExtractError/Code/corruptArchive`` when it cannot be decoded.
    static func read(in folder: URL, name: String = fileName) throws(ExtractError) -> LandingManifest {
        let url = folder.appending(path: name)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ExtractError(
                .missingFile,
                "no \(fileName) in this landing folder: the night was never archived, or its extract did not finish "
                    + "a single feed. Pick another night (`rostersync nights` lists them)",
                context: url.path)
        }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ExtractError(
                .unreadable, "cannot read \(name); check its permissions for this user", context: url.path,
                cause: error)
        }
        do {
            return try decoder.decode(LandingManifest.self, from: data)
        } catch {
            throw ExtractError(
                .corruptArchive,
                "\(name) is not a landing manifest; it was edited or damaged. Restore it from a backup or "
                    + "re-extract the night",
                context: url.path, cause: error)
        }
    }

    /// Writes the manifest to `folder` atomically: readers see the old manifest or the new one, never
    /// half of either.
    func write(in folder: URL, name: String = fileName) throws(ExtractError) {
        let url = folder.appending(path: name)
        let data: Data
        do {
            data = try Self.encoder.encode(self)
        } catch {
            throw ExtractError(.landingWrite, "cannot encode the landing manifest", context: url.path, cause: error)
        }
        try LandingFiles.writeAtomically(data, to: url)
    }

    private static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        // Sorted and indented: operators read and diff manifests.
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }

    private static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
