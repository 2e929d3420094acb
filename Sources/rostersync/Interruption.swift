import Dispatch
import Foundation
import Logging

/// Runs `body` and cancels it on SIGINT or SIGTERM: the runner stops starting tasks, a merge in
/// progress rolls back, and the run is recorded as cancelled before the program exits.
func cancellingOnSignals<T: Sendable>(logger: Logger, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let (signals, continuation) = AsyncStream<Int32>.makeStream()
    let sources = [SIGINT, SIGTERM].map { number in
        signal(number, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
        source.setEventHandler { continuation.yield(number) }
        source.resume()
        return source
    }
    defer {
        for source in sources { source.cancel() }
        continuation.finish()
    }
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            for await number in signals {
                logger.warning(
                    "\(number == SIGINT ? "SIGINT" : "SIGTERM") received: no new tasks start; a merge in progress rolls back")
                return nil
            }
            return nil
        }
        while let next = try await group.next() {
            if let result = next {
                group.cancelAll()
                return result
            }
            // The signal watcher ended: cancel the work and wait for it to record the cancellation.
            group.cancelAll()
        }
        throw CancellationError()
    }
}
