/// The columns of one file in Clever's SFTP CSV format.
///
/// Required columns are the ids and the fields the roster stores or decides with (names, emails,
/// grades); a file without one of them would load every row wrong, so ``CleverCSVSource/check()``
/// stops the run instead. Every other Clever column is allowed and optional. Names are
/// case-sensitive, as Clever spells them.
struct CSVFileSpec: Sendable {
    let name: String
    let required: [String]
    let optional: [String]
    /// A missing file stops the run; an optional file (admins.csv) is only header-checked.
    let isRequiredFile: Bool
    /// A header with no rows stops the run: an empty students file would archive every student.
    let mustHaveRows: Bool

    var columns: [String] { required + optional }

    static let schools = CSVFileSpec(
        name: "schools.csv",
        required: ["School_id", "School_name"],
        optional: [
            "School_number", "State_id", "Low_grade", "High_grade", "Principal", "Principal_email", "School_address",
            "School_city", "School_state", "School_zip", "School_phone",
        ],
        isRequiredFile: true, mustHaveRows: true)

    static let teachers = CSVFileSpec(
        name: "teachers.csv",
        required: ["School_id", "Teacher_id", "Last_name", "First_name", "Teacher_email"],
        optional: ["Teacher_number", "State_teacher_id", "Middle_name", "Title", "Username", "Password"],
        isRequiredFile: true, mustHaveRows: true)

    static let students = CSVFileSpec(
        name: "students.csv",
        required: ["School_id", "Student_id", "Last_name", "First_name", "Grade", "Student_email"],
        optional: [
            "Student_number", "State_id", "Middle_name", "Gender", "DOB", "Graduation_year", "Race", "Hispanic_Latino",
            "Home_language", "Ell_status", "Frl_status", "IEP_status", "Student_street", "Student_city", "Student_state", "Student_zip",
            "Contact_relationship", "Contact_type", "Contact_name", "Contact_phone", "Contact_email", "Username",
            "Password", "Unweighted_gpa", "Weighted_gpa",
        ],
        isRequiredFile: true, mustHaveRows: true)

    /// `Teacher_id` is the primary teacher; `Teacher_2_id` ... `Teacher_10_id` are co-teachers.
    static let teacherColumns = ["Teacher_id"] + (2...10).map { "Teacher_\($0)_id" }

    static let sections = CSVFileSpec(
        name: "sections.csv",
        required: ["School_id", "Section_id", "Teacher_id", "Name"],
        optional: Array(teacherColumns.dropFirst()) + [
            "Section_number", "Grade", "Course_name", "Course_number", "Course_description", "Period", "Subject",
            "Term_name", "Term_start", "Term_end",
        ],
        isRequiredFile: true, mustHaveRows: true)

    static let enrollments = CSVFileSpec(
        name: "enrollments.csv",
        required: ["School_id", "Section_id", "Student_id"],
        optional: [],
        isRequiredFile: true, mustHaveRows: true)

    /// Read by nobody (admins are never synced) but checked, so a broken export is noticed early.
    static let admins = CSVFileSpec(
        name: "admins.csv",
        required: ["School_id", "Staff_id", "Admin_email"],
        optional: ["First_name", "Last_name", "Admin_title", "Username", "Password", "Role"],
        isRequiredFile: false, mustHaveRows: false)

    static let all: [CSVFileSpec] = [schools, teachers, students, sections, enrollments, admins]

    /// The file a feed reads; terms come from the term columns of sections.csv.
    static func file(for feed: Feed) -> CSVFileSpec {
        switch feed {
        case .schools: schools
        case .teachers: teachers
        case .students: students
        case .terms, .sections: sections
        case .enrollments: enrollments
        }
    }
}
