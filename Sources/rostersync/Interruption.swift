import Dispatch
import Foundation
import Logging
import Synchronization

/// Runs `body` and cancels it on SIGINT or SIGTERM: the runner stops starting tasks, a merge in
/// progress rolls back, and the run is recorded as cancelled before the program exits. A second
/// signal, two seconds or more after the first, ends the process at once (a wait that does not heed cancellation, such as another
/// run's migration lock, would otherwise leave only SIGKILL); the run it leaves `running` is
/// marked failed by the district's next run.
func cancellingOnSignals<T: Sendable>(logger: Logger, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let (signals, continuation) = AsyncStream<Int32>.makeStream()
    let first = FirstSignal()
    let numbers = [SIGINT, SIGTERM]
    let previous = numbers.map { signal($0, SIG_IGN) }
    let sources = numbers.map { number in
        let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
        source.setEventHandler {
            let now = ContinuousClock.now
            let earlier = first.at.withLock { at in
                defer { at = at ?? now }
                return at
            }
            // `timeout` and service managers signal the process and then its group: a repeat
            // within two seconds is the same request, not a person insisting.
            if let earlier, now - earlier >= .seconds(2) {
                logger.critical("\(name(of: number)) again: exiting now, without recording the run's outcome")
                // The shell's status for a death by this signal. Re-raising it does not end the
                // process: the dispatch source takes delivery of it again.
                _exit(128 + number)
            }
            continuation.yield(number)
        }
        source.resume()
        return source
    }
    defer {
        for source in sources { source.cancel() }
        // As they were before (a job started with `&` ignores SIGINT, and must go on doing so).
        for (number, handler) in zip(numbers, previous) { signal(number, handler) }
        continuation.finish()
    }
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            for await number in signals {
                logger.warning(
                    "\(name(of: number)) received: no new tasks start; a merge in progress rolls back (another, two seconds on, exits at once)")
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

private func name(of signal: Int32) -> String { signal == SIGINT ? "SIGINT" : "SIGTERM" }

/// When the first signal came, shared with the signal handlers.
private final class FirstSignal: Sendable {
    let at = Mutex<ContinuousClock.Instant?>(nil)
}
