/// Validates emails by a practical standard: what mail systems and identity providers accept in
/// practice, not every address RFC 5322 allows (no quoted local parts, no IP-literal domains).
public enum EmailValidator {
    /// Why an email was not accepted; `description` is written for the run report.
    public struct Problem: Error, Sendable, Hashable, CustomStringConvertible {
        public var description: String
    }

    /// The trimmed, lowercased email, or why it is not usable.
    public static func validate(_ raw: String) -> Result<String, Problem> {
        let trimmed = TextNormalizer.identifier(raw) ?? ""
        func fail(_ why: String) -> Result<String, Problem> { .failure(Problem(description: why)) }

        guard !trimmed.isEmpty else { return fail("the email is empty") }
        // Checked before lowercasing, which maps some non-ASCII letters to ASCII ones (the Kelvin
        // sign U+212A to "k"): the address stored must be the one the SIS sent.
        if let odd = trimmed.unicodeScalars.first(where: { !$0.isASCII }) {
            return fail("contains the non-ASCII character '\(odd)' (U+\(hex(odd.value)))")
        }
        let email = trimmed.lowercased()
        guard email.utf8.count <= 254 else { return fail("longer than 254 characters") }
        // From here on the email is ASCII: one byte per character, checked byte by byte (this
        // runs for every student and teacher of every district).
        let bytes = Array(email.utf8)
        let ats = bytes.indices.filter { bytes[$0] == at }
        guard ats.count == 1, let split = ats.first else {
            return fail(ats.isEmpty ? "has no '@'" : "has \(ats.count) '@' signs; exactly one is allowed")
        }
        if let why = localPartProblem(bytes[..<split]) { return fail(why) }
        if let why = domainProblem(bytes[(split + 1)...]) { return fail(why) }
        return .success(email)
    }

    /// The domain of an email the validator accepted.
    public static func domain(of email: String) -> String {
        email.split(separator: "@", omittingEmptySubsequences: false).last.map(String.init) ?? ""
    }

    private static let at = UInt8(ascii: "@"), dot = UInt8(ascii: "."), hyphen = UInt8(ascii: "-")

    /// `!#$%&'*+/=?^_`{|}~-.` by byte.
    private static let localSpecials: [Bool] = {
        var table = [Bool](repeating: false, count: 128)
        for byte in "!#$%&'*+/=?^_`{|}~-.".utf8 { table[Int(byte)] = true }
        return table
    }()

    private static func localPartProblem(_ local: ArraySlice<UInt8>) -> String? {
        guard !local.isEmpty else { return "nothing before the '@'" }
        guard local.count <= 64 else { return "the part before the '@' is longer than 64 characters" }
        if let bad = local.first(where: { !(isLetterOrDigit($0) || localSpecials[Int($0)]) }) {
            return "the part before the '@' contains '\(character(bad))', which is not allowed"
        }
        if local.first == dot || local.last == dot { return "the part before the '@' starts or ends with a dot" }
        if zip(local, local.dropFirst()).contains(where: { $0 == dot && $1 == dot }) {
            return "the part before the '@' has two dots in a row"
        }
        return nil
    }

    private static func domainProblem(_ domain: ArraySlice<UInt8>) -> String? {
        guard !domain.isEmpty else { return "nothing after the '@'" }
        guard domain.count <= 253 else { return "the domain is longer than 253 characters" }
        let labels = domain.split(separator: dot, omittingEmptySubsequences: false)
        guard labels.count >= 2 else { return "the domain '\(text(domain))' has no top-level domain" }
        for label in labels {
            guard !label.isEmpty else { return "the domain '\(text(domain))' has an empty label (two dots or an end dot)" }
            guard label.count <= 63 else { return "the domain label '\(text(label))' is longer than 63 characters" }
            if let bad = label.first(where: { !(isLetterOrDigit($0) || $0 == hyphen) }) {
                return "the domain contains '\(character(bad))', which is not allowed"
            }
            if label.first == hyphen || label.last == hyphen {
                return "the domain label '\(text(label))' starts or ends with a hyphen"
            }
        }
        // Letters, or an internationalised top-level domain in its ASCII form (xn--p1ai is .рф).
        if let tld = labels.last, tld.count < 2 || !(tld.allSatisfy(isLetter) || tld.starts(with: "xn--".utf8)) {
            return "the top-level domain '\(text(tld))' is not two or more letters"
        }
        return nil
    }

    private static func isLetter(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z") }
    private static func isLetterOrDigit(_ byte: UInt8) -> Bool {
        isLetter(byte) || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
    }
    private static func character(_ byte: UInt8) -> Character { Character(Unicode.Scalar(byte)) }
    private static func text(_ bytes: ArraySlice<UInt8>) -> String { String(decoding: bytes, as: UTF8.self) }

    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
