/// The JSON shapes of Clever's Data API v3.0 (see the swagger in /work/shared/clever), as far as
/// the sync reads them. Optional properties are left out of the JSON when nil, as Clever does.
enum API {
    struct Link: Encodable {
        let rel: String
        let uri: String
    }

    /// One object in a list: `{"data": {...}, "uri": "/v3.0/users/ID"}`.
    struct Envelope: Encodable {
        let data: Object
        let uri: String
    }

    /// A list page: `{"data": [envelopes], "links": [...]}`.
    struct Page: Encodable {
        let data: [Envelope]
        let links: [Link]
    }

    struct ErrorBody: Encodable {
        let message: String
    }

    enum Object: Encodable {
        case district(District)
        case school(School)
        case user(User)
        case section(Section)
        case term(Term)
        case course(Course)

        func encode(to encoder: any Encoder) throws {
            switch self {
            case .district(let value): try value.encode(to: encoder)
            case .school(let value): try value.encode(to: encoder)
            case .user(let value): try value.encode(to: encoder)
            case .section(let value): try value.encode(to: encoder)
            case .term(let value): try value.encode(to: encoder)
            case .course(let value): try value.encode(to: encoder)
            }
        }

        /// This object with `sis_id: ""` when its SIS id is one of `ids` (``Faults/blankSISIDs``).
        func blankingSISID(in ids: Set<String>) -> Object {
            switch self {
            case .school(var value) where ids.contains(value.sis_id):
                value.sis_id = ""
                return .school(value)
            case .user(var value):
                if let sis = value.roles.student?.sis_id, ids.contains(sis) { value.roles.student?.sis_id = "" }
                if let sis = value.roles.teacher?.sis_id, ids.contains(sis) { value.roles.teacher?.sis_id = "" }
                return .user(value)
            case .section(var value) where value.sis_id.map(ids.contains) == true:
                value.sis_id = ""
                return .section(value)
            default:
                return self
            }
        }

        var id: String {
            switch self {
            case .district(let value): value.id
            case .school(let value): value.id
            case .user(let value): value.id
            case .section(let value): value.id
            case .term(let value): value.id
            case .course(let value): value.id
            }
        }
    }

    struct District: Encodable {
        let id: String
        let name: String
        let state: String
        let launch_date: String
        let sis_type: String
    }

    struct Principal: Encodable {
        let name: String?
        let email: String?
    }

    struct Location: Encodable {
        let address: String?
        let city: String?
        let state: String?
        let zip: String?
    }

    struct School: Encodable {
        let id: String
        let district: String
        var sis_id: String
        let name: String
        let school_number: String?
        let state_id: String?
        let low_grade: String?
        let high_grade: String?
        let principal: Principal?
        let location: Location?
        let phone: String?
    }

    struct Name: Encodable {
        let first: String?
        let middle: String?
        let last: String?
    }

    struct Credentials: Encodable {
        let district_username: String?
    }

    struct StudentRole: Encodable {
        var sis_id: String?
        /// Nil for a user Clever lists without a school (an SIS record half entered).
        let school: String?
        let schools: [String]
        let grade: String?
        let dob: String?
        let student_number: String?
        let state_id: String?
        let gender: String?
        let credentials: Credentials?
    }

    struct TeacherRole: Encodable {
        var sis_id: String?
        /// Nil for a user Clever lists without a school (an SIS record half entered).
        let school: String?
        let schools: [String]
        let teacher_number: String?
        let state_id: String?
        let title: String?
        let credentials: Credentials?
    }

    struct AdminRole: Encodable {
        let title: String?
    }

    struct Roles: Encodable {
        var student: StudentRole?
        var teacher: TeacherRole?
        var district_admin: AdminRole?
    }

    struct User: Encodable {
        let id: String
        let district: String
        let email: String?
        let name: Name
        var roles: Roles
    }

    struct Section: Encodable {
        let id: String
        let district: String
        var sis_id: String?
        let school: String
        let term_id: String?
        let name: String?
        let grade: String?
        let subject: String?
        let section_number: String?
        let period: String?
        let course: String?
        let teacher: String?
        let teachers: [String]
        let students: [String]
    }

    struct Course: Encodable {
        let id: String
        let district: String
        let name: String?
        let number: String?
    }

    struct Term: Encodable {
        let id: String
        let district: String
        // No sis_id: Clever's v3.0 terms have none (id, district, name, start_date, end_date).
        let name: String?
        let start_date: String?
        let end_date: String?
    }
}
