import Foundation

/// A school as extracted from Clever. Text fields hold what the source said until the
/// transform normalises them.
public struct SchoolRecord: Sendable, Hashable, Codable {
    public var source: SourceRef
    public var sisID: String
    public var cleverID: String?
    public var name: String
    public var schoolNumber: String?
    public var stateID: String?
    public var lowGrade: String?
    public var highGrade: String?

    public init(
        source: SourceRef, sisID: String, cleverID: String? = nil, name: String, schoolNumber: String? = nil,
        stateID: String? = nil, lowGrade: String? = nil, highGrade: String? = nil
    ) {
        self.source = source
        self.sisID = sisID
        self.cleverID = cleverID
        self.name = name
        self.schoolNumber = schoolNumber
        self.stateID = stateID
        self.lowGrade = lowGrade
        self.highGrade = highGrade
    }
}

/// A teacher at one school. A teacher at several schools arrives as several records with the same
/// SIS id (CSV) or as one record with `otherSchools` (API); the merge keeps one account at the
/// primary school and records the others.
public struct TeacherRecord: Sendable, Hashable, Codable {
    public var source: SourceRef
    public var sisID: String
    public var cleverID: String?
    public var school: Ref
    public var otherSchools: [Ref]
    public var email: String?
    public var firstName: String?
    public var middleName: String?
    public var lastName: String?
    public var title: String?
    public var teacherNumber: String?
    public var stateID: String?

    public init(
        source: SourceRef, sisID: String, cleverID: String? = nil, school: Ref, otherSchools: [Ref] = [],
        email: String? = nil, firstName: String? = nil, middleName: String? = nil, lastName: String? = nil,
        title: String? = nil, teacherNumber: String? = nil, stateID: String? = nil
    ) {
        self.source = source
        self.sisID = sisID
        self.cleverID = cleverID
        self.school = school
        self.otherSchools = otherSchools
        self.email = email
        self.firstName = firstName
        self.middleName = middleName
        self.lastName = lastName
        self.title = title
        self.teacherNumber = teacherNumber
        self.stateID = stateID
    }
}

/// A student. `gradeRank` and `canLogin` are filled in by the transform.
public struct StudentRecord: Sendable, Hashable, Codable {
    public var source: SourceRef
    public var sisID: String
    public var cleverID: String?
    public var school: Ref
    public var email: String?
    public var firstName: String?
    public var middleName: String?
    public var lastName: String?
    /// The grade as sent; after the transform, the Clever grade word.
    public var grade: String?
    public var gradeRank: Int?
    public var dateOfBirth: String?
    public var studentNumber: String?
    public var stateID: String?
    public var canLogin: Bool

    public init(
        source: SourceRef, sisID: String, cleverID: String? = nil, school: Ref, email: String? = nil,
        firstName: String? = nil, middleName: String? = nil, lastName: String? = nil, grade: String? = nil,
        gradeRank: Int? = nil, dateOfBirth: String? = nil, studentNumber: String? = nil, stateID: String? = nil,
        canLogin: Bool = false
    ) {
        self.source = source
        self.sisID = sisID
        self.cleverID = cleverID
        self.school = school
        self.email = email
        self.firstName = firstName
        self.middleName = middleName
        self.lastName = lastName
        self.grade = grade
        self.gradeRank = gradeRank
        self.dateOfBirth = dateOfBirth
        self.studentNumber = studentNumber
        self.stateID = stateID
        self.canLogin = canLogin
    }
}

/// A term (semester, trimester, school year). Clever's CSV files carry terms inside sections;
/// there the SIS id is made from the name and dates.
public struct TermRecord: Sendable, Hashable, Codable {
    public var source: SourceRef
    public var sisID: String
    public var cleverID: String?
    public var name: String?
    /// ISO dates (`YYYY-MM-DD`) after the transform.
    public var startDate: String?
    public var endDate: String?

    public init(
        source: SourceRef, sisID: String, cleverID: String? = nil, name: String? = nil, startDate: String? = nil,
        endDate: String? = nil
    ) {
        self.source = source
        self.sisID = sisID
        self.cleverID = cleverID
        self.name = name
        self.startDate = startDate
        self.endDate = endDate
    }

    /// The SIS id given to a term that only has a name and dates (Clever CSV files).
    public static func derivedSISID(name: String?, start: String?, end: String?) -> String {
        "\(name ?? "")|\(start ?? "")|\(end ?? "")"
    }
}

/// A class section. `teachers` lists the primary teacher first, then co-teachers, in source order.
/// An empty first ref stands for a primary teacher the source left blank: the co-teachers after
/// it stay co-teachers instead of one of them moving up to primary.
public struct SectionRecord: Sendable, Hashable, Codable {
    public var source: SourceRef
    public var sisID: String
    public var cleverID: String?
    public var school: Ref
    public var term: Ref
    public var name: String?
    public var sectionNumber: String?
    public var grade: String?
    public var subject: String?
    public var courseName: String?
    public var courseNumber: String?
    public var period: String?
    public var teachers: [Ref]

    public init(
        source: SourceRef, sisID: String, cleverID: String? = nil, school: Ref, term: Ref = Ref(),
        name: String? = nil, sectionNumber: String? = nil, grade: String? = nil, subject: String? = nil,
        courseName: String? = nil, courseNumber: String? = nil, period: String? = nil, teachers: [Ref] = []
    ) {
        self.source = source
        self.sisID = sisID
        self.cleverID = cleverID
        self.school = school
        self.term = term
        self.name = name
        self.sectionNumber = sectionNumber
        self.grade = grade
        self.subject = subject
        self.courseName = courseName
        self.courseNumber = courseNumber
        self.period = period
        self.teachers = teachers
    }
}

/// A student in a section.
public struct EnrollmentRecord: Sendable, Hashable, Codable {
    public var source: SourceRef
    public var section: Ref
    public var student: Ref

    public init(source: SourceRef, section: Ref, student: Ref) {
        self.source = source
        self.section = section
        self.student = student
    }
}

/// One extracted record of any kind, as the extract yields them in one stream.
public enum Record: Sendable, Hashable, Codable {
    case school(SchoolRecord)
    case teacher(TeacherRecord)
    case student(StudentRecord)
    case term(TermRecord)
    case section(SectionRecord)
    case enrollment(EnrollmentRecord)

    public var entity: Entity {
        switch self {
        case .school: .school
        case .teacher: .teacher
        case .student: .student
        case .term: .term
        case .section: .section
        case .enrollment: .enrollment
        }
    }

    public var source: SourceRef {
        switch self {
        case .school(let r): r.source
        case .teacher(let r): r.source
        case .student(let r): r.source
        case .term(let r): r.source
        case .section(let r): r.source
        case .enrollment(let r): r.source
        }
    }

    /// The key a rejection names: the SIS id, or `section/student` for an enrollment.
    public var key: String {
        switch self {
        case .school(let r): r.sisID
        case .teacher(let r): r.sisID
        case .student(let r): r.sisID
        case .term(let r): r.sisID
        case .section(let r): r.sisID
        case .enrollment(let r): "\(r.section.sisID ?? r.section.cleverID ?? "?")/\(r.student.sisID ?? r.student.cleverID ?? "?")"
        }
    }
}
