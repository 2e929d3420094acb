/// The parts of Clever's v3.0 JSON the sync reads. Reading is strict where a missing key means
/// the answer is not what was asked for (an object without `id`, a page without `data`) and
/// lenient elsewhere, so a record missing an optional field still loads: the rules of the
/// `Decodable` structs these were (a present optional may be null; a value of the wrong type
/// is an error; unknown keys are skipped).
enum Clever {
    struct Page<Object: CleverObject> {
        let data: [Envelope<Object>]
        let links: [Link]?
    }

    struct Envelope<Object: CleverObject> {
        let data: Object
        let uri: String?
    }

    struct Link {
        let rel: String
        let uri: String
    }

    struct District {
        let id: String
        let name: String?
    }

    struct School {
        let id: String
        let name: String
        let sis_id: String?
        let school_number: String?
        let state_id: String?
        let low_grade: String?
        let high_grade: String?
    }

    struct Name {
        let first: String?
        let middle: String?
        let last: String?
    }

    struct StudentRole {
        let sis_id: String?
        let school: String?
        let schools: [String]?
        let grade: String?
        let dob: String?
        let student_number: String?
        let state_id: String?
    }

    struct TeacherRole {
        let sis_id: String?
        let school: String?
        let schools: [String]?
        let teacher_number: String?
        let state_id: String?
        let title: String?
    }

    struct Roles {
        let student: StudentRole?
        let teacher: TeacherRole?
    }

    struct User {
        let id: String
        let email: String?
        let name: Name?
        let roles: Roles
    }

    struct Section {
        let id: String
        let school: String
        let sis_id: String?
        let term_id: String?
        let name: String?
        let grade: String?
        let subject: String?
        let section_number: String?
        let period: String?
        /// The Clever id of the section's course (`/v3.0/courses`), which names it and numbers it.
        let course: String?
        let teacher: String?
        let teachers: [String]?
        let students: [String]?
    }

    struct Course {
        let id: String
        let name: String?
        let number: String?
    }

    /// Clever's v3.0 terms have no SIS id.
    struct Term {
        let id: String
        let name: String?
        let start_date: String?
        let end_date: String?
    }
}

/// A Clever object read from JSON with ``JSONReader``.
protocol CleverObject {
    init(json reader: inout JSONReader) throws(JSONReader.Error)
}

/// An object a feed's pages list, by its Clever id (what `starting_after` names).
protocol ListedCleverObject: CleverObject {
    var id: String { get }
}

extension Clever.School: ListedCleverObject {}
extension Clever.User: ListedCleverObject {}
extension Clever.Section: ListedCleverObject {}
extension Clever.Term: ListedCleverObject {}
extension Clever.Course: ListedCleverObject {}

typealias JSONError = JSONReader.Error

extension JSONReader {
    /// A nested optional object: absent or null is nil.
    mutating func optional<Object: CleverObject>(_ type: Object.Type) throws(JSONError) -> Object? {
        try null() ? nil : Object(json: &self)
    }

    /// A required value that was absent.
    func require<Value>(_ value: Value?, _ key: StaticString) throws(JSONError) -> Value {
        guard let value else { throw missing(key) }
        return value
    }
}

extension Clever.Page: CleverObject {
    init(json reader: inout JSONReader) throws(JSONError) {
        var data: [Clever.Envelope<Object>]?
        var links: [Clever.Link]?
        try reader.object { reader, key throws(JSONError) in
            if key == "data" {
                var envelopes: [Clever.Envelope<Object>] = []
                try reader.array { reader, _ throws(JSONError) in envelopes.append(try Clever.Envelope(json: &reader)) }
                data = envelopes
            } else if key == "links" {
                if try reader.null() {
                    links = nil
                } else {
                    var list: [Clever.Link] = []
                    try reader.array { reader, _ throws(JSONError) in list.append(try Clever.Link(json: &reader)) }
                    links = list
                }
            } else {
                try reader.skipValue()
            }
        }
        self.data = try reader.require(data, "data")
        self.links = links
    }

    /// A whole page body.
    static func read(_ bytes: UnsafeRawBufferPointer) throws(JSONError) -> Self {
        var reader = JSONReader(bytes)
        return try reader.document { reader throws(JSONError) in try Self(json: &reader) }
    }
}

