import Foundation

/// One field of the current record: a byte range relative to the record's first byte.
struct CSVField {
    var start: Int
    var end: Int
    /// The field was quoted; its bytes exclude the quotes.
    var quoted: Bool
    /// The field holds doubled quotes (`""`) that must be collapsed before decoding.
    var hasEscapedQuotes: Bool
}

/// A streaming RFC 4180 reader over raw bytes.
///
/// Reads the file in fixed chunks and scans bytes directly: no `String` is made until a caller
/// asks for a field, so a million-row file costs one chunk of memory plus one record. Accepts
/// CRLF, LF or lone CR line ends, a UTF-8 byte order mark, and a last line without a newline.
/// Records are exposed one at a time; a field's bytes are valid until the next call to ``next()``.
final class CSVParser {
    /// Bytes read per system call.
    static let chunkSize = 256 * 1024
    /// A record longer than this is not a roster row: it is an unclosed quote swallowing the file.
    static let maxRecordBytes = 4 * 1024 * 1024

    enum Problem: Equatable {
        /// A quote still open at the end of the file; `laterLines` is how many lines after the
        /// record's first it swallowed (0 when it is on the file's last line).
        case unterminatedQuote(laterLines: Int)
        case textAfterClosingQuote(field: Int)
    }

    let fileName: String
    private let handle: FileHandle
    /// Bytes read and not yet consumed start at `start`; consumed bytes are dropped on refill.
    private var buffer: [UInt8] = []
    private var start = 0
    private var atEOF = false
    private var sawFirstChunk = false
    private var nextLine = 1

    /// The fields of the current record.
    private(set) var fields: [CSVField] = []
    /// The line the current record starts on (1 = the header).
    private(set) var line = 0
    /// Why the current record is not well formed, if it is not.
    private(set) var problem: Problem?
    /// The current record is the file's last and has no line end: with too few fields, the sign
    /// of a file cut short (an upload or export interrupted mid-row).
    private(set) var endsFileWithoutLineEnd = false
    private var recordStart = 0
    private var scratch: [UInt8] = []

    init(url: URL, fileName: String) throws(ExtractError) {
        self.fileName = fileName
        do {
            handle = try FileHandle(forReadingFrom: url)
        } catch {
            throw ExtractError(
                .unreadable, "cannot open \(fileName); check that the file exists and is readable by this user",
                context: url.path, cause: error)
        }
        buffer.reserveCapacity(Self.chunkSize * 2)
    }

    deinit {
        try? handle.close()
    }

    /// Moves to the next non-blank record. Returns false at the end of the file.
    func next() throws(ExtractError) -> Bool {
        while true {
            if start == buffer.count {
                if atEOF { return false }
                try refill()
                continue
            }
            let eof = atEOF
            let result = buffer.withUnsafeBufferPointer { all in
                Self.scan(UnsafeBufferPointer(rebasing: all[start...]), eof: eof, fields: &fields)
            }
            switch result {
            case .needMore:
                if buffer.count - start >= Self.maxRecordBytes {
                    throw ExtractError(
                        .malformedFile,
                        "a record starting on line \(nextLine) runs past \(Self.maxRecordBytes / 1024 / 1024) MiB; "
                            + "a quoted field is probably never closed. Fix the quote in \(fileName) and run again",
                        context: "\(fileName):\(nextLine)")
                }
                try refill()
            case .record(let consumed, let lines, let problem):
                recordStart = start
                start += consumed
                line = nextLine
                nextLine += lines
                self.problem = problem
                endsFileWithoutLineEnd =
                    eof && start == buffer.count && start > recordStart
                    && buffer[start - 1] != Self.lf && buffer[start - 1] != Self.cr
                if problem == nil, fields.count == 1, !fields[0].quoted, fields[0].start == fields[0].end {
                    continue  // a blank line
                }
                return true
            }
        }
    }

