public import Foundation

/// A `.sql` file split into the statements PostgreSQL's extended protocol accepts one at a time.
///
/// A statement ends at a line whose last non-blank character is `;`, outside a `$$ ... $$` body.
/// That keeps the files plain SQL that a data engineer can also paste into `psql`.
public struct SQLScript: Sendable {
    public var name: String
    public var statements: [String]

    public init(name: String, text: String) {
        self.name = name
        var statements: [String] = []
        var current: [Substring] = []
        var inDollarBody = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if current.isEmpty && (trimmed.isEmpty || trimmed.hasPrefix("--")) { continue }
            current.append(line)
            if line.components(separatedBy: "$$").count % 2 == 0 { inDollarBody.toggle() }
            if !inDollarBody && trimmed.hasSuffix(";") {
                statements.append(current.joined(separator: "\n"))
                current = []
            }
        }
        let rest = current.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
        if !rest.isEmpty { statements.append(rest) }
        self.statements = statements
    }

    public init(contentsOf url: URL) throws {
        do {
            self.init(name: url.lastPathComponent, text: try String(contentsOf: url, encoding: .utf8))
        } catch {
            throw LoadError(.sqlFiles, "cannot read \(url.path)", cause: error)
        }
    }
}

/// The project's `sql/` folder: `migrations/NNNN_verb_object.sql` and `merge/NN_step.sql`.
public struct SQLDirectory: Sendable {
    public var url: URL

    public init(url: URL) {
        self.url = url
    }

    /// Looks for `sql/` in the working directory, beside the executable and above it (a
    /// `.build/debug/rostersync` binary finds the checkout's folder), and in `share/rostersync`.
    public static func locate(workingDirectory: URL, executable: URL?) throws -> SQLDirectory {
        var candidates = [workingDirectory.appendingPathComponent("sql")]
        if let executable {
            var folder = executable.resolvingSymlinksInPath().deletingLastPathComponent()
            for _ in 0..<5 {
                candidates.append(folder.appendingPathComponent("sql"))
                candidates.append(folder.appendingPathComponent("share/rostersync/sql"))
                folder = folder.deletingLastPathComponent()
            }
        }
        for candidate in candidates
        where FileManager.default.fileExists(atPath: candidate.appendingPathComponent("migrations").path) {
            return SQLDirectory(url: candidate)
        }
        throw LoadError(
            .sqlFiles,
            "cannot find the sql/ folder (looked in \(candidates.prefix(3).map(\.path).joined(separator: ", ")), ...): "
                + "run from the repository folder or pass --sql-dir")
    }

    /// The migrations in version order.
    public func migrations() throws -> [Migration] {
        try files(in: "migrations").map { file in
            let name = file.deletingPathExtension().lastPathComponent
            guard let version = Int(name.prefix(while: \.isNumber)), name.contains("_") else {
                throw LoadError(.sqlFiles, "migration file \(file.lastPathComponent) is not named NNNN_verb_object.sql")
            }
            return Migration(version: version, name: name, script: try SQLScript(contentsOf: file))
        }
    }

    /// A merge step by file name without extension (`00_prepare`).
    public func mergeScript(_ name: String) throws -> SQLScript {
        let file = url.appendingPathComponent("merge").appendingPathComponent("\(name).sql")
        guard FileManager.default.fileExists(atPath: file.path) else {
            throw LoadError(.sqlFiles, "merge step \(file.path) is missing")
        }
        return try SQLScript(contentsOf: file)
    }

    /// All merge steps in order, except `00_prepare` which runs before the merge transaction.
    public func mergeSteps() throws -> [SQLScript] {
        try files(in: "merge").filter { !$0.lastPathComponent.hasPrefix("00_") }.map { try SQLScript(contentsOf: $0) }
    }

    private func files(in folder: String) throws -> [URL] {
        let directory = url.appendingPathComponent(folder)
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw LoadError(.sqlFiles, "cannot list \(directory.path)", cause: error)
        }
        return names.filter { $0.hasSuffix(".sql") }.sorted().map { directory.appendingPathComponent($0) }
    }
}

/// One numbered migration.
public struct Migration: Sendable {
    public var version: Int
    public var name: String
    public var script: SQLScript
}
