import Foundation
import RosterModel

/// Reads one feed from one CSV file, a batch per call, so the consumer sets the pace: nothing is
/// read ahead of the batch asked for, and the file is closed at its end or when the reader goes.
actor CSVFeedReader {
    private let directory: URL
    private let feed: Feed
    private let spec: CSVFileSpec
    private let batchSize: Int
    private let mustHaveRows: Bool
    private var parser: CSVParser?
    private var header: CSVHeader?
    private var mapper: CSVRowMapper?
    private var finished = false
    private var dataRows = 0
    /// Term SIS ids already yielded: a district has a handful of terms and thousands of sections.
    private var seenTerms: Set<String> = []

    init(directory: URL, feed: Feed, batchSize: Int, mustHaveRows: Bool) {
        self.directory = directory
        self.feed = feed
        self.spec = CSVFileSpec.file(for: feed)
        self.batchSize = max(1, batchSize)
        self.mustHaveRows = mustHaveRows
    }

    /// The next batch, or nil when the file is done.
    func nextBatch() throws -> ExtractBatch? {
        guard !finished else { return nil }
        try Task.checkCancellation()
        let (parser, header, mapper) = try open()
        var batch = ExtractBatch()
        batch.records.reserveCapacity(batchSize)
        while batch.records.count + batch.rejections.count < batchSize {
            guard try parser.next() else {
                finish()
                if dataRows == 0 && mustHaveRows { throw CleverCSVSource.emptyFileError(spec) }
                break
            }
            // A row that holds nothing is a blank line (a spreadsheet's empty row, a DOS end-of-file
            // byte, trailing spaces). Without a line end after it, and fewer commas than the header
            // but more than none, it may be a row cut after its first, empty, field: the checks
            // below judge that.
            if parser.holdsNothing,
                !parser.endsFileWithoutLineEnd || parser.fields.count == 1 || parser.fields.count == header.columns.count
            {
                continue
            }
            dataRows += 1
            if case .unterminatedQuote(let later) = parser.problem, later > 0 {
                // The open quote swallowed every line after it: not one bad row but a file that
                // cannot be read from here on, and quarantining one "row" would load the file's
                // first part as if it were all of it.
                throw ExtractError(
                    .malformedFile,
                    "a quoted field opened on line \(parser.line) is never closed, so lines \(parser.line) to "
                        + "\(parser.line + later) (the rest of the file) cannot be read as rows. Fix the quote in "
                        + "\(parser.fileName) and run again",
                    context: "\(parser.fileName):\(parser.line)")
            }
            // A file that every field of is quoted is mostly cut inside a quote: a quote still open
            // where the file ends, with no line end after it, is a cut too (whatever the field count).
            let cutInQuote = if case .unterminatedQuote = parser.problem { parser.endsFileWithoutLineEnd } else { false }
            if cutInQuote || (parser.problem == nil && parser.endsFileWithoutLineEnd
                && parser.fields.count < header.columns.count)
            {
                // Rows lost after the cut would read as people who left (below the safety
                // threshold, silently): the file fails instead of one row being quarantined.
                let cut =
                    cutInQuote
                    ? "inside a quoted field, with no line end"
                    : "\(parser.fields.count) of \(header.columns.count) fields and no line end"
                throw ExtractError(
                    .malformedFile,
                    "\(parser.fileName) ends in the middle of line \(parser.line) (\(cut)): the file looks cut "
                        + "short. Export or upload it again, then run again",
                    context: "\(parser.fileName):\(parser.line)")
            }
            if parser.lastLine > parser.line, parser.problem != .unterminatedQuote(laterLines: 0),
                let joined = Self.joinedRows(parser, header: header, read: mapper.readColumns) {
                // A quote opened in one row and closed in a later one reads the rows between as
                // one cell: they would be lost unseen, or loaded as someone's name. The file
                // fails, not one row. (A cell that merely holds a line break loads.)
                throw ExtractError(
                    .malformedFile,
                    "lines \(parser.line) to \(parser.lastLine) of \(parser.fileName) read as one row: its \(joined.column) "
                        + "cell holds line breaks and \(joined.why). Most likely a quote opened on line \(parser.line) is "
                        + "closed in a later row, joining the rows between. Fix the quote and run again",
                    context: "\(parser.fileName):\(parser.line)")
            }
            // A last row without a line end may be cut inside its last field, where the field count
            // still adds up (a student id 1001995 read as 100199). It loads as read; the warning lets
            // prepare stop the run if the row then cannot be loaded (TaskExecutor.checkLastRows).
            if parser.endsFileWithoutLineEnd, feed != .terms {
                batch.rejections.append(
                    Rejection(
                        entity: mapper.feed.entity, source: .csv(parser.fileName, line: parser.line),
                        recordKey: mapper.probableKeys(from: parser).key, reason: .noLineEnd,
                        detail: "the file's last row has no line end after it: loaded as read; if it cannot be "
                            + "loaded, the run stops (a file cut inside its last field)"))
            }
            if let again = Self.headerAgain(parser, header: header, entity: mapper.feed.entity) {
                if feed != .terms { batch.rejections.append(again) }
                continue
            }
            if var rejection = Self.unreadableRow(parser, header: header, entity: mapper.feed.entity) {
                // A broken row is reported once, by the sections feed, not again by terms.
                if feed != .terms {
                    let keys = mapper.probableKeys(from: parser)
                    rejection.recordKey = keys.key
                    rejection.alternateKey = keys.alternate
                    if let key = keys.key, let alternate = keys.alternate {
                        rejection.detail += "; its id reads '\(key)' by the header's columns counted from the left and "
                            + "'\(alternate)' counted from the right: both are kept as they are"
                    }
                    batch.rejections.append(rejection)
                }
                continue
            }
            switch mapper.record(from: parser) {
            case .rejected(let rejection):
                if feed != .terms { batch.rejections.append(rejection) }
            case .record(let record):
                if feed != .terms, let warning = Self.notUTF8(parser, header: header, record: record) {
                    batch.rejections.append(warning)
                }
                if feed == .terms {
                    let row = CSVRowMapper.Row(parser: parser, entity: .term)
                    if let term = CSVRowMapper.term(from: row, header: header), seenTerms.insert(term.sisID).inserted {
                        batch.records.append(.term(term))
                    }
                } else {
                    batch.records.append(record)
                }
            }
        }
        return batch.records.isEmpty && batch.rejections.isEmpty ? nil : batch
    }

    private func open() throws -> (CSVParser, CSVHeader, CSVRowMapper) {
        if let parser, let header, let mapper { return (parser, header, mapper) }
        let url = directory.appending(path: spec.name)
        guard FileManager.default.fileExists(atPath: url.path) else { throw CleverCSVSource.missingFileError(spec, in: directory) }
        let parser = try CSVParser(url: url, fileName: spec.name)
        let header = try CSVHeader.read(from: parser, spec: spec)
        let mapper = CSVRowMapper(feed: feed, header: header)
        (self.parser, self.header, self.mapper) = (parser, header, mapper)
        return (parser, header, mapper)
    }

    private func finish() {
        finished = true
        parser = nil  // closes the file now rather than when the stream is dropped
    }

    /// A cell holding a line break where rows look joined by a stray quote, and why; nil when
    /// none does (a name or course typed with a line break in it loads, as it always has).
    ///
    /// A quote opened in column k of one row and closed in column j of the next leaves a record of
    /// `columns + k - j` fields whose joined cell holds `columns - 1 + j - k` commas (a row's
    /// worth more for each whole row between): a row that does not fit the header, or, when
    /// k = j, a cell with a row's worth of commas. A column never loaded (an address) must hold
    /// five, at least, before it is taken for that; a narrow file joined there goes unseen.
    static func joinedRows(_ parser: CSVParser, header: CSVHeader, read: Set<Int>) -> (column: String, why: String)? {
        let fits = parser.problem == nil && parser.fields.count == header.columns.count
        let rowCommas = header.columns.count - 1
        for index in parser.fields.indices where parser.holdsLineBreak(at: index) {
            let column = header.columns.indices.contains(index) ? header.columns[index] : "field \(index + 1)"
            if !fits { return (column, "the row does not fit the header (\(parser.fields.count) fields)") }
            let commas = parser.commas(at: index)
            if commas >= (read.contains(index) ? rowCommas : max(rowCommas, 5)) {
                return (column, "\(commas) commas, a row's worth")
            }
        }
        return nil
    }

    /// Two exports joined into one file: the second's header would load as a record keyed
    /// "Student_id" (or a school named "School_name").
    static func headerAgain(_ parser: CSVParser, header: CSVHeader, entity: Entity) -> Rejection? {
        // The second export's byte order mark comes along when files are joined with `cat`.
        guard parser.problem == nil, parser.fields.count == header.columns.count,
            parser.field(0, is: header.columns[0]) || parser.field(0, is: "\u{FEFF}" + header.columns[0]),
            parser.fields.indices.dropFirst().allSatisfy({ parser.field($0, is: header.columns[$0]) })
        else { return nil }
        return Rejection(
            entity: entity, source: .csv(parser.fileName, line: parser.line), reason: .malformedRow,
            detail: "the header again (files joined into one?): not loaded; the rows around it are")
    }

    /// A row that cannot be mapped at all: a broken quote, the wrong number of fields, bad UTF-8.
    static func unreadableRow(_ parser: CSVParser, header: CSVHeader, entity: Entity) -> Rejection? {
        let source = SourceRef.csv(parser.fileName, line: parser.line)
        switch parser.problem {
        case .unterminatedQuote:
            return Rejection(
                entity: entity, source: source, reason: .malformedRow,
                detail: "a quoted field on the file's last line is never closed")
        case .textAfterClosingQuote(let field):
            return Rejection(
                entity: entity, source: source, reason: .malformedRow,
                detail: "field \(field) has text after its closing quote; quotes inside a field must be doubled")
        case nil:
            break
        }
        if parser.fields.count != header.columns.count {
            return Rejection(
                entity: entity, source: source, reason: .malformedRow,
                detail: "expected \(header.columns.count) fields as in the header, found \(parser.fields.count)")
        }
        return nil
    }

    /// A row with cells that are not UTF-8 still loads (rejecting it would archive the person
    /// in it), read as Windows-1252. The warning names the columns, not their values: one may
    /// be a password.
    static func notUTF8(_ parser: CSVParser, header: CSVHeader, record: Record) -> Rejection? {
        guard parser.fields.indices.contains(where: { !parser.isValidUTF8(at: $0) }) else { return nil }
        let columns = parser.fields.indices.filter { !parser.isValidUTF8(at: $0) }.map { header.columns[$0] }
        return Rejection(
            entity: record.entity, source: record.source, recordKey: record.key, reason: .invalidEncoding,
            detail: "\(columns.joined(separator: ", ")) not valid UTF-8; read as Windows-1252. Save the file as UTF-8")
    }
}
