import Foundation
import RosterModel

/// Names and lists each finished feed file of a night, one at a time in this process.
///
/// The pipeline stages feeds in parallel, so several feeds of one night can finish at once; each
/// update is read, merge, atomic write, and two of them interleaved would lose one feed's entry.
/// One process-wide actor (not one per source value) because callers may build several
/// ``LandingTeeSource`` values for the same night.
///
/// Two promises, whatever fails or crashes in between:
/// - A file a manifest lists is never written over. Each finished file gets a name nothing in the
///   folder has, the manifest is rewritten (one rename) to list it, and only then is the file it
///   replaces removed. A crash leaves at most a file no manifest lists, removed by a later commit.
/// - A night one run archived completely stays replayable until another run has a complete extract
///   of it. A run re-extracting such a night lists its feeds in a manifest of its own
///   (``Placement/pending(run:)``), which becomes the night's manifest, in one rename, when the
///   run's last feed is archived.
actor LandingManifestLedger {
    static let shared = LandingManifestLedger()

    /// Where a run's finished feed is listed.
    enum Placement: Sendable, Equatable {
        /// In the night's `manifest.json`.
        case night
        /// In `manifest.run-<run>.pending.json`, beside another run's complete night, until every
        /// feed is there.
        case pending(run: Int64)
    }

    /// Where `run`'s feeds go in `folder` now. Decided as each feed is committed, so a feed that
    /// finishes after its run became the night (a retried stage) is listed in the night.
    func placement(in folder: URL, run: Int64?) -> Placement {
        // A night that is missing, incomplete or unreadable has no whole extract to keep (an
        // unreadable manifest then stops the commit). A complete night of this very run is being
        // resumed or retried: its feeds are this run's to replace.
        guard let run, let manifest = try? LandingManifest.read(in: folder), manifest.isComplete,
            manifest.feeds.values.contains(where: { $0.run != run })
        else { return .night }
        return .pending(run: run)
    }

    /// Names the finished file at `temporary` (in `folder`) and lists it with `entry`, whose `file`
    /// is set here: in the night's manifest or the run's pending one, as ``placement(in:run:)``
    /// says, creating the manifest if needed. A pending extract whose last feed this is becomes
    /// the night, and the earlier run's files and set-aside extracts are removed.
    func commit(
        _ feed: Feed, file temporary: URL, entry: LandingManifest.FeedEntry, in folder: URL, district: String,
        date: String, source: String
    ) throws(ExtractError) {
        let placement = placement(in: folder, run: entry.run)
        let manifestName =
            switch placement {
            case .night: LandingManifest.fileName
            case .pending(let run): LandingManifest.pendingFileName(run: run)
            }
        var manifest: LandingManifest
        if FileManager.default.fileExists(atPath: folder.appending(path: manifestName).path) {
            manifest = try LandingManifest.read(in: folder, name: manifestName)
            // A re-run of the night keeps the first run's creation time and the latest source; each
            // entry names its run, so a re-run of an incomplete night that stops part-way leaves a
            // night seen as mixed.
            manifest.source = source
        } else {
            manifest = LandingManifest(district: district, date: date, source: source)
        }
        var entry = entry
        entry.file = freeName(for: feed, placement, in: folder)
        let url = folder.appending(path: entry.file)
        try LandingFiles.replace(url, with: temporary)
        manifest.feeds[feed.rawValue] = entry
        do {
            if case .pending = placement, manifest.isComplete {
                try manifest.write(in: folder)
            } else {
                try manifest.write(in: folder, name: manifestName)
            }
        } catch {
            // Unlisted, the file would be an orphan a later run might mistake for this one's.
            try? FileManager.default.removeItem(at: url)
            throw error
        }
        removeUnlisted(in: folder)
    }

    /// `<feed>.ndjson.gz` in the night, `<feed>.run-<run>.ndjson.gz` beside it, with `.2`, `.3`...
    /// before `.ndjson.gz` while the name is taken.
    private func freeName(for feed: Feed, _ placement: Placement, in folder: URL) -> String {
        let stem =
            switch placement {
            case .night: feed.rawValue
            case .pending(let run): "\(feed.rawValue).run-\(run)"
            }
        var name = "\(stem).ndjson.gz"
        var number = 1
        while FileManager.default.fileExists(atPath: folder.appending(path: name).path) {
            number += 1
            name = "\(stem).\(number).ndjson.gz"
        }
        return name
    }

    /// Removes feed files no manifest lists (replaced, or left by a crash), and the pending
    /// manifests of runs no newer than the complete night's: superseded by a later extract, or the
    /// night's own run's left by a crash before its removal. Nothing is removed while a manifest
    /// cannot be read, and other files (an operator's notes, writers' temporary files) are never
    /// touched.
    private func removeUnlisted(in folder: URL) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        var night: LandingManifest?
        if names.contains(LandingManifest.fileName) {
            guard let manifest = try? LandingManifest.read(in: folder) else { return }
            night = manifest
        }
        var listed = Set(night?.feeds.values.map(\.file) ?? [])
        let nightRun = night.flatMap { $0.isComplete ? Optional($0.run ?? Int64.min) : nil }
        for name in names {
            guard let run = LandingManifest.pendingRun(fileName: name) else { continue }
            if let nightRun, run <= nightRun {
                try? FileManager.default.removeItem(at: folder.appending(path: name))
            } else if let pending = try? LandingManifest.read(in: folder, name: name) {
                listed.formUnion(pending.feeds.values.map(\.file))
            } else {
                return
            }
        }
        for name in names where name.hasSuffix(".ndjson.gz") && !name.hasPrefix(".") && !listed.contains(name) {
            try? FileManager.default.removeItem(at: folder.appending(path: name))
        }
    }
}
