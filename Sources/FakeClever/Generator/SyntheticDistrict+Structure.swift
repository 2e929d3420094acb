/// The closed-form layout of a district: which school and grade a class belongs to, who teaches
/// which section. Everything here is arithmetic on indices so no lookup table is ever built.
extension SyntheticDistrict {
    /// School levels; school `s` has level `s % 3`, so every district has all three.
    enum Level: Int {
        case elementary = 0
        case middle = 1
        case high = 2

        init(gradeRank: Int) {
            self = gradeRank <= 5 ? .elementary : gradeRank <= 8 ? .middle : .high
        }

        /// The cohort grade ranks of this level, in ``SyntheticDistrict/cohortGradeOrder`` positions.
        var gradeRanks: [Int] {
            switch self {
            case .elementary: [0, 1, 2, 3, 4, 5]
            case .middle: [6, 7, 8]
            case .high: [9, 10, 11, 12]
            }
        }

        var lowGrade: String {
            switch self {
            case .elementary: "PreKindergarten"
            case .middle: "6"
            case .high: "9"
            }
        }

        var highGrade: String {
            switch self {
            case .elementary: "5"
            case .middle: "8"
            case .high: "12"
            }
        }
    }

    func level(ofSchool s: Int) -> Level { Level(rawValue: s % 3) ?? .elementary }

    /// Schools of one level: `level, level + 3, level + 6, ...` below the school count.
    func schoolCount(of level: Level) -> Int { (schoolCount - level.rawValue + 2) / 3 }

    func cohortGradeRank(_ cohort: Int) -> Int { Self.cohortGradeOrder[cohort % Self.cohortGradeOrder.count] }

    /// Cohorts are made in rounds of 13 (one per grade); round `r` of a level goes to the level's
    /// `r % count`-th school, spreading classes evenly over schools of the right level.
    func cohortSchool(_ cohort: Int) -> Int {
        let level = Level(gradeRank: cohortGradeRank(cohort))
        let round = cohort / Self.cohortGradeOrder.count
        return level.rawValue + 3 * (round % max(1, schoolCount(of: level)))
    }

    /// The cohort of the same round teaching grade `rank`, if it exists.
    func cohort(inRoundOf cohort: Int, gradeRank rank: Int) -> Int? {
        guard let position = Self.cohortGradeOrder.firstIndex(of: rank) else { return nil }
        let candidate = (cohort / Self.cohortGradeOrder.count) * Self.cohortGradeOrder.count + position
        return candidate < cohortCount ? candidate : nil
    }

    /// The cohort of a student slot: base students fill classes in order; added students join
    /// existing classes round-robin.
    func cohort(ofStudent i: Int) -> Int {
        i < baseStudentCount ? i / Self.cohortSize : (i - baseStudentCount) % max(1, cohortCount)
    }

    /// The student's seat in the class, used to place a few pre-K and TK children.
    func seat(ofStudent i: Int) -> Int {
        i < baseStudentCount ? i % Self.cohortSize : Self.cohortSize + (i - baseStudentCount) / max(1, cohortCount)
    }

    func gradeRank(ofStudent i: Int) -> Int {
        let rank = cohortGradeRank(cohort(ofStudent: i))
        guard rank == 0 else { return rank }
        switch seat(ofStudent: i) % 12 {
        case 5: return -2  // pre-K
        case 11: return -1  // transitional K
        default: return 0
        }
    }

    func isRemoved(student i: Int) -> Bool {
        i < baseStudentCount && nextNight.removedFraction > 0
            && SplitMix.unit(seed, Stream.removed, i) < nextNight.removedFraction
    }

    /// Present students of a section, in index order: the class, minus leavers, plus newcomers.
    public func studentIndices(inSection section: Int) -> [Int] {
        let cohort = section / Self.sectionsPerCohort
        let start = cohort * Self.cohortSize
        let end = min(start + Self.cohortSize, baseStudentCount)
        var result = (start..<end).filter { !isRemoved(student: $0) }
        var added = cohort
        while added < addedStudentCount {
            result.append(baseStudentCount + added)
            added += cohortCount
        }
        return result
    }

    /// Homeroom teacher `t` leads cohort `t`; specialists follow, specialist `e` works at school
    /// `e % schoolCount`.
    func teacherSchool(_ t: Int) -> Int {
        t < cohortCount ? cohortSchool(t) : (t - cohortCount) % schoolCount
    }

    /// Teacher indices of a section: primary first, then co-teachers.
    func teacherIndices(ofSection section: Int) -> [Int] {
        let cohort = section / Self.sectionsPerCohort
        let k = section % Self.sectionsPerCohort
        let rank = cohortGradeRank(cohort)
        let level = Level(gradeRank: rank)
        // Elementary homeroom teachers teach their own class everything; middle and high school
        // teachers teach their subject across the grades of their school.
        var primary = cohort
        if level != .elementary, let position = level.gradeRanks.firstIndex(of: rank) {
            let otherRank = level.gradeRanks[(position + k) % level.gradeRanks.count]
            primary = self.cohort(inRoundOf: cohort, gradeRank: otherRank) ?? cohort
        }
        var result = [primary]
        guard SplitMix.pick(seed, Stream.coteach, section, below: 10) == 0 else { return result }
        let wanted = 1 + SplitMix.pick(seed, Stream.coteach &+ 100, section, below: 3)
        var candidates: [Int] = []
        let school = cohortSchool(cohort)
        let perSchool = (specialistCount - school + schoolCount - 1) / schoolCount
        if perSchool > 0 {
            let round = cohort / Self.cohortGradeOrder.count
            candidates.append(cohortCount + school + schoolCount * (round % perSchool))
        }
        for other in level.gradeRanks {
            if let c = self.cohort(inRoundOf: cohort, gradeRank: other) { candidates.append(c) }
        }
        for candidate in candidates where result.count <= wanted && !result.contains(candidate) {
            result.append(candidate)
        }
        return result
    }

    /// Specialists every 7th (from the 2nd) also work at the next school.
    func otherSchools(ofTeacher t: Int) -> [Int] {
        guard t >= cohortCount, (t - cohortCount) % 7 == 1 else { return [] }
        let primary = teacherSchool(t)
        let other = (primary + 1) % schoolCount
        return other == primary ? [] : [other]
    }
}
