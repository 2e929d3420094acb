import RosterModel

/// Turns the current row of a ``CSVParser`` into a record of one feed.
///
/// Column positions are looked up once per file, not once per row. Only the columns a record
/// uses become `String`s; the rest (passwords, contacts) are checked for UTF-8 and left as bytes.
struct CSVRowMapper {
    /// A row is a record, or a rejection when it lacks the id that keys it.
    enum Mapped {
        case record(Record)
        case rejected(Rejection)
    }

    typealias Mapping = (Row) -> Mapped

    /// The current row, with the file and entity a rejection needs.
    struct Row {
        let parser: CSVParser
        let entity: Entity
        var source: SourceRef { .csv(parser.fileName, line: parser.line) }

        /// The cell at `position` as sent (read as Windows-1252 when it is not UTF-8, which the
        /// reader reports); nil when the column is absent or the cell is empty.
        subscript(position: Int?) -> String? {
            guard let position else { return nil }
            let field = parser.fields[position]
            guard field.end > field.start else { return nil }
            return parser.string(at: position) ?? parser.windows1252(at: position)
        }

        /// A reference by SIS id, empty when the cell is.
        func ref(_ position: Int?) -> Ref {
            self[position].map(Ref.sis) ?? Ref()
        }

        /// The id in a required column; nil when blank.
        func id(_ position: Int?) -> String? {
            guard let value = self[position] else { return nil }
            // ASCII first: a Character walk per id costs more than the rest of the row.
            for byte in value.utf8 where !(byte == 0x20 || (0x09...0x0D).contains(byte)) {
                if byte < 0x80 { return value }
                return value.contains(where: { !$0.isWhitespace }) ? value : nil
            }
            return nil
        }

        /// A row without the id that keys it is rejected here: a record needs a SIS id.
        func missing(_ column: String) -> Mapped {
            .rejected(
                Rejection(
                    entity: entity, source: source, reason: .missingRequiredField,
                    detail: "\(column) is empty; every row needs one"))
        }

        /// A row with its own id but not its school's: unreadable, keyed by its id, so the merge
        /// holds the record as it is. Loaded, it would name a school no feed lists, and the merge
        /// would archive the student or class, or suspend the teacher, as an unknown reference.
        func missingSchool(_ column: String, of sisID: String) -> Mapped {
            .rejected(
                Rejection(
                    entity: entity, source: source, recordKey: Identifier.trimmed(sisID), reason: .missingRequiredField,
                    detail: "\(column) is empty; every row needs one"))
        }
    }

    let feed: Feed
    private let mapping: Mapping
    private let header: CSVHeader
    /// The positions of the columns a record of this feed is made from.
    let readColumns: Set<Int>

    init(feed: Feed, header: CSVHeader) {
        self.feed = feed
        self.header = header
        let columns = Columns(header)
        switch feed {
        case .schools: mapping = Self.schools(columns)
        case .teachers: mapping = Self.teachers(columns)
        case .students: mapping = Self.students(columns)
        case .terms, .sections: mapping = Self.sections(columns)
        case .enrollments: mapping = Self.enrollments(columns)
        }
        readColumns = columns.read
    }

    /// The header's positions, noting each column a mapping asks for: what the mapping reads is
    /// then known from the mapping itself, not from a list kept beside it.
    final class Columns {
        private let header: CSVHeader
        private(set) var read: Set<Int> = []

        init(_ header: CSVHeader) { self.header = header }

        subscript(column: String) -> Int? {
            let position = header[column]
            if let position { read.insert(position) }
            return position
        }
    }

    func record(from parser: CSVParser) -> Mapped {
        mapping(Row(parser: parser, entity: feed == .terms ? .section : feed.entity))
    }

    /// The keys of a row that cannot be mapped (the wrong number of fields), read from its id
    /// columns. The merge keeps those records as they are for the run instead of treating them as
    /// gone (migration 0011_unreadable_rows). The row gained or lost fields somewhere: after its id
    /// columns, the header's positions counted from the left find the id; before them (a stray
    /// comma in a name that comes first, in a file whose columns are not in Clever's order),
    /// counted from the right. Where the two readings differ, both are returned (0020): the wrong
    /// one keeps some other record, or none, one night, which is the safe side.
    func probableKeys(from parser: CSVParser) -> (key: String?, alternate: String?) {
        let row = Row(parser: parser, entity: feed.entity)
        let shift = parser.fields.count - header.columns.count
        func cell(_ column: String, _ shift: Int) -> String? {
            guard let column = header[column], column + shift >= 0, column + shift < parser.fields.count else { return nil }
            // Read and trimmed as the transform reads the ids it keys loadable rows by.
            return Identifier.trimmed(row[column + shift])
        }
        func key(_ shift: Int) -> String? {
            switch feed {
            case .schools: return cell("School_id", shift)
            case .teachers: return cell("Teacher_id", shift)
            case .students: return cell("Student_id", shift)
            case .sections: return cell("Section_id", shift)
            case .terms: return nil
            case .enrollments:
                guard let section = cell("Section_id", shift), let student = cell("Student_id", shift) else { return nil }
                return "\(section)/\(student)"
            }
        }
        let left = key(0)
        let right = shift == 0 ? left : key(shift)
        guard let left else { return (right, nil) }
        return (left, right == left ? nil : right)
    }

