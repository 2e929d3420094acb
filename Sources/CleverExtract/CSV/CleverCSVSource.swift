public import Foundation

/// Reads a district from Clever's SFTP CSV files: schools.csv, teachers.csv, students.csv,
/// sections.csv and enrollments.csv (required), admins.csv (optional, only header-checked).
///
/// Every id in the files is a SIS id. Terms have no file of their own: the `.terms` feed yields
/// each distinct term named in sections.csv once, keyed by ``RosterModel/TermRecord/derivedSISID(name:start:end:)``.
/// Files are streamed in chunks and parsed byte by byte, so memory stays flat for any file size.
public struct CleverCSVSource: RosterSource {
    /// The folder holding the CSV files.
    public let directory: URL
    /// The most records (plus rejections) in one batch.
    public let batchSize: Int
    /// Feeds whose file may have a header and no rows (a person said the feed is meant to be
    /// empty); for the others such a file is an error.
    public let mayBeEmpty: Set<Feed>

    public init(directory: URL, batchSize: Int = 2_000, mayBeEmpty: Set<Feed> = []) {
        self.directory = directory
        self.batchSize = max(1, batchSize)
        self.mayBeEmpty = mayBeEmpty
    }

    public var description: String { "csv:\(directory.path)" }

    /// Checks the folder, that every required file is present, every header (missing, unknown or
    /// duplicate columns, invisible characters) and that each required file has at least one row.
    public func check() async throws {
        try checkDirectory()
        for spec in CSVFileSpec.all where spec.isRequiredFile && !exists(spec) {
            throw Self.missingFileError(spec, in: directory)
        }
        for spec in CSVFileSpec.all where exists(spec) {
            let parser = try CSVParser(url: directory.appending(path: spec.name), fileName: spec.name)
            _ = try CSVHeader.read(from: parser, spec: spec)
            if mustHaveRows(spec), try !parser.next() { throw Self.emptyFileError(spec) }
        }
    }

    /// Streams one feed. Batches are read only when the consumer asks for them.
    public func batches(of feed: Feed) -> AsyncThrowingStream<ExtractBatch, any Error> {
        let reader = CSVFeedReader(
            directory: directory, feed: feed, batchSize: batchSize, mustHaveRows: mustHaveRows(CSVFileSpec.file(for: feed)))
        return AsyncThrowingStream(unfolding: { try await reader.nextBatch() })
    }

    // MARK: - Checks

    private func mustHaveRows(_ spec: CSVFileSpec) -> Bool {
        spec.mustHaveRows && !mayBeEmpty.contains { CSVFileSpec.file(for: $0).name == spec.name }
    }

    private func exists(_ spec: CSVFileSpec) -> Bool {
        FileManager.default.fileExists(atPath: directory.appending(path: spec.name).path)
    }

    private func checkDirectory() throws(ExtractError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory) else {
            throw ExtractError(
                .unreadable, "the CSV folder does not exist; check the --csv path", context: directory.path)
        }
        guard isDirectory.boolValue else {
            throw ExtractError(
                .unreadable, "the CSV path is a file, not a folder; pass the folder holding the Clever CSV files",
                context: directory.path)
        }
        do {
            _ = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw ExtractError(
                .unreadable, "the CSV folder cannot be listed; check its permissions for this user",
                context: directory.path, cause: error)
        }
    }

    static func missingFileError(_ spec: CSVFileSpec, in directory: URL) -> ExtractError {
        ExtractError(
            .missingFile,
            "\(spec.name) is missing; a Clever SFTP export has schools.csv, teachers.csv, students.csv, "
                + "sections.csv and enrollments.csv. Check the export or the --csv folder",
            context: directory.appending(path: spec.name).path)
    }

    static func emptyFileError(_ spec: CSVFileSpec) -> ExtractError {
        ExtractError(
            .emptyFile,
            "\(spec.name) has a header and no rows; a run with it would archive everything it lists. "
                + "Check the export; if the feed is meant to be empty this once, sync again with "
                + "--allow-empty-feed \(spec.name.replacingOccurrences(of: ".csv", with: ""))",
            context: "\(spec.name):2")
    }
}
