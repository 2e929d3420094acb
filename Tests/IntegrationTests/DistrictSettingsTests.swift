import Foundation
import Logging
import RosterSync
import Testing

/// `roster.districts.settings` of the wrong shape stops the run before it reads anything, with
/// the key and what it should be (CONTRACT.md lists the keys; exit code 2).
@Suite("District settings", .serialized, .timeLimit(.minutes(10)))
struct DistrictSettingsTests {
    @Test(
        "Settings of the wrong shape are a configuration error naming the key; the roster is unchanged",
        arguments: [
            (#"{"filters": {"grades": "3"}}"#, "settings.filters.grades must be an array of strings"),
            (#"{"filters": {"grades": ["Kindergarden"]}}"#, #""Kindergarden" is not a grade"#),
            (#"{"filters": {"grades": ["K", "3"]}}"#, #"write "Kindergarten", not "K""#),
            (#"{"filters": {"section": ["SEC1"]}}"#, #"settings.filters: unknown filter "section" (filters are schools, grades and sections)"#),
            (#"{"filters": {"sections": "SEC1"}}"#, "settings.filters.sections must be an array of strings"),
            (#"{"filters": ["S1"]}"#, "settings.filters must be an object"),
            (#"{"max_removal_share": "0.1"}"#, "settings.max_removal_share must be a number"),
            (#"{"max_removal_share": 10}"#, "settings.max_removal_share must be between 0 and 1"),
            (#"{"min_removals_to_block": -1}"#, "settings.min_removals_to_block must be a whole number, 0 or more"),
            (#"{"min_removals_to_block": 2.5}"#, "settings.min_removals_to_block must be a whole number, 0 or more"),
            (#"{"min_removals_to_block": "10"}"#, "settings.min_removals_to_block must be a number"),
            (#"{"allowed_email_domains": "example.org"}"#, "settings.allowed_email_domains must be an array of strings"),
            (#"{"allowed_email_domains": ["example.org", " "]}"#, "settings.allowed_email_domains[1] is empty"),
            ("[]", "settings must be a JSON object"),
        ])
    func wrongShape(settings: String, mentions: String) async throws {
        try await TestDatabase.withFresh { database in
            let harness = SyncHarness(database: database)
            _ = try await harness.sync(.small())
            let before = try await SafetyTests.snapshot(database)
            try await database.execute(
                "UPDATE roster.districts SET settings = '\(settings.replacingOccurrences(of: "'", with: "''"))' WHERE id = 'd1'")
            let error = await #expect(throws: ConfigurationError.self) { _ = try await harness.sync(.small()) }
            let message = error?.description ?? ""
            #expect(message.hasPrefix("district d1: "), "\(message)")
            #expect(message.contains(mentions), "\(message)")
            #expect(message.contains("roster.districts.settings"), "\(message)")
            #expect(try await SafetyTests.snapshot(database).dropLast() == before.dropLast(), "only the settings changed")
        }
    }

    @Test("Every key CONTRACT.md names, well formed, is accepted alongside the platform's own keys")
    func wellFormed() async throws {
        try await TestDatabase.withFresh { database in
            try await database.execute(
                """
                INSERT INTO roster.districts (id, name, settings) VALUES ('d1', 'D', '{
                  "allowed_email_domains": ["Example.org"], "max_removal_share": 1, "min_removals_to_block": 0,
                  "filters": {"schools": ["S1", "S2"], "grades": ["PreKindergarten", "Kindergarten", "1", "2", "3",
                              "4", "5", "6", "7", "8"]},
                  "platform_theme": "dark"}')
                """)
            let report = try await SyncHarness(database: database).sync(.small())
            #expect(report.status == .succeeded, "\(report.message)")
            #expect(report.summary.count(.student, "create") == 20)
        }
    }

    @Test("A key that looks like a misspelt one of ours is logged as a warning naming it; the run goes on")
    func likelyMisspeltKey() async throws {
        try await TestDatabase.withFresh { database in
            try await database.execute(
                """
                INSERT INTO roster.districts (id, name, settings)
                VALUES ('d1', 'D', '{"filter": {"grades": ["3"]}, "max_removal_shares": 0.5, "platform_theme": "dark"}')
                """)
            let handler = RecordingLogHandler()
            let report = try await SyncHarness(database: database).sync(.small(), logger: Logger(label: "test") { _ in handler })
            #expect(report.status == .succeeded)
            #expect(report.summary.count(.student, "create") == 20, "the misspelt filter filters nothing")
            let warned = handler.entries.filter { $0.level == .warning && $0.message.contains("did you mean") }
            #expect(warned.map { "\($0.metadata["settings.key"] ?? "")" } == ["filter", "max_removal_shares"])
            #expect(warned.first?.message.contains("'filters'") == true)
        }
    }
}
