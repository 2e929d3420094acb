import CleverExtract
import Foundation
import RosterModel
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite("Landing archive", .timeLimit(.minutes(3)))
struct LandingTests {
    let date = "2024-09-03"

    func tee(_ root: LandingRoot, _ source: FixedSource, date: String? = nil) -> LandingTeeSource {
        LandingTeeSource(upstream: source, archive: root.archive, district: "d1", date: date ?? self.date)
    }

    @Test("every feed passes through unchanged and replays with the same records and rejections in the same order")
    func roundTrip() async throws {
        let root = try LandingRoot()
        defer { root.remove() }
        let district = Sample.district()
        let tee = tee(root, FixedSource(batches: district))
        try await tee.check()
        for feed in Feed.allCases {
            let passed = try await tee.collect(feed)
            let sent = try #require(district[feed])
            #expect(passed.map(\.records) == sent.map(\.records), "\(feed)")
            #expect(passed.map(\.rejections) == sent.map(\.rejections), "\(feed)")
        }
        let replay = LandingSource(archive: root.archive, district: "d1", date: date, batchSize: 3)
        #expect(replay.description == "landing:\(root.archive.folder(district: "d1", date: date).path)")
        try await replay.check()
        for feed in Feed.allCases {
            let batches = try await replay.collect(feed)
            #expect(batches.flatMap(\.records) == district[feed]?.flatMap(\.records), "\(feed)")
            // The rows the night could not read replay too: staged, an unreadable row holds its
            // record on a replay as it did that night.
            let rejections = district[feed]?.flatMap(\.rejections) ?? []
            #expect(!rejections.isEmpty && batches.flatMap(\.rejections) == rejections, "\(feed)")
            #expect(batches.allSatisfy { $0.records.count + $0.rejections.count <= 3 })
        }
    }

    @Test("the manifest counts records and rejections, and its checksums match the files")
    func manifest() async throws {
        let root = try LandingRoot()
        defer { root.remove() }
        let tee = tee(root, FixedSource(batches: Sample.district(recordsPerFeed: 7, batchSize: 3)))
        try await tee.drainAll()
        let manifest = try root.archive.manifest(district: "d1", date: date)
        #expect(manifest.isComplete)
        #expect(manifest.district == "d1" && manifest.date == date && manifest.source == "fixed:test")
        #expect(abs(manifest.createdAt.timeIntervalSinceNow) < 300)
        let folder = root.archive.folder(district: "d1", date: date)
        for feed in Feed.allCases {
            let entry = try #require(manifest.entry(for: feed))
            #expect(entry.file == "\(feed.rawValue).ndjson.gz")
            #expect(entry.records == 7)
            #expect(entry.rejected == 1)
            #expect(entry.rejectionsArchived == true)
            let path = folder.appending(path: entry.file).path
            let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int
            #expect(entry.bytes == size)
            // Checked with the system's tools: the archive must be readable without RosterSync.
            let sum = String(decoding: try runTool("/usr/bin/env", ["sha256sum", path]), as: UTF8.self)
            #expect(sum.hasPrefix(entry.sha256 + " "))
            let lines = try runTool("/usr/bin/env", ["gzip", "-dc", path]).split(separator: UInt8(ascii: "\n"))
            // Seven records and the rejection, each a JSON line.
            #expect(lines.count == 8)
            let first = try JSONDecoder().decode(Record.self, from: Data(try #require(lines.first)))
            #expect(first == Sample.records(feed, count: 1).first)
            #expect(lines.filter { $0.starts(with: Array(#"{"rejection":"#.utf8)) }.count == 1)
        }
        // Children's personal data: readable by the sync's own account only, whatever the umask.
        func permissions(_ url: URL) throws -> Int {
            try #require(try FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as? Int)
        }
        #expect(try permissions(folder) == 0o700)
        #expect(try permissions(folder.deletingLastPathComponent()) == 0o700, "the district's folder too")
        for name in root.names(date: date) {
            #expect(try permissions(folder.appending(path: name)) == 0o600, "\(name)")
        }
        // Only the finished files and the manifest: no temporary files left behind.
        #expect(root.names(date: date) == (Feed.allCases.map { "\($0.rawValue).ndjson.gz" } + ["manifest.json"]).sorted())
    }

    @Test("a feed that fails mid-stream leaves no file and no manifest entry")
    func failedFeed() async throws {
        let root = try LandingRoot()
        defer { root.remove() }
        let tee = tee(root, FixedSource(batches: Sample.district(), failAfter: [.students: 1]))
        for feed in Feed.allCases where feed != .students { _ = try await tee.collect(feed) }
        var seen = 0
        await #expect(throws: FixedSource.Failure.self) {
            for try await _ in tee.batches(of: .students) { seen += 1 }
        }
        #expect(seen == 1)
        #expect(!root.names(date: date).contains { $0.contains("students") })
        let manifest = try root.archive.manifest(district: "d1", date: date)
        #expect(manifest.entry(for: .students) == nil)
        #expect(manifest.feeds.count == 5 && !manifest.isComplete)
        #expect(try root.archive.nights(district: "d1", from: date, to: date).isEmpty)

        // A night without students cannot be replayed.
        let replay = LandingSource(archive: root.archive, district: "d1", date: date)
        let error = await #expect(throws: ExtractError.self) { try await replay.check() }
        #expect(error?.code == .missingFile)
        #expect(error?.description.contains("students") == true)
        await #expect(throws: ExtractError.self) { _ = try await replay.collect(.students) }
    }

    @Test("a feed whose end check fails (its file changed while read) is not archived; the others are")
    func endCheckFails() async throws {
        let root = try LandingRoot()
        defer { root.remove() }
        struct Changed: Error {}
        let checked = EndCheckedSource(upstream: FixedSource(batches: Sample.district(recordsPerFeed: 3))) { feed in
            if feed == .enrollments { throw Changed() }
        }
        let source = LandingTeeSource(upstream: checked, archive: root.archive, district: "d1", date: date)
        var seen = 0
        await #expect(throws: Changed.self) {
            for try await batch in source.batches(of: .enrollments) { seen += batch.records.count }
        }
        #expect(seen == 3, "every batch passes before the end is checked")
        for feed in Feed.allCases where feed != .enrollments { _ = try await source.collect(feed) }
        let manifest = try root.archive.manifest(district: "d1", date: date)
        #expect(manifest.entry(for: .enrollments) == nil && manifest.feeds.count == 5)
        #expect(!root.names(date: date).contains { $0.contains("enrollments") })
    }