extension Clever.Envelope: CleverObject {
    init(json reader: inout JSONReader) throws(JSONError) {
        var data: Object?
        var uri: String?
        try reader.object { reader, key throws(JSONError) in
            if key == "data" { data = try Object(json: &reader) }
            else if key == "uri" { uri = try reader.optionalString() }
            else { try reader.skipValue() }
        }
        self.data = try reader.require(data, "data")
        self.uri = uri
    }
}

extension Clever.Link: CleverObject {
    init(json reader: inout JSONReader) throws(JSONError) {
        var rel: String?
        var uri: String?
        try reader.object { reader, key throws(JSONError) in
            if key == "rel" { rel = try reader.string() }
            else if key == "uri" { uri = try reader.string() }
            else { try reader.skipValue() }
        }
        self.rel = try reader.require(rel, "rel")
        self.uri = try reader.require(uri, "uri")
    }
}

extension Clever.District: CleverObject {
    init(json reader: inout JSONReader) throws(JSONError) {
        var id: String?, name: String?
        try reader.object { reader, key throws(JSONError) in
            if key == "id" {
                id = try reader.string()
            } else if key == "name" {
                name = try reader.optionalString()
            } else {
                try reader.skipValue()
            }
        }
        self.id = try reader.require(id, "id")
        self.name = name
    }
}

extension Clever.School: CleverObject {
    init(json reader: inout JSONReader) throws(JSONError) {
        var id: String?, name: String?, sis_id: String?, school_number: String?, state_id: String?
        var low_grade: String?, high_grade: String?
        try reader.object { reader, key throws(JSONError) in
            if key == "id" { id = try reader.string() }
            else if key == "name" { name = try reader.string() }
            else if key == "sis_id" { sis_id = try reader.optionalString() }
            else if key == "school_number" { school_number = try reader.optionalString() }
            else if key == "state_id" { state_id = try reader.optionalString() }
            else if key == "low_grade" { low_grade = try reader.optionalString() }
            else if key == "high_grade" { high_grade = try reader.optionalString() }
            else { try reader.skipValue() }
        }
        self.id = try reader.require(id, "id")
        self.name = try reader.require(name, "name")
        (self.sis_id, self.school_number, self.state_id) = (sis_id, school_number, state_id)
        (self.low_grade, self.high_grade) = (low_grade, high_grade)
    }
}

extension Clever.Name: CleverObject {
    init(json reader: inout JSONReader) throws(JSONError) {
        var first: String?, middle: String?, last: String?
        try reader.object { reader, key throws(JSONError) in
            if key == "first" { first = try reader.optionalString() }
            else if key == "middle" { middle = try reader.optionalString() }
            else if key == "last" { last = try reader.optionalString() }
            else { try reader.skipValue() }
        }
        (self.first, self.middle, self.last) = (first, middle, last)
    }
}

extension Clever.StudentRole: CleverObject {
    init(json reader: inout JSONReader) throws(JSONError) {
        var sis_id: String?, school: String?, schools: [String]?, grade: String?, dob: String?
        var student_number: String?, state_id: String?
        try reader.object { reader, key throws(JSONError) in
            if key == "sis_id" { sis_id = try reader.optionalString() }
            else if key == "school" { school = try reader.optionalString() }
            else if key == "schools" { schools = try reader.optionalStrings() }
            else if key == "grade" { grade = try reader.optionalString() }
            else if key == "dob" { dob = try reader.optionalString() }
            else if key == "student_number" { student_number = try reader.optionalString() }
            else if key == "state_id" { state_id = try reader.optionalString() }
            else { try reader.skipValue() }
        }
        (self.sis_id, self.school, self.schools, self.grade) = (sis_id, school, schools, grade)
        (self.dob, self.student_number, self.state_id) = (dob, student_number, state_id)
    }
}

extension Clever.TeacherRole: CleverObject {
    init(json reader: inout JSONReader) throws(JSONError) {
        var sis_id: String?, school: String?, schools: [String]?, teacher_number: String?, state_id: String?
        var title: String?
        try reader.object { reader, key throws(JSONError) in
            if key == "sis_id" { sis_id = try reader.optionalString() }
            else if key == "school" { school = try reader.optionalString() }
            else if key == "schools" { schools = try reader.optionalStrings() }
            else if key == "teacher_number" { teacher_number = try reader.optionalString() }
            else if key == "state_id" { state_id = try reader.optionalString() }
            else if key == "title" { title = try reader.optionalString() }
            else { try reader.skipValue() }
        }
        (self.sis_id, self.school, self.schools) = (sis_id, school, schools)
        (self.teacher_number, self.state_id, self.title) = (teacher_number, state_id, title)
    }
}

