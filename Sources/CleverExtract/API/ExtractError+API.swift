extension ExtractError {
    /// 401 or 403: nothing to retry; the operator has to fix the token or the district's sharing.
    static func unauthorized(endpoint: String, status: Int) -> ExtractError {
        ExtractError(
            .unauthorized,
            "Clever answered \(status): check CLEVER_TOKEN and that the district shared data with the app",
            context: endpoint)
    }

    static func malformed(endpoint: String, _ detail: String, cause: (any Error)? = nil) -> ExtractError {
        ExtractError(
            .malformedResponse,
            "Clever answered with something that is not a page of the expected objects (\(detail)); "
                + "the feed is stopped rather than read as empty. Run again later; if it persists, check the API URL",
            context: endpoint, cause: cause)
    }
}
