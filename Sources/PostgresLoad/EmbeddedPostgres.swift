public import Foundation
public import Logging
import PostgresNIO
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A private PostgreSQL cluster under a folder of the working directory (`.rostersync/`), made
/// from the server binaries installed on the machine and listening on a Unix socket only.
///
/// PostgreSQL refuses to run as root; when this process is root the server runs as the
/// `postgres` system user. Starting is serialised across processes with a file lock, so tests and
/// a concurrent CLI call can all ask for it at once.
public struct EmbeddedPostgres: Sendable {
    /// The superuser and database the cluster is made with.
    public static let user = "rostersync"
    public static let database = "rostersync"

    public enum Status: Sendable, Equatable, CustomStringConvertible {
        case notInitialised
        case stopped
        case running

        public var description: String {
            switch self {
            case .notInitialised: "not initialised"
            case .stopped: "stopped"
            case .running: "running"
            }
        }
    }

    /// The folder everything lives under (`.rostersync` in the working directory).
    public let root: URL
    private let serverUser: String?

    public init(root: URL) {
        self.root = root.standardizedFileURL
        self.serverUser = getuid() == 0 ? "postgres" : nil
    }

    /// Where the cluster's files are. Root's working folder may not be readable by `postgres`;
    /// then the cluster lives in a folder of its own under /var/tmp, named after this one.
    public var home: URL {
        if serverUser != nil, let pointer = try? String(contentsOf: pointerFile, encoding: .utf8) {
            let path = pointer.trimmingCharacters(in: .whitespacesAndNewlines)
            if !path.isEmpty { return URL(fileURLWithPath: path) }
        }
        return root
    }

    public var dataDirectory: URL { home.appendingPathComponent("pgdata") }
    public var logFile: URL { home.appendingPathComponent("postgres.log") }
    private var pointerFile: URL { root.appendingPathComponent("cluster-location") }

    /// Unix socket paths are limited to about 100 bytes; a deep working folder gets a short
    /// socket folder under /tmp instead.
    public var socketDirectory: URL {
        let inside = home.appendingPathComponent("run")
        if inside.path.utf8.count < 80 { return inside }
        return URL(fileURLWithPath: "/tmp/rostersync-\(Self.shortHash(home.path))")
    }

    /// The connection target for a database in this cluster.
    public func target(database: String = EmbeddedPostgres.database) -> DatabaseTarget {
        DatabaseTarget(
            configuration: .init(
                unixSocketPath: socketDirectory.appendingPathComponent(".s.PGSQL.5432").path,
                username: Self.user, password: nil, database: database),
            description: "embedded PostgreSQL (\(home.path), database \(database))")
    }

    public func status() -> Status {
        guard FileManager.default.fileExists(atPath: dataDirectory.appendingPathComponent("PG_VERSION").path) else {
            return .notInitialised
        }
        guard let pgCtl = try? Self.findBinary("pg_ctl") else { return .stopped }
        let result = try? run(pgCtl, ["-D", dataDirectory.path, "status"], asServer: true)
        return result?.status == 0 ? .running : .stopped
    }

    /// Creates the cluster if needed, starts it if needed, creates the `rostersync` database, and
    /// returns its target. Safe to call from several processes at once.
    public func start(logger: Logger) async throws -> DatabaseTarget {
        try withFileLock {
            try startLocked(logger: logger)
        }
        let admin = target(database: "postgres")
        try await admin.withConnection(logger: logger) { connection in
            let rows = try await connection.query(
                "SELECT 1 FROM pg_database WHERE datname = \(Self.database)", logger: logger)
            var exists = false
            for try await _ in rows { exists = true }
            if !exists {
                do {
                    try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(Self.database)"), logger: logger)
                } catch {
                    // A concurrent starter may have created it first.
                    logger.debug("create database raced", metadata: ["db.error": "\(String(reflecting: error))"])
                }
            }
        }
        return target()
    }

    /// Stops the cluster if it runs.
    public func stop(logger: Logger) throws {
        guard status() == .running else { return }
        let pgCtl = try Self.findBinary("pg_ctl")
        let result = try run(pgCtl, ["-D", dataDirectory.path, "-m", "fast", "-w", "stop"], asServer: true)
        guard result.status == 0 else {
            throw LoadError(.embeddedServer, "pg_ctl stop failed: \(result.output)")
        }
        logger.info("embedded PostgreSQL stopped", metadata: ["db.data_directory": "\(dataDirectory.path)"])
    }

