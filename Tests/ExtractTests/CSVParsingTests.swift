@testable import CleverExtract
import Foundation
import RosterModel
import Testing

@Suite("CSV parsing")
struct CSVParsingTests {
    static let studentHeader = "School_id,Student_id,Last_name,First_name,Grade,Student_email"

    @Test("quoted fields keep commas and doubled quotes")
    func quoting() async throws {
        let folder = try CSVFolder([
            "students.csv": """
                \(Self.studentHeader)
                SCH1,S1,"Lovelace, Countess","Ada ""The Enchantress""\",3,ada@school.org
                "SCH1","S2","O'Brien","",4,""

                """
        ])
        defer { folder.remove() }
        let result = try await folder.source().read(.students)
        #expect(result.rejections.isEmpty)
        #expect(result.students.map(\.lastName) == ["Lovelace, Countess", "O'Brien"])
        #expect(result.students.map(\.firstName) == ["Ada \"The Enchantress\"", nil])
        #expect(result.students.map(\.email) == ["ada@school.org", nil])
    }

    @Test("CRLF line ends, a BOM and a last line without a newline")
    func crlfAndBOM() async throws {
        let folder = try CSVFolder()
        defer { folder.remove() }
        let text = "\u{FEFF}\(Self.studentHeader)\r\nSCH1,S1,Lovelace,Ada,3,ada@school.org\r\n\r\nSCH1,S2,Hopper,Grace,4,g@school.org"
        try folder.write("students.csv", Data(text.utf8))
        try await folder.source().check()
        let result = try await folder.source().read(.students)
        // Loaded; only marked, so that prepare can stop the run if the row were unloadable (a cut).
        #expect(result.rejections.map(\.reason) == [.noLineEnd])
        #expect(result.rejections.map(\.severity) == [.warning])
        #expect(result.rejections.map(\.source) == [.csv("students.csv", line: 4)])
        #expect(result.students.map(\.sisID) == ["S1", "S2"])
        #expect(result.students.map(\.school) == [.sis("SCH1"), .sis("SCH1")])
        #expect(result.students.map(\.email) == ["ada@school.org", "g@school.org"])
        #expect(result.students.map(\.source) == [.csv("students.csv", line: 2), .csv("students.csv", line: 4)])
    }

    @Test("embedded line breaks (a name typed with one, an address) load and keep later line numbers right")
    func embeddedNewline() async throws {
        let folder = try CSVFolder([
            "students.csv": """
                \(Self.studentHeader),Student_street
                SCH1,S1,Lovelace,Ada,3,ada@school.org,"12 Main St, Apt 4,
                Springfield, IL, 62701, USA"
                SCH1,S2,Hopper,Grace,4
                SCH1,S3,"Tur\r\ning",Alan,5,alan@school.org,

                """
        ])
        defer { folder.remove() }
        let result = try await folder.source().read(.students)
        #expect(result.students.map(\.sisID) == ["S1", "S3"])
        #expect(result.students.map(\.source.line) == [2, 5])
        #expect(result.students.last?.lastName == "Tur\r\ning")
        #expect(result.rejections.map(\.source.line) == [4])
    }

    @Test(
        "a quote closed in a later row, joining the rows between into one cell, fails the file naming the lines: they would be lost unseen",
        arguments: [
            // Another quoted cell closes the stray quote: one row of three fields.
            ("SCH1,S1,\"Chip,Ada,3,a@s.org\nSCH1,S2,Hopper,Grace,4,g@s.org\nSCH1,S3,Turing,Alan,5,\"alan@s.org\"\nSCH1,S4,Lamarr,Hedy,6,h@s.org\n",
             "lines 2 to 4 of students.csv read as one row: its Last_name cell holds line breaks and the row does not fit the header (3 fields)"),
            // A stray quote closed where the field count adds up: S1 would load with S3's email.
            ("SCH1,S1,\"Chip,Ada,3,a@s.org\nSCH1,S2,Hopper,Grace,4,g@s.org\nSCH1,S3,Turing\",Alan,5,alan@s.org\n",
             "lines 2 to 4 of students.csv read as one row: its Last_name cell holds line breaks and 10 commas"),
            // One row swallowed, closed in the same column of the next: S2 would be lost unseen.
            ("SCH1,S1,\"Chip,Ada,3,a@s.org\r\nSCH1,S2,Hopper\",Grace,4,g@s.org\r\n",
             "lines 2 to 3 of students.csv read as one row: its Last_name cell holds line breaks and 5 commas"),
        ])
    func quoteJoinsRows(rows: String, says: String) async throws {
        let folder = try CSVFolder(["students.csv": Self.studentHeader + "\n" + rows])
        defer { folder.remove() }
        let error = await #expect(throws: ExtractError.self) { _ = try await folder.source().read(.students) }
        #expect(error?.code == .malformedFile)
        #expect(error?.description.contains(says) == true, "\(String(describing: error))")
    }

