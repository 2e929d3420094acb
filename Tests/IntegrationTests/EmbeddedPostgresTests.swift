import Foundation
import Logging
@testable import PostgresLoad
import Testing

/// The embedded cluster the program starts when no database is configured.
@Suite("Embedded PostgreSQL", .serialized, .timeLimit(.minutes(10)))
struct EmbeddedPostgresTests {
    @Test("The server it starts inherits no secrets (only PATH and the locale, not CLEVER_TOKEN or DATABASE_URL) and none of our open files")
    func serverEnvironment() async throws {
        #expect(
            EmbeddedPostgres.serverEnvironment(["CLEVER_TOKEN": "secret", "PATH": "/usr/bin", "LANG": "C.UTF-8", "DATABASE_URL": "x"])
                .sorted() == ["LANG=C.UTF-8", "PATH=/usr/bin"])

        let root = FileManager.default.temporaryDirectory.appendingPathComponent("rs-embedded-\(UUID().uuidString)")
        let embedded = EmbeddedPostgres(root: root)
        // A descriptor of ours without O_CLOEXEC, as a lock file or a library may hold.
        let heldPath = FileManager.default.temporaryDirectory.appendingPathComponent("rs-held-\(UUID().uuidString)").path
        let held = open(heldPath, O_RDWR | O_CREAT, 0o600)
        try #require(held >= 0)
        defer {
            try? embedded.stop(logger: TestDatabase.logger)
            try? FileManager.default.removeItem(at: root)
            if embedded.home != root { try? FileManager.default.removeItem(at: embedded.home) }
            close(held)
            unlink(heldPath)
        }
        _ = try await embedded.start(logger: TestDatabase.logger)
        // What a running process holds is read from /proc, which macOS does not have.
        #if os(Linux)
        let pidFile = try String(contentsOf: embedded.dataDirectory.appendingPathComponent("postmaster.pid"), encoding: .utf8)
        let pid = try #require(pidFile.split(separator: "\n").first.flatMap { Int($0) })

        // The server holds none of our descriptors: it would keep that file (and its locks) open
        // for as long as it runs. Its own are there (stdin from /dev/null, the log).
        let serverFiles = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").compactMap {
            try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)")
        }
        #expect(serverFiles.contains("/dev/null"), "\(serverFiles)")
        #expect(!serverFiles.contains(heldPath), "the server inherited \(heldPath): \(serverFiles)")
        let environ = try Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/environ"))
        let keys = environ.split(separator: 0).compactMap { String(decoding: $0, as: UTF8.self).split(separator: "=").first }
            .map(String.init)
        #expect(!keys.isEmpty)
        let allowed: Set<String> = [
            "PATH", "LANG", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "TZ",
            "PGDATA", "PG_GRANDPARENT_PID", "PGSYSCONFDIR", "PGLOCALEDIR",  // set by pg_ctl and postgres themselves
        ]
        // runuser (as root) adds the target user's own basics; nothing of ours gets through.
        let fromRunuser: Set<String> = ["HOME", "SHELL", "USER", "LOGNAME", "MAIL", "PWD", "SHLVL", "_", "OLDPWD", "TERM"]
        #expect(Set(keys).subtracting(allowed).subtracting(fromRunuser).isEmpty, "\(keys.sorted())")
        #expect(!keys.contains("CLEVER_TOKEN") && !keys.contains("DATABASE_URL"))
        #endif
    }

    @Test("A folder of the cluster's made in /tmp in advance by someone else (here a link) is refused, its target untouched")
    func plantedFolderRefused() async throws {
        // A deep working folder puts the socket folder at /tmp/rostersync-<hash>, a name anyone can work out.
        let root = FileManager.default.temporaryDirectory
            .appendingPathComponent("rs-planted-\(UUID().uuidString)-" + String(repeating: "d", count: 60))
        let embedded = EmbeddedPostgres(root: root)
        let planted = embedded.socketDirectory
        #expect(planted.path.hasPrefix("/tmp/rostersync-"), "\(planted.path)")
        let victim = FileManager.default.temporaryDirectory.appendingPathComponent("rs-victim-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: victim, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: planted, withDestinationURL: victim)
        defer {
            try? FileManager.default.removeItem(at: planted)
            try? FileManager.default.removeItem(at: victim)
            try? FileManager.default.removeItem(at: root)
        }
        let error = await #expect(throws: LoadError.self) { _ = try await embedded.start(logger: TestDatabase.logger) }
        #expect(error?.description.contains("is not this program's folder") == true, "\(String(describing: error))")
        let owner = try FileManager.default.attributesOfItem(atPath: victim.path)[.ownerAccountID] as? NSNumber
        #expect(owner?.uint32Value == getuid(), "the link's target was not handed over")
    }
}
