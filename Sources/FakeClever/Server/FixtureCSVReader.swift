import Foundation

/// A small RFC 4180 reader for fixture files the fake server serves. It reads a whole file into
/// memory, which is fine for hand-written fixtures; the streaming reader the sync uses lives in
/// CleverExtract, which FakeClever deliberately does not depend on.
enum FixtureCSVReader {
    /// The rows of a file as dictionaries keyed by header name; nil when the file is absent.
    static func read(_ url: URL) throws -> [[String: String]]? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let text = try String(contentsOf: url, encoding: .utf8)
        let rows = parse(text)
        guard let header = rows.first?.map({ $0.trimmingCharacters(in: .whitespaces) }) else { return [] }
        return rows.dropFirst().filter { $0 != [""] }.map { row in
            var record: [String: String] = [:]
            for (column, value) in zip(header, row) where !value.isEmpty { record[column] = value }
            return record
        }
    }

    static func parse(_ text: String) -> [[String]] {
        var rows: [[String]] = []
        var row: [String] = []
        var field = ""
        var inQuotes = false
        var iterator = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = nil
        func next() -> Unicode.Scalar? {
            if let scalar = pending {
                pending = nil
                return scalar
            }
            return iterator.next()
        }
        while let scalar = next() {
            if inQuotes {
                if scalar == "\"" {
                    if let following = next() {
                        if following == "\"" { field.unicodeScalars.append("\"") } else {
                            inQuotes = false
                            pending = following
                        }
                    } else {
                        inQuotes = false
                    }
                } else {
                    field.unicodeScalars.append(scalar)
                }
                continue
            }
            switch scalar {
            case "\"": inQuotes = true
            case ",":
                row.append(field)
                field = ""
            case "\r": continue
            case "\n":
                row.append(field)
                rows.append(row)
                row = []
                field = ""
            default: field.unicodeScalars.append(scalar)
            }
        }
        if !field.isEmpty || !row.isEmpty {
            row.append(field)
            rows.append(row)
        }
        return rows
    }
}
