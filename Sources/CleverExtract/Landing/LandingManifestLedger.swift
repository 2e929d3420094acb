import Foundation

/// Serialises manifest updates in this process.
///
/// The pipeline stages feeds in parallel, so several feeds of one night can finish at once; each
/// update is read, merge, atomic write, and two of them interleaved would lose one feed's entry.
/// One process-wide actor (not one per source value) because callers may build several
/// ``LandingTeeSource`` values for the same night.
actor LandingManifestLedger {
    static let shared = LandingManifestLedger()

    /// Adds or replaces one feed's entry in the manifest in `folder`, creating the manifest if needed.
    func record(
        _ feed: Feed, entry: LandingManifest.FeedEntry, in folder: URL, district: String, date: String,
        source: String
    ) throws(ExtractError) {
        var manifest: LandingManifest
        if FileManager.default.fileExists(atPath: folder.appending(path: LandingManifest.fileName).path) {
            manifest = try LandingManifest.read(in: folder)
            // A re-run of the night keeps the first run's creation time and the latest source; each
            // entry names its run, so a re-run that stops part-way leaves a night seen as mixed.
            manifest.source = source
        } else {
            manifest = LandingManifest(district: district, date: date, source: source)
        }
        manifest.feeds[feed.rawValue] = entry
        try manifest.write(in: folder)
    }
}
