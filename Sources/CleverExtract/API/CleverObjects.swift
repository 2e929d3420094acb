/// The parts of Clever's v3.0 JSON the sync reads. Decoding is strict where a missing key means
/// the answer is not what was asked for (an object without `id`, a page without `data`) and
/// lenient elsewhere, so a record missing an optional field still loads.
enum Clever {
    struct Page<Object: Decodable>: Decodable {
        let data: [Envelope<Object>]
        let links: [Link]?
    }

    struct Envelope<Object: Decodable>: Decodable {
        let data: Object
        let uri: String?
    }

    struct Link: Decodable {
        let rel: String
        let uri: String
    }

    struct District: Decodable {
        let id: String
    }

    struct School: Decodable {
        let id: String
        let name: String
        let sis_id: String?
        let school_number: String?
        let state_id: String?
        let low_grade: String?
        let high_grade: String?
    }

    struct Name: Decodable {
        let first: String?
        let middle: String?
        let last: String?
    }

    struct StudentRole: Decodable {
        let sis_id: String?
        let school: String?
        let schools: [String]?
        let grade: String?
        let dob: String?
        let student_number: String?
        let state_id: String?
    }

    struct TeacherRole: Decodable {
        let sis_id: String?
        let school: String?
        let schools: [String]?
        let teacher_number: String?
        let state_id: String?
        let title: String?
    }

    struct Roles: Decodable {
        let student: StudentRole?
        let teacher: TeacherRole?
    }

    struct User: Decodable {
        let id: String
        let email: String?
        let name: Name?
        let roles: Roles
    }

    struct Section: Decodable {
        let id: String
        let school: String
        let sis_id: String?
        let term_id: String?
        let name: String?
        let grade: String?
        let subject: String?
        let section_number: String?
        let period: String?
        let teacher: String?
        let teachers: [String]?
        let students: [String]?
    }

    struct Term: Decodable {
        let id: String
        let sis_id: String?
        let name: String?
        let start_date: String?
        let end_date: String?
    }
}