    @Test("a consumer that stops early leaves no file behind")
    func abandonedFeed() async throws {
        let root = try LandingRoot()
        defer { root.remove() }
        let tee = tee(root, FixedSource(batches: Sample.district()))
        try await readOneBatch(of: .teachers, from: tee)
        #expect(!root.names(date: date).contains { $0.contains("teachers") })
    }

    private func readOneBatch(of feed: Feed, from source: some RosterSource) async throws {
        for try await _ in source.batches(of: feed) { break }
    }

    @Test("a changed file fails the checksum in check() and when read")
    func tampered() async throws {
        let root = try LandingRoot()
        defer { root.remove() }
        try await tee(root, FixedSource(batches: Sample.district())).drainAll()
        let url = root.archive.folder(district: "d1", date: date).appending(path: "sections.ndjson.gz")
        // Same records, compressed again: a valid gzip file that is not the one archived.
        let original = try Data(contentsOf: url)
        var changed = original
        changed[4] ^= 0x01  // the gzip header's timestamp: still decompresses, no longer matches
        try changed.write(to: url)
        let replay = LandingSource(archive: root.archive, district: "d1", date: date)
        let error = await #expect(throws: ExtractError.self) { try await replay.check() }
        #expect(error?.code == .checksumMismatch)
        #expect(error?.description.contains("sections.ndjson.gz") == true)
        let readError = await #expect(throws: ExtractError.self) { _ = try await replay.collect(.sections) }
        #expect(readError?.code == .checksumMismatch)

        // Damage in the compressed data: decompression or the gzip CRC fails.
        var damaged = original
        damaged[damaged.count / 2] ^= 0xFF
        try damaged.write(to: url)
        let damageError = await #expect(throws: ExtractError.self) { _ = try await replay.collect(.sections) }
        #expect(damageError?.code == .corruptArchive || damageError?.code == .checksumMismatch)

        // A truncated copy.
        try original.prefix(original.count - 6).write(to: url)
        let truncatedError = await #expect(throws: ExtractError.self) { _ = try await replay.collect(.sections) }
        #expect(truncatedError?.code == .corruptArchive)
    }

    @Test("a listed file that is missing, or no manifest at all, is a missing-file error")
    func missing() async throws {
        let root = try LandingRoot()
        defer { root.remove() }
        let none = LandingSource(archive: root.archive, district: "d1", date: date)
        let noManifest = await #expect(throws: ExtractError.self) { try await none.check() }
        #expect(noManifest?.code == .missingFile)

        try await tee(root, FixedSource(batches: Sample.district())).drainAll()
        let url = root.archive.folder(district: "d1", date: date).appending(path: "terms.ndjson.gz")
        try FileManager.default.removeItem(at: url)
        let error = await #expect(throws: ExtractError.self) { try await none.check() }
        #expect(error?.code == .missingFile)
        #expect(error?.description.contains("terms.ndjson.gz") == true)
    }

