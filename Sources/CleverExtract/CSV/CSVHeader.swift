/// A validated header row: the column names and where each one is.
struct CSVHeader {
    let spec: CSVFileSpec
    let columns: [String]
    private let positions: [String: Int]

    /// The position of `column`, nil when the file does not have it (an optional column).
    subscript(column: String) -> Int? { positions[column] }

    /// Reads and checks the header: invisible characters first (they explain the other errors),
    /// then duplicate, unknown and missing columns. Every problem is reported in one error so the
    /// operator fixes the export once.
    static func read(from parser: CSVParser, spec: CSVFileSpec) throws(ExtractError) -> CSVHeader {
        guard try parser.next() else {
            throw ExtractError(
                .emptyFile, "\(spec.name) is empty: it has no header row. Re-export the file from the SIS or Clever",
                context: "\(spec.name):1")
        }
        // Blank lines before it are skipped: the header is the first line that holds anything.
        let context = "\(spec.name):\(parser.line)"
        if parser.problem != nil {
            throw ExtractError(
                .badHeader, "the header row of \(spec.name) (line \(parser.line)) has a broken quote; fix that line",
                context: context)
        }
        var columns: [String] = []
        var problems: [String] = []
        for index in parser.fields.indices {
            guard let name = parser.string(at: index) else {
                problems.append("column \(index + 1) of the header is not valid UTF-8; save the file as UTF-8")
                columns.append("")
                continue
            }
            columns.append(name)
            if let invisible = invisibleCharacter(in: name) {
                problems.append("column \(index + 1) (\"\(visible(name))\") \(invisible); delete it and save the file")
            }
        }
        var positions: [String: Int] = [:]
        for (index, name) in columns.enumerated() {
            if let first = positions[name] {
                problems.append("column \"\(name)\" appears twice (columns \(first + 1) and \(index + 1)); keep one")
                continue
            }
            positions[name] = index
        }
        let known = Set(spec.columns)
        for (index, name) in columns.enumerated() where !known.contains(name) && invisibleCharacter(in: name) == nil {
            var text = "unknown column \"\(name)\" (column \(index + 1))"
            if name.isEmpty {
                text = "column \(index + 1) has no name (a stray comma at the end of the header?); remove it"
            } else if let match = spec.columns.first(where: { $0.lowercased() == name.lowercased() }) {
                text += "; Clever's column names are case-sensitive: rename it to \"\(match)\""
            } else {
                text += "; remove it or rename it to one of Clever's columns (\(spec.columns.joined(separator: ", ")))"
            }
            problems.append(text)
        }
        for name in spec.required where positions[name] == nil {
            problems.append("required column \"\(name)\" is missing; add it to the export")
        }
        guard problems.isEmpty else {
            throw ExtractError(
                .badHeader, "\(spec.name) has a bad header: " + problems.joined(separator: "; "), context: context)
        }
        return CSVHeader(spec: spec, columns: columns, positions: positions)
    }

    /// Describes the first character a person cannot see (or cannot tell from a plain space), with
    /// where it is; nil when the name is clean.
    static func invisibleCharacter(in name: String) -> String? {
        for (offset, scalar) in name.unicodeScalars.enumerated() {
            let position = "at character \(offset + 1)"
            if scalar == " " {
                if offset == 0 { return "starts with a space" }
                if offset == name.unicodeScalars.count - 1 { return "ends with a space" }
                continue
            }
            if let known = invisibleNames[scalar.value] {
                return "contains a \(known) (U+\(hex(scalar.value))) \(position)"
            }
            switch scalar.properties.generalCategory {
            case .control:
                return "contains a control character (U+\(hex(scalar.value))) \(position)"
            case .format:
                return "contains an invisible formatting character (U+\(hex(scalar.value))) \(position)"
            case .spaceSeparator, .lineSeparator, .paragraphSeparator:
                return "contains a non-standard space (U+\(hex(scalar.value))) \(position)"
            default:
                continue
            }
        }
        return nil
    }

    private static let invisibleNames: [UInt32: String] = [
        0x09: "tab", 0x0A: "line feed", 0x0D: "carriage return", 0xA0: "no-break space", 0xAD: "soft hyphen",
        0x200B: "zero-width space", 0x200C: "zero-width non-joiner", 0x200D: "zero-width joiner",
        0x200E: "left-to-right mark", 0x200F: "right-to-left mark", 0x2060: "word joiner",
        0x202F: "narrow no-break space", 0xFEFF: "byte order mark",
    ]

    /// The name with invisible characters spelled out, so the message itself shows them.
    private static func visible(_ name: String) -> String {
        var out = ""
        for scalar in name.unicodeScalars {
            if scalar != " ", invisibleCharacter(in: String(scalar)) != nil || invisibleNames[scalar.value] != nil {
                out += "<U+\(hex(scalar.value))>"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
