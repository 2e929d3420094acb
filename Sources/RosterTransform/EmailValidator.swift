/// Validates emails by a practical standard: what mail systems and identity providers accept in
/// practice, not every address RFC 5322 allows (no quoted local parts, no IP-literal domains).
public enum EmailValidator {
    /// Why an email was not accepted; `description` is written for the run report.
    public struct Problem: Error, Sendable, Hashable, CustomStringConvertible {
        public var description: String
    }

    /// The trimmed, lowercased email, or why it is not usable.
    public static func validate(_ raw: String) -> Result<String, Problem> {
        let email = (TextNormalizer.identifier(raw) ?? "").lowercased()
        func fail(_ why: String) -> Result<String, Problem> { .failure(Problem(description: why)) }

        guard !email.isEmpty else { return fail("the email is empty") }
        guard email.utf8.count <= 254 else { return fail("longer than 254 characters") }
        if let odd = email.unicodeScalars.first(where: { !$0.isASCII }) {
            return fail("contains the non-ASCII character '\(odd)' (U+\(hex(odd.value)))")
        }
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            return fail(parts.count == 1 ? "has no '@'" : "has \(parts.count - 1) '@' signs; exactly one is allowed")
        }
        if let why = localPartProblem(parts[0]) { return fail(why) }
        if let why = domainProblem(parts[1]) { return fail(why) }
        return .success(email)
    }

    /// The domain of an email the validator accepted.
    public static func domain(of email: String) -> String {
        email.split(separator: "@", omittingEmptySubsequences: false).last.map(String.init) ?? ""
    }

    private static let localSpecials: Set<Character> = Set("!#$%&'*+/=?^_`{|}~-.")

    private static func localPartProblem(_ local: Substring) -> String? {
        guard !local.isEmpty else { return "nothing before the '@'" }
        guard local.count <= 64 else { return "the part before the '@' is longer than 64 characters" }
        if let bad = local.first(where: { !(isLetterOrDigit($0) || localSpecials.contains($0)) }) {
            return "the part before the '@' contains '\(bad)', which is not allowed"
        }
        if local.hasPrefix(".") || local.hasSuffix(".") { return "the part before the '@' starts or ends with a dot" }
        if local.contains("..") { return "the part before the '@' has two dots in a row" }
        return nil
    }

    private static func domainProblem(_ domain: Substring) -> String? {
        guard !domain.isEmpty else { return "nothing after the '@'" }
        guard domain.count <= 253 else { return "the domain is longer than 253 characters" }
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2 else { return "the domain '\(domain)' has no top-level domain" }
        for label in labels {
            guard !label.isEmpty else { return "the domain '\(domain)' has an empty label (two dots or an end dot)" }
            guard label.count <= 63 else { return "the domain label '\(label)' is longer than 63 characters" }
            if let bad = label.first(where: { !(isLetterOrDigit($0) || $0 == "-") }) {
                return "the domain contains '\(bad)', which is not allowed"
            }
            if label.hasPrefix("-") || label.hasSuffix("-") {
                return "the domain label '\(label)' starts or ends with a hyphen"
            }
        }
        if let tld = labels.last, tld.count < 2 || !tld.allSatisfy(isLetter) {
            return "the top-level domain '\(tld)' is not two or more letters"
        }
        return nil
    }

    private static func isLetter(_ c: Character) -> Bool { ("a"..."z").contains(c) }
    private static func isLetterOrDigit(_ c: Character) -> Bool { isLetter(c) || ("0"..."9").contains(c) }

    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
