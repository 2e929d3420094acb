/// The kinds of roster record the sync handles. Raw values are the words used in
/// `staging.rejects.entity`, `roster.change_log.entity` and log metadata.
public enum Entity: String, Sendable, Hashable, CaseIterable, Codable {
    case district
    case school
    case teacher
    case student
    case term
    case section
    case sectionTeacher = "section_teacher"
    case enrollment
    case admin
}
