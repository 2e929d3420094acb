import Foundation
import RosterModel

/// Serialises manifest updates in this process, and decides where a run's feeds go.
///
/// The pipeline stages feeds in parallel, so several feeds of one night can finish at once; each
/// update is read, merge, atomic write, and two of them interleaved would lose one feed's entry.
/// One process-wide actor (not one per source value) because callers may build several
/// ``LandingTeeSource`` values for the same night.
///
/// A night that one run archived completely is replayable, and a later run of the same night must
/// not spoil it by failing part-way. So a run re-extracting a complete night of another run writes
/// beside it (``Placement/pending(run:)``): run-named files and a manifest of its own, which
/// becomes the night's manifest, in one rename, only once the run has archived every feed. Until
/// then the night stays the earlier run's whole extract.
actor LandingManifestLedger {
    static let shared = LandingManifestLedger()

    /// Where one run's feeds go in a night's folder.
    enum Placement: Sendable, Equatable {
        /// Into the night: `<feed>.ndjson.gz`, listed in `manifest.json` as each feed finishes.
        case night
        /// Beside another run's complete night: `<feed>.run-<run>.ndjson.gz`, listed in
        /// `manifest.run-<run>.pending.json` until every feed is there.
        case pending(run: Int64)

        func fileName(_ feed: Feed) -> String {
            switch self {
            case .night: "\(feed.rawValue).ndjson.gz"
            case .pending(let run): "\(feed.rawValue).run-\(run).ndjson.gz"
            }
        }
    }

    /// Where `run`'s feeds go in `folder`. The same for every feed of a run: only the run's last
    /// feed changes the night, and then no feed of the run is still to start.
    func placement(in folder: URL, run: Int64?) -> Placement {
        // A night that is missing, incomplete or unreadable has no whole extract to keep (an
        // unreadable manifest then stops the feed in ``record``). A complete night of this very
        // run is being resumed: its feeds are this run's to replace.
        guard let run, let manifest = try? LandingManifest.read(in: folder), manifest.isComplete,
            manifest.feeds.values.contains(where: { $0.run != run })
        else { return .night }
        return .pending(run: run)
    }

    /// Adds or replaces one feed's entry, in the night's manifest or the run's pending one as
    /// `placement` says, creating the manifest if needed. A pending extract whose last feed this is
    /// becomes the night; then the earlier run's files and any other set-aside extract are removed.
    func record(
        _ feed: Feed, entry: LandingManifest.FeedEntry, in folder: URL, district: String, date: String,
        source: String, placement: Placement
    ) throws(ExtractError) {
        let name =
            switch placement {
            case .night: LandingManifest.fileName
            case .pending(let run): LandingManifest.pendingFileName(run: run)
            }
        var manifest: LandingManifest
        if FileManager.default.fileExists(atPath: folder.appending(path: name).path) {
            manifest = try LandingManifest.read(in: folder, name: name)
            // A re-run of the night keeps the first run's creation time and the latest source; each
            // entry names its run, so a re-run that stops part-way leaves a night seen as mixed.
            manifest.source = source
        } else {
            manifest = LandingManifest(district: district, date: date, source: source)
        }
        let replaced = manifest.feeds.updateValue(entry, forKey: feed.rawValue)
        guard case .pending = placement, manifest.isComplete else {
            try manifest.write(in: folder, name: name)
            // A feed of a resumed run that was archived aside before its night was promoted.
            if let replaced, replaced.file != entry.file { try? FileManager.default.removeItem(at: folder.appending(path: replaced.file)) }
            return
        }
        try manifest.write(in: folder)
        removeLeftovers(in: folder, keeping: Set(manifest.feeds.values.map(\.file)))
    }

    /// Removes feed files the night's manifest no longer lists and pending manifests: the night's
    /// extract is now one run's. A crash before this leaves files no manifest names, removed by the
    /// next promotion; other files (an operator's notes, writers' temporary files) are not touched.
    private func removeLeftovers(in folder: URL, keeping kept: Set<String>) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        for name in names where !kept.contains(name) && !name.hasPrefix(".") {
            guard name.hasSuffix(".ndjson.gz") || LandingManifest.pendingRun(fileName: name) != nil else { continue }
            try? FileManager.default.removeItem(at: folder.appending(path: name))
        }
    }
}
