public import RosterModel

/// Maps the grade spellings districts send to ``RosterModel/Grade``.
///
/// Covers every Clever v3.0 grade word (`InfantToddler` ... `Other`) and the CSV spellings SIS
/// exports use (`PK`, `Pre-K`, `TK`, `K`, `KG`, `01`, `1st`, `Grade 3`, `IT`, `PS`, `PG`),
/// case-insensitively. Numbers are read as numbers, so `10` is grade ten and sorts after `2`.
public enum GradeParser {
    /// The grade for `raw`; nil when the text is empty or not a grade anybody recognises
    /// (the transform then loads the record as ``RosterModel/Grade/other`` with a warning).
    public static func grade(from raw: String) -> Grade? {
        if let known = exactSpellings[raw] { return known }
        return parse(raw)
    }

    /// Clever's own words and plain numbers, which nearly every row uses, resolved once: the
    /// general parse below allocates several strings per call.
    private static let exactSpellings: [String: Grade] = {
        var table: [String: Grade] = [:]
        let spellings = ["InfantToddler", "Preschool", "PreKindergarten", "TransitionalKindergarten", "Kindergarten",
                         "PostGraduate", "Ungraded", "Other", "PK", "TK", "K", "KG"]
            + (1...13).map { String($0) } + (1...9).map { "0\($0)" }
        for spelling in spellings {
            if let grade = parse(spelling) { table[spelling] = grade }
        }
        return table
    }()

    private static func parse(_ raw: String) -> Grade? {
        let compact = String(raw.lowercased().unicodeScalars.filter { !$0.properties.isWhitespace })
        guard !compact.isEmpty else { return nil }
        if let word = words[String(compact.unicodeScalars.filter { !separators.contains($0) })] { return word }
        // Separators stay in numbers: "-1" and "1.5" are not grade 1 and grade 15.
        return numbered(compact)
    }

    /// Spaces, hyphens, underscores, dots and slashes carry no meaning in grade words
    /// ("Pre-K", "Pre K", "pre_k", "Infant/Toddler").
    private static let separators: Set<Unicode.Scalar> = ["-", "_", ".", "/"]

    private static let words: [String: Grade] = [
        "infanttoddler": .infantToddler, "infant": .infantToddler, "it": .infantToddler,
        "preschool": .preschool, "ps": .preschool,
        "prekindergarten": .preKindergarten, "prek": .preKindergarten, "pk": .preKindergarten,
        // Pre-K programmes by age (PK3, PK4; Wisconsin's 4K, also written K4) and five-year-old
        // kindergarten (K5, 5K), as several states' SIS exports write them.
        "pk3": .preKindergarten, "pk4": .preKindergarten, "prek3": .preKindergarten, "prek4": .preKindergarten,
        "k4": .preKindergarten, "4k": .preKindergarten, "k5": .kindergarten, "5k": .kindergarten,
        "transitionalkindergarten": .transitionalKindergarten, "tk": .transitionalKindergarten,
        "kindergarten": .kindergarten, "k": .kindergarten, "kg": .kindergarten,
        "postgraduate": .postGraduate, "pg": .postGraduate,
        "ungraded": .ungraded, "ug": .ungraded,
        "other": .other,
    ]

    /// `3`, `03`, `3rd`, `grade3`, `grade03`, `gradek` (the spaces are already gone).
    private static func numbered(_ key: String) -> Grade? {
        var rest = Substring(key)
        if rest.hasPrefix("grade") {
            rest = rest.dropFirst("grade".count)
            if let word = words[String(rest.unicodeScalars.filter { !separators.contains($0) })] { return word }
        }
        for suffix in ["st", "nd", "rd", "th"] where rest.hasSuffix(suffix) {
            rest = rest.dropLast(suffix.count)
            break
        }
        guard !rest.isEmpty, rest.count <= 3, rest.allSatisfy({ ("0"..."9").contains($0) }), let n = Int(rest), n >= 0 else { return nil }
        // Some SIS exports write kindergarten as grade 0.
        if n == 0 { return .kindergarten }
        return (1...13).contains(n) ? .numbered(n) : nil
    }
}
