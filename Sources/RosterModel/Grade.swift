/// A grade level, in Clever's v3.0 vocabulary, ordered the way a school reads a class list.
///
/// The order is infant/toddler, preschool, pre-K, transitional K, kindergarten, 1 ... 13,
/// post-graduate, then ungraded and other. `rank` is the sortable integer stored in
/// `roster.students.grade_rank`: kindergarten is 0 and grade *n* is *n*, so a data engineer can
/// read it without a lookup table.
public enum Grade: Sendable, Hashable, Comparable, Codable {
    case infantToddler
    case preschool
    case preKindergarten
    case transitionalKindergarten
    case kindergarten
    /// Grades 1 to 13.
    case numbered(Int)
    case postGraduate
    case ungraded
    case other

    /// Every grade, in order.
    public static let allGrades: [Grade] =
        [.infantToddler, .preschool, .preKindergarten, .transitionalKindergarten, .kindergarten]
        + (1...13).map { .numbered($0) } + [.postGraduate, .ungraded, .other]

    /// The sortable integer: infant/toddler -4 ... kindergarten 0, grade n is n, post-graduate 14,
    /// ungraded 15, other 16.
    public var rank: Int {
        switch self {
        case .infantToddler: -4
        case .preschool: -3
        case .preKindergarten: -2
        case .transitionalKindergarten: -1
        case .kindergarten: 0
        case .numbered(let n): n
        case .postGraduate: 14
        case .ungraded: 15
        case .other: 16
        }
    }

    /// The Clever v3.0 grade word, as stored in `roster.students.grade`.
    public var cleverWord: String {
        switch self {
        case .infantToddler: "InfantToddler"
        case .preschool: "Preschool"
        case .preKindergarten: "PreKindergarten"
        case .transitionalKindergarten: "TransitionalKindergarten"
        case .kindergarten: "Kindergarten"
        case .numbered(let n): String(n)
        case .postGraduate: "PostGraduate"
        case .ungraded: "Ungraded"
        case .other: "Other"
        }
    }

    /// A label for people: "Pre-K", "Grade 3".
    public var label: String {
        switch self {
        case .infantToddler: "Infant/toddler"
        case .preschool: "Preschool"
        case .preKindergarten: "Pre-K"
        case .transitionalKindergarten: "Transitional K"
        case .kindergarten: "Kindergarten"
        case .numbered(let n): "Grade \(n)"
        case .postGraduate: "Post-graduate"
        case .ungraded: "Ungraded"
        case .other: "Other"
        }
    }

    /// The grade with this rank, if any.
    public init?(rank: Int) {
        guard let grade = Grade.allGrades.first(where: { $0.rank == rank }) else { return nil }
        self = grade
    }

    public static func < (lhs: Grade, rhs: Grade) -> Bool { lhs.rank < rhs.rank }
}
