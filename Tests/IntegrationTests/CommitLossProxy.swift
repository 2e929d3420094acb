import Foundation
import PostgresLoad
import PostgresNIO
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A Unix-socket proxy in front of the test server that loses the merge's connection at its
/// COMMIT, once: the fault the run cannot see the end of. Connections are passed through byte
/// for byte; on the connection that ran `etl.begin_merge`, the COMMIT is either passed on and the
/// connection then cut (the server commits, its answer never arrives) or cut instead of passed on
/// (the server sees the connection close and rolls back).
final class CommitLossProxy: Sendable {
    enum Fault: Sendable {
        case afterCommit
        case beforeCommit
        /// After the COMMIT, the proxy goes too: nobody can ask the server what became of it.
        case afterCommitThenGone
    }

    /// Connect here: `?host=` this folder.
    let directory: URL
    private let listener: Int32
    private let upstream: DatabaseTarget
    private let armed: Mutex<Fault?>
    private let fired = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)

    /// How many times the fault fired.
    var firings: Int { fired.load(ordering: .relaxed) }

    init(upstream: DatabaseTarget, fault: Fault) throws {
        self.upstream = upstream
        self.armed = Mutex(fault)
        directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("rsproxy-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        listener = try Self.listen(at: directory.appendingPathComponent(".s.PGSQL.5432").path)
        let listener = listener
        Thread.detachNewThread { [self] in
            while true {
                let client = accept(listener, nil, nil)
                guard client >= 0 else { return }  // closed by stop()
                Thread.detachNewThread { [self] in serve(client) }
            }
        }
    }

    /// The test database, reached through the proxy.
    var target: DatabaseTarget {
        var configuration = upstream.configuration
        configuration = .init(
            unixSocketPath: directory.appendingPathComponent(".s.PGSQL.5432").path,
            username: configuration.username, password: configuration.password, database: configuration.database)
        return DatabaseTarget(configuration: configuration, description: "proxy to \(upstream.description)")
    }

    /// Stops accepting connections (once: a descriptor closed twice may by then be someone else's).
    func stop() {
        guard !stopped.exchange(true, ordering: .relaxed) else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        try? FileManager.default.removeItem(at: directory)
    }

    private func serve(_ client: Int32) {
        guard let server = try? Self.connectUpstream(upstream.configuration) else {
            close(client)
            return
        }
        // Both descriptors are closed only once the other direction's thread is done with them: a
        // number closed early is soon another connection's.
        let pumped = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            Self.pump(from: server, to: client)
            pumped.signal()
        }
        var merging = false
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = read(client, &buffer, buffer.count)
            guard count > 0 else { break }
            let bytes = Array(buffer[0..<count])
            if Self.contains(bytes, "etl.begin_merge") { merging = true }
            if merging, Self.isCommit(bytes), let fault = armed.withLock({ armed in defer { armed = nil }; return armed }) {
                fired.add(1, ordering: .relaxed)
                // Gone before the cut: the run asks the server over a new connection as soon as it
                // sees the cut, and under load that connection was sometimes accepted first.
                if fault == .afterCommitThenGone { stop() }
                // The client's side is cut before the COMMIT goes on, so its answer cannot get through.
                shutdown(client, Int32(SHUT_RDWR))
                if fault != .beforeCommit { Self.writeAll(server, bytes) }
                break
            }
            guard Self.writeAll(server, bytes) else { break }
        }
        shutdown(client, Int32(SHUT_RDWR))
        shutdown(server, Int32(SHUT_RDWR))
        pumped.wait()
        close(client)
        close(server)
    }

    private static func pump(from source: Int32, to destination: Int32) {
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = read(source, &buffer, buffer.count)
            guard count > 0, writeAll(destination, Array(buffer[0..<count])) else { break }
        }
        shutdown(destination, Int32(SHUT_RDWR))
    }

    @discardableResult
    private static func writeAll(_ descriptor: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            guard written > 0 else { return false }
            offset += written
        }
        return true
    }

    private static func contains(_ bytes: [UInt8], _ text: String) -> Bool {
        let needle = Array(text.utf8)
        guard bytes.count >= needle.count else { return false }
        return (0...(bytes.count - needle.count)).contains { bytes[$0..<($0 + needle.count)].elementsEqual(needle) }
    }

    /// A query (simple or extended protocol) that is exactly COMMIT: "COMMIT" ending the string,
    /// not the "ON COMMIT DROP" of a temporary table.
    private static func isCommit(_ bytes: [UInt8]) -> Bool {
        let needle = Array("COMMIT\u{0}".utf8)
        guard bytes.count > needle.count else { return false }
        return (1...(bytes.count - needle.count)).contains {
            bytes[$0 - 1] != UInt8(ascii: " ") && bytes[$0..<($0 + needle.count)].elementsEqual(needle)
        }
    }

    private static func listen(at path: String) throws -> Int32 {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = unixAddress(path)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard descriptor >= 0, bound == 0, Glibc.listen(descriptor, 16) == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
        return descriptor
    }

    private static func connectUpstream(_ configuration: PostgresConnection.Configuration) throws -> Int32 {
        if let path = configuration.unixSocketPath {
            let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var address = unixAddress(path)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            guard connected == 0 else { throw CocoaError(.fileReadUnknown) }
            return descriptor
        }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var results: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(configuration.host ?? "localhost", String(configuration.port ?? 5432), &hints, &results) == 0,
            let first = results
        else { throw CocoaError(.fileReadUnknown) }
        defer { freeaddrinfo(results) }
        let descriptor = socket(first.pointee.ai_family, first.pointee.ai_socktype, first.pointee.ai_protocol)
        guard Glibc.connect(descriptor, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0 else {
            throw CocoaError(.fileReadUnknown)
        }
        return descriptor
    }

    private static func unixAddress(_ path: String) -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8.prefix(raw.count - 1))
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return address
    }
}
