import CleverExtract
import Crypto
import Foundation
import PostgresLoad

/// One SHA-256 over everything a file-based run reads besides the roster: the feed folder's
/// files, the district's settings as the run read them, the pipeline file, the SQL directory
/// and the program itself. Two runs with the same digest stage the same rows and run the same
/// merge (migration 0008, README "Unchanged nights").
///
/// Streams each file in 1 MiB reads: memory stays flat however large the district.
struct InputDigest {
    static let chunkSize = 1 << 20

    /// The digest of a run's inputs, hex. Throws when a file cannot be read (the caller then
    /// runs in full and lets the pipeline report the problem in its own words).
    static func compute(folder: URL, pipelineFile: URL, sql: SQLDirectory, settings: String) throws -> String {
        var hasher = SHA256()
        hasher.update(data: Data("rostersync input digest v1\n".utf8))
        hasher.update(data: Data(programIdentity.utf8))
        hasher.update(data: Data("settings \(settings.utf8.count)\n\(settings)".utf8))
        try add(pipelineFile, as: "pipeline", to: &hasher)
        for (name, url) in try files(under: sql.url, recursive: true) { try add(url, as: "sql/" + name, to: &hasher) }
        // The sources read the folder's own files, not its subfolders.
        for (name, url) in try files(under: folder, recursive: false) { try add(url, as: "feed/" + name, to: &hasher) }
        return hasher.hexDigest()
    }

    /// The running executable's path, size, inode and modification time: a rebuilt or redeployed
    /// program (whose transform may differ) never matches a run of the previous one. Content is
    /// not hashed: a test binary is hundreds of megabytes, and identity errs the safe way (a copy
    /// of the same program on another host compares in full once).
    static let programIdentity: String = {
        let path = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments.first ?? "rostersync"
        let attributes = (try? FileManager.default.attributesOfItem(atPath: path)) ?? [:]
        let size = (attributes[.size] as? NSNumber)?.int64Value ?? -1
        let inode = (attributes[.systemFileNumber] as? NSNumber)?.int64Value ?? -1
        let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        return "program \(path) \(size) \(inode) \(modified)\n"
    }()

    /// The identity (size, modification time, inode) of each file of `folder` named in `names`:
    /// what `resume` compares to learn whether the files a run read were replaced since. Cheap (no
    /// reading), and errs the safe way: the same bytes uploaded again count as replaced. A file
    /// that is missing is `absent`, so one that appears later counts as changed too: an upload
    /// landing between the run's start and check-source, or a pipeline without check-source.
    static func feedFiles(in folder: URL, named names: Set<String>) -> [String: String] {
        var identities = Dictionary(uniqueKeysWithValues: names.map { ($0, "absent") })
        guard let files = try? files(under: folder, recursive: false) else { return identities }
        for (name, url) in files where names.contains(name) {
            let attributes = (try? FileManager.default.attributesOfItem(atPath: url.path)) ?? [:]
            let size = (attributes[.size] as? NSNumber)?.int64Value ?? -1
            let inode = (attributes[.systemFileNumber] as? NSNumber)?.int64Value ?? -1
            let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            identities[name] = "\(size) \(modified) \(inode)"
        }
        return identities
    }

    /// Files in (or below) `root`, by path relative to it, in a fixed order. Links are followed,
    /// as the readers follow them: a feed file may be a link to the night's upload.
    private static func files(under root: URL, recursive: Bool) throws -> [(String, URL)] {
        // The folder itself may be a link (`--csv /srv/clever/current`): walk what it points at,
        // or the walk lists nothing and every night would look unchanged.
        let root = root.standardizedFileURL.resolvingSymlinksInPath()
        guard
            let walker = FileManager.default.enumerator(
                at: root, includingPropertiesForKeys: nil, options: recursive ? [] : [.skipsSubdirectoryDescendants])
        else { throw CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: root.path]) }
        var found: [(String, URL)] = []
        for case let url as URL in walker {
            let target = url.resolvingSymlinksInPath()
            guard (try target.resourceValues(forKeys: [.isRegularFileKey])).isRegularFile == true else { continue }
            let path = url.standardizedFileURL.path
            let relative = path.hasPrefix(root.path + "/") ? String(path.dropFirst(root.path.count + 1)) : path
            found.append((relative, target))
        }
        return found.sorted { $0.0 < $1.0 }
    }

    private static func add(_ url: URL, as name: String, to hasher: inout SHA256) throws {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        // Name and length frame the bytes, so moving bytes between files changes the digest.
        let size = try handle.seekToEnd()
        try handle.seek(toOffset: 0)
        hasher.update(data: Data("file \(name) \(size)\n".utf8))
        var read: UInt64 = 0
        while let chunk = try handle.read(upToCount: chunkSize), !chunk.isEmpty {
            hasher.update(data: chunk)
            read += UInt64(chunk.count)
        }
        // A file that grew or shrank while it was read (an upload in progress) has no stable digest.
        guard read == size else {
            throw CocoaError(.fileReadCorruptFile, userInfo: [NSFilePathErrorKey: url.path])
        }
    }
}

extension SyncConfiguration.Source {
    /// The folder a file source reads, and the file whose identity stands for each feed there:
    /// its CSV file (terms are columns of sections.csv), or a landing night's manifest, which is
    /// rewritten (a new file) whenever the night is archived again and names each feed's file and
    /// checksum, which the landing reader verifies. Nil for the API.
    var feedFolder: (url: URL, fileName: (Feed) -> String)? {
        switch self {
        case .csv(let url): (url, { $0.csvFileName })
        case .landing(let url): (url, { _ in LandingManifest.fileName })
        case .clever: nil
        }
    }
}
