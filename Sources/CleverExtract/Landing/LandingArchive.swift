public import Foundation

/// The landing archive: every extract's raw records, kept per district and run date so a past night
/// can be replayed (a backfill) without asking Clever again.
///
/// Layout: `<root>/<district>/<YYYY-MM-DD>/` holds one `<feed>.ndjson.gz` per feed (gzip, one JSON
/// ``RosterModel/Record`` a line, and the source's rejections as `{"rejection": ...}` lines) and
/// `manifest.json` (``LandingManifest``). ``LandingTeeSource``
/// writes a night while a sync runs; ``LandingSource`` reads one back. A run re-extracting a complete
/// night writes beside it (`<feed>.run-<run>.ndjson.gz`, `manifest.run-<run>-<uid>.pending.json`) and
/// becomes the night only once it has archived every feed.
public struct LandingArchive: Sendable {
    /// The folder holding one folder per district.
    public let root: URL

    public init(root: URL) {
        self.root = root
    }

    /// The folder of one night: `<root>/<district>/<date>/`.
    ///
    /// - Important: `district` and `date` become path components as given; ``validate(district:date:)``
    ///   rejects names that would escape `root`, and both sources call it in `check()`.
    public func folder(district: String, date: String) -> URL {
        root.appending(path: district, directoryHint: .isDirectory).appending(path: date, directoryHint: .isDirectory)
    }

    /// The extract of a run that stopped before archiving every feed, set aside beside a night.
    public struct SetAside: Sendable {
        /// The run's id (`etl.runs.id`).
        public var run: Int64
        /// The run's uid: two databases' runs may share an id.
        public var uid: String?
        /// Its pending manifest, nil when that cannot be read.
        public var manifest: LandingManifest?
    }

    /// One dated folder of a district.
    public struct Night: Sendable {
        /// `YYYY-MM-DD`.
        public var date: String
        /// The night's manifest, nil when there is none or it cannot be read.
        public var manifest: LandingManifest?
        /// Why the night cannot be replayed, nil when it can.
        public var problem: String?
        /// Extracts of later runs that stopped before archiving every feed, set aside beside the
        /// night (which they left as it was), by run id and uid. Not replayed.
        public var pending: [SetAside] = []
        public var isComplete: Bool { problem == nil }

        /// The manifest of the extract run `run` set aside (the first, if runs of two databases
        /// share the id), nil when there is none or it cannot be read.
        public func setAside(by run: Int64) -> LandingManifest? {
            pending.first { $0.run == run }?.manifest
        }
    }

    /// The nights of `district` from `from` to `to` (inclusive, `YYYY-MM-DD`) whose manifest lists all
    /// six feeds from one run, oldest first. Nights whose extract failed part-way are left out: they
    /// cannot be replayed in full.
    ///
    /// Throws ``ExtractError`` when a date is not `YYYY-MM-DD` or the district has no folder.
    public func nights(district: String, from: String, to: String) throws -> [String] {
        try archivedNights(district: district, from: from, to: to).filter(\.isComplete).map(\.date)
    }

