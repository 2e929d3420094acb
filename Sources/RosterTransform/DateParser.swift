/// Reads the date spellings Clever feeds carry and writes them as ISO `YYYY-MM-DD`.
///
/// Accepted: `YYYY-MM-DD`, `MM/DD/YYYY`, `M/D/YYYY`, `YYYY/MM/DD`, ISO date-times such as
/// `2024-08-20T00:00:00.000Z` (the Clever API), and a spreadsheet's `8/20/2024 0:00` or
/// `8/20/2024 12:00:00 AM`. The date part is taken as written: Clever sends calendar dates at
/// midnight UTC, and shifting them into a time zone would move them a day. Two-digit years are
/// refused: `1/2/09` could be a birth year of 1909 or 2009.
public enum DateParser {
    /// Why a date could not be read.
    public struct Problem: Error, Sendable, Hashable, CustomStringConvertible {
        public var description: String
    }

    /// The ISO date for `raw`, or why there is none. `raw` is trimmed first.
    public static func isoDate(from raw: String) -> Result<String, Problem> {
        let bytes = Array(raw.utf8.drop(while: isSpace).reversed().drop(while: isSpace).reversed())
        guard let parts = fields(of: bytes) else {
            return .failure(Problem(description: "'\(raw)' is not a date in YYYY-MM-DD or MM/DD/YYYY form"))
        }
        let (year, month, day) = parts
        // PostgreSQL has no year 0: a placeholder like 01/01/0000 would fail the whole COPY.
        guard year >= 1 else {
            return .failure(Problem(description: "'\(raw)' has year 0, which does not exist"))
        }
        guard (1...12).contains(month) else {
            return .failure(Problem(description: "'\(raw)' has month \(month), which does not exist"))
        }
        guard (1...daysIn(month: month, year: year)).contains(day) else {
            return .failure(Problem(description: "'\(raw)' has day \(day), which does not exist in that month"))
        }
        return .success(format(year: year, month: month, day: day))
    }

    /// The date as written, without checking the calendar; nil when it has no accepted shape.
    private static func fields(of b: [UInt8]) -> (year: Int, month: Int, day: Int)? {
        // YYYY-MM-DD, optionally followed by a time part.
        if b.count >= 10, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-") {
            guard let y = number(b[0..<4]), let m = number(b[5..<7]), let d = number(b[8..<10]) else { return nil }
            guard b.count == 10 || isTimePart(b[10...]) else { return nil }
            return (y, m, d)
        }
        // M/D/YYYY with one- or two-digit month and day, or YYYY/M/D; either optionally followed
        // by a clock time, as a spreadsheet writes a date cell.
        var date = b[...]
        if let space = b.firstIndex(of: UInt8(ascii: " ")) {
            guard isClockTime(b[(space + 1)...]) else { return nil }
            date = b[..<space]
        }
        let pieces = date.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        guard pieces.count == 3 else { return nil }
        if pieces[0].count == 4, (1...2).contains(pieces[1].count), (1...2).contains(pieces[2].count),
            let y = number(pieces[0]), let m = number(pieces[1]), let d = number(pieces[2])
        {
            return (y, m, d)
        }
        guard (1...2).contains(pieces[0].count), (1...2).contains(pieces[1].count), pieces[2].count == 4,
            let m = number(pieces[0]), let d = number(pieces[1]), let y = number(pieces[2])
        else { return nil }
        return (y, m, d)
    }

    /// `H:MM`, `H:MM:SS`, either with ` AM` or ` PM` (any case): checked so that only a time
    /// follows the date, not so that it is read.
    private static func isClockTime(_ b: ArraySlice<UInt8>) -> Bool {
        var clock = b
        if let last = clock.last, last == UInt8(ascii: "M") || last == UInt8(ascii: "m") {
            let meridiem = clock.suffix(2).first.map { [UInt8(ascii: "A"), UInt8(ascii: "a"), UInt8(ascii: "P"), UInt8(ascii: "p")].contains($0) }
            guard meridiem == true else { return false }
            clock = clock.dropLast(2)
            if clock.last == UInt8(ascii: " ") { clock = clock.dropLast() }
        }
        let parts = clock.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
        guard (2...3).contains(parts.count), (1...2).contains(parts[0].count), number(parts[0]) != nil else { return false }
        return parts.dropFirst().allSatisfy { $0.count == 2 && number($0) != nil }
    }

    /// `THH:MM[:SS[.fff]][Z|±HH:MM]`: checked loosely, only so "2024-08-20junk" is not a date.
    private static func isTimePart(_ b: ArraySlice<UInt8>) -> Bool {
        guard let first = b.first, first == UInt8(ascii: "T") || first == UInt8(ascii: " ") else { return false }
        let rest = b.dropFirst()
        guard rest.count >= 5, number(rest.prefix(2)) != nil, rest.dropFirst(2).first == UInt8(ascii: ":") else {
            return false
        }
        return rest.allSatisfy { c in
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) || c == UInt8(ascii: ":") || c == UInt8(ascii: ".")
                || c == UInt8(ascii: "Z") || c == UInt8(ascii: "+") || c == UInt8(ascii: "-")
        }
    }

    private static func number(_ digits: some Collection<UInt8>) -> Int? {
        guard !digits.isEmpty else { return nil }
        var value = 0
        for c in digits {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) else { return nil }
            value = value * 10 + Int(c - UInt8(ascii: "0"))
        }
        return value
    }

    private static func isSpace(_ c: UInt8) -> Bool {
        c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == UInt8(ascii: "\r") || c == UInt8(ascii: "\n")
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    private static func format(year: Int, month: Int, day: Int) -> String {
        func padded(_ n: Int, _ width: Int) -> String {
            let digits = String(n)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(padded(year, 4))-\(padded(month, 2))-\(padded(day, 2))"
    }
}
