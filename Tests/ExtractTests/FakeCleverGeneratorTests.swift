import CleverExtract
@testable import FakeClever
import Foundation
import RosterModel
import Testing

@Suite("FakeClever synthetic district")
struct FakeCleverGeneratorTests {
    func writeCSV(_ district: SyntheticDistrict) throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appending(path: "fake-clever-\(UUID().uuidString)")
        try CleverCSVWriter(district: district).write(to: folder)
        return folder
    }

    func files(_ folder: URL) throws -> [String: Data] {
        var result: [String: Data] = [:]
        for name in CleverCSVWriter.fileNames { result[name] = try Data(contentsOf: folder.appending(path: name)) }
        return result
    }

    @Test("same seed, same files; another seed, other files")
    func determinism() throws {
        let a = try writeCSV(SyntheticDistrict(students: 700, seed: 42))
        let b = try writeCSV(SyntheticDistrict(students: 700, seed: 42))
        let c = try writeCSV(SyntheticDistrict(students: 700, seed: 43))
        defer { for folder in [a, b, c] { try? FileManager.default.removeItem(at: folder) } }
        #expect(try files(a) == files(b))
        let (first, other) = (try files(a), try files(c))
        #expect(first["students.csv"] != other["students.csv"])
        #expect(first["teachers.csv"] != other["teachers.csv"])
        #expect(SyntheticDistrict(students: 700, seed: 42).cleverID(.student, 5)
            != SyntheticDistrict(students: 700, seed: 43).cleverID(.student, 5))
    }

    @Test("shape: schools, teachers, sections, 5 enrollments each, co-teaching, grades by school level")
    func shape() throws {
        let district = SyntheticDistrict(students: 5_000, seed: 9)
        #expect(district.schoolCount == 10)
        #expect(abs(district.teacherCount - 5_000 / 20) <= 10)
        #expect(district.sectionCount == 1_000)
        var enrollmentsPerStudent: [String: Int] = [:]
        var coTaught = 0
        var maxTeachers = 0
        for section in district.sections {
            if section.teachers.count > 1 { coTaught += 1 }
            maxTeachers = max(maxTeachers, section.teachers.count)
            #expect(Set(section.teachers).count == section.teachers.count)
        }
        for enrollment in district.enrollments { enrollmentsPerStudent[enrollment.student.sisID ?? "", default: 0] += 1 }
        #expect(enrollmentsPerStudent.count == 5_000)
        #expect(enrollmentsPerStudent.values.allSatisfy { $0 == 5 })
        #expect((60...140).contains(coTaught))
        #expect(maxTeachers <= 4)
        let schools = Dictionary(uniqueKeysWithValues: district.schools.map { ($0.sisID, $0) })
        var grades: Set<String> = []
        for student in district.students {
            let grade = try #require(student.grade)
            grades.insert(grade)
            let school = try #require(schools[student.school.sisID ?? ""])
            let rank = try #require(Grade.allGrades.first { $0.cleverWord == grade }?.rank)
            let low = try #require(Grade.allGrades.first { $0.cleverWord == school.lowGrade }?.rank)
            let high = try #require(Grade.allGrades.first { $0.cleverWord == school.highGrade }?.rank)
            #expect((low...high).contains(rank), "\(student.sisID) grade \(grade) at \(school.name)")
        }
        #expect(grades.isSuperset(of: ["PreKindergarten", "TransitionalKindergarten", "Kindergarten", "1", "12"]))
        let emails = district.students.compactMap(\.email) + district.teachers.compactMap(\.email)
        #expect(Set(emails).count == emails.count)
        #expect(district.students.filter { $0.email == nil }.count < 5_000 / 10)
        #expect(Set(district.sections.map(\.term.sisID)).count == 3)
    }

    @Test("next night: about the asked shares changed, removed and added, deterministically")
    func nextNight() {
        let base = SyntheticDistrict(students: 20_000, seed: 4)
        let next = base.nextNight(changed: 0.01, removed: 0.005, added: 0.005)
        let removed = (0..<20_000).filter { next.student(at: $0) == nil }.count
        #expect((60...140).contains(removed))
        #expect(next.studentSlots == 20_100)
        let changed = (0..<20_000).filter { i in
            guard let a = base.student(at: i), let b = next.student(at: i) else { return false }
            return a != b
        }.count
        #expect((120...280).contains(changed))
        #expect(next.student(at: 20_050)?.sisID == "1020050")
        #expect(next == base.nextNight(changed: 0.01, removed: 0.005, added: 0.005))
        #expect(next.student(at: 77) == base.nextNight(changed: 0.01, removed: 0.005, added: 0.005).student(at: 77))
    }

    @Test("CSV writer: exact Clever headers and RFC 4180 quoting")
    func csvWriter() throws {
        let folder = try writeCSV(SyntheticDistrict(students: 60, seed: 1))
        defer { try? FileManager.default.removeItem(at: folder) }
        let sections = try String(contentsOf: folder.appending(path: "sections.csv"), encoding: .utf8)
        #expect(sections.hasPrefix(
            "School_id,Section_id,Teacher_id,Teacher_2_id,Teacher_3_id,Teacher_4_id,Teacher_5_id,Teacher_6_id,"
                + "Teacher_7_id,Teacher_8_id,Teacher_9_id,Teacher_10_id,Name,Section_number,Grade,Course_name,"
                + "Course_number,Course_description,Period,Subject,Term_name,Term_start,Term_end\r\n"))
        let file = folder.appending(path: "quoting.csv")
        let writer = try CSVFileWriter(url: file)
        try writer.write(["plain", "a,b", "say \"hi\"", "two\nlines", nil, "José"])
        try writer.close()
        #expect(try String(contentsOf: file, encoding: .utf8) == "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",,José\r\n")
    }

    @Test("the generated CSV files read by the CSV source give the generator's SIS ids", arguments: Feed.allCases)
    func csvRoundTrip(feed: Feed) async throws {
        let district = SyntheticDistrict(students: 500, seed: 8)
        let folder = try writeCSV(district)
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = CleverCSVSource(directory: folder)
        try await source.check()
        let (all, _) = try await FakeCleverHarness.collect(source, feed)
        #expect(all.rejections.isEmpty)
        #expect(Self.keys(all.records) == Self.keys(AsAPI.records(of: district, feed).isEmpty ? [] : Self.generated(district, feed)))
    }

    static func generated(_ district: SyntheticDistrict, _ feed: Feed) -> [Record] {
        switch feed {
        case .schools: district.schools.map(Record.school)
        // The CSV lists a teacher at two schools twice.
        case .teachers: district.teachers.flatMap { t in ([t.school] + t.otherSchools).map { _ in Record.teacher(t) } }
        case .students: district.students.map(Record.student)
        case .terms: district.terms.map(Record.term)
        case .sections: district.sections.map(Record.section)
        case .enrollments: district.enrollments.map(Record.enrollment)
        }
    }

    /// SIS keys and the fields both sources carry, sorted.
    static func keys(_ records: [Record]) -> [String] {
        records.map { record in
            switch record {
            case .school(let r): "\(r.sisID)|\(r.name)|\(r.lowGrade ?? "")|\(r.highGrade ?? "")"
            case .teacher(let r): "\(r.sisID)|\(r.email ?? "")|\(r.firstName ?? "")|\(r.lastName ?? "")"
            case .student(let r):
                "\(r.sisID)|\(r.school.sisID ?? "")|\(r.email ?? "")|\(r.firstName ?? "")|\(r.lastName ?? "")|\(r.grade ?? "")|\(r.dateOfBirth ?? "")"
            case .term(let r): "\(r.sisID)|\(r.startDate ?? "")|\(r.endDate ?? "")"
            case .section(let r):
                // Blank teacher cells (kept in place by the CSV reader) are not teachers.
                "\(r.sisID)|\(r.school.sisID ?? "")|\(r.term.sisID ?? "")|\(r.teachers.compactMap(\.sisID))|\(r.name ?? "")"
            case .enrollment(let r): "\(r.section.sisID ?? "")|\(r.student.sisID ?? "")"
            }
        }.sorted()
    }
}
