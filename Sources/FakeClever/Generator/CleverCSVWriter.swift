public import Foundation
import RosterModel

/// Writes a ``SyntheticDistrict`` as Clever SFTP files: schools.csv, teachers.csv, students.csv,
/// sections.csv and enrollments.csv, with Clever's exact column names.
///
/// Rows are generated and written one at a time through a buffered writer, so memory stays flat
/// for any district size.
public struct CleverCSVWriter: Sendable {
    public static let schoolColumns = [
        "School_id", "School_name", "School_number", "State_id", "Low_grade", "High_grade", "Principal",
        "Principal_email", "School_address", "School_city", "School_state", "School_zip", "School_phone",
    ]
    public static let teacherColumns = [
        "School_id", "Teacher_id", "Teacher_number", "State_teacher_id", "Last_name", "Middle_name", "First_name",
        "Teacher_email", "Title", "Username", "Password",
    ]
    public static let studentColumns = [
        "School_id", "Student_id", "Student_number", "State_id", "Last_name", "Middle_name", "First_name", "Grade",
        "Gender", "DOB", "Race", "Hispanic_Latino", "Home_language", "Ell_status", "Frl_status", "IEP_status",
        "Student_street", "Student_city", "Student_state", "Student_zip", "Student_email", "Contact_relationship",
        "Contact_type", "Contact_name", "Contact_phone", "Contact_email", "Username", "Password", "Unweighted_gpa",
        "Weighted_gpa",
    ]
    public static let sectionColumns =
        ["School_id", "Section_id", "Teacher_id"] + (2...10).map { "Teacher_\($0)_id" } + [
            "Name", "Section_number", "Grade", "Course_name", "Course_number", "Course_description", "Period", "Subject",
            "Term_name", "Term_start", "Term_end",
        ]
    public static let enrollmentColumns = ["School_id", "Section_id", "Student_id"]

    /// The file names written, in the order they are written.
    public static let fileNames = ["schools.csv", "teachers.csv", "students.csv", "sections.csv", "enrollments.csv"]

    public let district: SyntheticDistrict

    public init(district: SyntheticDistrict) {
        self.district = district
    }

    /// Writes the five files into `directory` (created if needed), replacing files of the same name.
    public func write(to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try writeFile(directory, "schools.csv", Self.schoolColumns) { out in
            for s in 0..<district.schoolCount { try out.write(schoolRow(s)) }
        }
        try writeFile(directory, "teachers.csv", Self.teacherColumns) { out in
            for t in 0..<district.teacherCount {
                let teacher = district.teacher(at: t)
                // Clever's CSV lists a teacher at several schools once per school, same Teacher_id.
                for school in [teacher.school] + teacher.otherSchools { try out.write(teacherRow(teacher, school: school)) }
            }
        }
        try writeFile(directory, "students.csv", Self.studentColumns) { out in
            for i in 0..<district.studentSlots {
                if let student = district.student(at: i) { try out.write(studentRow(student, index: i)) }
            }
        }
        try writeFile(directory, "sections.csv", Self.sectionColumns) { out in
            for s in 0..<district.sectionCount { try out.write(sectionRow(s)) }
        }
        try writeFile(directory, "enrollments.csv", Self.enrollmentColumns) { out in
            for s in 0..<district.sectionCount {
                let school = district.section(at: s).school.sisID
                for enrollment in district.enrollments(inSection: s) {
                    try out.write([school, enrollment.section.sisID, enrollment.student.sisID])
                }
            }
        }
    }

    private func writeFile(
        _ directory: URL, _ name: String, _ header: [String], _ body: (CSVFileWriter) throws -> Void
    ) throws {
        let out = try CSVFileWriter(url: directory.appendingPathComponent(name))
        do {
            try out.write(header)
            try body(out)
            try out.close()
        } catch {
            try? out.close()
            throw error
        }
    }

    // MARK: - Rows

    private func schoolRow(_ s: Int) -> [String?] {
        let school = district.school(at: s)
        let principal = district.principal(ofSchool: s)
        return [
            school.sisID, school.name, school.schoolNumber, school.stateID, school.lowGrade, school.highGrade,
            "\(principal.first) \(principal.last)", principal.email, district.schoolAddress(s), district.city, "CA",
            district.schoolZip(s), district.phone(-1 - s),
        ]
    }

    private func teacherRow(_ teacher: TeacherRecord, school: Ref) -> [String?] {
        [
            school.sisID, teacher.sisID, teacher.teacherNumber, teacher.stateID, teacher.lastName, teacher.middleName,
            teacher.firstName, teacher.email, teacher.title, SyntheticDistrict.username(teacher.email), nil,
        ]
    }

    private func studentRow(_ student: StudentRecord, index i: Int) -> [String?] {
        let seed = district.seed
        let detail = { (stream: UInt64, bound: Int) in SplitMix.pick(seed, Stream.details &+ stream, i, below: bound) }
        let races = ["Caucasian", "Asian", "Black or African American", "American Indian",
                     "Hawaiian or Other Pacific Islander", "Two or More Races", "Unknown"]
        let languages = ["English", "English", "English", "Spanish", "Vietnamese", "Mandarin", "Arabic", "Tagalog"]
        let language = languages[detail(3, languages.count)]
        let contact = district.person(key: i, changedIndex: -1, isStudent: false)
        let isHigh = (Int(student.grade ?? "") ?? 0) >= 9
        let gpa = isHigh ? String(format: "%.2f", 2.0 + Double(detail(9, 200)) / 100) : nil
        return [
            student.school.sisID, student.sisID, student.studentNumber, student.stateID, student.lastName,
            student.middleName, student.firstName, student.grade, district.gender(ofStudent: i),
            student.dateOfBirth, races[detail(2, races.count)], detail(4, 4) == 0 ? "Y" : "N", language,
            language == "English" ? "N" : "Y", detail(5, 3) == 0 ? "Y" : "N", detail(6, 8) == 0 ? "Y" : "N",
            "\(10 + detail(7, 9_000)) \(["Oak", "Elm", "Main", "Mission", "Cedar"][detail(8, 5)]) St", district.city, "CA",
            String(95_000 + detail(10, 900)), student.email, "Parent", "Parent/Guardian",
            "\(contact.first) \(student.lastName ?? contact.last)", district.phone(i), nil,
            SyntheticDistrict.username(student.email), nil, gpa, gpa,
        ]
    }

    private func sectionRow(_ s: Int) -> [String?] {
        let section = district.section(at: s)
        let term = SyntheticDistrict.terms[district.termIndex(ofSection: s)]
        let teachers = (0..<10).map { $0 < section.teachers.count ? section.teachers[$0].sisID : nil }
        return [section.school.sisID, section.sisID] + teachers + [
            section.name, section.sectionNumber, section.grade, section.courseName, section.courseNumber, nil,
            section.period, section.subject, term.name, term.start, term.end,
        ]
    }
}
