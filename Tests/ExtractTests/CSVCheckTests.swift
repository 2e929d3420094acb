import CleverExtract
import Foundation
import RosterModel
import Testing

@Suite("CSV check")
struct CSVCheckTests {
    @Test("a valid folder passes, with or without admins.csv")
    func valid() async throws {
        let plain = try CSVFolder()
        defer { plain.remove() }
        try await plain.source().check()
        let withAdmins = try CSVFolder(["admins.csv": "School_id,Staff_id,Admin_email,Role\n"])
        defer { withAdmins.remove() }
        try await withAdmins.source().check()
        // Every column of Clever's students.csv is known, Graduation_year included.
        let graduation = try CSVFolder([
            "students.csv": "School_id,Student_id,Last_name,First_name,Grade,Student_email,Graduation_year\n"
                + "SCH1,S1,Lovelace,Ada,9,ada@example.org,2030\n"
        ])
        defer { graduation.remove() }
        try await graduation.source().check()
        #expect(try await graduation.source().read(.students).students.map(\.sisID) == ["S1"])
    }

    struct HeaderCase: Sendable, CustomTestStringConvertible {
        let label: String
        let file: String
        let header: String
        /// Every one of these must appear in the error's description.
        let mentions: [String]
        var testDescription: String { label }
    }

    static let headerCases: [HeaderCase] = [
        HeaderCase(
            label: "missing required column", file: "students.csv",
            header: "School_id,Last_name,First_name,Grade,Student_email",
            mentions: ["students.csv", "required column \"Student_id\" is missing"]),
        HeaderCase(
            label: "unknown column", file: "teachers.csv",
            header: "School_id,Teacher_id,Last_name,First_name,Teacher_email,Shoe_size",
            mentions: ["teachers.csv", "unknown column \"Shoe_size\" (column 6)"]),
        HeaderCase(
            label: "wrong case", file: "sections.csv", header: "School_id,Section_ID,Section_id,Teacher_id,Name",
            mentions: ["sections.csv", "\"Section_ID\"", "rename it to \"Section_id\""]),
        HeaderCase(
            label: "zero-width space", file: "enrollments.csv", header: "School_id,Section\u{200B}_id,Student_id",
            mentions: [
                "enrollments.csv", "column 2", "zero-width space (U+200B) at character 8", "Section<U+200B>_id",
                "required column \"Section_id\" is missing",
            ]),
        HeaderCase(
            label: "no-break space", file: "schools.csv", header: "School_id,School_name\u{00A0}",
            mentions: ["schools.csv", "column 2", "no-break space (U+00A0) at character 12"]),
        HeaderCase(
            label: "control character", file: "schools.csv", header: "School_id,School\u{0007}_name",
            mentions: ["schools.csv", "column 2", "control character (U+0007)"]),
        HeaderCase(
            label: "leading space", file: "schools.csv", header: "School_id, School_name",
            mentions: ["schools.csv", "column 2", "starts with a space"]),
        HeaderCase(
            label: "duplicate column", file: "enrollments.csv", header: "School_id,Section_id,Student_id,Student_id",
            mentions: ["enrollments.csv", "\"Student_id\" appears twice (columns 3 and 4)"]),
        HeaderCase(
            label: "bad optional admins.csv", file: "admins.csv", header: "School_id,Staff_id,Email",
            mentions: ["admins.csv", "unknown column \"Email\"", "required column \"Admin_email\" is missing"]),
    ]

    @Test("header errors name the file and the column", arguments: headerCases)
    func badHeader(_ c: HeaderCase) async throws {
        let folder = try CSVFolder([c.file: c.header + "\n" + String(repeating: ",", count: 5) + "\n"])
        defer { folder.remove() }
        let error = try #require(await #expect(throws: ExtractError.self) { try await folder.source().check() })
        #expect(error.code == .badHeader)
        #expect(error.context == "\(c.file):1")
        for mention in c.mentions {
            #expect(error.description.contains(mention), "\(error.description)")
        }
    }

    @Test("a header after blank lines is named by its own line")
    func headerAfterBlankLines() async throws {
        let folder = try CSVFolder(["enrollments.csv": "\n\nSchool_id,Section_id,Student_ID\nSCH1,SEC1,S1\n"])
        defer { folder.remove() }
        let error = try #require(await #expect(throws: ExtractError.self) { try await folder.source().check() })
        #expect(error.code == .badHeader)
        #expect(error.context == "enrollments.csv:3")
    }

    @Test("the feed stream throws the same header error")
    func streamChecksHeader() async throws {
        let folder = try CSVFolder(["students.csv": "School_id,Student_id\nSCH1,S1\n"])
        defer { folder.remove() }
        let error = try #require(await #expect(throws: ExtractError.self) { _ = try await folder.source().read(.students) })
        #expect(error.code == .badHeader)
    }

    @Test("a missing required file", arguments: ["schools.csv", "teachers.csv", "students.csv", "sections.csv", "enrollments.csv"])
    func missingFile(name: String) async throws {
        let folder = try CSVFolder([name: nil])
        defer { folder.remove() }
        let error = try #require(await #expect(throws: ExtractError.self) { try await folder.source().check() })
        #expect(error.code == .missingFile)
        #expect(error.description.contains(name))
        #expect(error.isUsageError)
    }

    @Test("a file with a header and no rows, or with nothing at all", arguments: [
        ("students.csv", "School_id,Student_id,Last_name,First_name,Grade,Student_email\n\n"),
        ("sections.csv", "School_id,Section_id,Teacher_id,Name"),
        ("enrollments.csv", ""),
    ])
    func emptyFile(name: String, text: String) async throws {
        let folder = try CSVFolder([name: text])
        defer { folder.remove() }
        let error = try #require(await #expect(throws: ExtractError.self) { try await folder.source().check() })
        #expect(error.code == .emptyFile)
        #expect(error.description.contains(name))
        let feed: Feed = name == "students.csv" ? .students : name == "sections.csv" ? .sections : .enrollments
        let streamError = try #require(await #expect(throws: ExtractError.self) { _ = try await folder.source().read(feed) })
        #expect(streamError.code == .emptyFile)
    }

    @Test("a folder that does not exist, or is a file, is unreadable")
    func unreadableFolder() async throws {
        let missing = CleverCSVSource(directory: URL(filePath: "/nonexistent/rostersync-\(UUID().uuidString)"))
        let error = try #require(await #expect(throws: ExtractError.self) { try await missing.check() })
        #expect(error.code == .unreadable)

        let folder = try CSVFolder()
        defer { folder.remove() }
        let notAFolder = CleverCSVSource(directory: folder.url.appending(path: "schools.csv"))
        let fileError = try #require(await #expect(throws: ExtractError.self) { try await notAFolder.check() })
        #expect(fileError.code == .unreadable)
        #expect(fileError.description.contains("not a folder"))
    }

    @Test("the description names the folder")
    func description() {
        #expect(CleverCSVSource(directory: URL(filePath: "/data/district")).description == "csv:/data/district")
    }
}
