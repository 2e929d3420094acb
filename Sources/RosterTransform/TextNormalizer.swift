import Foundation
import RosterModel

/// Normalises free text and identifiers the same way on every run, so a re-run of the same feed
/// produces byte-identical rows and the merge sees no spurious changes.
///
/// Almost every value in a Clever feed is plain ASCII, and this runs several times per row of
/// a million-student district: ASCII text takes a byte-level path that allocates only when the
/// value changes. Anything else takes the Unicode path, which defines the behaviour (the tests
/// check both paths agree).
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
        if let ascii = asciiText(raw) { return ascii.isEmpty ? nil : ascii }
        return unicodeText(raw)
    }

    /// Identifiers (SIS ids, Clever ids, numbers): trimmed only (``RosterModel/Identifier``). Empty
    /// becomes `nil`.
    public static func identifier(_ raw: String?) -> String? {
        Identifier.trimmed(raw)
    }

    /// A reference with both ids trimmed and empty ids removed.
    static func ref(_ ref: Ref) -> Ref {
        Ref(sisID: identifier(ref.sisID), cleverID: identifier(ref.cleverID))
    }

    /// The reference behaviour of `text`, for any input.
    static func unicodeText(_ raw: String) -> String? {
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

    /// `text` for pure ASCII input (already NFC, and its only whitespace is tab, LF, VT, FF, CR and
    /// space); `nil` when the input is not pure ASCII. Returns `raw` itself when it is already
    /// normalised.
    static func asciiText(_ raw: String) -> String? {
        var clean = true
        var previousWasSpace = true  // a leading space is not clean either
        for byte in raw.utf8 {
            if byte >= 0x80 { return nil }
            if isASCIIWhitespace(byte) {
                if byte != 0x20 || previousWasSpace { clean = false }
                previousWasSpace = true
            } else {
                previousWasSpace = false
            }
        }
        if previousWasSpace && !raw.utf8.isEmpty { clean = false }
        if clean { return raw }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(raw.utf8.count)
        var pendingSpace = false
        for byte in raw.utf8 {
            if isASCIIWhitespace(byte) {
                pendingSpace = !bytes.isEmpty
                continue
            }
            if pendingSpace {
                bytes.append(0x20)
                pendingSpace = false
            }
            bytes.append(byte)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    @inline(__always)
    static func isASCIIWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (byte >= 0x09 && byte <= 0x0D)
    }
}
