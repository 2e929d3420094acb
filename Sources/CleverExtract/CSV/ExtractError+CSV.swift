extension ExtractError.Code {
    /// A CSV file cannot be read past some point, e.g. a quote that is never closed swallows the rest.
    public static let malformedFile = ExtractError.Code(name: "malformed_file")
}