    @Test("a line that is not a record names the file and line")
    func undecodableLine() async throws {
        let root = try LandingRoot()
        defer { root.remove() }
        try await tee(root, FixedSource(batches: Sample.district())).drainAll()
        // Replace the file with one whose second line is valid JSON but not a record, and list its checksum.
        let folder = root.archive.folder(district: "d1", date: date)
        let path = folder.appending(path: "schools.ndjson.gz").path
        var lines = try runTool("/usr/bin/env", ["gzip", "-dc", path]).split(separator: UInt8(ascii: "\n"))
        lines[1] = Data("{\"school\":42}".utf8)
        let text = lines.map { String(decoding: $0, as: UTF8.self) + "\n" }.joined()
        try Data(text.utf8).write(to: folder.appending(path: "plain"))
        let gz = try runTool("/usr/bin/env", ["gzip", "-nc", folder.appending(path: "plain").path])
        try FileManager.default.removeItem(at: folder.appending(path: "plain"))
        try gz.write(to: URL(filePath: path))
        var manifest = try root.archive.manifest(district: "d1", date: date)
        let sum = String(decoding: try runTool("/usr/bin/env", ["sha256sum", path]), as: UTF8.self)
        manifest.feeds["schools"]?.sha256 = String(sum.prefix(64))
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        try encoder.encode(manifest).write(to: folder.appending(path: "manifest.json"))

        let replay = LandingSource(archive: root.archive, district: "d1", date: date)
        try await replay.check()
        let error = await #expect(throws: ExtractError.self) { _ = try await replay.collect(.schools) }
        #expect(error?.code == .corruptArchive)
        #expect(error?.context?.hasSuffix("schools.ndjson.gz:2") == true)
    }

    @Test("nights lists the complete nights in the range, oldest first")
    func nights() async throws {
        let root = try LandingRoot()
        defer { root.remove() }
        let complete = FixedSource(batches: Sample.district(recordsPerFeed: 1))
        for night in ["2024-09-05", "2024-09-01", "2024-09-02", "2024-10-01"] {
            try await tee(root, complete, date: night).drainAll()
        }
        // A night whose enrollments failed is not complete.
        let failing = tee(root, FixedSource(batches: Sample.district(), failAfter: [.enrollments: 0]), date: "2024-09-03")
        await #expect(throws: FixedSource.Failure.self) { try await failing.drainAll() }
        try FileManager.default.createDirectory(
            at: root.url.appending(path: "d1/notes"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(
            at: root.url.appending(path: "d1/2024-09-04"), withIntermediateDirectories: true)

        #expect(try root.archive.nights(district: "d1", from: "2024-09-02", to: "2024-09-30") == ["2024-09-02", "2024-09-05"])
        // What a backfill names as not replayed, and why: the failed extract and the folder without a manifest.
        let all = try root.archive.archivedNights(district: "d1", from: "2024-09-02", to: "2024-09-30")
        #expect(all.map(\.date) == ["2024-09-02", "2024-09-03", "2024-09-04", "2024-09-05"])
        #expect(all.filter { !$0.isComplete }.map(\.date) == ["2024-09-03", "2024-09-04"])
        #expect(all[1].problem?.hasPrefix("not archived: enrollments") == true, "\(all[1].problem ?? "")")
        #expect(all[2].problem?.hasPrefix("no manifest.json") == true, "\(all[2].problem ?? "")")
        #expect(all[2].manifest == nil && all[1].manifest?.feeds.count == 5)
        #expect(try root.archive.archivedNights(district: "d1", from: "2024-09-05", to: "2024-12-31").allSatisfy(\.isComplete))
        #expect(
            try root.archive.nights(district: "d1", from: "2024-01-01", to: "2024-12-31")
                == ["2024-09-01", "2024-09-02", "2024-09-05", "2024-10-01"])
        #expect(throws: ExtractError.self) { try root.archive.nights(district: "d2", from: "2024-01-01", to: "2024-12-31") }
        #expect(throws: ExtractError.self) { try root.archive.nights(district: "d1", from: "2024-9-1", to: "2024-12-31") }
        #expect(root.archive.folder(district: "d1", date: "2024-09-01") == root.url.appending(path: "d1/2024-09-01/"))
    }

    func run(
        _ root: LandingRoot, _ id: Int64, uid: String? = nil, recordsPerFeed: Int, failAfter: [Feed: Int] = [:]
    ) -> LandingTeeSource {
        LandingTeeSource(
            upstream: FixedSource(batches: Sample.district(recordsPerFeed: recordsPerFeed), failAfter: failAfter),
            archive: root.archive, district: "d1", date: date, runID: id, runUID: uid)
    }

    @Test("a feed is listed only while no other process holds the night's lock (two databases on one landing root)")
    func commitWaitsForTheNightLock() async throws {
        let root = try LandingRoot()
        defer { root.remove() }
        let folder = root.archive.folder(district: "d1", date: date)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        // Another process's commit, as flock sees it: another open file description holding the lock.
        // O_CLOEXEC: a process another test starts meanwhile (the embedded PostgreSQL server,
        // which lives as long as the tests) must not inherit the descriptor and keep the lock.
        var other = open(
            folder.deletingLastPathComponent().appending(path: ".\(date).lock").path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        try #require(other >= 0)
        defer { if other >= 0 { close(other) } }
        try #require(flock(other, LOCK_EX | LOCK_NB) == 0)
        let commit = Task { try await run(root, 7, recordsPerFeed: 2).collect(.schools) }
        // Whatever fails below, the commit does not wait on (the lock is released above).
        defer { commit.cancel() }
        // The feed's one batch is written (its temporary file is there) and the commit waits.
        var waited = 0
        while !(try FileManager.default.contentsOfDirectory(atPath: folder.path).contains { $0.hasSuffix(".partial") }),
            waited < 500
        {
            waited += 1
            try await Task.sleep(for: .milliseconds(10))
        }
        try await Task.sleep(for: .milliseconds(300))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).contains { $0.hasSuffix(".partial") })
        #expect(!FileManager.default.fileExists(atPath: folder.appending(path: "manifest.json").path), "listed under another's lock")
        close(other)
        other = -1
        // Cancelled with the test (its time limit), the wait cancels the commit too.
        _ = try await withTaskCancellationHandler { try await commit.value } onCancel: { commit.cancel() }
        #expect(try root.archive.manifest(district: "d1", date: date).entry(for: .schools)?.records == 2)
        #expect(root.names(date: date) == ["manifest.json", "schools.ndjson.gz"], "the lock file is not in the night")
    }

