public import Foundation
import Hummingbird
public import Logging

/// A real HTTP server speaking Clever's Data API v3.0 on loopback, for tests, the demo and
/// benchmarks: `GET /v3.0/districts`, `/schools`, `/users?role=student|teacher|staff|district_admin`,
/// `/sections`, `/terms` and `/courses` (which name and number the sections), with `limit` (default 100, at most
/// 10,000) and `starting_after` paging and `links` rel `self`/`next`, every object wrapped as
/// `{"data": {...}, "uri": "..."}`.
///
/// Every API request needs `Authorization: Bearer <token>`. ``Faults`` inject rate limits,
/// server errors, slow, truncated or malformed pages and paging loops; they and the served
/// district can change while the server runs, from the test holding the server or over HTTP:
/// `POST /__faults` (a ``Faults`` as JSON), `GET /__faults`, and `POST /__district`
/// (a ``SyntheticDistrict/NextNight`` as JSON: serve the same district one night later).
///
/// A synthetic district is served by index: a page builds only its own objects.
public struct FakeCleverServer: Sendable {
    public struct Configuration: Sendable {
        /// The address to bind; loopback by default.
        public var host: String
        /// The port; 0 lets the system choose (read it from ``FakeCleverServer/run(onRunning:)``).
        public var port: Int
        /// The bearer token clients must send.
        public var token: String
        public var faults: Faults
        /// The id `GET /v3.0/districts` answers: the district the token is for, which a sync checks
        /// against its `--district`. Nil: the served district's own (generated) id.
        public var districtID: String?

        public init(
            host: String = "127.0.0.1", port: Int = 0, token: String, faults: Faults = .none, districtID: String? = nil
        ) {
            self.host = host
            self.port = port
            self.token = token
            self.faults = faults
            self.districtID = districtID
        }
    }

    public let configuration: Configuration
    let state: ServerState
    /// The synthetic district served, if any: `POST /__district` derives its next night from it.
    let baseDistrict: SyntheticDistrict?
    let logger: Logger

    /// Serves a synthetic district.
    public init(district: SyntheticDistrict, configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.state = ServerState(faults: configuration.faults, district: district)
        self.baseDistrict = district
        self.logger = logger
    }

    /// Serves a folder of Clever SFTP CSV files (small fixtures; read into memory). Clever ids
    /// are derived from the SIS ids; terms come from the term columns of sections.csv.
    public init(csvDirectory: URL, configuration: Configuration, logger: Logger) throws {
        self.configuration = configuration
        self.state = ServerState(faults: configuration.faults, district: try FixtureDistrict(directory: csvDirectory))
        self.baseDistrict = nil
        self.logger = logger
    }

    /// Replaces the faults of the running server (counted faults start again from these values).
    public func setFaults(_ faults: Faults) async { await state.setFaults(faults) }

    /// The faults left to inject.
    public func faults() async -> Faults { await state.faults }

    /// Serves a different synthetic district from now on, e.g. `district.nextNight(...)` between two syncs.
    public func serve(_ district: SyntheticDistrict) async { await state.setDistrict(district) }

    /// API requests answered so far (including faulty ones), to check retry behaviour.
    public func requestCount() async -> Int { await state.requestCount }

    /// Runs until the task is cancelled. `onRunning` receives the bound port once the server listens.
    public func run(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let app = Application(
            router: makeRouter(),
            configuration: ApplicationConfiguration(
                address: .hostname(configuration.host, port: configuration.port), serverName: "FakeClever"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
        try await app.run()
    }

    /// Starts the server, runs `body` with its base URL (`http://127.0.0.1:PORT`), then stops it.
    public func withRunning<Result: Sendable>(_ body: (URL) async throws -> Result) async throws -> Result {
        try await withThrowingTaskGroup(of: Void.self, returning: Result.self) { group in
            let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
            group.addTask {
                // Finishing the stream either way lets the caller see a server that failed to start.
                defer { continuation.finish() }
                try await run { port in continuation.yield(port) }
            }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next(), let url = URL(string: "http://\(configuration.host):\(port)") else {
                try await group.next()
                throw CancellationError()
            }
            let result = try await body(url)
            group.cancelAll()
            return result
        }
    }
}
