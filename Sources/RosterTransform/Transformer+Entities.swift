import RosterModel

/// One function per entity. Each normalises every field, then adds the entity's rules; a record
/// with a `rejected` finding is dropped by `Transformer.transform(_:)`.
extension Transformer {
    /// A section keeps its primary teacher and at most nine co-teachers.
    static let maxTeachersPerSection = 10

    func school(_ r: SchoolRecord, _ findings: inout Findings) -> SchoolRecord? {
        var out = r
        out.sisID = requiredID(r.sisID, field: "sisID", &findings)
        out.cleverID = TextNormalizer.identifier(r.cleverID)
        out.name = TextNormalizer.text(r.name) ?? ""
        if out.name.isEmpty { findings.reject(.missingRequiredField, "name is empty: a school needs a name") }
        out.schoolNumber = TextNormalizer.identifier(r.schoolNumber)
        out.stateID = TextNormalizer.identifier(r.stateID)
        out.lowGrade = gradeWord(r.lowGrade, field: "lowGrade", &findings)?.cleverWord
        out.highGrade = gradeWord(r.highGrade, field: "highGrade", &findings)?.cleverWord
        return out
    }

    func teacher(_ r: TeacherRecord, _ findings: inout Findings) -> TeacherRecord? {
        var out = r
        out.sisID = requiredID(r.sisID, field: "sisID", &findings)
        out.cleverID = TextNormalizer.identifier(r.cleverID)
        out.school = TextNormalizer.ref(r.school)
        out.otherSchools = uniqueRefs(r.otherSchools)
        out.firstName = TextNormalizer.text(r.firstName)
        out.middleName = TextNormalizer.text(r.middleName)
        out.lastName = TextNormalizer.text(r.lastName)
        out.title = TextNormalizer.text(r.title)
        out.teacherNumber = TextNormalizer.identifier(r.teacherNumber)
        out.stateID = TextNormalizer.identifier(r.stateID)
        out.email = email(r.email, &findings)
        return out
    }

    func student(_ r: StudentRecord, _ findings: inout Findings) -> StudentRecord? {
        var out = r
        out.sisID = requiredID(r.sisID, field: "sisID", &findings)
        out.cleverID = TextNormalizer.identifier(r.cleverID)
        out.school = TextNormalizer.ref(r.school)
        out.firstName = TextNormalizer.text(r.firstName)
        out.middleName = TextNormalizer.text(r.middleName)
        out.lastName = TextNormalizer.text(r.lastName)
        out.studentNumber = TextNormalizer.identifier(r.studentNumber)
        out.stateID = TextNormalizer.identifier(r.stateID)
        let grade = gradeWord(r.grade, field: "grade", &findings)
        out.grade = grade?.cleverWord
        out.gradeRank = grade?.rank
        // A bad birth date is not worth losing a student over: drop the date, keep the student.
        switch isoDate(r.dateOfBirth, field: "dateOfBirth") {
        case .success(let date): out.dateOfBirth = date
        case .failure(let problem):
            out.dateOfBirth = nil
            findings.warn(.invalidDate, "\(problem.description); the date of birth is left empty")
        }
        out.email = email(r.email, &findings)
        out.canLogin = out.email != nil
        return out
    }

    func term(_ r: TermRecord, _ findings: inout Findings) -> TermRecord? {
        var out = r
        out.cleverID = TextNormalizer.identifier(r.cleverID)
        // API terms may only have a Clever id; a term needs one id or the other.
        out.sisID = TextNormalizer.identifier(r.sisID).map(Self.termKey) ?? ""
        findings.recordKey = out.sisID.isEmpty ? out.cleverID : out.sisID
        if out.sisID.isEmpty && out.cleverID == nil {
            findings.reject(.missingRequiredField, "sisID is empty and there is no Clever id")
        }
        out.name = TextNormalizer.text(r.name)
        for (keyPath, field) in [(\TermRecord.startDate, "startDate"), (\TermRecord.endDate, "endDate")] {
            switch isoDate(r[keyPath: keyPath], field: field) {
            case .success(let date): out[keyPath: keyPath] = date
            case .failure(let problem): findings.reject(.invalidDate, problem.description)
            }
        }
        // ISO dates compare correctly as text.
        if let start = out.startDate, let end = out.endDate, end < start, !findings.isRejected {
            findings.reject(.invalidDate, "endDate \(end) is before startDate \(start)")
        }
        return out
    }