    private func startLocked(logger: Logger) throws {
        let fileManager = FileManager.default
        if serverUser != nil && !fileManager.fileExists(atPath: pointerFile.path) {
            try chooseHomeForServerUser(logger: logger)
        }
        // Folders outside the working folder sit in world-writable /var/tmp or /tmp under names
        // anyone can work out: one made in advance by someone else (or a link to /etc) must not
        // be used, nor handed to the server user. Once made they belong to the server's user
        // (as root: 'postgres', never root itself, so no pointer can lead to a folder of root's).
        let owner = serverUser.flatMap(Self.uid(of:)) ?? getuid()
        for folder in [home, socketDirectory] where !folder.path.hasPrefix(root.path + "/") && folder != root {
            try Self.makePrivateDirectory(folder, ownedBy: owner)
        }
        try fileManager.createDirectory(at: home, withIntermediateDirectories: true)
        try fileManager.createDirectory(at: socketDirectory, withIntermediateDirectories: true)
        try ownForServer(home)
        try ownForServer(socketDirectory)

        if status() == .notInitialised {
            let initdb = try Self.findBinary("initdb")
            logger.info(
                "creating the embedded PostgreSQL cluster",
                metadata: ["db.data_directory": "\(dataDirectory.path)", "db.server_user": "\(serverUser ?? "self")"])
            if let serverUser {
                logger.notice("running as root: the embedded PostgreSQL server runs as the '\(serverUser)' system user")
            }
            let result = try run(
                initdb,
                ["-D", dataDirectory.path, "-U", Self.user, "--auth=trust", "-E", "UTF8", "--locale=C", "--no-instructions"],
                asServer: true)
            guard result.status == 0 else {
                throw LoadError(.embeddedServer, "initdb failed for \(dataDirectory.path):\n\(result.output)")
            }
        }
        guard status() != .running else { return }
        let pgCtl = try Self.findBinary("pg_ctl")
        let options = [
            "-c listen_addresses=''",
            "-c unix_socket_directories='\(socketDirectory.path)'",
            "-c unix_socket_permissions=0700",
            "-c max_connections=100",
            "-c shared_buffers=256MB",
            "-c max_wal_size=4GB",
            "-c synchronous_commit=off",
        ].joined(separator: " ")
        if serverUser != nil {
            logger.notice("starting the embedded PostgreSQL server as the 'postgres' system user (this process is root)")
        } else {
            logger.info("starting the embedded PostgreSQL server", metadata: ["db.data_directory": "\(dataDirectory.path)"])
        }
        let result = try run(
            pgCtl, ["-D", dataDirectory.path, "-l", logFile.path, "-o", options, "-w", "-t", "60", "start"],
            asServer: true)
        guard result.status == 0 else {
            let tail = (try? String(contentsOf: logFile, encoding: .utf8))?.split(separator: "\n").suffix(15)
                .joined(separator: "\n") ?? ""
            throw LoadError(
                .embeddedServer,
                "the embedded PostgreSQL server did not start (see \(logFile.path)):\n\(result.output)\n\(tail)")
        }
    }

    /// As root, the working folder may sit under a home the `postgres` user cannot enter.
    private func chooseHomeForServerUser(logger: Logger) throws {
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let probe = try run("/usr/bin/test", ["-x", root.path, "-a", "-r", root.path], asServer: true, chownRoot: true)
        let home: URL
        if probe.status == 0 {
            home = root
        } else {
            home = URL(fileURLWithPath: "/var/tmp/rostersync-\(Self.shortHash(root.path))")
            logger.notice(
                "the 'postgres' user cannot enter \(root.path); the embedded cluster lives in \(home.path) instead")
        }
        try home.path.write(to: pointerFile, atomically: true, encoding: .utf8)
    }

    /// Creates `url` as a folder only this user can enter, or accepts it when it already is a
    /// real folder (not a link) owned by `owner`.
    static func makePrivateDirectory(_ url: URL, ownedBy owner: uid_t) throws {
        if mkdir(url.path, 0o700) == 0 { return }
        let made = errno
        var info = stat()
        guard made == EEXIST, lstat(url.path, &info) == 0 else {
            throw LoadError(.embeddedServer, "cannot create \(url.path): \(String(cString: strerror(made)))")
        }
        guard (info.st_mode & S_IFMT) == S_IFDIR, info.st_uid == owner else {
            throw LoadError(
                .embeddedServer,
                "\(url.path) already exists and is not this program's folder (a link, or owned by user \(info.st_uid)); "
                    + "it is not used. Remove it, or set DATABASE_URL")
        }
    }

    static func uid(of user: String) -> uid_t? {
        getpwnam(user).map { $0.pointee.pw_uid }
    }

    private func ownForServer(_ url: URL) throws {
        guard let serverUser else { return }
        // -h: a link is never followed to hand its target over.
        let result = try run("/bin/chown", ["-h", "\(serverUser):", url.path])
        guard result.status == 0 else {
            throw LoadError(.embeddedServer, "cannot hand \(url.path) to the '\(serverUser)' user: \(result.output)")
        }
        _ = try run("/bin/chmod", ["0700", url.path])
    }

    // MARK: - Processes

    private struct ProcessResult {
        var status: Int32
        var output: String
    }

