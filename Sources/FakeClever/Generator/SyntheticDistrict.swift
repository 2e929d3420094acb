public import RosterModel

/// A whole K-12 district generated from a student count and a seed, record by record.
///
/// Every record is a pure function of (students, seed, next-night fractions, index), so a record
/// is produced by index (`student(at:)`) or through lazy sequences (`students`), never by building
/// the district: a million students generate, write and serve with flat memory.
///
/// Shape: students come in classes ("cohorts") of 25 that share one grade and five sections, so
/// every student has 5 enrollments and there are about N/5 sections. Cohort grades run K-12
/// (a few pre-K and transitional-K children sit in kindergarten classes); elementary schools
/// take PK-5, middle schools 6-8, high schools 9-12. There are max(3, N/500) schools, about
/// N/20 teachers (one per class plus specialists, some at two schools) and about 10% of sections
/// co-taught by 1-3 co-teachers. Three fixed terms: fall and spring of 2026-2027 and the ended
/// 2025-2026 school year, which a few sections still point at.
///
/// Records refer to each other by both SIS id and Clever id (``RosterModel/Ref`` holds both), so
/// tests can compare them with what either the CSV reader (SIS ids) or the API client (Clever ids)
/// produces. `source` is `.api(collection, id: cleverID)`.
public struct SyntheticDistrict: Sendable, Hashable {
    /// How the "next night" of a district differs from the base one, for incremental-sync
    /// benchmarks. Fractions are of the base student count; which records change is decided by
    /// the seed, so the same variant is the same on every run.
    public struct NextNight: Sendable, Hashable, Codable {
        /// Students and teachers whose name or email changed.
        public var changedFraction: Double
        /// Students who left the district.
        public var removedFraction: Double
        /// New students (they join existing classes).
        public var addedFraction: Double

        public init(changedFraction: Double = 0, removedFraction: Double = 0, addedFraction: Double = 0) {
            self.changedFraction = changedFraction
            self.removedFraction = removedFraction
            self.addedFraction = addedFraction
        }

        /// The base district: nothing changed.
        public static let none = NextNight()

        /// True when this is the base district.
        public var isNone: Bool { changedFraction <= 0 && removedFraction <= 0 && addedFraction <= 0 }
    }

    /// The kinds of object, as encoded in generated Clever ids.
    public enum Kind: Int, Sendable, Hashable, CaseIterable {
        case district = 0
        case school = 1
        case teacher = 2
        case student = 3
        case term = 4
        case section = 5
        case course = 6
    }

    /// The number of students in the base district.
    public let baseStudentCount: Int
    public let seed: UInt64
    public let nextNight: NextNight

    /// Students per class; each class shares one grade and ``sectionsPerCohort`` sections.
    static let cohortSize = 25
    static let sectionsPerCohort = 5
    /// Cohort grade ranks in creation order, interleaved across school levels so even a small
    /// district has elementary, middle and high school classes.
    static let cohortGradeOrder = [0, 6, 9, 1, 7, 10, 2, 8, 11, 3, 12, 4, 5]

    /// - Parameters:
    ///   - students: the base district's student count (at least 1).
    ///   - seed: decides names, ids, emails and which records a next-night variant changes.
    ///   - nextNight: the differences from the base district; `.none` for the base district.
    public init(students: Int, seed: UInt64, nextNight: NextNight = .none) {
        self.baseStudentCount = max(1, students)
        self.seed = seed
        self.nextNight = nextNight
    }

    /// The same district one night later.
    public func nextNight(changed: Double, removed: Double, added: Double) -> SyntheticDistrict {
        SyntheticDistrict(
            students: baseStudentCount, seed: seed,
            nextNight: NextNight(changedFraction: changed, removedFraction: removed, addedFraction: added))
    }

    // MARK: - Sizes

    /// Classes of 25 (the last one may be smaller).
    public var cohortCount: Int { (baseStudentCount + Self.cohortSize - 1) / Self.cohortSize }
    public var schoolCount: Int { max(3, baseStudentCount / 500) }
    var specialistCount: Int { max(schoolCount, cohortCount / 4) }
    public var teacherCount: Int { cohortCount + specialistCount }
    public var sectionCount: Int { cohortCount * Self.sectionsPerCohort }
    public var termCount: Int { Self.terms.count }
    /// Students added by the next-night variant.
    public var addedStudentCount: Int {
        Int((Double(baseStudentCount) * max(0, nextNight.addedFraction)).rounded())
    }
    /// The student index space: `student(at:)` is defined for `0 ..< studentSlots` and is nil for
    /// students removed by the next-night variant.
    public var studentSlots: Int { baseStudentCount + addedStudentCount }