    func section(_ r: SectionRecord, _ findings: inout Findings) -> SectionRecord? {
        var out = r
        out.sisID = requiredID(r.sisID, field: "sisID", &findings)
        out.cleverID = TextNormalizer.identifier(r.cleverID)
        out.school = TextNormalizer.ref(r.school)
        out.term = TextNormalizer.ref(r.term)
        out.term.sisID = out.term.sisID.map(Self.termKey)
        out.name = TextNormalizer.text(r.name)
        out.sectionNumber = TextNormalizer.identifier(r.sectionNumber)
        out.subject = TextNormalizer.text(r.subject)
        out.courseName = TextNormalizer.text(r.courseName)
        out.courseNumber = TextNormalizer.identifier(r.courseNumber)
        out.period = TextNormalizer.text(r.period)
        out.grade = gradeWord(r.grade, field: "grade", &findings)?.cleverWord
        var teachers = uniqueRefs(r.teachers)
        // A blank primary with co-teachers listed: the co-teachers must not become the primary.
        let primaryBlank = r.teachers.first.map { TextNormalizer.ref($0).isEmpty } ?? false
        if primaryBlank && !teachers.isEmpty {
            findings.warn(
                .missingPrimaryTeacher,
                "no primary teacher is listed; \(teachers.map(describe).joined(separator: ", ")) load as co-teachers")
            teachers.insert(Ref(), at: 0)
        }
        if teachers.count > Self.maxTeachersPerSection {
            // A blank primary keeps its slot: one primary and nine co-teachers at most.
            let dropped = teachers[Self.maxTeachersPerSection...].map(describe)
            teachers.removeSubrange(Self.maxTeachersPerSection...)
            let listed = teachers.filter { !$0.isEmpty }.count
            findings.warn(
                .tooManyTeachers,
                "\(listed + dropped.count) teachers; only the first \(listed) are loaded; "
                    + "dropped: \(dropped.joined(separator: ", "))")
        }
        if teachers.isEmpty {
            findings.warn(.missingPrimaryTeacher, "the section lists no teacher")
        }
        out.teachers = teachers
        return out
    }

    func enrollment(_ r: EnrollmentRecord, _ findings: inout Findings) -> EnrollmentRecord? {
        var out = r
        out.section = TextNormalizer.ref(r.section)
        out.student = TextNormalizer.ref(r.student)
        findings.recordKey = "\(describe(out.section))/\(describe(out.student))"
        if out.section.isEmpty { findings.reject(.missingRequiredField, "section is empty: no section id") }
        if out.student.isEmpty { findings.reject(.missingRequiredField, "student is empty: no student id") }
        return out
    }

    // MARK: - Field rules

    private func requiredID(_ raw: String, field: String, _ findings: inout Findings) -> String {
        let id = TextNormalizer.identifier(raw) ?? ""
        findings.recordKey = id.isEmpty ? nil : id
        if id.isEmpty { findings.reject(.missingRequiredField, "\(field) is empty: the record has no SIS id") }
        return id
    }

    /// The grade, `.other` with a warning when nobody recognises it, nil when empty.
    private func gradeWord(_ raw: String?, field: String, _ findings: inout Findings) -> Grade? {
        guard let text = TextNormalizer.text(raw) else { return nil }
        if let grade = GradeParser.grade(from: text) { return grade }
        findings.warn(.unknownGrade, "\(field) '\(text)' is not a known grade; loaded as Other")
        return .other
    }

    /// A term key made of its name and dates (`name|start|end`, sections.csv's term cells:
    /// ``RosterModel/TermRecord/derivedSISID(name:start:end:)``), with the name normalised as
    /// names are and the dates written ISO where they can be read: the same term spelt
    /// `8/24/2026` one night and `2026-08-24` the next stays one term. Migration 0018 brought the
    /// keys stored before to this form. Any other key (an API term's Clever id) is returned as it is.
    static func termKey(_ key: String) -> String {
        let parts = key.split(separator: "|", omittingEmptySubsequences: false)
        guard parts.count >= 3 else { return key }
        // From the right: a name may hold a `|`, a date cannot.
        let name = TextNormalizer.text(parts.dropLast(2).joined(separator: "|"))
        let date = { (raw: Substring) -> String? in
            guard let text = TextNormalizer.identifier(String(raw)) else { return nil }
            return (try? DateParser.isoDate(from: text).get()) ?? text
        }
        return TermRecord.derivedSISID(name: name, start: date(parts[parts.count - 2]), end: date(parts[parts.count - 1]))
    }

    private func isoDate(_ raw: String?, field: String) -> Result<String?, DateParser.Problem> {
        guard let text = TextNormalizer.identifier(raw) else { return .success(nil) }
        return DateParser.isoDate(from: text)
            .map { Optional($0) }
            .mapError { DateParser.Problem(description: "\(field) \($0.description)") }
    }

    /// The validated email, or nil with a warning saying why.
    private func email(_ raw: String?, _ findings: inout Findings) -> String? {
        guard let text = TextNormalizer.identifier(raw) else {
            findings.warn(.missingEmail, "no email")
            return nil
        }
        switch EmailValidator.validate(text) {
        case .failure(let problem):
            findings.warn(.invalidEmail, "email '\(text)' is not usable: \(problem.description)")
            return nil
        case .success(let email):
            if !allowedDomains.isEmpty {
                let domain = EmailValidator.domain(of: email)
                if !allowedDomains.contains(domain) {
                    findings.warn(
                        .emailDomainNotAllowed,
                        "email '\(email)' has domain '\(domain)', which is not in allowed_email_domains "
                            + "(\(allowedDomains.sorted().joined(separator: ", ")))")
                }
            }
            return email
        }
    }

    /// Refs trimmed, empty ones removed, repeats removed, first occurrence kept.
    private func uniqueRefs(_ refs: [Ref]) -> [Ref] {
        var seen = Set<Ref>()
        return refs.map(TextNormalizer.ref).filter { !$0.isEmpty && seen.insert($0).inserted }
    }

    private func describe(_ ref: Ref) -> String {
        ref.sisID ?? ref.cleverID.map { "clever:\($0)" } ?? "?"
    }
}
