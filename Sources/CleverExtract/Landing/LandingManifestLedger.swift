import Foundation
import RosterModel

/// Names and lists each finished feed file of a night, one at a time in this process.
///
/// The pipeline stages feeds in parallel, so several feeds of one night can finish at once; each
/// update is read, merge, atomic write, and two of them interleaved would lose one feed's entry.
/// One process-wide actor (not one per source value) because callers may build several
/// ``LandingTeeSource`` values for the same night; and each commit holds the night's file lock
/// (``LandingFiles/withLock(on:isolation:_:)``), for processes of two databases sharing a landing root.
///
/// Two promises, whatever fails or crashes in between:
/// - A file a manifest lists is never written over. Each finished file gets a name nothing in the
///   folder has, the manifest is rewritten (one rename) to list it, and only then is the file it
///   replaces removed. A crash leaves at most a file no manifest lists, which nothing reads.
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
        /// In the run's `manifest.run-<run>-<uid>.pending.json`, beside another run's complete
        /// night, until every feed is there.
        case pending(run: LandingRun)
    }

    /// Where `run`'s feeds go in `folder` now. Decided as each feed is committed, so a feed that
    /// finishes after its run became the night (a retried stage) is listed in the night.
    func placement(in folder: URL, run: LandingRun?) -> Placement {
        guard let run else { return .night }
        let night = try? LandingManifest.read(in: folder)
        // A complete night of this very run is being resumed or retried: its feeds are this run's
        // to replace. (Of this run, not of its id: ``LandingRun``.)
        if let night, night.isComplete, night.extractor == run { return .night }
        // Feeds the run set aside stay together until its last one, even if the night's manifest
        // went missing meanwhile: written into the night, they would be complete nowhere.
        if FileManager.default.fileExists(atPath: folder.appending(path: LandingManifest.pendingFileName(run: run)).path) {
            return .pending(run: run)
        }
        // Another run's complete night is kept until this run has a complete extract. A night that
        // is missing, incomplete or unreadable has no whole extract to keep (an unreadable
        // manifest then stops the commit).
        return night?.isComplete == true ? .pending(run: run) : .night
    }

    /// Names the finished file at `temporary` (in `folder`) and lists it with `entry`, whose `file`
    /// is set here: in the night's manifest or the run's pending one, as ``placement(in:run:)``
    /// says, creating the manifest if needed. A pending extract whose last feed this is becomes
    /// the night; then the files of the extracts it replaces, and every pending manifest, go.
    func commit(
        _ feed: Feed, file temporary: URL, entry: LandingManifest.FeedEntry, in folder: URL, district: String,
        date: String, source: String
    ) async throws(ExtractError) {
        try await LandingFiles.withLock(on: folder) { () throws(ExtractError) in
            try commitLocked(feed, file: temporary, entry: entry, in: folder, district: district, date: date, source: source)
        }
    }

    private func commitLocked(
        _ feed: Feed, file temporary: URL, entry: LandingManifest.FeedEntry, in folder: URL, district: String,
        date: String, source: String
    ) throws(ExtractError) {
        let placement = placement(in: folder, run: entry.extractor)
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
        let replaced = manifest.feeds.updateValue(entry, forKey: feed.rawValue)
        let promoted = placement != .night && manifest.isComplete
        // What the commit makes unlisted, read before the manifests change.
        let superseded = promoted ? Self.superseded(in: folder) : []
        do {
            try manifest.write(in: folder, name: promoted ? LandingManifest.fileName : manifestName)
        } catch {
            // Unlisted, the file would be an orphan a later run might mistake for this one's.
            try? FileManager.default.removeItem(at: url)
            throw error
        }
        // Only files a manifest listed, and pending manifests, are ever removed: a file this does
        // not know (copied in by hand, or left by a crash between rename and manifest) stays.
        let kept = Set(manifest.feeds.values.map(\.file))
        for name in superseded + (replaced.map { [$0.file] } ?? []) where !kept.contains(name) {
            try? FileManager.default.removeItem(at: folder.appending(path: name))
        }
        if placement == .night || promoted { removeMootPending(in: folder, night: manifest) }
    }

    /// The old night's files and every pending manifest with its files: what a promotion replaces.
    private static func superseded(in folder: URL) -> [String] {
        var names = (try? LandingManifest.read(in: folder))?.feeds.values.map(\.file) ?? []
        let files = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        for name in files where LandingManifest.pendingRun(fileName: name) != nil {
            names.append(name)
            names += (try? LandingManifest.read(in: folder, name: name))?.feeds.values.map(\.file) ?? []
        }
        return names
    }

    /// The pending manifest of the run that is the complete `night` just written, which a crash
    /// after the promotion's rename can leave: removed with the files only it lists.
    private func removeMootPending(in folder: URL, night: LandingManifest) {
        guard let run = night.extractor else { return }
        let name = LandingManifest.pendingFileName(run: run)
        guard let pending = try? LandingManifest.read(in: folder, name: name) else { return }
        let kept = Set(night.feeds.values.map(\.file))
        for file in pending.feeds.values.map(\.file) where !kept.contains(file) {
            try? FileManager.default.removeItem(at: folder.appending(path: file))
        }
        try? FileManager.default.removeItem(at: folder.appending(path: name))
    }

    /// `<feed>.ndjson.gz` in the night, `<feed>.run-<run id>.ndjson.gz` beside it, with `.2`, `.3`...
    /// before `.ndjson.gz` while the name is taken.
    private func freeName(for feed: Feed, _ placement: Placement, in folder: URL) -> String {
        let stem =
            switch placement {
            case .night: feed.rawValue
            case .pending(let run): "\(feed.rawValue).run-\(run.id)"
            }
        var name = "\(stem).ndjson.gz"
        var number = 1
        while FileManager.default.fileExists(atPath: folder.appending(path: name).path) {
            number += 1
            name = "\(stem).\(number).ndjson.gz"
        }
        return name
    }
}