    @Test("a row with the wrong field count is quarantined with its line; the rest loads")
    func wrongFieldCount() async throws {
        let folder = try CSVFolder([
            "enrollments.csv": "School_id,Section_id,Student_id\nSCH1,SEC1,S1\nSCH1,SEC1\nSCH1,SEC1,S2,extra\nSCH1,SEC1,S3\n"
        ])
        defer { folder.remove() }
        let result = try await folder.source().read(.enrollments)
        #expect(result.enrollments.map(\.student) == [.sis("S1"), .sis("S3")])
        #expect(result.rejections.map(\.reason) == [.malformedRow, .malformedRow])
        #expect(result.rejections.map(\.source.line) == [3, 4])
        #expect(result.rejections.allSatisfy { $0.entity == .enrollment && $0.source.file == "enrollments.csv" })
        #expect(result.rejections.first?.detail.contains("expected 3 fields") == true)
    }

    @Test("the header again in the middle of a file (two exports joined) is a malformed row keyed by nobody; the rows after it load")
    func headerAgain() async throws {
        let header = "School_id,School_name,Low_grade,High_grade"
        let folder = try CSVFolder([
            "schools.csv": "\(header)\nSCH1,Lincoln,K,5\n\(header)\r\nSCH2,Adams,6,8\n\"School_id\",School_name,Low_grade,High_grade\n"
                + "\u{FEFF}\(header)\n"
        ])
        defer { folder.remove() }
        let result = try await folder.source().read(.schools)
        #expect(result.schools.map(\.sisID) == ["SCH1", "SCH2"])
        #expect(result.rejections.map(\.reason) == [.malformedRow, .malformedRow, .malformedRow])
        #expect(result.rejections.map(\.source.line) == [3, 5, 6])
        #expect(result.rejections.allSatisfy { $0.recordKey == nil && $0.detail.hasPrefix("the header again") })
    }

    @Test("broken quotes are malformed rows")
    func brokenQuotes() async throws {
        let folder = try CSVFolder([
            "enrollments.csv": "School_id,Section_id,Student_id\nSCH1,\"SEC1\"x,S1\nSCH1,SEC1,S2\nSCH1,SEC1,\"S3\n"
        ])
        defer { folder.remove() }
        let result = try await folder.source().read(.enrollments)
        #expect(result.enrollments.map(\.student) == [.sis("S2")])
        #expect(result.rejections.map(\.reason) == [.malformedRow, .malformedRow])
        #expect(result.rejections.map(\.source.line) == [2, 4])
    }

    @Test(
        "a quote never closed that swallows the lines after it fails the file, naming the lines",
        arguments: ["\n", "\r\n", "\r"])
    func quoteSwallowsTheRest(lineEnd: String) async throws {
        let lines = ["School_id,Section_id,Student_id", "SCH1,SEC1,S1", "SCH1,\"SEC1,S2", "SCH1,SEC1,S3", "SCH1,SEC1,S4"]
        let folder = try CSVFolder(["enrollments.csv": lines.joined(separator: lineEnd) + lineEnd])
        defer { folder.remove() }
        let error = await #expect(throws: ExtractError.self) { _ = try await folder.source().read(.enrollments) }
        #expect(error?.code == .malformedFile)
        #expect(error?.description.contains("enrollments.csv:3") == true, "\(String(describing: error))")
        #expect(error?.description.contains("lines 3 to 5") == true, "\(String(describing: error))")
        #expect(error?.isUsageError == false, "a broken feed fails the run (exit 1), it is not configuration")
    }

