/// Where a record came from: a file and line for CSV, an object id for the API.
///
/// Every staged row and every rejection carries one, so "where did this come from?" is
/// answerable from `staging` with `psql`.
public struct SourceRef: Sendable, Hashable, Codable, CustomStringConvertible {
    public var file: String?
    public var line: Int?
    public var objectID: String?

    public init(file: String? = nil, line: Int? = nil, objectID: String? = nil) {
        self.file = file
        self.line = line
        self.objectID = objectID
    }

    public static func csv(_ file: String, line: Int) -> SourceRef { SourceRef(file: file, line: line) }
    public static func api(_ collection: String, id: String) -> SourceRef { SourceRef(file: collection, objectID: id) }

    /// `students.csv:12`, `students/5f0c...`, or `students` when nothing more is known.
    public var description: String {
        switch (file, line, objectID) {
        case let (file?, line?, _): return "\(file):\(line)"
        case let (file?, nil, id?): return "\(file)/\(id)"
        case let (nil, _, id?): return id
        case let (file?, nil, nil): return file
        default: return "unknown"
        }
    }
}
