public import Foundation

/// A source that archives what another source yields: every batch passes through unchanged while its
/// records and rejections are written to the night's landing folder.
///
/// Each feed is written as its batches pass (gzip, one JSON ``RosterModel/Record`` a line, then the
/// batch's rejections as `{"rejection": ...}` lines, keys sorted), under a temporary name until the
/// feed ends; then ``LandingManifestLedger`` names the file (`<feed>.ndjson.gz`, or
/// `<feed>.run-<run>.ndjson.gz` beside a complete night) and lists it with its counts and SHA-256.
///
/// - Important: A feed that fails or is abandoned part-way leaves no file and no manifest entry, so
///   a night that looks complete in the archive is complete. A run extracting a night that another
///   run archived completely writes its feeds beside it, and its extract replaces the night only once
///   every feed is archived: a re-run that fails part-way leaves the night as it was. In a night that
///   is not complete, a feed extracted again replaces the earlier file and entry; entries name their
///   run, so a night whose feeds come from two runs is not complete (``LandingManifest/incompleteness``).
public struct LandingTeeSource: RosterSource {
    /// The source whose records are archived.
    public let upstream: any RosterSource
    public let archive: LandingArchive
    public let district: String
    /// The run date, `YYYY-MM-DD`.
    public let date: String
    /// The run that extracts, recorded with each feed.
    public let runID: Int64?
    /// The run's random uid (`etl.runs.options ->> 'landing_run_uid'`), recorded with each feed, so
    /// a run of the same id in another database is not taken for this one.
    public let runUID: String?

    public init(
        upstream: any RosterSource, archive: LandingArchive, district: String, date: String, runID: Int64? = nil,
        runUID: String? = nil
    ) {
        self.upstream = upstream
        self.archive = archive
        self.district = district
        self.date = date
        self.runID = runID
        self.runUID = runUID
    }

    /// The night's folder.
    public var folder: URL { archive.folder(district: district, date: date) }

    public var description: String { "\(upstream.description) (landing:\(folder.path))" }

    /// Checks the district and date name a landing folder, creates it (so a permission problem stops
    /// the run before any row is read), then checks the upstream source.
    public func check() async throws {
        try LandingArchive.validate(district: district, date: date)
        try LandingFiles.createFolder(folder)
        try await upstream.check()
    }

    /// Streams the upstream feed, archiving it on the way. The archive file is complete and listed in
    /// the manifest before the stream's end reaches the consumer.
    public func batches(of feed: Feed) -> AsyncThrowingStream<ExtractBatch, any Error> {
        let writer = LandingTeeWriter(
            upstream: upstream.batches(of: feed), feed: feed, folder: folder,
            night: LandingTeeWriter.Night(
                district: district, date: date, source: upstream.description,
                run: runID.map { LandingRun(id: $0, uid: runUID) }))
        return AsyncThrowingStream(unfolding: { try await writer.next() })
    }
}