    @Test("rows that hold nothing (a spreadsheet's empty row, a DOS end-of-file byte, trailing spaces) are blank lines; a row cut after an empty first field still fails")
    func rowsHoldingNothing() async throws {
        let header = "School_id,Section_id,Student_id\n"
        for tail in [",,\n,,", ",,\n\u{1A}", "  \t", "\u{1A}", ",,", " , ,\n"] {
            let folder = try CSVFolder(["enrollments.csv": header + "SCH1,SEC1,S1\n,,\nSCH1,SEC1,S2\n" + tail])
            defer { folder.remove() }
            let result = try await folder.source().read(.enrollments)
            #expect(result.rejections.isEmpty, "\(tail.debugDescription): \(result.rejections)")
            #expect(result.enrollments.map(\.student.sisID) == ["S1", "S2"], "\(tail.debugDescription)")
        }
        // One comma and no line end: the start of a row whose first field is empty, cut.
        let cut = try CSVFolder(["enrollments.csv": header + "SCH1,SEC1,S1\n,"])
        defer { cut.remove() }
        let error = await #expect(throws: ExtractError.self) { _ = try await cut.source().read(.enrollments) }
        #expect(error?.description.contains("looks cut short") == true, "\(String(describing: error))")
        // A file of nothing but such rows has no rows.
        let empty = try CSVFolder(["enrollments.csv": header + ",,\n,,\n"])
        defer { empty.remove() }
        await #expect(throws: ExtractError.self) { _ = try await empty.source().read(.enrollments) }
    }

    @Test("a file that ends mid-row (too few fields, no line end) fails as cut short; a short row with its line end is one bad row")
    func cutShort() async throws {
        let header = "School_id,Section_id,Student_id\n"
        let cut = try CSVFolder(["enrollments.csv": header + "SCH1,SEC1,S1\nSCH1,SEC1,S2\nSCH1,SE"])
        defer { cut.remove() }
        let error = await #expect(throws: ExtractError.self) { _ = try await cut.source().read(.enrollments) }
        #expect(error?.code == .malformedFile)
        #expect(error?.description.contains("enrollments.csv:4") == true, "\(String(describing: error))")
        #expect(error?.description.contains("looks cut short") == true, "\(String(describing: error))")

        // A file whose fields are all quoted is cut inside a quote: the same, at any field count.
        for quoted in [#""SCH1","SEC1","S1"\#n"SCH1","SE"#, #""SCH1","SEC1","S1"\#n"SCH1","SEC1","S"#] {
            let cutInQuote = try CSVFolder(["enrollments.csv": header + quoted])
            defer { cutInQuote.remove() }
            let error = await #expect(throws: ExtractError.self) { _ = try await cutInQuote.source().read(.enrollments) }
            #expect(error?.description.contains("enrollments.csv:3") == true, "\(String(describing: error))")
            #expect(error?.description.contains("inside a quoted field") == true, "\(String(describing: error))")
        }

        let short = try CSVFolder(["enrollments.csv": header + "SCH1,SEC1,S1\nSCH1,SEC1\n"])
        defer { short.remove() }
        let result = try await short.source().read(.enrollments)
        #expect(result.rejections.map(\.reason) == [.malformedRow])
        let whole = try CSVFolder(["enrollments.csv": header + "SCH1,SEC1,S1\nSCH1,SEC1,S2"])
        defer { whole.remove() }
        #expect(try await whole.source().read(.enrollments).rejections.map(\.reason) == [.noLineEnd], "a whole last row needs no line end")
    }

