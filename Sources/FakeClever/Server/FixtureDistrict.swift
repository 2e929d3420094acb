import Foundation
import RosterModel

/// A district read from a folder of Clever SFTP CSV files, held in memory (fixtures are small)
/// and served as Clever's API would: Clever ids derived from SIS ids, terms from sections.csv.
struct FixtureDistrict: ServedDistrict {
    let district: API.District
    private let objects: [APICollection: [API.Object]]
    private let positions: [APICollection: [String: Int]]

    init(directory: URL, districtID: String = "fixture") throws {
        let load = { (name: String) throws -> [[String: String]] in
            try FixtureCSVReader.read(directory.appendingPathComponent(name)) ?? []
        }
        let (schools, teachers, students) = (try load("schools.csv"), try load("teachers.csv"), try load("students.csv"))
        let (sections, enrollments) = (try load("sections.csv"), try load("enrollments.csv"))
        let districtID = Self.id("district", districtID)
        district = API.District(
            id: districtID, name: "Fixture district", state: "success", launch_date: "2026-08-01", sis_type: "sftp")
        let school = { (sis: String?) in Self.id("school", sis ?? "") }

        var collections: [APICollection: [API.Object]] = [:]
        collections[.schools] = schools.compactMap { row in
            guard let sis = row["School_id"] else { return nil }
            return .school(
                API.School(
                    id: school(sis), district: districtID, sis_id: sis, name: row["School_name"] ?? "",
                    school_number: row["School_number"], state_id: row["State_id"], low_grade: row["Low_grade"],
                    high_grade: row["High_grade"],
                    principal: API.Principal(name: row["Principal"], email: row["Principal_email"]),
                    location: API.Location(
                        address: row["School_address"], city: row["School_city"], state: row["School_state"],
                        zip: row["School_zip"]),
                    phone: row["School_phone"]))
        }

        // A teacher at several schools has one row per school; the API has one user with `schools`.
        var teacherOrder: [String] = []
        var teacherRows: [String: ([String: String], [String])] = [:]
        // A row without a School_id is a user Clever lists without a school.
        for row in teachers {
            guard let sis = row["Teacher_id"] else { continue }
            let schools = row["School_id"].map { [school($0)] } ?? []
            if var entry = teacherRows[sis] {
                entry.1 += schools
                teacherRows[sis] = entry
            } else {
                teacherOrder.append(sis)
                teacherRows[sis] = (row, schools)
            }
        }
        collections[.teachers] = teacherOrder.compactMap { sis in
            guard let (row, schools) = teacherRows[sis] else { return nil }
            return .user(
                API.User(
                    id: Self.id("teacher", sis), district: districtID, email: row["Teacher_email"],
                    name: API.Name(first: row["First_name"], middle: row["Middle_name"], last: row["Last_name"]),
                    roles: API.Roles(
                        teacher: API.TeacherRole(
                            sis_id: sis, school: schools.first, schools: schools, teacher_number: row["Teacher_number"],
                            state_id: row["State_teacher_id"], title: row["Title"],
                            credentials: API.Credentials(district_username: row["Username"])))))
        }

        collections[.students] = students.compactMap { row in
            guard let sis = row["Student_id"] else { return nil }
            let home = row["School_id"].map(school)
            return .user(
                API.User(
                    id: Self.id("student", sis), district: districtID, email: row["Student_email"],
                    name: API.Name(first: row["First_name"], middle: row["Middle_name"], last: row["Last_name"]),
                    roles: API.Roles(
                        student: API.StudentRole(
                            sis_id: sis, school: home, schools: home.map { [$0] } ?? [], grade: row["Grade"], dob: row["DOB"],
                            student_number: row["Student_number"], state_id: row["State_id"], gender: row["Gender"],
                            credentials: API.Credentials(district_username: row["Username"])))))
        }

        var studentsBySection: [String: [String]] = [:]
        for row in enrollments {
            guard let section = row["Section_id"], let student = row["Student_id"] else { continue }
            studentsBySection[section, default: []].append(Self.id("student", student))
        }
        var terms: [API.Object] = []
        var termIDs: Set<String> = []
        var sectionObjects: [API.Object] = []
        var courses: [API.Object] = []
        var courseIDs: Set<String> = []
        for row in sections {
            guard let sis = row["Section_id"] else { continue }
            var termID: String?
            if row["Term_name"] != nil || row["Term_start"] != nil || row["Term_end"] != nil {
                // Clever's term is one object whose dates the SIS may move: its id is made from the
                // name and start alone, so a moved end date is the same term with a new end.
                let id = Self.id("term", "\(row["Term_name"] ?? "")|\(row["Term_start"] ?? "")")
                termID = id
                if termIDs.insert(id).inserted {
                    terms.append(
                        .term(
                            API.Term(
                                id: id, district: districtID, name: row["Term_name"],
                                start_date: row["Term_start"], end_date: row["Term_end"])))
                }
            }
            // A course is its name and number: sections that share them share one.
            var courseID: String?
            if row["Course_name"] != nil || row["Course_number"] != nil {
                let id = Self.id("course", "\(row["Course_name"] ?? "")|\(row["Course_number"] ?? "")")
                courseID = id
                if courseIDs.insert(id).inserted {
                    courses.append(
                        .course(
                            API.Course(id: id, district: districtID, name: row["Course_name"], number: row["Course_number"])))
                }
            }
            let teacherIDs = (["Teacher_id"] + (2...10).map { "Teacher_\($0)_id" }).compactMap { row[$0] }
                .map { Self.id("teacher", $0) }
            // A blank Teacher_id is a section without a primary: `teacher` absent, as Clever sends
            // it, and Teacher_2_id stays a co-teacher (as the CSV reader keeps it).
            let primary = row["Teacher_id"].map { Self.id("teacher", $0) }
            sectionObjects.append(
                .section(
                    API.Section(
                        id: Self.id("section", sis), district: districtID, sis_id: sis, school: school(row["School_id"]),
                        term_id: termID, name: row["Name"], grade: row["Grade"], subject: row["Subject"],
                        section_number: row["Section_number"], period: row["Period"], course: courseID,
                        teacher: primary, teachers: teacherIDs, students: studentsBySection[sis] ?? [])))
        }
        collections[.sections] = sectionObjects
        collections[.terms] = terms
        collections[.courses] = courses
        objects = collections
        positions = collections.mapValues { list in
            Dictionary(list.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { first, _ in first })
        }
    }

    func slotCount(_ collection: APICollection) -> Int { objects[collection]?.count ?? 0 }

    func exists(_ collection: APICollection, at index: Int) -> Bool { index >= 0 && index < slotCount(collection) }

    func object(_ collection: APICollection, at index: Int) -> API.Object? {
        exists(collection, at: index) ? objects[collection]?[index] : nil
    }

    func objectID(_ collection: APICollection, at index: Int) -> String? { object(collection, at: index)?.id }

    func index(ofID id: String, in collection: APICollection) -> Int? { positions[collection]?[id] }

    /// A deterministic 24-hex-character Clever id for a SIS id (FNV-1a, then mixed).
    static func id(_ kind: String, _ sisID: String) -> String {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in "\(kind):\(sisID)".utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        let high = SplitMix.mix(hash)
        let low = SplitMix.mix(high)
        return SyntheticDistrict.hex(high, width: 16).suffix(16) + SyntheticDistrict.hex(low >> 32, width: 8)
    }
}
