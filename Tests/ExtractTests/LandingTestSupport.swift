import CleverExtract
import Foundation
import RosterModel

/// A source that yields fixed batches per feed and can fail a feed after some batches.
struct FixedSource: RosterSource {
    struct Failure: Error, Equatable {}

    var batches: [Feed: [ExtractBatch]]
    /// A feed in here throws ``Failure`` after yielding this many batches.
    var failAfter: [Feed: Int] = [:]

    var description: String { "fixed:test" }

    func check() async throws {}

    func batches(of feed: Feed) -> AsyncThrowingStream<ExtractBatch, any Error> {
        let all = batches[feed] ?? []
        let failAfter = failAfter[feed]
        return AsyncThrowingStream { continuation in
            for (index, batch) in all.enumerated() {
                if index == failAfter { break }
                continuation.yield(batch)
            }
            continuation.finish(throwing: failAfter == nil ? nil : Failure())
        }
    }
}

/// A temporary landing root, removed with `defer { root.remove() }`.
struct LandingRoot {
    let url: URL
    var archive: LandingArchive { LandingArchive(root: url) }

    init() throws {
        url = FileManager.default.temporaryDirectory.appending(path: "landing-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func remove() {
        try? FileManager.default.removeItem(at: url)
    }

    func names(district: String = "d1", date: String) -> [String] {
        let folder = archive.folder(district: district, date: date)
        return ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).sorted()
    }
}

enum Sample {
    /// `count` records of the feed's kind, each different, with text that needs escaping in JSON.
    static func records(_ feed: Feed, count: Int, offset: Int = 0) -> [Record] {
        (offset..<offset + count).map { i in
            let source = SourceRef.csv("\(feed.rawValue).csv", line: i + 2)
            switch feed {
            case .schools:
                return .school(SchoolRecord(source: source, sisID: "SCH\(i)", name: "Lincoln \"Elementary\" \(i)/é"))
            case .teachers:
                return .teacher(
                    TeacherRecord(
                        source: source, sisID: "T\(i)", school: .sis("SCH1"), otherSchools: [.clever("c\(i)")],
                        email: "t\(i)@school.org", firstName: "Grace\nNewline", lastName: "Hopper"))
            case .students:
                return .student(
                    StudentRecord(
                        source: source, sisID: "S\(i)", school: .sis("SCH1"), email: nil, firstName: "Ada",
                        lastName: "Lovelace 🧮", grade: "3", gradeRank: i % 2 == 0 ? 3 : nil, canLogin: i % 3 == 0))
            case .terms:
                return .term(TermRecord(source: source, sisID: "TERM\(i)", name: "Fall", startDate: "2024-09-01"))
            case .sections:
                return .section(
                    SectionRecord(
                        source: source, sisID: "SEC\(i)", school: .sis("SCH1"), term: .sis("TERM1"), name: "Math",
                        teachers: [.sis("T1"), .sis("T2")]))
            case .enrollments:
                return .enrollment(EnrollmentRecord(source: source, section: .sis("SEC1"), student: .sis("S\(i)")))
            }
        }
    }

    static func rejection(_ feed: Feed, line: Int) -> Rejection {
        Rejection(
            entity: feed.entity, source: .csv("\(feed.rawValue).csv", line: line), reason: .malformedRow,
            detail: "3 fields, the header has 5")
    }

    /// Every feed in batches of `batchSize`, with one rejection in each feed's first batch.
    static func district(recordsPerFeed: Int = 5, batchSize: Int = 2) -> [Feed: [ExtractBatch]] {
        var all: [Feed: [ExtractBatch]] = [:]
        for feed in Feed.allCases {
            let records = records(feed, count: recordsPerFeed)
            all[feed] = stride(from: 0, to: records.count, by: batchSize).map { start in
                ExtractBatch(
                    records: Array(records[start..<min(records.count, start + batchSize)]),
                    rejections: start == 0 ? [rejection(feed, line: 99)] : [])
            }
        }
        return all
    }
}

extension RosterSource {
    /// Everything one feed yielded, batch by batch.
    func collect(_ feed: Feed) async throws -> [ExtractBatch] {
        var all: [ExtractBatch] = []
        for try await batch in batches(of: feed) { all.append(batch) }
        return all
    }

    /// Reads every feed, one after the other.
    func drainAll() async throws {
        for feed in Feed.allCases { _ = try await collect(feed) }
    }
}

/// Runs a command and returns its standard output; for checking files with the system's own tools.
func runTool(_ path: String, _ arguments: [String]) throws -> Data {
    let process = Process()
    process.executableURL = URL(filePath: path)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return output
}
