public import RosterModel

/// The six record streams a sync reads, in the order the merge needs them.
public enum Feed: String, Sendable, Hashable, CaseIterable {
    case schools
    case teachers
    case students
    case terms
    case sections
    case enrollments

    /// The file a Clever CSV folder holds this feed in (terms are columns of sections.csv).
    public var csvFileName: String { CSVFileSpec.file(for: self).name }

    /// The kind of record this feed yields.
    public var entity: Entity {
        switch self {
        case .schools: .school
        case .teachers: .teacher
        case .students: .student
        case .terms: .term
        case .sections: .section
        case .enrollments: .enrollment
        }
    }
}

/// A batch of extracted records of one feed, with the rows that could not be read at all.
///
/// Sources yield batches (not single records) so a million-row feed costs a few thousand
/// suspensions, not a million, and memory stays bounded by the batch size.
public struct ExtractBatch: Sendable {
    public var records: [Record]
    public var rejections: [Rejection]

    public init(records: [Record] = [], rejections: [Rejection] = []) {
        self.records = records
        self.rejections = rejections
    }
}

/// Where a sync reads a district from: Clever's CSV files, Clever's API, or a landing archive.
public protocol RosterSource: Sendable {
    /// A short description for logs and the run ledger (`csv:/path`, `clever:https://...`).
    var description: String { get }

    /// Checks everything that can be checked before any row is read (files present, headers
    /// valid, the API reachable with this token). Throws an ``ExtractError`` that names the
    /// file, column or endpoint; the run then stops with the roster untouched.
    func check() async throws

    /// Streams one feed. The stream throws an ``ExtractError`` on a failure that makes the feed
    /// unusable (a truncated page, an unreadable file); a single bad row is a rejection instead.
    func batches(of feed: Feed) -> AsyncThrowingStream<ExtractBatch, any Error>
}
