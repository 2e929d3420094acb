import Foundation
import Testing

/// A small district in Clever's SFTP CSV format, built in code so each test says exactly what
/// changed between two nights.
struct DistrictFixture: Sendable {
    struct School { var id: String; var name: String; var low = "PreKindergarten"; var high = "5" }
    struct Teacher { var school: String; var id: String; var first: String; var last: String; var email: String? }
    struct Student {
        var school: String; var id: String; var first: String; var last: String; var grade: String; var email: String?
    }
    struct Section {
        var school: String; var id: String; var name: String; var teachers: [String]; var grade: String = "3"
        var term = ("Fall 2026", "2026-08-24", "2027-01-15")
    }

    var schools: [School] = []
    var teachers: [Teacher] = []
    var students: [Student] = []
    var sections: [Section] = []
    var enrollments: [(section: String, student: String)] = []

    /// Two schools, five teachers, twenty students, four sections (one co-taught by two).
    static func small() -> DistrictFixture {
        var district = DistrictFixture()
        district.schools = [School(id: "S1", name: "Maple Elementary"), School(id: "S2", name: "Oak Middle", low: "6", high: "8")]
        district.teachers = [
            Teacher(school: "S1", id: "T1", first: "Ana", last: "García", email: "ana.garcia@example.org"),
            Teacher(school: "S1", id: "T2", first: "Ben", last: "O'Brien", email: "ben.obrien@example.org"),
            Teacher(school: "S1", id: "T3", first: "Chloé", last: "Dubois", email: "chloe.dubois@example.org"),
            Teacher(school: "S2", id: "T4", first: "Dev", last: "Patel", email: "dev.patel@example.org"),
            Teacher(school: "S2", id: "T5", first: "Emma", last: "Stone", email: "emma.stone@example.org"),
        ]
        let grades = ["PK", "K", "1", "2", "3", "4", "5", "6", "7", "8"]
        for index in 1...20 {
            let school = index <= 14 ? "S1" : "S2"
            let grade = index <= 14 ? grades[index % 7] : grades[7 + index % 3]
            district.students.append(
                Student(
                    school: school, id: "ST\(index)", first: "Kid\(index)", last: "Family\(index)", grade: grade,
                    email: "kid\(index)@example.org"))
        }
        district.sections = [
            Section(school: "S1", id: "SEC1", name: "Reading 3", teachers: ["T1", "T2"]),
            Section(school: "S1", id: "SEC2", name: "Math 3", teachers: ["T2"]),
            Section(school: "S1", id: "SEC3", name: "Art", teachers: ["T3"]),
            Section(school: "S2", id: "SEC4", name: "Science 7", teachers: ["T4"], grade: "7"),
        ]
        for student in district.students {
            if student.school == "S1" {
                district.enrollments.append(("SEC1", student.id))
                district.enrollments.append(("SEC2", student.id))
                if Int(student.id.dropFirst(2))! % 2 == 0 { district.enrollments.append(("SEC3", student.id)) }
            } else {
                district.enrollments.append(("SEC4", student.id))
            }
        }
        return district
    }

    mutating func removeStudent(_ id: String) {
        students.removeAll { $0.id == id }
        enrollments.removeAll { $0.student == id }
    }

    /// The SIS gives student `id` a new SIS id, in the student file and the enrollments.
    mutating func renameStudent(_ id: String, to new: String) {
        for index in students.indices where students[index].id == id { students[index].id = new }
        enrollments = enrollments.map { ($0.section, $0.student == id ? new : $0.student) }
    }

    /// The SIS gives school `id` a new SIS id, in every file that names it.
    mutating func renameSchool(_ id: String, to new: String) {
        for index in schools.indices where schools[index].id == id { schools[index].id = new }
        for index in teachers.indices where teachers[index].school == id { teachers[index].school = new }
        for index in students.indices where students[index].school == id { students[index].school = new }
        for index in sections.indices where sections[index].school == id { sections[index].school = new }
    }

    mutating func removeTeacher(_ id: String) {
        teachers.removeAll { $0.id == id }
        for index in sections.indices { sections[index].teachers.removeAll { $0 == id } }
    }

    /// Writes the files to a new folder in the temporary directory, named `prefix-UUID`; the
    /// caller removes it.
    func writeTemporary(_ prefix: String) throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try write(to: folder)
        return folder
    }

    func write(to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try csv(["School_id", "School_name", "Low_grade", "High_grade"], schools.map { [$0.id, $0.name, $0.low, $0.high] })
            .write(to: directory.appendingPathComponent("schools.csv"), atomically: true, encoding: .utf8)
        try csv(
            ["School_id", "Teacher_id", "Last_name", "First_name", "Teacher_email"],
            teachers.map { [$0.school, $0.id, $0.last, $0.first, $0.email ?? ""] }
        ).write(to: directory.appendingPathComponent("teachers.csv"), atomically: true, encoding: .utf8)
        try csv(
            ["School_id", "Student_id", "Last_name", "First_name", "Grade", "Student_email"],
            students.map { [$0.school, $0.id, $0.last, $0.first, $0.grade, $0.email ?? ""] }
        ).write(to: directory.appendingPathComponent("students.csv"), atomically: true, encoding: .utf8)
        let teacherColumns = ["Teacher_id"] + (2...10).map { "Teacher_\($0)_id" }
        try csv(
            ["School_id", "Section_id"] + teacherColumns + ["Name", "Grade", "Term_name", "Term_start", "Term_end"],
            sections.map { section in
                let teachers = (0..<10).map { $0 < section.teachers.count ? section.teachers[$0] : "" }
                return [section.school, section.id] + teachers
                    + [section.name, section.grade, section.term.0, section.term.1, section.term.2]
            }
        ).write(to: directory.appendingPathComponent("sections.csv"), atomically: true, encoding: .utf8)
        let schoolOf = Dictionary(sections.map { ($0.id, $0.school) }, uniquingKeysWith: { first, _ in first })
        try csv(
            ["School_id", "Section_id", "Student_id"],
            enrollments.map { [schoolOf[$0.section] ?? "", $0.section, $0.student] }
        ).write(to: directory.appendingPathComponent("enrollments.csv"), atomically: true, encoding: .utf8)
    }

    private func csv(_ header: [String], _ rows: [[String]]) -> String {
        func quote(_ value: String) -> String {
            value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" })
                ? "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : value
        }
        return ([header] + rows).map { $0.map(quote).joined(separator: ",") }.joined(separator: "\n") + "\n"
    }
}

extension DistrictFixture {
    /// Rewrites one file of a fixture written to `folder`: a test's damage. The edit must change it.
    static func edit(_ name: String, in folder: URL, _ change: (String) -> String) throws {
        let url = folder.appendingPathComponent(name)
        let text = try String(contentsOf: url, encoding: .utf8)
        let edited = change(text)
        #expect(edited != text, "\(name) was edited")
        try edited.write(to: url, atomically: true, encoding: .utf8)
    }
}
