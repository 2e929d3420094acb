extension ExtractError.Code {
    /// A CSV file cannot be read past some point, e.g. a quote that is never closed swallows the rest.
    public static let malformedFile = ExtractError.Code(name: "malformed_file")
    /// A feed file is not the file the run started on, or changed while it was read: a new export
    /// arriving, or an upload still being written.
    public static let changedDuringRun = ExtractError.Code(name: "changed_during_run")
}