    @Test("a CRLF inside a quoted field, split between two reads of the file, counts as one line")
    func crlfAcrossChunks() async throws {
        let folder = try CSVFolder()
        defer { folder.remove() }
        let header = "School_id,Section_id,Student_id\n"
        let row = "SCH1,SEC1,S1\n"  // 13 bytes
        var text = header
        while text.utf8.count + row.utf8.count < CSVParser.chunkSize - 20 { text += row }
        // In School_id, which enrollments do not load: a line break in a loaded cell fails the file.
        let filler = String(repeating: "x", count: CSVParser.chunkSize - text.utf8.count - "\"SCH".utf8.count - 1)
        text += "\"SCH" + filler + "\r\n1\",SEC1,S2\n"  // the CR is the chunk's last byte
        #expect(text.utf8.count > CSVParser.chunkSize)
        // Bytes, not Characters: Swift reads "\r\n" as one Character, which is not "\n".
        let quotedLine = text.utf8.filter { $0 == UInt8(ascii: "\n") }.count - 1
        text += "SCH1,SEC1\n"  // a row with a field missing, two lines below the quoted field's first
        try folder.write("enrollments.csv", Data(text.utf8))
        let result = try await folder.source().read(.enrollments)
        #expect(result.rejections.map(\.source) == [.csv("enrollments.csv", line: quotedLine + 2)])
    }

    @Test("a cell that is not UTF-8 is read as Windows-1252 and reported: the row loads, naming the columns")
    func invalidUTF8() async throws {
        let folder = try CSVFolder()
        defer { folder.remove() }
        // "José Müller" and a curly apostrophe as a Windows SIS export writes them.
        var bytes = Data("\(Self.studentHeader)\nSCH1,S1,M".utf8)
        bytes.append(contentsOf: [0xFC])
        bytes.append(Data("ller,Jos".utf8))
        bytes.append(contentsOf: [0xE9])
        bytes.append(Data(",3,ada@school.org\nSCH1,S2,O".utf8))
        bytes.append(contentsOf: [0x92])
        bytes.append(Data("Hara,Grace,4,g@school.org\nSCH1,S3,Hopper,Grace,4,h@school.org\n".utf8))
        try folder.write("students.csv", bytes)
        let result = try await folder.source().read(.students)
        #expect(result.students.map(\.sisID) == ["S1", "S2", "S3"])
        #expect(result.students.map(\.lastName) == ["Müller", "O\u{2019}Hara", "Hopper"])
        #expect(result.students.first?.firstName == "José")
        #expect(result.rejections.map(\.reason) == [.invalidEncoding, .invalidEncoding])
        #expect(result.rejections.allSatisfy { $0.severity == .warning })
        #expect(result.rejections.map(\.recordKey) == ["S1", "S2"])
        #expect(result.rejections.map(\.source) == [.csv("students.csv", line: 2), .csv("students.csv", line: 3)])
        #expect(result.rejections.first?.detail == "Last_name, First_name not valid UTF-8; read as Windows-1252. Save the file as UTF-8")
    }

    @Test("a malformed row keys its record as a loadable row would: a non-UTF-8 id read as Windows-1252, and a stray comma before the id read from the right")
    func malformedRowKeys() async throws {
        let folder = try CSVFolder()
        defer { folder.remove() }
        var bytes = Data("\(Self.studentHeader)\nSCH1,M".utf8)
        bytes.append(contentsOf: [0xFC])  // "MüL1" in Windows-1252
        bytes.append(Data("L1,Müller,Ada,Jr.,3,a@school.org\nSCH1,S2,Hopper,Grace,4,,g@school.org\n".utf8))
        try folder.write("students.csv", bytes)
        let result = try await folder.source().read(.students)
        #expect(result.rejections.map(\.reason) == [.malformedRow, .malformedRow])
        #expect(result.rejections.map(\.recordKey) == ["M\u{FC}L1", "S2"])
        // Read from the right, the first row's id is its last name; the second's extra field comes after.
        #expect(result.rejections.map(\.alternateKey) == ["Müller", "Hopper"])
        let names = try CSVFolder(["students.csv": "Last_name,First_name,School_id,Student_id,Grade,Student_email\nO'Brien, Jr,Pat,SCH1,S7,3,p@s.org\n"])
        defer { names.remove() }
        let shifted = try await names.source().read(.students)
        #expect(shifted.rejections.map(\.recordKey) == ["SCH1"])
        #expect(shifted.rejections.map(\.alternateKey) == ["S7"])
        #expect(shifted.rejections.first?.detail.hasSuffix("its id reads 'SCH1' by the header's columns counted from the left and 'S7' counted from the right: both are kept as they are") == true)
    }