    /// Every dated folder of `district` from `from` to `to`, oldest first, complete or not, each with
    /// the reason it cannot be replayed: no manifest (no feed finished, or the folder was copied in by
    /// hand), feeds not archived, or feeds from two runs. A backfill names the incomplete ones rather
    /// than passing over them in silence; `rostersync nights` lists them all.
    public func archivedNights(district: String, from: String, to: String) throws -> [Night] {
        try Self.validate(district: district, date: from)
        try Self.validate(district: district, date: to)
        let districtFolder = root.appending(path: district, directoryHint: .isDirectory)
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: districtFolder.path)
        } catch {
            throw ExtractError(
                .missingFile,
                "no landing folder for district \"\(district)\"; check the district name and the landing root",
                context: districtFolder.path, cause: error)
        }
        // `YYYY-MM-DD` sorts as text in date order, so string comparison is date comparison.
        return names.filter { Self.isDate($0) && $0 >= from && $0 <= to }.sorted().map { name in
            let folder = districtFolder.appending(path: name, directoryHint: .isDirectory)
            var night: Night
            do throws(ExtractError) {
                let manifest = try LandingManifest.read(in: folder)
                night = Night(date: name, manifest: manifest, problem: manifest.incompleteness)
            } catch {
                let problem = error.code == .missingFile
                    ? "no \(LandingManifest.fileName) (no feed finished, or the folder was not written by a sync)"
                    : "\(LandingManifest.fileName) cannot be read: \(error.message)"
                night = Night(date: name, manifest: nil, problem: problem)
            }
            let files = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
            // The pending manifest of the run that is the night is moot (left by a crash before
            // the promotion removed it).
            let nightRun = night.manifest?.extractor
            for file in files {
                guard let run = LandingManifest.pendingRun(fileName: file), run != nightRun else { continue }
                night.pending.append(
                    SetAside(run: run.id, uid: run.uid, manifest: try? LandingManifest.read(in: folder, name: file)))
            }
            night.pending.sort { ($0.run, $0.uid ?? "") < ($1.run, $1.uid ?? "") }
            return night
        }
    }

    /// The manifest of one night. Throws ``ExtractError`` with code `missingFile` when the night was
    /// never archived and `corruptArchive` when the manifest cannot be decoded.
    public func manifest(district: String, date: String) throws -> LandingManifest {
        try Self.validate(district: district, date: date)
        return try LandingManifest.read(in: folder(district: district, date: date))
    }

    /// The feeds `run` has archived for one night so far and where they are listed: in the night's
    /// manifest, or in the run's pending one while an earlier run's complete extract stays the night.
    /// Empty when the night or the run's entries cannot be read. `uid` is the run's
    /// `landing_run_uid` (nil for a run recorded before uids): an entry of another database's run
    /// with the same id is not this run's.
    public func feeds(archivedBy id: Int64, uid: String?, district: String, date: String) -> Set<Feed> {
        guard (try? Self.validate(district: district, date: date)) != nil else { return [] }
        let folder = folder(district: district, date: date)
        let run = LandingRun(id: id, uid: uid)
        var feeds = Set<Feed>()
        for name in [LandingManifest.fileName, LandingManifest.pendingFileName(run: run)] {
            guard let manifest = try? LandingManifest.read(in: folder, name: name) else { continue }
            // An entry without a run predates run ids; it may be this run's.
            feeds.formUnion(
                Feed.allCases.filter { feed in manifest.entry(for: feed).map { ($0.extractor ?? run) == run } ?? false })
        }
        return feeds
    }

    /// Checks that `district` is a single, ordinary folder name and `date` is `YYYY-MM-DD`, so the
    /// archive never writes or reads outside its root.
    public static func validate(district: String, date: String) throws(ExtractError) {
        let forbidden = district.unicodeScalars.contains { $0 == "/" || $0 == "\\" || $0.properties.generalCategory == .control }
        guard !district.isEmpty, district != ".", district != "..", !district.hasPrefix("."), !forbidden else {
            throw ExtractError(
                .configuration,
                "the district \"\(district)\" cannot name a landing folder; use its id without slashes or a leading dot")
        }
        guard isDate(date) else {
            throw ExtractError(.configuration, "the run date \"\(date)\" is not YYYY-MM-DD (for example 2024-09-03)")
        }
    }

    /// `YYYY-MM-DD` with a real month and day; calendar checks (Feb 30) are left to whoever picked the date.
    static func isDate(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-") else { return false }
        let digits = [0, 1, 2, 3, 5, 6, 8, 9]
        guard digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[$0]) }) else { return false }
        let number = { (a: Int, b: Int) in Int(bytes[a] - 48) * 10 + Int(bytes[b] - 48) }
        return (1...12).contains(number(5, 6)) && (1...31).contains(number(8, 9))
    }
}
