public import RosterModel

extension SyntheticDistrict {
    /// One fixed term of the demo school year; dates are fixed (not relative to today) so the
    /// demo district and its tests never drift.
    struct Term {
        let name: String
        let start: String
        let end: String
    }

    static let terms = [
        Term(name: "Fall 2026", start: "2026-08-24", end: "2027-01-15"),
        Term(name: "Spring 2027", start: "2027-01-19", end: "2027-06-11"),
        Term(name: "2025-2026 School Year", start: "2025-08-25", end: "2026-06-12"),
    ]

    // MARK: - Records by index

    public func school(at s: Int) -> SchoolRecord {
        let level = level(ofSchool: s)
        return SchoolRecord(
            source: .api("schools", id: cleverID(.school, s)), sisID: schoolSISID(s), cleverID: cleverID(.school, s),
            name: schoolName(s), schoolNumber: String(s + 1), stateID: "ST-\(700_000 + s)",
            lowGrade: level.lowGrade, highGrade: level.highGrade)
    }

    public func teacher(at t: Int) -> TeacherRecord {
        let person = person(key: 2 * t + 1, changedIndex: t, isStudent: false)
        return TeacherRecord(
            source: .api("users", id: cleverID(.teacher, t)), sisID: teacherSISID(t), cleverID: cleverID(.teacher, t),
            school: schoolRef(teacherSchool(t)), otherSchools: otherSchools(ofTeacher: t).map(schoolRef),
            email: person.email, firstName: person.first, middleName: person.middle, lastName: person.last,
            title: teacherTitle(t), teacherNumber: "E\(10_000 + t)", stateID: "TX\(String(80_000_000 + t))")
    }

    /// The student at a slot, or nil when the next-night variant removed them.
    public func student(at i: Int) -> StudentRecord? {
        guard i >= 0, i < studentSlots, !isRemoved(student: i) else { return nil }
        let rank = gradeRank(ofStudent: i)
        let person = person(key: 2 * i, changedIndex: i, isStudent: true)
        // Pre-K and TK children have no district email; a few older students lack one too.
        let hasEmail = rank >= 0 && SplitMix.pick(seed, Stream.email, i, below: 40) != 0
        return StudentRecord(
            source: .api("users", id: cleverID(.student, i)), sisID: studentSISID(i), cleverID: cleverID(.student, i),
            school: schoolRef(cohortSchool(cohort(ofStudent: i))), email: hasEmail ? person.email : nil,
            firstName: person.first, middleName: person.middle, lastName: person.last,
            grade: Grade(rank: rank)?.cleverWord, dateOfBirth: dateOfBirth(student: i, gradeRank: rank),
            studentNumber: String(200_000 + i), stateID: String(4_000_000_000 + i))
    }

    public func term(at index: Int) -> TermRecord {
        let term = Self.terms[min(max(0, index), Self.terms.count - 1)]
        return TermRecord(
            source: .api("terms", id: cleverID(.term, index)), sisID: termSISID(index),
            cleverID: cleverID(.term, index), name: term.name, startDate: term.start, endDate: term.end)
    }

    public func section(at s: Int) -> SectionRecord {
        let cohort = s / Self.sectionsPerCohort
        let rank = cohortGradeRank(cohort)
        let course = course(section: s)
        let period = String(s % Self.sectionsPerCohort + 1)
        return SectionRecord(
            source: .api("sections", id: cleverID(.section, s)), sisID: sectionSISID(s), cleverID: cleverID(.section, s),
            school: schoolRef(cohortSchool(cohort)), term: termRef(termIndex(ofSection: s)),
            name: "\(course.name) - Period \(period)", sectionNumber: String(s + 1),
            grade: Grade(rank: rank)?.cleverWord, subject: course.subject, courseName: course.name,
            courseNumber: course.number, period: period, teachers: teacherIndices(ofSection: s).map(teacherRef))
    }

    /// The enrollments of one section, in student order.
    public func enrollments(inSection s: Int) -> [EnrollmentRecord] {
        let section = Ref(sisID: sectionSISID(s), cleverID: cleverID(.section, s))
        return studentIndices(inSection: s).map { i in
            EnrollmentRecord(
                source: .api("sections", id: cleverID(.section, s)), section: section,
                student: Ref(sisID: studentSISID(i), cleverID: cleverID(.student, i)))
        }
    }