    /// The term a sections.csv row names, nil when its three term cells are empty. The SIS id is
    /// made from the raw cells, exactly as the row's section refers to it.
    static func term(from row: Row, header: CSVHeader) -> TermRecord? {
        term(from: row, columns: (header["Term_name"], header["Term_start"], header["Term_end"]))
    }

    static func term(from row: Row, columns: (name: Int?, start: Int?, end: Int?)) -> TermRecord? {
        // Cells of spaces are blank too: they would make a nameless, dateless term.
        guard row.id(columns.name) != nil || row.id(columns.start) != nil || row.id(columns.end) != nil else { return nil }
        let (name, start, end) = (row[columns.name], row[columns.start], row[columns.end])
        return TermRecord(
            source: row.source, sisID: TermRecord.derivedSISID(name: name, start: start, end: end), name: name,
            startDate: start, endDate: end)
    }

    // MARK: - One mapping per file

    private static func schools(_ h: Columns) -> Mapping {
        let (id, name, number, state) = (h["School_id"], h["School_name"], h["School_number"], h["State_id"])
        let (low, high) = (h["Low_grade"], h["High_grade"])
        return { row in
            guard let sisID = row.id(id) else { return row.missing("School_id") }
            return .record(
                .school(
                    SchoolRecord(
                        source: row.source, sisID: sisID, name: row[name] ?? "", schoolNumber: row[number],
                        stateID: row[state], lowGrade: row[low], highGrade: row[high])))
        }
    }

    private static func teachers(_ h: Columns) -> Mapping {
        let (school, id, number, state) = (h["School_id"], h["Teacher_id"], h["Teacher_number"], h["State_teacher_id"])
        let (first, middle, last) = (h["First_name"], h["Middle_name"], h["Last_name"])
        let (email, title) = (h["Teacher_email"], h["Title"])
        return { row in
            guard let sisID = row.id(id) else { return row.missing("Teacher_id") }
            guard row.id(school) != nil else { return row.missingSchool("School_id", of: sisID) }
            return .record(
                .teacher(
                    TeacherRecord(
                        source: row.source, sisID: sisID, school: row.ref(school), email: row[email],
                        firstName: row[first], middleName: row[middle], lastName: row[last], title: row[title],
                        teacherNumber: row[number], stateID: row[state])))
        }
    }

    private static func students(_ h: Columns) -> Mapping {
        let (school, id, number, state) = (h["School_id"], h["Student_id"], h["Student_number"], h["State_id"])
        let (first, middle, last) = (h["First_name"], h["Middle_name"], h["Last_name"])
        let (email, grade, dob) = (h["Student_email"], h["Grade"], h["DOB"])
        return { row in
            guard let sisID = row.id(id) else { return row.missing("Student_id") }
            guard row.id(school) != nil else { return row.missingSchool("School_id", of: sisID) }
            return .record(
                .student(
                    StudentRecord(
                        source: row.source, sisID: sisID, school: row.ref(school), email: row[email],
                        firstName: row[first], middleName: row[middle], lastName: row[last], grade: row[grade],
                        dateOfBirth: row[dob], studentNumber: row[number], stateID: row[state])))
        }
    }

    private static func sections(_ h: Columns) -> Mapping {
        let (school, id, name, number) = (h["School_id"], h["Section_id"], h["Name"], h["Section_number"])
        let (grade, subject, course, courseNumber) = (h["Grade"], h["Subject"], h["Course_name"], h["Course_number"])
        let period = h["Period"]
        let teachers = CSVFileSpec.teacherColumns.compactMap { h[$0] }
        let termColumns = (h["Term_name"], h["Term_start"], h["Term_end"])
        return { row in
            guard let sisID = row.id(id) else { return row.missing("Section_id") }
            guard row.id(school) != nil else { return row.missingSchool("School_id", of: sisID) }
            let term = Self.term(from: row, columns: termColumns)
            return .record(
                .section(
                    SectionRecord(
                        source: row.source, sisID: sisID, school: row.ref(school),
                        term: term.map { .sis($0.sisID) } ?? Ref(), name: row[name], sectionNumber: row[number],
                        grade: row[grade], subject: row[subject], courseName: row[course],
                        courseNumber: row[courseNumber], period: row[period],
                        // Blank cells too: the transform tells a blank primary from no teacher at all.
                        teachers: teachers.map { row[$0].map(Ref.sis) ?? Ref() })))
        }
    }

    private static func enrollments(_ h: Columns) -> Mapping {
        let (section, student) = (h["Section_id"], h["Student_id"])
        return { row in
            guard let sectionID = row.id(section) else { return row.missing("Section_id") }
            guard let studentID = row.id(student) else { return row.missing("Student_id") }
            return .record(
                .enrollment(EnrollmentRecord(source: row.source, section: .sis(sectionID), student: .sis(studentID))))
        }
    }
}
