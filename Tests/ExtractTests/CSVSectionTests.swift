import CleverExtract
import Foundation
import RosterModel
import Testing

@Suite("CSV sections and terms")
struct CSVSectionTests {
    static let sections = """
        School_id,Section_id,Teacher_3_id,Teacher_id,Name,Teacher_2_id,Term_name,Term_start,Term_end,Grade
        SCH1,SEC1,T3,T1,Math,T2,Fall 2024,08/20/2024,12/20/2024,3
        SCH1,SEC2,,T4,Art,T5,Fall 2024,08/20/2024,12/20/2024,
        SCH1,SEC3,T6,T7,Music,,Spring 2025,01/06/2025,05/30/2025,K
        SCH1,SEC4,,,Study hall,, ,  ,,
        SCH1,,T1,T1,No id,,Summer 2025,06/01/2025,07/30/2025,

        """

    @Test("teacher columns become teachers in Teacher_id, Teacher_2_id ... order, blank cells kept in place")
    func teacherOrder() async throws {
        let folder = try CSVFolder(["sections.csv": Self.sections])
        defer { folder.remove() }
        let result = try await folder.source().read(.sections)
        // Blanks stay where they are (the transform drops them): a blank Teacher_id must not
        // make Teacher_2_id the primary.
        #expect(result.sections.map(\.teachers) == [
            [.sis("T1"), .sis("T2"), .sis("T3")], [.sis("T4"), .sis("T5"), Ref()], [.sis("T7"), Ref(), .sis("T6")],
            [Ref(), Ref(), Ref()],
        ])
        #expect(result.sections.map(\.grade) == ["3", nil, "K", nil])
        #expect(result.rejections.map(\.reason) == [.missingRequiredField])
        #expect(result.rejections.first?.source == .csv("sections.csv", line: 6))
    }

    @Test("each distinct term is yielded once, and sections refer to it by the same derived id; term cells of spaces are no term")
    func termsOnce() async throws {
        let folder = try CSVFolder(["sections.csv": Self.sections])
        defer { folder.remove() }
        let source = folder.source()
        let terms = try await source.read(.terms)
        let fall = TermRecord.derivedSISID(name: "Fall 2024", start: "08/20/2024", end: "12/20/2024")
        let spring = TermRecord.derivedSISID(name: "Spring 2025", start: "01/06/2025", end: "05/30/2025")
        #expect(terms.terms.map(\.sisID) == [fall, spring])
        #expect(terms.terms.first == TermRecord(
            source: .csv("sections.csv", line: 2), sisID: fall, name: "Fall 2024", startDate: "08/20/2024",
            endDate: "12/20/2024"))
        #expect(terms.rejections.isEmpty, "rejections are reported once, by the sections feed")

        let sections = try await source.read(.sections)
        #expect(sections.sections.map(\.term) == [.sis(fall), .sis(fall), .sis(spring), Ref()])
    }

    @Test("a teacher at several schools is one record per row")
    func teacherAtSeveralSchools() async throws {
        let folder = try CSVFolder([
            "teachers.csv": """
                School_id,Teacher_id,Last_name,First_name,Teacher_email,Title
                SCH1,T1,Hopper,Grace,grace@school.org,Rear Admiral
                SCH2,T1,Hopper,Grace,grace@school.org,

                """
        ])
        defer { folder.remove() }
        let teachers = try await folder.source().read(.teachers).teachers
        #expect(teachers.map(\.sisID) == ["T1", "T1"])
        #expect(teachers.map(\.school) == [.sis("SCH1"), .sis("SCH2")])
        #expect(teachers.map(\.title) == ["Rear Admiral", nil])
    }

    @Test("schools map their columns")
    func schools() async throws {
        let folder = try CSVFolder()
        defer { folder.remove() }
        let schools = try await folder.source().read(.schools).schools
        #expect(schools == [
            SchoolRecord(source: .csv("schools.csv", line: 2), sisID: "SCH1", name: "Lincoln", lowGrade: "K", highGrade: "5")
        ])
    }
}
