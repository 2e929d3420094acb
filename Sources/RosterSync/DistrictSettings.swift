import Foundation
import PostgresLoad

/// `roster.districts.settings`, the keys the Swift side uses (filters are applied in SQL).
struct DistrictSettings: Sendable {
    var allowedEmailDomains: [String] = []
    var safety = Merger.Safety.defaults

    init() {}

    init(json: String) throws {
        guard let data = json.data(using: .utf8),
            let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return }
        if let domains = object["allowed_email_domains"] as? [String] {
            allowedEmailDomains = domains.map { $0.lowercased() }
        }
        if let share = object["max_removal_share"] as? Double {
            guard (0...1).contains(share) else {
                throw ConfigurationError("settings.max_removal_share must be between 0 and 1, not \(share)")
            }
            safety.maxRemovalShare = share
        } else if let share = object["max_removal_share"] as? Int, share == 0 || share == 1 {
            safety.maxRemovalShare = Double(share)
        }
        if let minimum = object["min_removals_to_block"] as? Int {
            safety.minRemovalsToBlock = minimum
        }
    }
}

/// Configuration that cannot work (exit code 2).
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
