/// The API collections the fake server serves.
enum APICollection: String, Sendable, CaseIterable {
    case schools
    case students
    case teachers
    case staff
    case districtAdmins = "district_admins"
    case sections
    case terms
    case courses

    /// The path segment after `/v3.0/`.
    var path: String {
        switch self {
        case .students, .teachers, .staff, .districtAdmins: "users"
        default: rawValue
        }
    }

    /// The `role` query value of user collections.
    var role: String? {
        switch self {
        case .students: "student"
        case .teachers: "teacher"
        case .staff: "staff"
        case .districtAdmins: "district_admin"
        default: nil
        }
    }

    init?(path: String, role: String?) {
        if path == "users" {
            switch role {
            case "student": self = .students
            case "teacher": self = .teachers
            case "staff": self = .staff
            case "district_admin": self = .districtAdmins
            default: return nil
            }
        } else {
            guard let collection = APICollection(rawValue: path), collection.role == nil else { return nil }
            self = collection
        }
    }
}

/// A district the fake server can page through by index, without materialising it.
protocol ServedDistrict: Sendable {
    var district: API.District { get }
    /// The size of a collection's index space (some slots may be empty).
    func slotCount(_ collection: APICollection) -> Int
    /// Whether a slot holds an object; cheaper than building it.
    func exists(_ collection: APICollection, at index: Int) -> Bool
    /// The object at a slot, nil for an empty slot.
    func object(_ collection: APICollection, at index: Int) -> API.Object?
    /// The id of the object at a slot, without building the object.
    func objectID(_ collection: APICollection, at index: Int) -> String?
    /// The slot of an object id in a collection, for `starting_after`.
    func index(ofID id: String, in collection: APICollection) -> Int?
}
