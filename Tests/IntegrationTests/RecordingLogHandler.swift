import Foundation
import Logging

/// Keeps every record logged through it, for tests that check what operators' logs get.
///
/// A value, as `LogHandler`s must be: each `Logger` copy sets its own metadata (the pipeline's
/// tasks do so in parallel), and only the recorded entries are shared, under a lock.
struct RecordingLogHandler: LogHandler {
    struct Entry: Sendable { var level: Logger.Level; var message: String; var metadata: Logger.Metadata }

    private final class Recorder: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: [Entry] = []
        var entries: [Entry] { lock.withLock { stored } }
        func append(_ entry: Entry) { lock.withLock { stored.append(entry) } }
    }

    private let recorder = Recorder()
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    var entries: [Entry] { recorder.entries }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        recorder.append(
            Entry(level: event.level, message: "\(event.message)", metadata: metadata.merging(event.metadata ?? [:]) { $1 }))
    }
}
