import Foundation
import RosterModel

/// Turns one page body of a feed into a batch and the page's `next` link. Pure: the paging
/// loop and the HTTP layer are elsewhere, so every shape rule is testable on plain bytes.
struct PageMapper: Sendable {
    let feed: Feed
    /// For errors: `GET /v3.0/users?role=student...`.
    let endpoint: String
    /// The district's courses by Clever id, which name and number its sections.
    var courses: [String: Clever.Course] = [:]

    /// The collection path a feed pages through, with its query (without paging parameters).
    static func path(for feed: Feed) -> (path: String, role: String?) {
        switch feed {
        case .schools: ("/v3.0/schools", nil)
        case .teachers: ("/v3.0/users", "teacher")
        case .students: ("/v3.0/users", "student")
        case .terms: ("/v3.0/terms", nil)
        case .sections, .enrollments: ("/v3.0/sections", nil)
        }
    }

    /// The object collection envelope URIs must name (`/v3.0/<collection>/<id>`).
    private var collection: String {
        switch feed {
        case .schools: "schools"
        case .teachers, .students: "users"
        case .terms: "terms"
        case .sections, .enrollments: "sections"
        }
    }

    /// One page read: what it held, its `next` link, and how many objects it held and the last
    /// one's id (a full page without a next link is asked past, ``PageCursor``).
    struct Mapped<Content> {
        var content: Content
        var next: String?
        var objects: Int
        var lastID: String?
    }

    func map(_ body: Data) throws(ExtractError) -> (batch: ExtractBatch, next: String?) {
        let result = body.withUnsafeBytes { bytes in
            Result { () throws(ExtractError) in try map(bytes) }
        }
        let mapped = try result.get()
        return (mapped.content, mapped.next)
    }

    /// A page of `/v3.0/courses`.
    static func courses(_ body: UnsafeRawBufferPointer, endpoint: String) throws(ExtractError) -> Mapped<[Clever.Course]> {
        let page: Clever.Page<Clever.Course>
        do {
            page = try Clever.Page<Clever.Course>.read(body)
        } catch {
            throw .malformed(endpoint: endpoint, error.detail, cause: error)
        }
        let marker = Array("/courses/".utf8)
        if let uri = page.data.lazy.compactMap(\.uri).first(where: { !Self.contains($0, marker) }) {
            throw .malformed(endpoint: endpoint, "an object of another type (\(uri)) on a courses page")
        }
        let last = page.data.last?.data.id
        return Mapped(
            content: page.data.map(\.data), next: try checkedNext(page.links, lastID: last, endpoint: endpoint),
            objects: page.data.count, lastID: last)
    }

    func map(_ body: UnsafeRawBufferPointer) throws(ExtractError) -> Mapped<ExtractBatch> {
        switch feed {
        case .schools: return try map(body, Clever.School.self, school)
        case .teachers: return try map(body, Clever.User.self, teacher)
        case .students: return try map(body, Clever.User.self, student)
        case .terms: return try map(body, Clever.Term.self, term)
        case .sections: return try map(body, Clever.Section.self, section)
        case .enrollments: return try map(body, Clever.Section.self, enrollments)
        }
    }

    private func map<Object: ListedCleverObject>(
        _ body: UnsafeRawBufferPointer, _ type: Object.Type,
        _ transform: (Object, inout ExtractBatch) throws(ExtractError) -> Void
    ) throws(ExtractError) -> Mapped<ExtractBatch> {
        let page: Clever.Page<Object>
        do {
            page = try Clever.Page<Object>.read(body)
        } catch {
            throw .malformed(endpoint: endpoint, error.detail, cause: error)
        }
        var batch = ExtractBatch()
        batch.records.reserveCapacity(page.data.count)
        let marker = Array("/\(collection)/".utf8)
        for envelope in page.data {
            // Clever's envelope names the object's own collection; another one means a page of the
            // wrong type, which must stop the feed instead of loading as a different entity.
            if let uri = envelope.uri, !Self.contains(uri, marker) {
                throw .malformed(endpoint: endpoint, "an object of another type (\(uri)) on a \(collection) page")
            }
            try transform(envelope.data, &batch)
        }
        let last = page.data.last?.data.id
        return Mapped(
            content: batch, next: try Self.checkedNext(page.links, lastID: last, endpoint: endpoint),
            objects: page.data.count, lastID: last)
    }

