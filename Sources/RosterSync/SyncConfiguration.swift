public import Foundation
public import PostgresLoad

/// Everything one sync run needs, built by the command line (or a test) and passed in:
/// library code never reads the environment.
public struct SyncConfiguration: Sendable {
    /// Where the district's data comes from.
    public enum Source: Sendable, Equatable {
        /// Clever's SFTP CSV files in a folder.
        case csv(URL)
        /// Clever's Data API v3.0 at a base URL, with a bearer token (never logged).
        case clever(baseURL: String, token: String)
        /// One night of the landing archive (a backfill replays these).
        case landing(URL)

        /// For logs and the run ledger; never contains the token.
        public var description: String {
            switch self {
            case .csv(let url): "csv:\(url.path)"
            case .clever(let baseURL, _): "clever:\(baseURL)"
            case .landing(let url): "landing:\(url.path)"
            }
        }
    }

    public var districtID: String
    public var source: Source
    /// The date the rules use (term ends, launch date), `YYYY-MM-DD`.
    public var asOf: String
    /// `nightly`, `backfill`, `preview`, ...: recorded in `etl.runs.mode`.
    public var mode: String
    public var preview: Bool
    public var allowMassChanges: Bool
    public var pipelineFile: URL
    public var sql: SQLDirectory
    public var database: DatabaseTarget
    /// Staged rows are kept for this many recent runs of the district.
    public var keepRuns: Int
    public var maxParallelTasks: Int
    /// Rows per extract batch (and API page size).
    public var batchSize: Int
    /// The landing archive's root, where a run keeps what it extracts, from the API or CSV files,
    /// for backfills (nil: not archived). A replay of the archive is not archived again.
    public var landingRoot: URL?
    /// Attempts per API request before the client gives up and the task fails (the pipeline may
    /// then retry the whole task).
    public var apiMaxAttempts = 6
    /// Stage and compare every row even when the feed files and the roster are exactly as the
    /// last successful run left them (otherwise such a run is verified by digests and skipped).
    public var compareInFull = false
    /// Entities whose feed is meant to be empty this run (`--allow-empty-feed`, one person's
    /// explicit word): the empty-feed guard lets them through and a header-only CSV file of
    /// theirs reads as empty. The removal share still applies (`allowMassChanges` lifts it).
    public var allowEmptyFeeds: Set<String> = []
    /// Entities whose removal share is not checked this run (`--allow-mass-changes-of`); the
    /// others still stop the run. `allowMassChanges` lifts it for all.
    public var allowMassChangesOf: Set<String> = []
    /// The longest the merge waits for a roster row someone else holds before it fails (and the
    /// pipeline retries it).
    public var lockTimeout: Duration = .seconds(600)
    /// How long the merge keeps asking whether a COMMIT whose answer was lost committed.
    public var commitCheckDeadline: Duration = .seconds(60)
    /// What `allowEmptyFeeds` may name.
    public static let emptiableFeeds = ["schools", "teachers", "students", "sections", "enrollments"]

    public init(
        districtID: String, source: Source, asOf: String, mode: String = "nightly", preview: Bool = false,
        allowMassChanges: Bool = false, pipelineFile: URL, sql: SQLDirectory, database: DatabaseTarget,
        keepRuns: Int = 7, maxParallelTasks: Int = 3, batchSize: Int = 2_000, landingRoot: URL? = nil
    ) {
        self.landingRoot = landingRoot
        self.districtID = districtID
        self.source = source
        self.asOf = asOf
        self.mode = preview ? "preview" : mode
        self.preview = preview
        self.allowMassChanges = allowMassChanges
        self.pipelineFile = pipelineFile
        self.sql = sql
        self.database = database
        self.keepRuns = keepRuns
        self.maxParallelTasks = maxParallelTasks
        self.batchSize = batchSize
    }
}
