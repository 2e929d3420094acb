/// What a running fake server can change while it runs: the faults and the district it serves.
/// One actor shared by every request handler and by the test that holds the server.
actor ServerState {
    private(set) var faults: Faults
    private(set) var district: any ServedDistrict
    private(set) var requestCount = 0

    init(faults: Faults, district: any ServedDistrict) {
        self.faults = faults
        self.district = district
    }

    func setFaults(_ faults: Faults) { self.faults = faults }

    func setDistrict(_ district: any ServedDistrict) { self.district = district }

    /// Counts an API request and picks its fault; returns the district to answer from, so one
    /// page is served from one district even if a test swaps it concurrently.
    func begin() -> (fault: Fault, faults: Faults, district: any ServedDistrict) {
        requestCount += 1
        let fault = faults.take()
        return (fault, faults, district)
    }
}