    private func run(_ executable: String, _ arguments: [String], asServer: Bool = false, chownRoot: Bool = false)
        throws -> ProcessResult
    {
        if chownRoot { try ownForServer(root) }
        var argv: [String]
        if asServer, let serverUser {
            argv = [try Self.findRunuser(), "-u", serverUser, "--", executable] + arguments
        } else {
            argv = [executable] + arguments
        }
        // Output goes to a file and we wait with waitpid: `pg_ctl start` leaves a server behind
        // that inherits our descriptors, and Foundation's Process waits for those to close.
        let outputPath = FileManager.default.temporaryDirectory
            .appendingPathComponent("rostersync-\(UUID().uuidString).out").path
        defer { unlink(outputPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // Nothing else of ours reaches the child: a descriptor opened without O_CLOEXEC (a test's
        // lock file, a library's) would live on in a server started here for as long as it runs,
        // holding that file's locks (a fresh clone's test run once hung on exactly that).
        _ = Self.addCloseFrom?(&actions, 3)
        // The server must not inherit our working directory, which `postgres` may not be able to read.
        argv = ["/bin/sh", "-c", "cd / && exec \"$@\"", "sh"] + argv
        var cArguments = argv.map { strdup($0) } + [nil]
        defer { for pointer in cArguments { free(pointer) } }
        var cEnvironment = Self.serverEnvironment(ProcessInfo.processInfo.environment).map { strdup($0) } + [nil]
        defer { for pointer in cEnvironment { free(pointer) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, argv[0], &actions, nil, &cArguments, &cEnvironment)
        guard spawned == 0 else {
            throw LoadError(.embeddedServer, "cannot run \(argv[0]): \(String(cString: strerror(spawned)))")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        // WIFEXITED / WEXITSTATUS, which Swift does not import as functions.
        let exitStatus: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return ProcessResult(status: exitStatus, output: output)
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later), which Swift's Glibc
    /// module does not import; nil where the C library lacks it (descriptors are then inherited
    /// as before, the ones opened with O_CLOEXEC excepted).
    private static let addCloseFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        #if canImport(Glibc)
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else {
            return nil
        }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
        #else
        return nil
        #endif
    }()

    /// What the server and its tools inherit: the locale and PATH, nothing else. A server left
    /// running (as another user, when this process is root) shows its environment in
    /// /proc/PID/environ, and ours holds CLEVER_TOKEN and DATABASE_URL.
    static func serverEnvironment(_ environment: [String: String]) -> [String] {
        ["PATH", "LANG", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "TZ"].compactMap { key in
            environment[key].map { "\(key)=\($0)" }
        }
    }

    private static func findRunuser() throws -> String {
        for path in ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"]
        where FileManager.default.isExecutableFile(atPath: path) {
            return path
        }
        throw LoadError(.embeddedServer, "running as root needs 'runuser' (util-linux) to start PostgreSQL as 'postgres'")
    }

    /// Finds a PostgreSQL server binary on PATH or in the packages' usual folders.
    public static func findBinary(_ name: String) throws -> String {
        let fileManager = FileManager.default
        var candidates: [String] = []
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        candidates += path.split(separator: ":").map { "\($0)/\(name)" }
        if let versions = try? fileManager.contentsOfDirectory(atPath: "/usr/lib/postgresql") {
            let sorted = versions.sorted { (Int($0) ?? 0) > (Int($1) ?? 0) }
            candidates += sorted.map { "/usr/lib/postgresql/\($0)/bin/\(name)" }
        }
        candidates += ["/usr/local/pgsql/bin/\(name)", "/opt/homebrew/bin/\(name)", "/usr/pgsql-15/bin/\(name)"]
        // Homebrew's versioned formulae (postgresql@15) are keg-only: not linked into its bin/.
        for prefix in ["/opt/homebrew/opt", "/usr/local/opt"] {
            let kegs = (try? fileManager.contentsOfDirectory(atPath: prefix))?.filter { $0.hasPrefix("postgresql@") } ?? []
            let newestFirst = kegs.sorted { (Int($0.dropFirst("postgresql@".count)) ?? 0) > (Int($1.dropFirst("postgresql@".count)) ?? 0) }
            candidates += newestFirst.map { "\(prefix)/\($0)/bin/\(name)" }
        }
        if let found = candidates.first(where: { fileManager.isExecutableFile(atPath: $0) }) {
            return found
        }
        throw LoadError(
            .serverBinariesMissing,
            "no PostgreSQL server binaries ('\(name)') on PATH or in /usr/lib/postgresql/*/bin: install the server "
                + "(Debian/Ubuntu: apt-get install postgresql) or set DATABASE_URL to an existing database")
    }

    // MARK: - Locking

    private func withFileLock<T>(_ body: () throws -> T) throws -> T {
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let lockPath = root.appendingPathComponent("start.lock").path
        // O_CLOEXEC: the server started under this lock must not inherit it (LOCK_UN below frees
        // it all the same, but a descriptor it keeps open for its whole life is one too many).
        let fd = open(lockPath, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw LoadError(.embeddedServer, "cannot open lock file \(lockPath)") }
        defer { close(fd) }
        guard flock(fd, LOCK_EX) == 0 else { throw LoadError(.embeddedServer, "cannot lock \(lockPath)") }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }

    private static func shortHash(_ text: String) -> String {
        // FNV-1a: stable across runs, unlike Hasher.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return String(hash, radix: 16)
    }
}
