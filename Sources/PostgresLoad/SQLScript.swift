public import Foundation

/// A `.sql` file split into the statements PostgreSQL's extended protocol accepts one at a time.
///
/// A statement ends at a `;` outside quotes (`'...'`, `E'...'`, `"..."`), dollar-quoted bodies
/// (`$$ ... $$`, `$fn$ ... $fn$`) and comments (`--`, nested `/* */`). That keeps the files plain
/// SQL that a data engineer can also paste into `psql`. Unlike psql it does not look inside
/// parentheses or `BEGIN ATOMIC` bodies: write function bodies dollar-quoted, as `sql/` does.
/// Plain strings are read as `standard_conforming_strings` (the default) reads them. Comments and
/// blank lines before a statement are left out of it; pieces with nothing else are dropped.
public struct SQLScript: Sendable {
    public var name: String
    public var statements: [String]

    public init(name: String, text: String) {
        self.name = name
        statements = Self.split(text)
    }

    /// The lexer behind ``init(name:text:)``. Works on UTF-8 bytes: every delimiter is ASCII, and
    /// a multi-byte character never contains an ASCII byte.
    static func split(_ text: String) -> [String] {
        let bytes = Array(text.utf8)
        var statements: [String] = []
        var codeStart: Int?  // the current statement's first byte that is not blank or comment
        var index = 0

        func at(_ offset: Int) -> UInt8? { index + offset < bytes.count ? bytes[index + offset] : nil }
        func isWordByte(_ byte: UInt8?) -> Bool {
            guard let byte else { return false }
            return byte == UInt8(ascii: "_") || byte >= 0x80 || (byte >= 0x30 && byte <= 0x39)
                || ((byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7A)
        }
        // Inside a name a `$` is one more letter (`a$b`), not the start of a dollar quote.
        func isNameByte(_ byte: UInt8?) -> Bool { byte == UInt8(ascii: "$") || isWordByte(byte) }
        func finish(at end: Int) {
            if let start = codeStart {
                let statement = String(decoding: bytes[start..<end], as: UTF8.self)
                    .trimmingCharacters(in: .whitespacesAndNewlines)
                if !statement.isEmpty { statements.append(statement) }
            }
            codeStart = nil
        }

        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "-") where at(1) == UInt8(ascii: "-"):
                while index < bytes.count && bytes[index] != UInt8(ascii: "\n") { index += 1 }
                continue
            case UInt8(ascii: "/") where at(1) == UInt8(ascii: "*"):
                var depth = 0
                repeat {
                    if at(0) == UInt8(ascii: "/") && at(1) == UInt8(ascii: "*") {
                        depth += 1
                        index += 2
                    } else if at(0) == UInt8(ascii: "*") && at(1) == UInt8(ascii: "/") {
                        depth -= 1
                        index += 2
                    } else {
                        index += 1
                    }
                } while depth > 0 && index < bytes.count
                continue
            case UInt8(ascii: ";"):
                index += 1
                finish(at: index)
                continue
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"), 0x0B, 0x0C:
                index += 1
                continue
            default:
                break
            }
            if codeStart == nil { codeStart = index }
            switch byte {
            case UInt8(ascii: "'"):
                // E'...' strings take backslash escapes; every string takes '' for a quote.
                let escapes = index > 0 && (bytes[index - 1] | 0x20) == UInt8(ascii: "e") && !isNameByte(index > 1 ? bytes[index - 2] : nil)
                index += 1
                while index < bytes.count {
                    if escapes && bytes[index] == UInt8(ascii: "\\") {
                        index += 2
                    } else if bytes[index] == UInt8(ascii: "'") {
                        if at(1) == UInt8(ascii: "'") { index += 2 } else { index += 1; break }
                    } else {
                        index += 1
                    }
                }
            case UInt8(ascii: "\""):
                index += 1
                while index < bytes.count {
                    if bytes[index] == UInt8(ascii: "\"") {
                        if at(1) == UInt8(ascii: "\"") { index += 2 } else { index += 1; break }
                    } else {
                        index += 1
                    }
                }
            case UInt8(ascii: "$") where !isNameByte(index > 0 ? bytes[index - 1] : nil):
                // $tag$ (or $$) opens a body that ends at the same tag; $1 is a parameter.
                var end = index + 1
                while end < bytes.count && isWordByte(bytes[end]) && !(bytes[end] >= 0x30 && bytes[end] <= 0x39 && end == index + 1) {
                    end += 1
                }
                guard end < bytes.count, bytes[end] == UInt8(ascii: "$") else {
                    index += 1
                    continue
                }
                let tag = Array(bytes[index...end])
                index = end + 1
                while index < bytes.count && !(bytes[index] == UInt8(ascii: "$") && bytes[index...].starts(with: tag)) {
                    index += 1
                }
                index = min(bytes.count, index + tag.count)
            default:
                index += 1
            }
        }
        finish(at: bytes.count)
        return statements
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
