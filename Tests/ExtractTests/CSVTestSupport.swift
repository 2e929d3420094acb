import CleverExtract
import Foundation
import RosterModel

/// A temporary folder of Clever CSV files: a minimal valid district unless a test overrides a file.
/// Tests remove it with `defer { folder.remove() }`; a deinit could run before an `await` that
/// still reads the files, since ARC may end a value's life at its last use.
struct CSVFolder {
    static let valid: [String: String] = [
        "schools.csv": "School_id,School_name,Low_grade,High_grade\nSCH1,Lincoln,K,5\n",
        "teachers.csv": "School_id,Teacher_id,Last_name,First_name,Teacher_email\nSCH1,T1,Hopper,Grace,grace@school.org\n",
        "students.csv":
            "School_id,Student_id,Last_name,First_name,Grade,Student_email\nSCH1,S1,Lovelace,Ada,3,ada@school.org\n",
        "sections.csv": "School_id,Section_id,Teacher_id,Name\nSCH1,SEC1,T1,Math\n",
        "enrollments.csv": "School_id,Section_id,Student_id\nSCH1,SEC1,S1\n",
    ]

    let url: URL

    /// Writes the valid district with `files` replacing or adding files; a nil value removes one.
    init(_ files: [String: String?] = [:]) throws {
        url = FileManager.default.temporaryDirectory.appending(path: "csv-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        var all = Self.valid.mapValues { Optional($0) }
        all.merge(files) { _, new in new }
        for (name, text) in all {
            guard let text else { continue }
            try write(name, Data(text.utf8))
        }
    }

    func write(_ name: String, _ data: Data) throws {
        try data.write(to: url.appending(path: name))
    }

    func source(batchSize: Int = 2_000) -> CleverCSVSource {
        CleverCSVSource(directory: url, batchSize: batchSize)
    }

    func remove() {
        try? FileManager.default.removeItem(at: url)
    }
}

/// Everything one feed yielded.
struct FeedResult {
    var batches: [ExtractBatch] = []
    var records: [Record] { batches.flatMap(\.records) }
    var rejections: [Rejection] { batches.flatMap(\.rejections) }

    var students: [StudentRecord] { records.compactMap { if case .student(let r) = $0 { r } else { nil } } }
    var teachers: [TeacherRecord] { records.compactMap { if case .teacher(let r) = $0 { r } else { nil } } }
    var sections: [SectionRecord] { records.compactMap { if case .section(let r) = $0 { r } else { nil } } }
    var terms: [TermRecord] { records.compactMap { if case .term(let r) = $0 { r } else { nil } } }
    var schools: [SchoolRecord] { records.compactMap { if case .school(let r) = $0 { r } else { nil } } }
    var enrollments: [EnrollmentRecord] { records.compactMap { if case .enrollment(let r) = $0 { r } else { nil } } }
}

extension CleverCSVSource {
    func read(_ feed: Feed) async throws -> FeedResult {
        var result = FeedResult()
        for try await batch in batches(of: feed) { result.batches.append(batch) }
        return result
    }
}
