extension ExtractError.Code {
    /// A landing file's SHA-256 is not the one its manifest recorded: the file changed after the extract.
    public static let checksumMismatch = ExtractError.Code(name: "checksum_mismatch")
    /// A landing file cannot be decompressed or decoded, or its manifest cannot be read. The archive is
    /// our own output, so this is damage, not a bad record.
    public static let corruptArchive = ExtractError.Code(name: "corrupt_archive")
    /// A landing night holds feeds from two runs (a re-run of the night stopped part-way), so it is
    /// not one extract and cannot be replayed.
    public static let incompleteNight = ExtractError.Code(name: "incomplete_night")
    /// The landing archive cannot be written (permissions, a full disk).
    public static let landingWrite = ExtractError.Code(name: "landing_write")
}