    @Test("a run with the night's run id and another uid (another database's, after a restore) is another run: it never writes into the night")
    func sameRunIDAnotherDatabase() async throws {
        let root = try LandingRoot()
        defer { root.remove() }
        try await run(root, 12, uid: "a", recordsPerFeed: 4).drainAll()
        let complete = try root.archive.manifest(district: "d1", date: date)
        #expect(complete.isComplete && complete.feeds.values.allSatisfy { $0.run == 12 && $0.runUID == "a" })
        let text = try String(contentsOf: root.archive.folder(district: "d1", date: date).appending(path: "manifest.json"), encoding: .utf8)
        #expect(text.contains("\"run_uid\" : \"a\""))

        // The other database's run 12 archives schools, then its students fail.
        let other = run(root, 12, uid: "b", recordsPerFeed: 6, failAfter: [.students: 0])
        _ = try await other.collect(.schools)
        await #expect(throws: FixedSource.Failure.self) { _ = try await other.collect(.students) }
        #expect(try root.archive.manifest(district: "d1", date: date) == complete)
        #expect(root.names(date: date).contains("manifest.run-12-b.pending.json"))
        #expect(root.archive.feeds(archivedBy: 12, uid: "b", district: "d1", date: date) == [.schools])
        #expect(root.archive.feeds(archivedBy: 12, uid: "a", district: "d1", date: date) == Set(Feed.allCases))
        #expect(root.archive.feeds(archivedBy: 12, uid: nil, district: "d1", date: date) == [])
        var nights = try root.archive.archivedNights(district: "d1", from: date, to: date)
        #expect(nights.map(\.isComplete) == [true] && nights.first?.setAside(by: 12).map { Set($0.feeds.keys) } == ["schools"])
        // A third database's run 12 sets terms aside: both set-aside runs 12 are listed.
        _ = try await run(root, 12, uid: "c", recordsPerFeed: 5).collect(.terms)
        nights = try root.archive.archivedNights(district: "d1", from: date, to: date)
        #expect(nights.first?.pending.map { "\($0.run) \($0.uid ?? "-") \($0.manifest?.feeds.keys.sorted() ?? [])" }
            == ["12 b [\"schools\"]", "12 c [\"terms\"]"])
        let replay = LandingSource(archive: root.archive, district: "d1", date: date)
        try await replay.check()
        #expect(try await replay.collect(.schools).flatMap(\.records) == Sample.records(.schools, count: 4))

        // Resumed, it finishes its extract, which then is the night, whole.
        for feed in Feed.allCases where feed != .schools { _ = try await run(root, 12, uid: "b", recordsPerFeed: 6).collect(feed) }
        let replaced = try root.archive.manifest(district: "d1", date: date)
        #expect(replaced.isComplete && replaced.feeds.values.allSatisfy { $0.runUID == "b" })
        #expect(!root.names(date: date).contains("manifest.run-12-b.pending.json"))
        try await replay.check()
        #expect(try await replay.collect(.schools).flatMap(\.records) == Sample.records(.schools, count: 6))

