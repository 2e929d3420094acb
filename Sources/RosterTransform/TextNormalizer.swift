import Foundation
import RosterModel

/// Normalises free text and identifiers the same way on every run, so a re-run of the same feed
/// produces byte-identical rows and the merge sees no spurious changes.
public enum TextNormalizer {
    /// Names, titles and other free text: Unicode NFC, trimmed, internal whitespace runs collapsed
    /// to one space. Empty text becomes `nil`.
    ///
    /// Whitespace is judged per scalar, not per `Character`: a combining mark after a space forms
    /// one `Character` with it, and judging that whole as whitespace would drop the mark on a
    /// second pass but not the first. NFC runs first because some spaces (U+2000 EN QUAD) only
    /// reach their canonical form under it.
    public static func text(_ raw: String?) -> String? {
        guard let raw else { return nil }
        var out = String.UnicodeScalarView()
        var pendingSpace = false
        for scalar in raw.precomposedStringWithCanonicalMapping.unicodeScalars {
            if scalar.properties.isWhitespace {
                pendingSpace = !out.isEmpty
                continue
            }
            if pendingSpace {
                out.append(" ")
                pendingSpace = false
            }
            out.append(scalar)
        }
        return out.isEmpty ? nil : String(out)
    }

    /// Identifiers (SIS ids, Clever ids, numbers): trimmed only, because inner characters are
    /// part of the key the SIS chose. Empty becomes `nil`.
    public static func identifier(_ raw: String?) -> String? {
        guard let raw else { return nil }
        let trimmed = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty ? nil : trimmed
    }

    /// A reference with both ids trimmed and empty ids removed.
    static func ref(_ ref: Ref) -> Ref {
        Ref(sisID: identifier(ref.sisID), cleverID: identifier(ref.cleverID))
    }
}
