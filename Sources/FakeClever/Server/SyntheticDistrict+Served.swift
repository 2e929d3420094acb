import RosterModel

/// Serves a synthetic district by index: a page is built from its slots only.
extension SyntheticDistrict: ServedDistrict {
    var district: API.District {
        API.District(id: districtID, name: districtName, state: "success", launch_date: "2026-08-01", sis_type: "sftp")
    }

    func slotCount(_ collection: APICollection) -> Int {
        switch collection {
        case .schools: schoolCount
        case .students: studentSlots
        case .teachers: teacherCount
        case .districtAdmins: 1
        case .staff: 0
        case .courses: Self.courseCount
        case .sections: sectionCount
        case .terms: termCount
        }
    }

    func exists(_ collection: APICollection, at index: Int) -> Bool {
        guard index >= 0, index < slotCount(collection) else { return false }
        return collection == .students ? !isRemoved(student: index) : true
    }

    func object(_ collection: APICollection, at index: Int) -> API.Object? {
        guard exists(collection, at: index) else { return nil }
        switch collection {
        case .schools: return .school(apiSchool(index))
        case .students: return student(at: index).map { .user(apiStudent($0, index: index)) }
        case .teachers: return .user(apiTeacher(teacher(at: index)))
        case .districtAdmins:
            // One superintendent: admins are never synced, but Clever lists them.
            let person = principal(ofSchool: schoolCount)
            return .user(
                API.User(
                    id: cleverID(.district, 1), district: districtID, email: person.email,
                    name: API.Name(first: person.first, middle: nil, last: person.last),
                    roles: API.Roles(district_admin: API.AdminRole(title: "Superintendent"))))
        case .sections: return .section(apiSection(index))
        case .terms: return .term(apiTerm(term(at: index)))
        case .courses:
            let course = course(index)
            return .course(API.Course(id: cleverID(.course, index), district: districtID, name: course.name, number: course.number))
        case .staff: return nil
        }
    }

    func objectID(_ collection: APICollection, at index: Int) -> String? {
        guard exists(collection, at: index), let kind = kind(of: collection) else { return nil }
        return cleverID(kind, collection == .districtAdmins ? index + 1 : index)
    }

    private func kind(of collection: APICollection) -> Kind? {
        switch collection {
        case .schools: .school
        case .students: .student
        case .teachers: .teacher
        case .sections: .section
        case .terms: .term
        case .courses: .course
        case .districtAdmins: .district
        case .staff: nil
        }
    }

    func index(ofID id: String, in collection: APICollection) -> Int? {
        guard let (kind, index) = decode(cleverID: id) else { return nil }
        let expected = self.kind(of: collection)
        // The one district admin's id is the district kind's slot 1.
        let slot = collection == .districtAdmins ? index - 1 : index
        guard kind == expected, slot >= 0, slot < slotCount(collection) else { return nil }
        return slot
    }

    private func apiSchool(_ s: Int) -> API.School {
        let school = school(at: s)
        let principal = principal(ofSchool: s)
        return API.School(
            id: cleverID(.school, s), district: districtID, sis_id: school.sisID, name: school.name,
            school_number: school.schoolNumber, state_id: school.stateID, low_grade: school.lowGrade,
            high_grade: school.highGrade,
            principal: API.Principal(name: "\(principal.first) \(principal.last)", email: principal.email),
            location: API.Location(address: schoolAddress(s), city: city, state: "CA", zip: schoolZip(s)),
            phone: phone(-1 - s))
    }

    private func apiStudent(_ student: StudentRecord, index: Int) -> API.User {
        let school = student.school.cleverID ?? ""
        return API.User(
            id: student.cleverID ?? "", district: districtID, email: student.email,
            name: API.Name(first: student.firstName, middle: student.middleName, last: student.lastName),
            roles: API.Roles(
                student: API.StudentRole(
                    sis_id: student.sisID, school: school, schools: [school], grade: student.grade,
                    dob: student.dateOfBirth, student_number: student.studentNumber, state_id: student.stateID,
                    gender: gender(ofStudent: index),
                    credentials: API.Credentials(district_username: Self.username(student.email)))))
    }

    private func apiTeacher(_ teacher: TeacherRecord) -> API.User {
        let school = teacher.school.cleverID ?? ""
        return API.User(
            id: teacher.cleverID ?? "", district: districtID, email: teacher.email,
            name: API.Name(first: teacher.firstName, middle: teacher.middleName, last: teacher.lastName),
            roles: API.Roles(
                teacher: API.TeacherRole(
                    sis_id: teacher.sisID, school: school,
                    schools: [school] + teacher.otherSchools.compactMap(\.cleverID),
                    teacher_number: teacher.teacherNumber, state_id: teacher.stateID, title: teacher.title,
                    credentials: API.Credentials(district_username: Self.username(teacher.email)))))
    }

    private func apiSection(_ s: Int) -> API.Section {
        let section = section(at: s)
        let teachers = section.teachers.compactMap(\.cleverID)
        return API.Section(
            id: cleverID(.section, s), district: districtID, sis_id: section.sisID,
            school: section.school.cleverID ?? "", term_id: section.term.cleverID, name: section.name,
            grade: section.grade, subject: section.subject, section_number: section.sectionNumber,
            period: section.period,
            course: cleverID(.course, Self.courseIndex(rank: cohortGradeRank(s / Self.sectionsPerCohort), s % Self.sectionsPerCohort)),
            teacher: teachers.first, teachers: teachers,
            students: studentIndices(inSection: s).map { cleverID(.student, $0) })
    }

    private func apiTerm(_ term: TermRecord) -> API.Term {
        API.Term(
            id: term.cleverID ?? "", district: districtID, name: term.name,
            start_date: term.startDate, end_date: term.endDate)
    }
}
