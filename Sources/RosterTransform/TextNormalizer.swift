import Foundation
import RosterModel

/// Normalises free text and identifiers the same way on every run, so a re-run of the same feed
/// produces byte-identical rows and the merge sees no spurious changes.
public enum TextNormalizer {
    /// Names, titles and other free text: Unicode NFC, trimmed, internal whitespace runs collapsed
    /// to one space. Empty text becomes `nil`.
    ///
    /// NFC runs before and after collapsing: some whitespace (U+2000 EN QUAD) only becomes its
    /// canonical form under NFC, and joining segments must not leave a non-NFC seam.
    public static func text(_ raw: String?) -> String? {
        guard let raw else { return nil }
        let composed = raw.precomposedStringWithCanonicalMapping
        let collapsed = composed.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        guard !collapsed.isEmpty else { return nil }
        return collapsed.precomposedStringWithCanonicalMapping
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
