import Foundation
import PropertyBased
import RosterModel
import RosterTransform
import Testing

/// Properties over generated input: the tables above pin examples, these look for the cases
/// nobody thought to write down.
@Suite("Properties")
struct PropertyTests {
    /// Characters that make normalisation interesting: odd spaces, combining marks, decomposed
    /// and precomposed letters.
    static let nameCharacters: [Character] = [
        "a", "B", "z", "\u{E9}", "e\u{301}", "\u{301}", " ", "\t", "\n", "\u{A0}", "\u{2001}", "\u{3000}", "-", "'",
        "\u{DF}", "\u{212B}", "O\u{308}",
    ]
    static let names = Gen<Character?>.element(of: nameCharacters).map { $0 ?? "a" }.string(of: 0...12)

    static let emailPieces = [
        "ada", "Z", "0", ".", "@", "-", "_", "+", " ", "\u{E9}", "school", ".ORG", "@school.org", ".com", "..", "@@",
    ]
    static let emails = Gen<String?>.element(of: emailPieces).map { $0 ?? "" }.array(of: 0...6).map { $0.joined() }

    static let dates = zip(Gen.int(in: 1990...2030), Gen.int(in: 0...13), Gen.int(in: 0...32), Gen.int(in: 0...3))
        .map { year, month, day, style -> String in
            func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
            switch style {
            case 0: return "\(year)-\(two(month))-\(two(day))"
            case 1: return "\(two(month))/\(two(day))/\(year)"
            case 2: return "\(month)/\(day)/\(year)"
            default: return "\(year)-\(two(month))-\(two(day))T00:00:00.000Z"
            }
        }

    static let transformer = Transformer(settings: .init(allowedEmailDomains: ["school.org"]))

    @Test("transforming a transformed student changes nothing")
    func studentIdempotence() async {
        await propertyCheck(count: 300, input: Self.names, Self.names, Self.emails, Self.dates) { first, last, email, dob in
            let raw = StudentRecord(
                source: Fixture.source, sisID: " S1 ", school: .sis("SCH1"), email: email, firstName: first,
                lastName: last, grade: "Grade 3", dateOfBirth: dob)
            let once = Self.transformer.transform(.student(raw))
            let twice = once.record.map { Self.transformer.transform($0) }
            #expect(twice?.record == once.record)
        }
    }

    @Test("normalising text twice changes nothing, and the same input gives the same output")
    func textIdempotence() async {
        await propertyCheck(count: 500, input: Self.names) { text in
            let once = TextNormalizer.text(text)
            #expect(TextNormalizer.text(once) == once)
            #expect(TextNormalizer.text(text) == once)
            #expect(once.map { !$0.hasPrefix(" ") && !$0.hasSuffix(" ") && !$0.contains("  ") } ?? true)
        }
    }

    /// ASCII-heavy text with every ASCII whitespace byte and a little Unicode, so generated
    /// strings exercise both the byte-level fast path and the Unicode path.
    static let mixedText = Gen<Character?>.element(of: [
        "a", "Z", "0", "-", " ", "\t", "\n", "\r", "\u{0B}", "\u{0C}", "\r\n", "\u{1F}", "\u{A0}", "\u{2001}",
        "\u{85}", "e\u{301}", "\u{E9}",
    ]).map { $0 ?? "a" }.string(of: 0...10)

    @Test("the fast paths give exactly what the Unicode definitions give")
    func fastPathsMatchDefinitions() async {
        await propertyCheck(count: 1000, input: Self.mixedText) { text in
            // The definitions, written the slow way: NFC, split on White_Space scalars, join with one space.
            var words: [String] = [], word = String.UnicodeScalarView()
            for scalar in text.precomposedStringWithCanonicalMapping.unicodeScalars {
                if scalar.properties.isWhitespace {
                    if !word.isEmpty { words.append(String(word)); word = .init() }
                } else {
                    word.append(scalar)
                }
            }
            if !word.isEmpty { words.append(String(word)) }
            let expectedText = words.isEmpty ? nil : words.joined(separator: " ")
            #expect(TextNormalizer.text(text).map { Array($0.unicodeScalars) } == expectedText.map { Array($0.unicodeScalars) })

            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(TextNormalizer.identifier(text).map { Array($0.unicodeScalars) }
                    == (trimmed.isEmpty ? nil : Array(trimmed.unicodeScalars)))
        }
    }

    @Test("a validated email validates to itself")
    func emailIdempotence() async {
        await propertyCheck(count: 500, input: Self.emails) { email in
            if case .success(let valid) = EmailValidator.validate(email) {
                #expect((try? EmailValidator.validate(valid).get()) == valid)
            }
        }
    }

    @Test("an ISO date parses to itself; a term's dates are stable")
    func dateIdempotence() async {
        await propertyCheck(count: 500, input: Self.dates, Self.dates) { start, end in
            if case .success(let iso) = DateParser.isoDate(from: start) {
                #expect((try? DateParser.isoDate(from: iso).get()) == iso)
            }
            if let once = Self.transformer.transform(.term(Fixture.term(start: start, end: end))).record {
                #expect(Self.transformer.transform(once).record == once)
            }
        }
    }

    static let grades = Gen<Grade?>.element(of: Grade.allGrades).map { $0 ?? .other }

    @Test("Grade ordering is a total order consistent with rank")
    func gradeOrder() async {
        await propertyCheck(count: 500, input: Self.grades, Self.grades, Self.grades) { a, b, c in
            #expect([a < b, a == b, b < a].filter { $0 }.count == 1)
            #expect((a < b) == (a.rank < b.rank))
            #expect((a == b) == (a.rank == b.rank))
            if a < b && b < c { #expect(a < c) }
            #expect(Grade(rank: a.rank) == a)
        }
    }

    static let spellings = [
        "2", "02", "2nd", "Grade 2", "10", "10th", "Grade 10", "1", "01", "1st", "9", "09", "12", "13", "K", "KG", "PK",
        "TK", "PS", "IT", "PG", "Ungraded", "Other", "3rd", "11",
    ]

    @Test("sorting parsed grades never puts 10 before 2")
    func numericSort() async {
        let shuffledSpellings = Gen<String?>.element(of: Self.spellings).map { $0 ?? "2" }.array(of: 0...30)
        await propertyCheck(count: 300, input: shuffledSpellings) { words in
            let sorted = words.compactMap(GradeParser.grade(from:)).sorted()
            #expect(sorted.count == words.count)
            #expect(zip(sorted, sorted.dropFirst()).allSatisfy { $0.rank <= $1.rank })
            let numbers = sorted.compactMap { grade -> Int? in if case .numbered(let n) = grade { n } else { nil } }
            #expect(numbers == numbers.sorted())
        }
        await propertyCheck(count: 100, input: Gen.shuffled(Grade.allGrades)) { grades in
            #expect(grades.sorted() == Grade.allGrades)
        }
    }
}