    // MARK: - SIS ids and references

    public func schoolSISID(_ s: Int) -> String { String(100 + s) }
    public func teacherSISID(_ t: Int) -> String { "T\(100_000 + t)" }
    public func studentSISID(_ i: Int) -> String { String(1_000_000 + i) }
    public func sectionSISID(_ s: Int) -> String { "SEC-\(100_000 + s)" }
    /// The term's SIS id is the one Clever's CSV files imply (name|start|end), so a district read
    /// from the API and from CSV files names its terms the same way.
    public func termSISID(_ index: Int) -> String {
        let term = Self.terms[min(max(0, index), Self.terms.count - 1)]
        return TermRecord.derivedSISID(name: term.name, start: term.start, end: term.end)
    }

    func schoolRef(_ s: Int) -> Ref { Ref(sisID: schoolSISID(s), cleverID: cleverID(.school, s)) }
    func teacherRef(_ t: Int) -> Ref { Ref(sisID: teacherSISID(t), cleverID: cleverID(.teacher, t)) }
    func termRef(_ index: Int) -> Ref { Ref(sisID: termSISID(index), cleverID: cleverID(.term, index)) }

    /// Even sections run in the fall, odd ones in the spring; every 23rd section is a class from
    /// last year's ended term that the SIS still exports.
    func termIndex(ofSection s: Int) -> Int {
        if s % 23 == 4 { return 2 }
        return s % 2
    }

    // MARK: - Details

    func schoolName(_ s: Int) -> String {
        let stems = Names.schoolStems
        let offset = SplitMix.pick(seed, Stream.schoolName, 0, below: stems.count)
        let stem = stems[(s + offset) % stems.count]
        let suffix =
            switch level(ofSchool: s) {
            case .elementary: "Elementary School"
            case .middle: "Middle School"
            case .high: "High School"
            }
        let lap = s / stems.count
        return lap == 0 ? "\(stem) \(suffix)" : "\(stem) \(suffix) \(lap + 1)"
    }

    /// Principals are not synced; counting keys down from the last name pair keeps their emails
    /// plain without a lookup.
    func principal(ofSchool s: Int) -> Person {
        person(key: Names.pairCount - 1 - s % Names.pairCount, changedIndex: -1, isStudent: false)
    }

    func schoolAddress(_ s: Int) -> String {
        "\(100 + SplitMix.pick(seed, Stream.details, s, below: 9_800)) School Road"
    }

    func schoolZip(_ s: Int) -> String { String(95_000 + s % 900) }

    func gender(ofStudent i: Int) -> String {
        ["F", "M", "F", "M", "X"][SplitMix.pick(seed, Stream.details &+ 1, i, below: 5)]
    }

    func phone(_ n: Int) -> String {
        let digits = String(1_000_000 + SplitMix.pick(seed, Stream.details &+ 20, n, below: 8_999_999))
        return "(555) \(digits.dropFirst().prefix(3))-\(digits.suffix(4))"
    }

    /// The login name districts usually derive from the email.
    static func username(_ email: String?) -> String? { email.map { String($0.prefix { $0 != "@" }) } }

    func teacherTitle(_ t: Int) -> String {
        guard t >= cohortCount else { return "Teacher" }
        let titles = ["Reading Specialist", "Special Education Teacher", "ELL Specialist", "Instructional Coach"]
        return titles[(t - cohortCount) % titles.count]
    }

    struct Course {
        let name: String
        let number: String
        let subject: String
    }

    func course(section s: Int) -> Course { course(Self.courseIndex(rank: cohortGradeRank(s / Self.sectionsPerCohort), s % Self.sectionsPerCohort)) }

    /// Courses are one per grade rank (0 to 12) and place in its cohort's sections.
    static let courseCount = 13 * sectionsPerCohort

    static func courseIndex(rank: Int, _ k: Int) -> Int { rank * sectionsPerCohort + k }

