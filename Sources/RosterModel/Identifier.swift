/// How an identifier (a SIS id, a Clever id) is read from a source: trimmed only, because inner
/// characters are part of the key the SIS chose. One rule for the transform, which keys records by
/// it, and for the readers, which key the rows they cannot load by it, so the two always agree.
public enum Identifier {
    /// `raw` without leading and trailing whitespace; nil when nothing is left.
    public static func trimmed(_ raw: String?) -> String? {
        guard let raw else { return nil }
        let utf8 = raw.utf8
        guard let first = utf8.first, let last = utf8.last else { return nil }
        // No whitespace can start or end here: nothing to trim, nothing to allocate.
        if first < 0x80 && last < 0x80 && !isASCIIWhitespace(first) && !isASCIIWhitespace(last) { return raw }
        let scalars = raw.unicodeScalars
        guard let start = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let end = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return nil }
        return String(scalars[start...end])
    }

    private static func isASCIIWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (0x09...0x0D).contains(byte)
    }
}