    /// A page's `next` link, checked. Clever pages by `starting_after` the page's last object. A
    /// link that starts after another one (a proxy or server bug), or that says nothing of where
    /// it starts, or an empty page that links on, could skip objects, and the feed, short of them,
    /// would read as whole: the run would archive them.
    static func checkedNext(_ links: [Clever.Link]?, lastID last: String?, endpoint: String) throws(ExtractError) -> String? {
        let next = links?.first { $0.rel == "next" }?.uri
        if let next {
            let after = URLComponents(string: next)?.queryItems?.first { $0.name == "starting_after" }?.value
            guard let last else {
                throw .malformed(endpoint: endpoint, "an empty page that links to a next one (\(next))")
            }
            guard let after else {
                throw .malformed(
                    endpoint: endpoint, "a next link without starting_after (\(next)): where it starts cannot be checked")
            }
            guard after == last else {
                throw .malformed(
                    endpoint: endpoint,
                    "the next link starts after \(after), not after the page's last object \(last): the objects between "
                        + "would be skipped")
            }
        }
        return next
    }

    /// Whether `text` contains `marker`, on UTF-8 bytes: Foundation's `contains` bridges both
    /// strings to `NSString` and was a visible share of the time to read a page.
    static func contains(_ text: String, _ marker: [UInt8]) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            guard bytes.count >= marker.count else { return false }
            for start in 0...(bytes.count - marker.count) {
                var index = 0
                while index < marker.count, bytes[start + index] == marker[index] { index += 1 }
                if index == marker.count { return true }
            }
            return false
        }
    }

    static func describe(_ error: any Error) -> String {
        (error as? JSONReader.Error)?.detail ?? "unreadable JSON"
    }

    // MARK: - Objects to records

    /// The record key is the SIS id when the object has one: the merge keeps a record whose
    /// object is in the feed but unloadable (staging.unreadable_rows) by SIS id, as it does for a
    /// CSV row. Without one, the source names the Clever object, and prepare keys the rejection by
    /// the roster's record of that Clever id (00_prepare.sql step 4).
    private func missing(
        _ entity: Entity, _ collection: String, _ id: String, _ field: String, sisID: String? = nil
    ) -> Rejection {
        Rejection(
            entity: entity, source: .api(collection, id: id), recordKey: sisID, reason: .missingRequiredField,
            detail: "Clever object \(id) has no \(field)")
    }

    private func school(_ object: Clever.School, into batch: inout ExtractBatch) {
        guard let sis = object.sis_id, !sis.isEmpty else {
            batch.rejections.append(missing(.school, "schools", object.id, "sis_id"))
            return
        }
        batch.records.append(
            .school(
                SchoolRecord(
                    source: .api("schools", id: object.id), sisID: sis, cleverID: object.id, name: object.name,
                    schoolNumber: object.school_number, stateID: object.state_id, lowGrade: object.low_grade,
                    highGrade: object.high_grade)))
    }

    private func teacher(_ user: Clever.User, into batch: inout ExtractBatch) throws(ExtractError) {
        guard let role = user.roles.teacher else {
            throw .malformed(endpoint: endpoint, "user \(user.id) on a role=teacher page has no roles.teacher")
        }
        guard let sis = role.sis_id, !sis.isEmpty else {
            batch.rejections.append(missing(.teacher, "users", user.id, "sis_id"))
            return
        }
        guard let school = Self.school(role.school, role.schools) else {
            batch.rejections.append(missing(.teacher, "users", user.id, "school", sisID: Identifier.trimmed(sis)))
            return
        }
        var others: [String] = []
        for other in role.schools ?? [] where !other.isEmpty && other != school && !others.contains(other) {
            others.append(other)
        }
        batch.records.append(
            .teacher(
                TeacherRecord(
                    source: .api("users", id: user.id), sisID: sis, cleverID: user.id, school: .clever(school),
                    otherSchools: others.map(Ref.clever), email: user.email, firstName: user.name?.first,
                    middleName: user.name?.middle, lastName: user.name?.last, title: role.title,
                    teacherNumber: role.teacher_number, stateID: role.state_id)))
    }

    private func student(_ user: Clever.User, into batch: inout ExtractBatch) throws(ExtractError) {
        guard let role = user.roles.student else {
            throw .malformed(endpoint: endpoint, "user \(user.id) on a role=student page has no roles.student")
        }
        guard let sis = role.sis_id, !sis.isEmpty else {
            batch.rejections.append(missing(.student, "users", user.id, "sis_id"))
            return
        }
        guard let school = Self.school(role.school, role.schools) else {
            batch.rejections.append(missing(.student, "users", user.id, "school", sisID: Identifier.trimmed(sis)))
            return
        }
        batch.records.append(
            .student(
                StudentRecord(
                    source: .api("users", id: user.id), sisID: sis, cleverID: user.id, school: .clever(school),
                    email: user.email, firstName: user.name?.first, middleName: user.name?.middle,
                    lastName: user.name?.last, grade: role.grade, dateOfBirth: role.dob,
                    studentNumber: role.student_number, stateID: role.state_id)))
    }

    /// A user's school: `school`, else the first of `schools`. Clever sends `""` for no value, which
    /// is no school (a rejection keyed by SIS id, so the merge holds the person), not a school
    /// that no feed lists (whose people the merge would archive as unknown references).
    static func school(_ school: String?, _ schools: [String]?) -> String? {
        value(school) ?? schools?.first { !$0.isEmpty }
    }

    /// Clever sends `""` for no value.
    static func value(_ text: String?) -> String? {
        text.flatMap { $0.isEmpty ? nil : $0 }
    }

    private func term(_ object: Clever.Term, into batch: inout ExtractBatch) {
        // Clever's v3.0 terms carry no SIS id: the Clever id is the key, stable when the district
        // moves a term's dates (a key made of name and dates, as sections.csv's must be, would
        // make a second term each time).
        let sis = object.id
        batch.records.append(
            .term(
                TermRecord(
                    source: .api("terms", id: object.id), sisID: sis, cleverID: object.id, name: object.name,
                    startDate: object.start_date, endDate: object.end_date)))
    }

    private func section(_ object: Clever.Section, into batch: inout ExtractBatch) {
        guard let sis = object.sis_id, !sis.isEmpty else {
            batch.rejections.append(missing(.section, "sections", object.id, "sis_id"))
            return
        }
        // Both lists are always sent (`[]` for none). Without one, who is in the class is unknown:
        // read as empty, the merge would take every member and co-teacher off it. Unreadable, the
        // section is kept as it is, with its members (not in the feed, its memberships stand).
        guard object.students != nil, object.teachers != nil else {
            batch.rejections.append(
                missing(.section, "sections", object.id, object.students == nil ? "students list" : "teachers list",
                        sisID: Identifier.trimmed(sis)))
            return
        }
        // The primary teacher first (an empty ref when Clever names none), then co-teachers in
        // Clever's order, each once.
        let course = object.course.flatMap { courses[$0] }
        var teachers = [object.teacher.map(Ref.clever) ?? Ref()]
        for teacher in object.teachers ?? [] where !teachers.contains(.clever(teacher)) {
            teachers.append(.clever(teacher))
        }
        batch.records.append(
            .section(
                SectionRecord(
                    source: .api("sections", id: object.id), sisID: sis, cleverID: object.id,
                    school: .clever(object.school), term: object.term_id.map(Ref.clever) ?? Ref(), name: object.name,
                    sectionNumber: object.section_number, grade: object.grade, subject: object.subject,
                    courseName: course?.name, courseNumber: course?.number, period: object.period, teachers: teachers)))
    }

    private func enrollments(_ object: Clever.Section, into batch: inout ExtractBatch) {
        // The section's own SIS id is on the page: only the students need resolving in prepare.
        let section = Ref(sisID: Self.value(object.sis_id), cleverID: object.id)
        // A section without its lists is unreadable (`section`): it is not staged, and its members
        // are kept as they are.
        guard object.teachers != nil, let students = object.students else { return }
        for student in students {
            batch.records.append(
                .enrollment(
                    EnrollmentRecord(source: .api("sections", id: object.id), section: section, student: .clever(student))))
        }
    }
}