    func course(_ index: Int) -> Course {
        let rank = index / Self.sectionsPerCohort
        let k = index % Self.sectionsPerCohort
        let grade = rank == 0 ? "Kindergarten" : "Grade \(rank)"
        switch Level(gradeRank: rank) {
        case .elementary:
            let courses = [
                ("Homeroom", "homeroom/advisory"), ("Math", "math"), ("English Language Arts", "english/language arts"),
                ("Science", "science"), ("Art & Music", "arts and music"),
            ]
            return Course(name: "\(grade) \(courses[k].0)", number: "E\(rank)\(k)", subject: courses[k].1)
        case .middle:
            let courses = [
                ("Math \(rank)", "math"), ("English \(rank)", "english/language arts"), ("Science \(rank)", "science"),
                ("World History", "social studies"), ("PE & Health", "PE and health"),
            ]
            return Course(name: courses[k].0, number: "M\(rank)\(k)", subject: courses[k].1)
        case .high:
            let math = ["Algebra I", "Geometry", "Algebra II", "Pre-Calculus"][max(0, min(3, rank - 9))]
            let science = ["Biology", "Chemistry", "Physics", "Environmental Science"][max(0, min(3, rank - 9))]
            let courses = [
                (math, "math"), ("English \(rank)", "english/language arts"), (science, "science"),
                (rank == 11 ? "U.S. History" : "Social Studies \(rank)", "social studies"),
                ("Español \(rank - 8)", "language"),
            ]
            return Course(name: courses[k].0, number: "H\(rank)\(k)", subject: courses[k].1)
        }
    }

    /// Born in the school year matching the grade (a 1st grader of 2026-2027 was born
    /// Sep 2019 - Aug 2020), as Clever sends it: MM/DD/YYYY.
    func dateOfBirth(student i: Int, gradeRank rank: Int) -> String {
        let month = 1 + SplitMix.pick(seed, Stream.birth, i, below: 12)
        let day = 1 + SplitMix.pick(seed, Stream.birth &+ 1, i, below: 28)
        let year = month >= 9 ? 2020 - rank : 2021 - rank
        return "\(month < 10 ? "0" : "")\(month)/\(day < 10 ? "0" : "")\(day)/\(year)"
    }

    struct Person {
        var first: String
        var middle: String?
        var last: String
        var email: String
    }

    /// A person's name and email. Keys below the number of name pairs get distinct
    /// (first, last) pairs through a seeded permutation, so small districts have plain
    /// `first.last@domain` emails that never collide; larger ones add a numeric suffix.
    func person(key: Int, changedIndex: Int, isStudent: Bool) -> Person {
        let pairs = Names.pairCount
        // Multiplying by a number coprime with `pairs` is a bijection on 0 ..< pairs.
        let multiplier = 7_919
        let offset = SplitMix.pick(seed, Stream.namePermutation, 0, below: pairs)
        let pair = ((key % pairs) * multiplier + offset) % pairs
        let first = Names.first[pair % Names.first.count]
        var last = Names.last[pair / Names.first.count]
        let lap = key / pairs
        var local = "\(first.ascii).\(last.ascii)" + (lap == 0 ? "" : ".\(lap)")
        let middle =
            SplitMix.pick(seed, Stream.middle, key, below: 3) == 0
            ? Names.middleInitials[SplitMix.pick(seed, Stream.middle &+ 1, key, below: Names.middleInitials.count)]
            : nil
        let stream = isStudent ? Stream.changed : Stream.changed &+ 1
        if nextNight.changedFraction > 0, SplitMix.unit(seed, stream, changedIndex) < nextNight.changedFraction {
            // A changed record either has a new last name (and email) or only a new email; the
            // `-N` form never occurs in base emails, so a changed email collides with nobody.
            if SplitMix.hash(seed, stream &+ 2, changedIndex) % 2 == 0 {
                last = Names.last[(pair / Names.first.count + 1) % Names.last.count]
                local = "\(first.ascii).\(last.ascii)-\(key)"
            } else {
                local = "\(first.ascii.prefix(1)).\(last.ascii)-\(key)"
            }
        }
        return Person(first: first.display, middle: middle, last: last.display, email: "\(local)@\(emailDomain)")
    }
}
