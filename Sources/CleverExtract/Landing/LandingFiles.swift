import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// File operations the archive needs to be crash-safe: a file is either absent or complete.
///
/// The archive holds children's names, emails and birth dates: its folders are created 0700 and
/// its files 0600, for the account that runs the sync only, whatever the umask.
enum LandingFiles {
    static let folderPermissions = 0o700
    static let filePermissions = 0o600

    /// A name beside `url` that no other writer uses and that never looks like a finished file.
    static func temporaryURL(for url: URL) -> URL {
        temporaryURL(in: url.deletingLastPathComponent(), for: url.lastPathComponent)
    }

    /// A name in `folder` that no other writer uses and that never looks like a finished file.
    static func temporaryURL(in folder: URL, for name: String = "feed") -> URL {
        folder.appending(path: ".\(name).\(UUID().uuidString).partial")
    }

    /// Moves `source` over `destination` in one step (POSIX `rename`), replacing what was there.
    /// `FileManager.moveItem` refuses an existing destination, and removing it first would leave a gap.
    static func replace(_ destination: URL, with source: URL) throws(ExtractError) {
        guard rename(source.path, destination.path) == 0 else {
            let reason = String(cString: strerror(errno))
            throw ExtractError(
                .landingWrite, "cannot move the finished file into place (\(reason)); check the landing folder's "
                    + "permissions and free space", context: destination.path)
        }
    }

    /// Writes `data` to a temporary file, flushes it to disk and renames it over `url`.
    static func writeAtomically(_ data: Data, to url: URL) throws(ExtractError) {
        let temporary = temporaryURL(for: url)
        do {
            guard FileManager.default.createFile(
                atPath: temporary.path, contents: data, attributes: [.posixPermissions: filePermissions])
            else { throw CocoaError(.fileWriteUnknown) }
            let handle = try FileHandle(forWritingTo: temporary)
            defer { try? handle.close() }
            try handle.synchronize()
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw ExtractError(
                .landingWrite, "cannot write \(url.lastPathComponent); check the landing folder's permissions and "
                    + "free space", context: url.path, cause: error)
        }
        do {
            try replace(url, with: temporary)
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
    }

    /// Runs `body` holding an exclusive lock (`flock`) on `.<night>.lock` beside the night's
    /// `folder`: processes of two databases that share a landing root update one night's
    /// manifests one at a time (an actor orders them within one process only). Beside the folder,
    /// not in it, so the night holds only what the archive lists. Waiting polls rather than
    /// blocks: a blocking `flock` would hold one of the few threads every task runs on for as long
    /// as another process keeps the lock, and could not be cancelled.
    static func withLock<T>(
        on folder: URL, isolation: isolated (any Actor)? = #isolation, _ body: () throws(ExtractError) -> T
    ) async throws(ExtractError) -> T {
        let url = folder.deletingLastPathComponent().appending(path: ".\(folder.lastPathComponent).lock")
        let descriptor = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, mode_t(filePermissions))
        guard descriptor >= 0 else {
            throw ExtractError(
                .landingWrite, "cannot open the night's lock file (\(String(cString: strerror(errno)))); check the "
                    + "landing folder's permissions", context: url.path)
        }
        defer { close(descriptor) }
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                throw ExtractError(
                    .landingWrite, "cannot lock the night (\(String(cString: strerror(errno))))", context: url.path)
            }
            do {
                try await Task.sleep(for: .milliseconds(10))
            } catch {
                throw ExtractError(
                    .landingWrite, "stopped while another process held the night's lock", context: url.path, cause: error)
            }
        }
        // Unlocked explicitly: a lock belongs to the open file, which a process spawned meanwhile
        // without exec could share (O_CLOEXEC covers the usual spawn-and-exec).
        defer { flock(descriptor, LOCK_UN) }
        // No suspension from here to the end: flock alone keeps two commits apart, since each
        // opens the lock file anew (an actor lets another call in while one waits above).
        return try body()
    }

    /// Creates `folder` and its parents.
    static func createFolder(_ folder: URL) throws(ExtractError) {
        do {
            try FileManager.default.createDirectory(
                at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: folderPermissions])
        } catch {
            throw ExtractError(
                .landingWrite, "cannot create the landing folder; check the --landing path and its permissions",
                context: folder.path, cause: error)
        }
    }
}
