import Pipeline
public import PostgresLoad

/// How a run ended, for the command line, cron and tests.
public struct SyncReport: Sendable {
    public enum Status: String, Sendable {
        case succeeded, previewed, blocked, skipped, failed
    }

    public var runID: Int64?
    public var districtID: String
    public var status: Status
    public var summary: Merger.Summary
    /// Why the run stopped at the safety threshold (empty feeds or removal shares).
    public var violations: [String]
    /// Rejected rows and warnings, per entity and reason.
    public var rejections: [RejectionCount]
    /// The run whose `staging.rejects` rows `rejections` counts: this run, or for an unchanged
    /// night the run that last staged the same files.
    public var rejectionsRunID: Int64?
    public var message: String

    public init(
        runID: Int64?, districtID: String, status: Status, summary: Merger.Summary, violations: [String],
        rejections: [RejectionCount], message: String
    ) {
        self.runID = runID
        self.districtID = districtID
        self.status = status
        self.summary = summary
        self.violations = violations
        self.rejections = rejections
        self.rejectionsRunID = runID
        self.message = message
    }

    public struct RejectionCount: Sendable, Equatable {
        public var entity: String
        public var reason: String
        public var severity: String
        public var count: Int
    }

    /// The exit code CONTRACT.md promises cron: 0 success (skipped and preview included),
    /// 1 failed, 3 stopped at the safety threshold.
    public var exitCode: Int32 {
        switch status {
        case .succeeded, .previewed, .skipped: 0
        case .failed: 1
        case .blocked: 3
        }
    }
}

extension SyncReport {
    /// The exit code for a run that ended by throwing: 2 for bad usage or configuration (a
    /// pipeline file included), 4 when another run holds the district's lock, 1 otherwise.
    public static func exitCode(for error: any Error) -> Int32 {
        if error is RunLockedError { return 4 }
        return SyncService.isUsageError(error) || error is PipelineError ? 2 : 1
    }
}

/// A run could not start because another run of the same district holds its lock.
public struct RunLockedError: Error, Sendable, CustomStringConvertible {
    public var districtID: String
    public var runningRunID: Int64?

    public var description: String {
        let which = runningRunID.map { "run \($0)" } ?? "another run"
        return "district \(districtID) is being synced by \(which); this run did not start. "
            + "See `rostersync runs --district \(districtID)`."
    }
}

/// A task stopped the run at the safety threshold (not an error of the run itself).
struct SafetyStop: Error, Sendable, CustomStringConvertible {
    var violations: [String]
    var description: String { "stopped at the safety threshold: " + violations.joined(separator: "; ") }
}