    /// The current record holds nothing: every field unquoted and only spaces, tabs or the DOS
    /// end-of-file byte (0x1A) that old exporters append. A spreadsheet's row of empty cells
    /// (`,,,,,`) is one.
    var holdsNothing: Bool {
        guard problem == nil, fields.allSatisfy({ !$0.quoted }) else { return false }
        return buffer.withUnsafeBufferPointer { all in
            fields.allSatisfy { field in
                all[(recordStart + field.start)..<(recordStart + field.end)].allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x1A }
            }
        }
    }

    /// The line the current record ends on: after ``line`` when a quoted field holds line breaks.
    var lastLine: Int { nextLine - 1 }

    /// Whether field `index` of the current record holds a line break (it was quoted).
    func holdsLineBreak(at index: Int) -> Bool {
        let field = fields[index]
        guard field.quoted else { return false }
        return buffer.withUnsafeBufferPointer { all in
            all[(recordStart + field.start)..<(recordStart + field.end)].contains { $0 == Self.lf || $0 == Self.cr }
        }
    }

    /// Whether field `index` of the current record is exactly `text`, without making a `String`.
    func field(_ index: Int, is text: String) -> Bool {
        let field = fields[index]
        return buffer.withUnsafeBufferPointer { all in
            all[(recordStart + field.start)..<(recordStart + field.end)].elementsEqual(text.utf8)
        }
    }

    /// How many commas field `index` of the current record holds (inside its quotes).
    func commas(at index: Int) -> Int {
        let field = fields[index]
        return buffer.withUnsafeBufferPointer { all in
            all[(recordStart + field.start)..<(recordStart + field.end)].reduce(0) { $0 + ($1 == Self.comma ? 1 : 0) }
        }
    }

    /// Field `index` of the current record as text; nil when it is not valid UTF-8.
    func string(at index: Int) -> String? {
        withBytes(at: index, Self.text)
    }

    /// Field `index` read as Windows-1252, the usual encoding of an SIS export that is not
    /// UTF-8 (Latin-1 plus curly quotes and dashes in 0x80 to 0x9F; its five unassigned bytes
    /// become U+FFFD).
    func windows1252(at index: Int) -> String {
        withBytes(at: index) { bytes in
            var text = String.UnicodeScalarView()
            for byte in bytes {
                let scalar = byte >= 0x80 && byte < 0xA0 ? Self.windows1252High[Int(byte - 0x80)] : UInt32(byte)
                text.append(Unicode.Scalar(scalar) ?? "\u{FFFD}")
            }
            return String(text)
        }
    }

    private static let windows1252High: [UInt32] = [
        0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0xFFFD,
        0x017D, 0xFFFD, 0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A,
        0x0153, 0xFFFD, 0x017E, 0x0178,
    ]

    /// The field's bytes, with doubled quotes made single.
    private func withBytes<T>(at index: Int, _ body: (UnsafeBufferPointer<UInt8>) -> T) -> T {
        let field = fields[index]
        return buffer.withUnsafeBufferPointer { all in
            let bytes = UnsafeBufferPointer(rebasing: all[(recordStart + field.start)..<(recordStart + field.end)])
            guard field.hasEscapedQuotes else { return body(bytes) }
            scratch.removeAll(keepingCapacity: true)
            var i = 0
            while i < bytes.count {
                scratch.append(bytes[i])
                i += bytes[i] == CSVParser.quote ? 2 : 1
            }
            return scratch.withUnsafeBufferPointer(body)
        }
    }

    /// The bytes as a `String`, nil when not valid UTF-8. Nearly every cell is ASCII, which is
    /// valid UTF-8 by construction: checking that inline is several times cheaper than the
    /// general validation (a generic, unspecialised path in the standard library).
    private static func text(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        var ascii = true
        for byte in bytes where byte >= 0x80 {
            ascii = false
            break
        }
        return ascii ? String(decoding: bytes, as: UTF8.self) : String(validating: bytes, as: UTF8.self)
    }

    /// Whether field `index` is valid UTF-8, without making a `String` for plain ASCII.
    func isValidUTF8(at index: Int) -> Bool {
        let field = fields[index]
        let ascii = buffer.withUnsafeBufferPointer { all in
            all[(recordStart + field.start)..<(recordStart + field.end)].allSatisfy { $0 < 0x80 }
        }
        return ascii || string(at: index) != nil
    }

    // MARK: - Reading

    private func refill() throws(ExtractError) {
        // Dropping consumed bytes keeps the buffer at one chunk plus the record being read.
        if start > 0 {
            buffer.removeSubrange(0..<start)
            start = 0
        }
        let data: Data?
        do {
            data = try handle.read(upToCount: Self.chunkSize)
        } catch {
            throw ExtractError(
                .unreadable, "reading \(fileName) failed; check the disk and the file, then run again",
                context: "\(fileName):\(nextLine)", cause: error)
        }
        guard let data, !data.isEmpty else {
            atEOF = true
            return
        }
        buffer.append(contentsOf: data)
        if !sawFirstChunk {
            sawFirstChunk = true
            if buffer.starts(with: [0xEF, 0xBB, 0xBF]) { start = 3 }
        }
    }

    // MARK: - Scanning

    static let quote = UInt8(ascii: "\"")
    static let comma = UInt8(ascii: ",")
    static let lf = UInt8(ascii: "\n")
    static let cr = UInt8(ascii: "\r")

    enum ScanResult {
        /// The record does not end inside these bytes and the file has more.
        case needMore
        /// A record of `consumed` bytes spanning `lines` physical lines.
        case record(consumed: Int, lines: Int, problem: Problem?)
    }

    /// Scans one record at the start of `b`. Pure, so the state machine is tested without files.
    static func scan(_ b: UnsafeBufferPointer<UInt8>, eof: Bool, fields: inout [CSVField]) -> ScanResult {
        fields.removeAll(keepingCapacity: true)
        let n = b.count
        var i = 0
        var newlines = 0
        var problem: Problem?
        while true {
            if i < n && b[i] == quote {
                i += 1
                let fieldStart = i
                var escaped = false
                var closed = false
                while i < n {
                    let c = b[i]
                    if c == quote {
                        if i + 1 < n {
                            if b[i + 1] == quote {
                                escaped = true
                                i += 2
                                continue
                            }
                        } else if !eof {
                            return .needMore  // `""` may straddle the chunk boundary
                        }
                        closed = true
                        break
                    }
                    // Line ends inside a quote count for line numbers and for telling a quote that
                    // swallowed the rest of the file: LF, CRLF (counted at its LF) or a lone CR. A
                    // CR that ends the bytes read so far is rescanned with the next chunk: an open
                    // quote before the end of the file always asks for more.
                    if c == lf || (c == cr && (i + 1 == n || b[i + 1] != lf)) { newlines += 1 }
                    i += 1
                }
                if !closed {
                    guard eof else { return .needMore }
                    fields.append(CSVField(start: fieldStart, end: n, quoted: true, hasEscapedQuotes: escaped))
                    let trailing = n > 0 && (b[n - 1] == lf || b[n - 1] == cr) ? 1 : 0
                    return .record(
                        consumed: n, lines: newlines + 1, problem: .unterminatedQuote(laterLines: newlines - trailing))
                }
                fields.append(CSVField(start: fieldStart, end: i, quoted: true, hasEscapedQuotes: escaped))
                i += 1
                if i < n, b[i] != comma, b[i] != lf, b[i] != cr {
                    if problem == nil { problem = .textAfterClosingQuote(field: fields.count) }
                    while i < n, b[i] != comma, b[i] != lf, b[i] != cr { i += 1 }
                }
            } else {
                let fieldStart = i
                while i < n {
                    let c = b[i]
                    if c == comma || c == lf || c == cr { break }
                    i += 1
                }
                fields.append(CSVField(start: fieldStart, end: i, quoted: false, hasEscapedQuotes: false))
            }
            guard i < n else {
                return eof ? .record(consumed: n, lines: newlines + 1, problem: problem) : .needMore
            }
            switch b[i] {
            case comma:
                i += 1
            case lf:
                return .record(consumed: i + 1, lines: newlines + 1, problem: problem)
            default:  // CR: CRLF, or a lone CR as an old Mac line end
                if i + 1 < n {
                    return .record(consumed: b[i + 1] == lf ? i + 2 : i + 1, lines: newlines + 1, problem: problem)
                }
                return eof ? .record(consumed: i + 1, lines: newlines + 1, problem: problem) : .needMore
            }
        }
    }
}
