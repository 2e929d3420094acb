/// A problem found in one record. Bad records are values, not thrown errors: they land in
/// `staging.rejects` with the run id and the rest of the feed still loads.
public struct Rejection: Sendable, Hashable, Codable, CustomStringConvertible {
    /// `rejected`: the record is not loaded. `warning`: it loads, and the problem is reported.
    public enum Severity: String, Sendable, Hashable, Codable {
        case rejected
        case warning
    }

    public var entity: Entity
    public var source: SourceRef
    /// The record's own key (SIS id, or section/student pair) when it could be read.
    public var recordKey: String?
    /// A second reading of the key, for a CSV row with the wrong number of fields whose id
    /// columns read differently counted from the left and from the right: the row is either
    /// record's, and both are kept for the run.
    public var alternateKey: String?
    public var reason: ReasonCode
    public var severity: Severity
    public var detail: String

    public init(
        entity: Entity, source: SourceRef, recordKey: String? = nil, reason: ReasonCode,
        severity: Severity? = nil, detail: String
    ) {
        self.entity = entity
        self.source = source
        self.recordKey = recordKey
        self.reason = reason
        self.severity = severity ?? reason.defaultSeverity
        self.detail = detail
    }

    public var description: String {
        "\(source): \(entity.rawValue) \(recordKey ?? "?"): \(reason.rawValue) (\(severity.rawValue)): \(detail)"
    }
}

/// The documented list of reasons a record is rejected or flagged. The README explains each
/// one and what it means for the account; keep the two in step.
public enum ReasonCode: String, Sendable, Hashable, Codable, CaseIterable {
    /// The row does not have the header's number of fields.
    case malformedRow = "malformed_row"
    /// A field is not valid UTF-8: read as Windows-1252 and loaded.
    case invalidEncoding = "invalid_encoding"
    /// A required field (an id, a name) is empty.
    case missingRequiredField = "missing_required_field"
    /// A date that cannot be read or does not exist (2024-02-30).
    case invalidDate = "invalid_date"
    /// The email fails validation; it is not used as a login.
    case invalidEmail = "invalid_email"
    /// No email: a student cannot log in (`can_login = false`); a teacher is suspended.
    case missingEmail = "missing_email"
    /// The email's domain is not in the district's `allowed_email_domains`.
    case emailDomainNotAllowed = "email_domain_not_allowed"
    /// Two people in the feed share one email; neither wins.
    case duplicateEmail = "duplicate_email"
    /// The same SIS id appears twice in one feed.
    case duplicateID = "duplicate_id"
    /// A grade word nobody recognises; the student loads with grade Other.
    case unknownGrade = "unknown_grade"
    /// More than ten teachers on a section; the extra ones are not loaded.
    case tooManyTeachers = "too_many_teachers"
    /// A section without a primary teacher.
    case missingPrimaryTeacher = "missing_primary_teacher"
    /// A reference to a school, teacher, student, section or term that is not in the feed.
    case unknownReference = "unknown_reference"
    /// Left out by the district's filters (not an error; counted, not loaded).
    case filteredOut = "filtered_out"
    /// A record vanished and a new one appeared with the same email and name: probably a SIS id
    /// change; the detail holds the row to record in `roster.sis_id_changes`.
    case probableSISIDChange = "probable_sis_id_change"
    /// A recorded SIS id change whose new id is a record of its own already (recorded after a
    /// sync created it): not applied; both records stay as they are.
    case sisIDChangeNotApplied = "sis_id_change_not_applied"
    /// The file's last row has no line end after it: loaded as read, but if it cannot be loaded
    /// the run stops, since a file cut inside its last field keeps its field count.
    case noLineEnd = "no_line_end"
    /// A record the roster has that its own feed lacks while another feed names it (a student in
    /// a class's list): kept as it is this run, since the feed lacking it looks cut short. Many at
    /// once stop the run.
    case referencedNotInFeed = "referenced_not_in_feed"

    public var defaultSeverity: Rejection.Severity {
        switch self {
        case .invalidEncoding, .invalidEmail, .missingEmail, .emailDomainNotAllowed, .unknownGrade, .tooManyTeachers,
            .probableSISIDChange, .sisIDChangeNotApplied, .noLineEnd, .referencedNotInFeed:
            .warning
        default:
            .rejected
        }
    }
}