    @Test("a row without its id is rejected here, naming the column")
    func missingID() async throws {
        let folder = try CSVFolder([
            "students.csv": "\(Self.studentHeader)\nSCH1, ,Lovelace,Ada,3,ada@school.org\nSCH1,S2,Hopper,Grace,4,\n"
        ])
        defer { folder.remove() }
        let result = try await folder.source().read(.students)
        #expect(result.students.map(\.sisID) == ["S2"])
        #expect(result.rejections.map(\.reason) == [.missingRequiredField])
        #expect(result.rejections.first?.detail.contains("Student_id") == true)
        #expect(result.rejections.first?.source.line == 2)
    }

    @Test("columns may come in any order, with optional ones")
    func columnOrder() async throws {
        let folder = try CSVFolder([
            "students.csv": """
                Student_email,Grade,DOB,First_name,Last_name,Student_id,School_id,Password,Middle_name
                ada@school.org,KG,1/2/2019,Ada,Lovelace,S1,SCH1,secret,Augusta

                """
        ])
        defer { folder.remove() }
        let student = try #require(try await folder.source().read(.students).students.first)
        #expect(
            student
                == StudentRecord(
                    source: .csv("students.csv", line: 2), sisID: "S1", school: .sis("SCH1"), email: "ada@school.org",
                    firstName: "Ada", middleName: "Augusta", lastName: "Lovelace", grade: "KG",
                    dateOfBirth: "1/2/2019"))
    }

    @Test("batches hold at most batchSize records, in order")
    func batchSize() async throws {
        let rows = (1...5).map { "SCH1,SEC1,S\($0)" }.joined(separator: "\n")
        let folder = try CSVFolder(["enrollments.csv": "School_id,Section_id,Student_id\n\(rows)\n"])
        defer { folder.remove() }
        let result = try await folder.source(batchSize: 2).read(.enrollments)
        #expect(result.batches.map(\.records.count) == [2, 2, 1])
        #expect(result.enrollments.map(\.student.sisID) == (1...5).map { "S\($0)" })
    }

    /// Puts awkward byte sequences (a doubled quote, a CRLF, an embedded newline) right across the
    /// 256 KiB read boundary, at every offset around it.
    @Test("records that straddle the read boundary parse the same", arguments: -4...4)
    func chunkBoundary(shift: Int) async throws {
        let header = "School_id,Section_id,Student_id\r\n"
        let boundary = 256 * 1024
        let fillerRow = "SCH1,SEC0,\(String(repeating: "x", count: 90))\r\n"
        var text = header
        while text.utf8.count + fillerRow.utf8.count < boundary - 40 + shift { text += fillerRow }
        let fillerCount = (text.utf8.count - header.utf8.count) / fillerRow.utf8.count
        text += String(repeating: "y", count: boundary - 20 + shift - text.utf8.count) + ",SEC0,PAD\r\n"
        // The line end inside a quote is in School_id, which enrollments do not load.
        text += "\"SC\r\nH1\",\"SEC\"\"1\",\"S1\"\r\nSCH1,SEC2,S2"
        let folder = try CSVFolder(["enrollments.csv": text])
        defer { folder.remove() }
        let result = try await folder.source().read(.enrollments)
        #expect(result.rejections.map(\.reason) == [.noLineEnd])
        let tail = result.enrollments.suffix(2)
        #expect(tail.map(\.section) == [.sis("SEC\"1"), .sis("SEC2")])
        #expect(tail.map(\.student) == [.sis("S1"), .sis("S2")])
        #expect(tail.map(\.source.line) == [fillerCount + 3, fillerCount + 5])
        #expect(result.enrollments.count == fillerCount + 3)
    }
}