extension Clever.Roles: CleverObject {
    init(json reader: inout JSONReader) throws(JSONError) {
        var student: Clever.StudentRole?, teacher: Clever.TeacherRole?
        try reader.object { reader, key throws(JSONError) in
            if key == "student" { student = try reader.optional(Clever.StudentRole.self) }
            else if key == "teacher" { teacher = try reader.optional(Clever.TeacherRole.self) }
            else { try reader.skipValue() }
        }
        (self.student, self.teacher) = (student, teacher)
    }
}

extension Clever.User: CleverObject {
    init(json reader: inout JSONReader) throws(JSONError) {
        var id: String?, email: String?, name: Clever.Name?, roles: Clever.Roles?
        try reader.object { reader, key throws(JSONError) in
            if key == "id" { id = try reader.string() }
            else if key == "email" { email = try reader.optionalString() }
            else if key == "name" { name = try reader.optional(Clever.Name.self) }
            else if key == "roles" { roles = try Clever.Roles(json: &reader) }
            else { try reader.skipValue() }
        }
        self.id = try reader.require(id, "id")
        self.email = email
        self.name = name
        self.roles = try reader.require(roles, "roles")
    }
}

extension Clever.Section: CleverObject {
    init(json reader: inout JSONReader) throws(JSONError) {
        var id: String?, school: String?, sis_id: String?, term_id: String?, name: String?, grade: String?
        var subject: String?, section_number: String?, period: String?, course: String?, teacher: String?
        var teachers: [String]?, students: [String]?
        try reader.object { reader, key throws(JSONError) in
            if key == "id" { id = try reader.string() }
            else if key == "school" { school = try reader.string() }
            else if key == "sis_id" { sis_id = try reader.optionalString() }
            else if key == "term_id" { term_id = try reader.optionalString() }
            else if key == "name" { name = try reader.optionalString() }
            else if key == "grade" { grade = try reader.optionalString() }
            else if key == "subject" { subject = try reader.optionalString() }
            else if key == "section_number" { section_number = try reader.optionalString() }
            else if key == "period" { period = try reader.optionalString() }
            else if key == "course" { course = try reader.optionalString() }
            else if key == "teacher" { teacher = try reader.optionalString() }
            else if key == "teachers" { teachers = try reader.optionalStrings() }
            else if key == "students" { students = try reader.optionalStrings() }
            else { try reader.skipValue() }
        }
        self.id = try reader.require(id, "id")
        self.school = try reader.require(school, "school")
        (self.sis_id, self.term_id, self.name, self.grade) = (sis_id, term_id, name, grade)
        (self.subject, self.section_number, self.period, self.course) = (subject, section_number, period, course)
        (self.teacher, self.teachers, self.students) = (teacher, teachers, students)
    }
}

extension Clever.Course: CleverObject {
    init(json reader: inout JSONReader) throws(JSONError) {
        var id: String?, name: String?, number: String?
        try reader.object { reader, key throws(JSONError) in
            if key == "id" { id = try reader.string() }
            else if key == "name" { name = try reader.optionalString() }
            else if key == "number" { number = try reader.optionalString() }
            else { try reader.skipValue() }
        }
        self.id = try reader.require(id, "id")
        (self.name, self.number) = (name, number)
    }
}

extension Clever.Term: CleverObject {
    init(json reader: inout JSONReader) throws(JSONError) {
        var id: String?, name: String?, start_date: String?, end_date: String?
        try reader.object { reader, key throws(JSONError) in
            if key == "id" { id = try reader.string() }
            else if key == "name" { name = try reader.optionalString() }
            else if key == "start_date" { start_date = try reader.optionalString() }
            else if key == "end_date" { end_date = try reader.optionalString() }
            else { try reader.skipValue() }
        }
        self.id = try reader.require(id, "id")
        (self.name, self.start_date, self.end_date) = (name, start_date, end_date)
    }
}