        // Two runs of one id in one night's entries are two extracts, named apart.
        var mixed = replaced
        mixed.feeds["terms"]?.runUID = "a"
        #expect(!mixed.isComplete)
        #expect(mixed.incompleteness?.contains("run 12 (uid a): terms; run 12 (uid b): schools") == true, "\(mixed.incompleteness ?? "")")
    }

    @Test("a re-run of a complete night that stops part-way leaves the night as it was; resumed, it replaces the night whole")
    func rerunOfCompleteNight() async throws {
        let root = try LandingRoot()
        defer { root.remove() }
        try await run(root, 11, recordsPerFeed: 4).drainAll()
        let night = root.names(date: date)
        let complete = try root.archive.manifest(district: "d1", date: date)
        #expect(complete.isComplete && complete.feeds.values.allSatisfy { $0.run == 11 })

        // Run 12 re-extracts the night: schools and students finish, enrollments fails.
        let second = run(root, 12, recordsPerFeed: 6, failAfter: [.enrollments: 0])
        _ = try await second.collect(.schools)
        _ = try await second.collect(.students)
        await #expect(throws: FixedSource.Failure.self) { _ = try await second.collect(.enrollments) }
        #expect(try root.archive.manifest(district: "d1", date: date) == complete)
        #expect(
            root.names(date: date).sorted()
                == (night + ["manifest.run-12.pending.json", "schools.run-12.ndjson.gz", "students.run-12.ndjson.gz"]).sorted())
        let nights = try root.archive.archivedNights(district: "d1", from: date, to: date)
        #expect(nights.map(\.isComplete) == [true])
        #expect(nights.first?.setAside(by: 12).map { Set($0.feeds.keys) } == ["schools", "students"])
        #expect(root.archive.feeds(archivedBy: 12, uid: nil, district: "d1", date: date) == [.schools, .students])
        #expect(root.archive.feeds(archivedBy: 11, uid: nil, district: "d1", date: date) == Set(Feed.allCases))

        // The night replays run 11's extract, whole.
        let replay = LandingSource(archive: root.archive, district: "d1", date: date)
        try await replay.check()
        #expect(try await replay.collect(.students).flatMap(\.records) == Sample.records(.students, count: 4))

        // Run 12 resumed (same run id) finishes its extract, which then is the night, and run 11's files go.
        let resumed = run(root, 12, recordsPerFeed: 6)
        for feed in [Feed.teachers, .terms, .sections, .enrollments] { _ = try await resumed.collect(feed) }
        let replaced = try root.archive.manifest(district: "d1", date: date)
        #expect(replaced.isComplete && replaced.feeds.values.allSatisfy { $0.run == 12 })
        #expect(root.names(date: date) == (Feed.allCases.map { "\($0.rawValue).run-12.ndjson.gz" } + ["manifest.json"]).sorted())
        try await replay.check()
        #expect(try await replay.collect(.students).flatMap(\.records) == Sample.records(.students, count: 6))

        // Run 12 resumed again re-archives a feed of its own night in place, under the plain name.
        _ = try await run(root, 12, recordsPerFeed: 5).collect(.students)
        #expect(root.names(date: date).contains("students.ndjson.gz") && !root.names(date: date).contains("students.run-12.ndjson.gz"))
        try await replay.check()
        #expect(try await replay.collect(.students).flatMap(\.records) == Sample.records(.students, count: 5))
    }

    @Test("a feed archived again after its run became the night (a retried stage) is listed in the night, never over a file it lists")
    func retryAfterPromotion() async throws {
        let root = try LandingRoot()
        defer { root.remove() }
        try await run(root, 11, recordsPerFeed: 4).drainAll()
        let second = run(root, 12, recordsPerFeed: 6)
        _ = try await second.collect(.students)
        // Its retry has started (its file is open) when the run's other feeds finish: the run is the night.
        let retry = LandingTeeSource(
            upstream: FixedSource(batches: [.students: [ExtractBatch(records: Sample.records(.students, count: 7))]]),
            archive: root.archive, district: "d1", date: date, runID: 12)
        var iterator = retry.batches(of: .students).makeAsyncIterator()
        #expect(try await iterator.next()?.records.count == 7)
        for feed in Feed.allCases where feed != .students { _ = try await second.collect(feed) }
        #expect(try root.archive.manifest(district: "d1", date: date).entry(for: .students)?.records == 6)
        #expect(try await iterator.next() == nil)

        let night = try #require(try root.archive.archivedNights(district: "d1", from: date, to: date).first)
        #expect(night.isComplete && night.pending.isEmpty && night.manifest?.entry(for: .students)?.records == 7)
        #expect(
            root.names(date: date)
                == (Feed.allCases.filter { $0 != .students }.map { "\($0.rawValue).run-12.ndjson.gz" } + ["manifest.json", "students.ndjson.gz"]).sorted())
        let replay = LandingSource(archive: root.archive, district: "d1", date: date)
        try await replay.check()
        #expect(try await replay.collect(.students).flatMap(\.records) == Sample.records(.students, count: 7))
    }

    @Test("set-aside feeds survive run ids going backwards and a lost night manifest; files no manifest listed are left alone")
    func pendingEdgeCases() async throws {
        let root = try LandingRoot()
        defer { root.remove() }
        // A database restored from a backup: run 498 re-runs a night that run 500 archived.
        try await run(root, 500, recordsPerFeed: 4).drainAll()
        _ = try await run(root, 498, recordsPerFeed: 5).collect(.schools)
        var night = try #require(try root.archive.archivedNights(district: "d1", from: date, to: date).first)
        #expect(night.manifest?.run == 500 && night.setAside(by: 498).map { Set($0.feeds.keys) } == ["schools"])
        #expect(root.names(date: date).contains("schools.run-498.ndjson.gz"))

        // The night's manifest is lost; run 498 goes on setting its feeds aside, and its last one
        // makes its extract the night.
        try FileManager.default.removeItem(at: root.archive.folder(district: "d1", date: date).appending(path: "manifest.json"))
        for feed in Feed.allCases where feed != .schools { _ = try await run(root, 498, recordsPerFeed: 5).collect(feed) }
        night = try #require(try root.archive.archivedNights(district: "d1", from: date, to: date).first)
        #expect(night.isComplete && night.manifest?.run == 498 && night.pending.isEmpty)
        // Run 500's files, which the lost manifest listed, are unknown now: left where they are.
        #expect(root.names(date: date).contains("students.ndjson.gz"))

        // A folder copied in by hand, without a manifest: archiving one feed leaves the other files.
        let copied = "2024-09-04"
        let folder = root.archive.folder(district: "d1", date: copied)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Data("kept".utf8).write(to: folder.appending(path: "students.ndjson.gz"))
        _ = try await LandingTeeSource(
            upstream: FixedSource(batches: Sample.district(recordsPerFeed: 2)), archive: root.archive, district: "d1",
            date: copied, runID: 7
        ).collect(.schools)
        #expect(root.names(date: copied) == ["manifest.json", "schools.ndjson.gz", "students.ndjson.gz"])
        #expect(try Data(contentsOf: folder.appending(path: "students.ndjson.gz")) == Data("kept".utf8))
    }

    @Test("a pending manifest of the run that is the night (a crash after the promotion) is not reported, and goes with the run's next commit")
    func mootPendingManifest() async throws {
        let root = try LandingRoot()
        defer { root.remove() }
        try await run(root, 12, recordsPerFeed: 3).drainAll()
        let folder = root.archive.folder(district: "d1", date: date)
        try FileManager.default.copyItem(
            at: folder.appending(path: "manifest.json"), to: folder.appending(path: "manifest.run-12.pending.json"))
        #expect(try root.archive.archivedNights(district: "d1", from: date, to: date).first?.pending.isEmpty == true)
        _ = try await run(root, 12, recordsPerFeed: 4).collect(.terms)
        #expect(!root.names(date: date).contains("manifest.run-12.pending.json"))
        // The files the night lists stay: the moot manifest listed them too.
        try await LandingSource(archive: root.archive, district: "d1", date: date).check()
    }

    @Test("a re-run of a complete night that archives its feeds in parallel replaces the night once, whole")
    func parallelRerun() async throws {
        let root = try LandingRoot()
        defer { root.remove() }
        try await run(root, 11, recordsPerFeed: 4).drainAll()
        // A run that failed part-way before leaves its feeds aside; the next whole run clears them.
        _ = try await run(root, 12, recordsPerFeed: 5).collect(.terms)
        let third = run(root, 13, recordsPerFeed: 7)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for feed in Feed.allCases { group.addTask { _ = try await third.collect(feed) } }
            try await group.waitForAll()
        }
        let manifest = try root.archive.manifest(district: "d1", date: date)
        #expect(manifest.isComplete && manifest.feeds.values.allSatisfy { $0.run == 13 && $0.records == 7 })
        #expect(root.names(date: date) == (Feed.allCases.map { "\($0.rawValue).run-13.ndjson.gz" } + ["manifest.json"]).sorted())
        try await LandingSource(archive: root.archive, district: "d1", date: date).check()
    }

    @Test("a re-run of a night that is not complete, stopping part-way, leaves two runs' feeds: not complete, not replayed")
    func mixedRuns() async throws {
        let root = try LandingRoot()
        defer { root.remove() }
        // Run 11 archives all but enrollments.
        await #expect(throws: FixedSource.Failure.self) { try await run(root, 11, recordsPerFeed: 4, failAfter: [.enrollments: 0]).drainAll() }
        #expect(try root.archive.manifest(district: "d1", date: date).incompleteness?.hasPrefix("not archived: enrollments") == true)

        // Run 12 re-extracts the night in place (there is no whole night to keep): schools,
        // students and enrollments finish, sections fails.
        let second = run(root, 12, recordsPerFeed: 6, failAfter: [.sections: 0])
        for feed in [Feed.schools, .students, .enrollments] { _ = try await second.collect(feed) }
        await #expect(throws: FixedSource.Failure.self) { _ = try await second.collect(.sections) }
        #expect(root.names(date: date).allSatisfy { !$0.contains("run-") })
        let mixed = try root.archive.manifest(district: "d1", date: date)
        #expect(mixed.feeds.count == 6 && !mixed.isComplete)
        #expect(
            mixed.incompleteness
                == "feeds from different runs (run 11: teachers, terms, sections; run 12: schools, students, enrollments): "
                + "a later run of this night stopped part-way")
        #expect(try root.archive.nights(district: "d1", from: date, to: date).isEmpty)
        #expect(try root.archive.archivedNights(district: "d1", from: date, to: date).map(\.isComplete) == [false])

        // Neither check() nor a reader replays half of each run, even the feeds run 11 wrote.
        let replay = LandingSource(archive: root.archive, district: "d1", date: date)
        let error = await #expect(throws: ExtractError.self) { try await replay.check() }
        #expect(error?.code == .incompleteNight && error?.isUsageError == true)
        #expect(error?.description.contains("run 11: teachers") == true, "\(String(describing: error))")
        let readError = await #expect(throws: ExtractError.self) { _ = try await replay.collect(.enrollments) }
        #expect(readError?.code == .incompleteNight)

        // Run 12 resumed (same run id) finishes the night: one extract again.
        let resumed = run(root, 12, recordsPerFeed: 6)
        for feed in [Feed.teachers, .terms, .sections] { _ = try await resumed.collect(feed) }
        #expect(try root.archive.nights(district: "d1", from: date, to: date) == [date])
        try await replay.check()
        #expect(try await replay.collect(.teachers).flatMap(\.records).count == 6)
    }

    @Test("rejections replay where they were, a last batch of only rejections included; an entry from before they were archived replays none")
    func rejectionsReplay() async throws {
        let root = try LandingRoot()
        defer { root.remove() }
        var district = Sample.district(recordsPerFeed: 3, batchSize: 3)
        let trailing = [Sample.rejection(.students, line: 9), Sample.rejection(.students, line: 10)]
        district[.students]?.append(ExtractBatch(records: [], rejections: trailing))
        try await tee(root, FixedSource(batches: district)).drainAll()
        let sent = district[.students] ?? []
        for batchSize in [1, 10] {
            let replayed = try await LandingSource(archive: root.archive, district: "d1", date: date, batchSize: batchSize)
                .collect(.students)
            #expect(replayed.flatMap(\.records) == sent.flatMap(\.records), "batches of \(batchSize)")
            #expect(replayed.flatMap(\.rejections) == sent.flatMap(\.rejections), "batches of \(batchSize)")
            #expect(replayed.flatMap(\.rejections).suffix(2) == trailing[...])
        }

        // The manifest's entry as an earlier version wrote it: rejections counted, none in the file.
        let url = root.archive.folder(district: "d1", date: date).appending(path: LandingManifest.fileName)
        func editStudentsEntry(_ change: (inout [String: Any]) -> Void) throws {
            var manifest = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
            var feeds = try #require(manifest["feeds"] as? [String: Any])
            var entry = try #require(feeds["students"] as? [String: Any])
            change(&entry)
            feeds["students"] = entry
            manifest["feeds"] = feeds
            try JSONSerialization.data(withJSONObject: manifest).write(to: url)
        }
        // Here the file does hold its rejections, so an entry that says it holds none is a damaged one...
        try editStudentsEntry { $0["rejections_archived"] = nil }
        let old = await #expect(throws: ExtractError.self) {
            _ = try await LandingSource(archive: root.archive, district: "d1", date: date).collect(.students)
        }
        #expect(old?.code == .corruptArchive && old?.message.contains("3 rejections") == true, "\(String(describing: old))")
        // ...and one that counts more than the file holds too.
        try editStudentsEntry {
            $0["rejections_archived"] = true
            $0["rejected"] = 4
        }
        let short = await #expect(throws: ExtractError.self) {
            _ = try await LandingSource(archive: root.archive, district: "d1", date: date).collect(.students)
        }
        #expect(short?.code == .corruptArchive, "\(String(describing: short))")

        // A night an earlier version archived: no rejection lines, the entry counting two. It replays, with none.
        let earlier = "2024-09-02"
        var plain = Sample.district(recordsPerFeed: 3, batchSize: 3)
        for feed in Feed.allCases { plain[feed] = plain[feed]?.map { ExtractBatch(records: $0.records) } }
        try await tee(root, FixedSource(batches: plain), date: earlier).drainAll()
        let earlierURL = root.archive.folder(district: "d1", date: earlier).appending(path: LandingManifest.fileName)
        var manifest = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: earlierURL)) as? [String: Any])
        var feeds = try #require(manifest["feeds"] as? [String: Any])
        var entry = try #require(feeds["students"] as? [String: Any])
        entry["rejections_archived"] = nil
        entry["rejected"] = 2
        feeds["students"] = entry
        manifest["feeds"] = feeds
        try JSONSerialization.data(withJSONObject: manifest).write(to: earlierURL)
        let replayed = try await LandingSource(archive: root.archive, district: "d1", date: earlier).collect(.students)
        #expect(replayed.flatMap(\.records).count == 3 && replayed.flatMap(\.rejections).isEmpty)
    }

    @Test("a manifest written before runs were recorded still reads, and its night is complete")
    func manifestWithoutRuns() async throws {
        let root = try LandingRoot()
        defer { root.remove() }
        try await tee(root, FixedSource(batches: Sample.district(recordsPerFeed: 2))).drainAll()
        let url = root.archive.folder(district: "d1", date: date).appending(path: LandingManifest.fileName)
        let text = try String(contentsOf: url, encoding: .utf8)
        #expect(!text.contains("\"run\""))
        let manifest = try root.archive.manifest(district: "d1", date: date)
        #expect(manifest.isComplete && manifest.feeds.values.allSatisfy { $0.run == nil })
        try await LandingSource(archive: root.archive, district: "d1", date: date).check()
        // One feed extracted again by a run that records itself goes aside: the night is kept.
        _ = try await run(root, 5, recordsPerFeed: 3).collect(.terms)
        #expect(try root.archive.manifest(district: "d1", date: date) == manifest)
        let night = try root.archive.archivedNights(district: "d1", from: date, to: date).first
        #expect(night?.isComplete == true && night?.setAside(by: 5).map { Set($0.feeds.keys) } == ["terms"])
        // Without run ids, entries may be any run's, so a resume finds its feeds there.
        #expect(root.archive.feeds(archivedBy: 6, uid: nil, district: "d1", date: date) == Set(Feed.allCases))
    }

    @Test("a district or date that would leave the root is refused before any row is read")
    func badNames() async throws {
        let root = try LandingRoot()
        defer { root.remove() }
        for (district, date) in [("../x", date), ("..", date), ("", date), ("d1", "2024-13-01"), ("d1", "../../x")] {
            let tee = LandingTeeSource(
                upstream: FixedSource(batches: [:]), archive: root.archive, district: district, date: date)
            let error = await #expect(throws: ExtractError.self) { try await tee.check() }
            #expect(error?.code == .configuration)
        }
    }

    @Test("feeds archived in parallel all reach the manifest")
    func parallelFeeds() async throws {
        let root = try LandingRoot()
        defer { root.remove() }
        let tee = tee(root, FixedSource(batches: Sample.district(recordsPerFeed: 200, batchSize: 10)))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for feed in Feed.allCases { group.addTask { _ = try await tee.collect(feed) } }
            try await group.waitForAll()
        }
        let manifest = try root.archive.manifest(district: "d1", date: date)
        #expect(manifest.isComplete)
        #expect(manifest.feeds.values.allSatisfy { $0.records == 200 })
        try await LandingSource(archive: root.archive, district: "d1", date: date).check()
    }

    @Test("a feed archived again replaces the earlier file and entry")
    func rerun() async throws {
        let root = try LandingRoot()
        defer { root.remove() }
        try await tee(root, FixedSource(batches: Sample.district(recordsPerFeed: 4))).drainAll()
        let first = try root.archive.manifest(district: "d1", date: date)
        let again = FixedSource(batches: [.students: [ExtractBatch(records: Sample.records(.students, count: 9))]])
        _ = try await tee(root, again).collect(.students)
        let second = try root.archive.manifest(district: "d1", date: date)
        #expect(second.entry(for: .students)?.records == 9)
        // Written under a new name, listed, and only then the old file removed: no listed file is
        // ever written over.
        #expect(first.entry(for: .students)?.file == "students.ndjson.gz" && second.entry(for: .students)?.file == "students.2.ndjson.gz")
        #expect(!root.names(date: date).contains("students.ndjson.gz"))
        #expect(second.entry(for: .schools) == first.entry(for: .schools))
        #expect(second.createdAt == first.createdAt)
        let replay = LandingSource(archive: root.archive, district: "d1", date: date)
        try await replay.check()
        #expect(try await replay.collect(.students).flatMap(\.records) == Sample.records(.students, count: 9))
    }

    @Test("50,000 records stream through and back in batches of 2,000")
    func large() async throws {
        let root = try LandingRoot()
        defer { root.remove() }
        let count = 50_000
        let batches = stride(from: 0, to: count, by: 500).map {
            ExtractBatch(records: Sample.records(.students, count: 500, offset: $0))
        }
        let tee = tee(root, FixedSource(batches: [.students: batches]))
        _ = try await tee.collect(.students)
        let manifest = try root.archive.manifest(district: "d1", date: date)
        #expect(manifest.entry(for: .students)?.records == count)

        let replay = LandingSource(archive: root.archive, district: "d1", date: date)
        var index = 0
        var batchCount = 0
        var mismatches = 0
        for try await batch in replay.batches(of: .students) {
            #expect(batch.records.count <= 2_000)
            batchCount += 1
            // Compared as they come rather than collected: the replay itself must not hold the feed.
            for record in batch.records {
                if record != Sample.records(.students, count: 1, offset: index)[0] { mismatches += 1 }
                index += 1
            }
        }
        #expect(index == count)
        #expect(batchCount == 25)
        #expect(mismatches == 0)
    }
}
