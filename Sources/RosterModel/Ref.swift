/// A reference from one record to another, by SIS id or Clever id.
///
/// CSV files refer by SIS id; the API refers by Clever id. The merge resolves either one
/// against the staged records of the same run, so neither side needs a whole district in memory.
public struct Ref: Sendable, Hashable, Codable {
    public var sisID: String?
    public var cleverID: String?

    public init(sisID: String? = nil, cleverID: String? = nil) {
        self.sisID = sisID
        self.cleverID = cleverID
    }

    public static func sis(_ id: String) -> Ref { Ref(sisID: id) }
    public static func clever(_ id: String) -> Ref { Ref(cleverID: id) }

    public var isEmpty: Bool { (sisID ?? "").isEmpty && (cleverID ?? "").isEmpty }
}
