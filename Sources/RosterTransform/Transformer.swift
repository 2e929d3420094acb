public import RosterModel

/// Turns extracted records into the records the load stages: normalised text, ISO dates, Clever
/// grade words with ranks, validated emails. Pure and deterministic: no database, no network,
/// no clock, and transforming a transformed record changes nothing.
///
/// Checks that need more than one record (duplicate emails, unknown references) run later in SQL.
public struct Transformer: Sendable {
    /// District settings the transform applies.
    public struct Settings: Sendable, Hashable {
        /// Domains accounts may use, lowercased; empty means any. A subdomain is not allowed
        /// unless it is listed itself.
        public var allowedEmailDomains: [String]

        public init(allowedEmailDomains: [String] = []) {
            self.allowedEmailDomains = allowedEmailDomains
        }
    }

    /// The transformed record, or nil when it was rejected, with every problem found.
    /// Warnings leave the record in.
    public struct Outcome: Sendable, Hashable {
        public var record: Record?
        public var rejections: [Rejection]

        public init(record: Record?, rejections: [Rejection]) {
            self.record = record
            self.rejections = rejections
        }
    }

    public let settings: Settings
    /// The allowed domains, trimmed and lowercased once rather than per record.
    let allowedDomains: Set<String>

    public init(settings: Settings = Settings()) {
        self.settings = settings
        self.allowedDomains = Set(settings.allowedEmailDomains.compactMap { TextNormalizer.identifier($0)?.lowercased() })
    }

    /// Transforms one record.
    public func transform(_ record: Record) -> Outcome {
        var findings = Findings(entity: record.entity, source: record.source)
        let result: Record? =
            switch record {
            case .school(let r): school(r, &findings).map(Record.school)
            case .teacher(let r): teacher(r, &findings).map(Record.teacher)
            case .student(let r): student(r, &findings).map(Record.student)
            case .term(let r): term(r, &findings).map(Record.term)
            case .section(let r): section(r, &findings).map(Record.section)
            case .enrollment(let r): enrollment(r, &findings).map(Record.enrollment)
            }
        return Outcome(record: findings.isRejected ? nil : result, rejections: findings.rejections)
    }

    /// Transforms a batch, keeping the records that were not rejected in their order.
    public func transform(_ records: some Sequence<Record>) -> (records: [Record], rejections: [Rejection]) {
        var kept: [Record] = []
        var rejections: [Rejection] = []
        kept.reserveCapacity(records.underestimatedCount)
        for record in records {
            let outcome = transform(record)
            if let transformed = outcome.record { kept.append(transformed) }
            rejections.append(contentsOf: outcome.rejections)
        }
        return (kept, rejections)
    }
}

/// The problems found in one record, all tagged with the record's entity, source and key.
struct Findings {
    let entity: Entity
    let source: SourceRef
    var recordKey: String?
    private(set) var rejections: [Rejection] = []

    init(entity: Entity, source: SourceRef) {
        self.entity = entity
        self.source = source
    }

    var isRejected: Bool { rejections.contains { $0.severity == .rejected } }

    mutating func reject(_ reason: ReasonCode, _ detail: String) {
        add(reason, .rejected, detail)
    }

    mutating func warn(_ reason: ReasonCode, _ detail: String) {
        add(reason, .warning, detail)
    }

    private mutating func add(_ reason: ReasonCode, _ severity: Rejection.Severity, _ detail: String) {
        rejections.append(
            Rejection(
                entity: entity, source: source, recordKey: recordKey, reason: reason, severity: severity,
                detail: detail))
    }
}
