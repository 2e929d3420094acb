import Foundation
import PostgresLoad
import RosterModel
import RosterTransform

/// `roster.districts.settings`, the keys the Swift side uses (filters are applied in SQL).
///
/// Every key CONTRACT.md names is checked before a run starts: a value of the wrong shape would
/// otherwise be ignored by the SQL (a filter that is a string, not an array, filters nothing) or
/// silently match nothing (a grade spelt `K` where the roster says `Kindergarten`). Other keys
/// are left alone: the platform may keep its own settings beside these.
struct DistrictSettings: Sendable {
    var allowedEmailDomains: [String] = []
    var safety = Merger.Safety.defaults
    /// Keys that are not RosterSync's but look like a misspelling of one ("filter" for
    /// "filters"), with the key they resemble: the run goes on, and the log says so.
    var likelyMisspelt: [(key: String, meant: String)] = []

    static let knownKeys = ["allowed_email_domains", "filters", "max_removal_share", "min_removals_to_block"]

    init() {}

    init(json: String) throws {
        let keys: Keys
        do {
            keys = try JSONDecoder().decode(Keys.self, from: Data(json.utf8))
        } catch let error as DecodingError {
            throw ConfigurationError(Self.describe(error))
        }
        if let domains = keys.allowedEmailDomains {
            if let blank = domains.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty }) {
                throw ConfigurationError("settings.allowed_email_domains[\(blank)] is empty; list domains like \"example.org\"")
            }
            allowedEmailDomains = domains.map { $0.lowercased() }
        }
        if let share = keys.maxRemovalShare {
            guard (0...1).contains(share) else {
                throw ConfigurationError(
                    "settings.max_removal_share must be between 0 and 1 (a share: 0.1 is 10%), not \(share)")
            }
            safety.maxRemovalShare = share
        }
        if let minimum = keys.minRemovalsToBlock {
            guard minimum >= 0, minimum == minimum.rounded(), minimum < 1e9 else {
                throw ConfigurationError(
                    "settings.min_removals_to_block must be a whole number, 0 or more, not \(minimum)")
            }
            safety.minRemovalsToBlock = Int(minimum)
        }
        for grade in keys.filters?.grades ?? [] { try Self.checkGradeWord(grade) }
        for key in keys.otherKeys.sorted() {
            if let meant = Self.knownKeys.first(where: { Self.editDistance(key.lowercased(), $0) <= 2 }) {
                likelyMisspelt.append((key, meant))
            }
        }
    }

    /// Levenshtein distance, for the handful of short keys above.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        guard !a.isEmpty, !b.isEmpty else { return max(a.count, b.count) }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }

    /// The grade filter compares with the roster's grade words exactly (00_prepare.sql).
    static func checkGradeWord(_ word: String) throws {
        guard let grade = GradeParser.grade(from: word) else {
            throw ConfigurationError(
                "settings.filters.grades: \"\(word)\" is not a grade; the roster's grade words are "
                    + "InfantToddler, Preschool, PreKindergarten, TransitionalKindergarten, Kindergarten, "
                    + "1 to 13, PostGraduate, Ungraded and Other")
        }
        guard grade.cleverWord == word else {
            throw ConfigurationError(
                "settings.filters.grades: write \"\(grade.cleverWord)\", not \"\(word)\" "
                    + "(the filter compares with the roster's grade words exactly)")
        }
    }

    /// Any JSON object key, so the decoders below also see the keys they do not read.
    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    private struct Keys: Decodable {
        var allowedEmailDomains: [String]?
        var maxRemovalShare: Double?
        /// Read as a number so that 2.5 or -1 gets a message naming the key.
        var minRemovalsToBlock: Double?
        var filters: Filters?
        /// The keys that are not RosterSync's (the platform's own, or misspelt ones of ours).
        var otherKeys: [String]

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: AnyKey.self)
            allowedEmailDomains = try container.decodeIfPresent([String].self, forKey: AnyKey(stringValue: "allowed_email_domains"))
            maxRemovalShare = try container.decodeIfPresent(Double.self, forKey: AnyKey(stringValue: "max_removal_share"))
            minRemovalsToBlock = try container.decodeIfPresent(Double.self, forKey: AnyKey(stringValue: "min_removals_to_block"))
            filters = try container.decodeIfPresent(Filters.self, forKey: AnyKey(stringValue: "filters"))
            otherKeys = container.allKeys.map(\.stringValue).filter { !DistrictSettings.knownKeys.contains($0) }
        }
    }

    /// The filters CONTRACT.md names (schools, grades) and the one SYNC-RULES.md adds (sections): an
    /// unknown one (`section`, `grade`) would filter nothing, so it is refused.
    private struct Filters: Decodable {
        var schools: [String]?
        var grades: [String]?
        var sections: [String]?

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: AnyKey.self)
            for key in container.allKeys where !["schools", "grades", "sections"].contains(key.stringValue) {
                throw DecodingError.dataCorruptedError(
                    forKey: key, in: container,
                    debugDescription: "unknown filter \"\(key.stringValue)\" (filters are schools, grades and sections)")
            }
            schools = try container.decodeIfPresent([String].self, forKey: AnyKey(stringValue: "schools"))
            grades = try container.decodeIfPresent([String].self, forKey: AnyKey(stringValue: "grades"))
            sections = try container.decodeIfPresent([String].self, forKey: AnyKey(stringValue: "sections"))
        }
    }

    /// "settings.filters.grades must be an array of strings", from the decoder's coding path.
    private static func describe(_ error: DecodingError) -> String {
        func path(_ codingPath: [any CodingKey]) -> String {
            (["settings"] + codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue })
                .joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
        }
        switch error {
        case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
            // The decoder names the JSON type it expected (an array, a dictionary, a number).
            let expected: String
            switch "\(type)" {
            case let name where name.hasPrefix("Array"): expected = "an array of strings"
            case "String": expected = "a string"
            case "Double", "Int": expected = "a number"
            default: expected = context.codingPath.isEmpty ? "a JSON object" : "an object"
            }
            return "\(path(context.codingPath)) must be \(expected)"
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty { return "settings is not valid JSON" }
            return "\(path(context.codingPath.dropLast())): \(context.debugDescription)"
        case .keyNotFound(let key, let context):
            return "\(path(context.codingPath + [key])) is missing"
        @unknown default:
            return "settings: \(error)"
        }
    }
}

/// Configuration that cannot work (exit code 2).
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