    // MARK: - District

    /// The district's Clever id.
    public var districtID: String { cleverID(.district, 0) }

    public var districtName: String { Names.districtNames[districtPick].name }

    /// The domain of every generated email (`first.last@<domain>`).
    public var emailDomain: String { "\(Names.districtNames[districtPick].slug).example.org" }

    /// The town the district's schools and families are in.
    public var city: String { Names.districtNames[districtPick].city }

    private var districtPick: Int { SplitMix.pick(seed, Stream.district, 0, below: Names.districtNames.count) }

    // MARK: - Ids

    /// A deterministic 24-hex-character Clever id: a seed tag, the kind and the index, so the
    /// fake server can find an object from the id a client pages after.
    public func cleverID(_ kind: Kind, _ index: Int) -> String {
        let tag = UInt32(truncatingIfNeeded: SplitMix.mix(seed) >> 16)
        // Written digit by digit: the fake server makes several ids per object it serves, and
        // three padded `String(radix:)` calls joined were a visible share of serving a page.
        // Every part fits its width (32-bit tag, 4-digit kind, index below 16^12).
        return String(unsafeUninitializedCapacity: 24) { utf8 in
            let digits: StaticString = "0123456789abcdef"
            func put(_ value: UInt64, at offset: Int, width: Int) {
                var value = value
                for position in stride(from: offset + width - 1, through: offset, by: -1) {
                    utf8[position] = digits.utf8Start[Int(value & 0xF)]
                    value >>= 4
                }
            }
            put(UInt64(tag), at: 0, width: 8)
            put(UInt64(kind.rawValue) + 0x5f00, at: 8, width: 4)
            put(UInt64(max(0, index)), at: 12, width: 12)
            return 24
        }
    }

    /// The kind and index encoded in an id made by ``cleverID(_:_:)`` of this district.
    public func decode(cleverID id: String) -> (kind: Kind, index: Int)? {
        let chars = Array(id.utf8)
        guard chars.count == 24, String(id.prefix(8)) == String(cleverID(.district, 0).prefix(8)),
            let kindCode = Int(String(id.dropFirst(8).prefix(4)), radix: 16),
            let kind = Kind(rawValue: kindCode - 0x5f00),
            let index = Int(String(id.suffix(12)), radix: 16)
        else { return nil }
        return (kind, index)
    }

    static func hex(_ value: UInt64, width: Int) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    // MARK: - Lazy sequences

    /// Every school, generated on iteration.
    public var schools: LazyMapSequence<Range<Int>, SchoolRecord> { (0..<schoolCount).lazy.map(school(at:)) }
    /// Every teacher, generated on iteration.
    public var teachers: LazyMapSequence<Range<Int>, TeacherRecord> { (0..<teacherCount).lazy.map(teacher(at:)) }
    /// Every student present tonight, generated on iteration.
    public var students: some Sequence<StudentRecord> & Sendable {
        (0..<studentSlots).lazy.compactMap(student(at:))
    }
    public var terms: LazyMapSequence<Range<Int>, TermRecord> { (0..<termCount).lazy.map(term(at:)) }
    public var sections: LazyMapSequence<Range<Int>, SectionRecord> { (0..<sectionCount).lazy.map(section(at:)) }
    /// Every (section, student) pair, section by section.
    public var enrollments: some Sequence<EnrollmentRecord> & Sendable {
        (0..<sectionCount).lazy.flatMap(enrollments(inSection:))
    }
}

/// Independent hash streams, one per generated property, so changing how one property is drawn
/// never shifts another.
enum Stream {
    static let district: UInt64 = 1
    static let firstName: UInt64 = 2
    static let lastName: UInt64 = 3
    static let middle: UInt64 = 4
    static let email: UInt64 = 5
    static let birth: UInt64 = 6
    static let coteach: UInt64 = 7
    static let changed: UInt64 = 8
    static let removed: UInt64 = 9
    static let details: UInt64 = 10
    static let schoolName: UInt64 = 11
    static let namePermutation: UInt64 = 12
}
