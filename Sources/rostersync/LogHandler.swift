import Foundation
import Synchronization
public import ArgumentParser
public import Logging

/// Human-readable lines on a terminal, one JSON object per line otherwise (CONTRACT.md "Logs").
struct CLILogHandler: LogHandler {
    enum Format: String, CaseIterable {
        case auto, text, json
    }

    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level
    let json: Bool
    let label: String

    init(label: String, format: Format, level: Logger.Level) {
        self.label = label
        self.logLevel = level
        json = Self.isJSON(format)
    }

    static func isJSON(_ format: Format) -> Bool {
        switch format {
        case .auto: isatty(STDERR_FILENO) == 0
        case .text: false
        case .json: true
        }
    }

    /// Whether the running command logs JSON lines (set when it makes its logger), so that its
    /// final error line is JSON too.
    static var jsonLines: Bool { jsonLinesBox.withLock { $0 } }
    static func useJSONLines(_ value: Bool) { jsonLinesBox.withLock { $0 = value } }
    private static let jsonLinesBox = Mutex(false)

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let line = Self.line(level: event.level, message: "\(event.message)", metadata: merged, json: json, label: label)
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// One record as written: a JSON object (metadata values as strings, keys sorted), or
    /// `HH:mm:ss level message  key=value ...` for a person.
    static func line(
        level: Logger.Level, message: String, metadata: Logger.Metadata, json: Bool, label: String, at date: Date = Date()
    ) -> String {
        if json {
            var object: [String: Any] = [
                "ts": ISO8601DateFormatter().string(from: date), "level": level.rawValue, "msg": message, "logger": label,
            ]
            for (key, value) in metadata { object[key] = "\(value)" }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            return String(decoding: data, as: UTF8.self)
        }
        let time = timeFormatter.string(from: date)
        let fields = metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        return "\(time) \(level.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0)) \(message)"
            + (fields.isEmpty ? "" : "  \(fields)")
    }

    private static let timeFormatter: DateFormatter = {
        let formatter = DateFormatter()
        formatter.dateFormat = "HH:mm:ss"
        return formatter
    }()
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
extension CLILogHandler.Format: ExpressibleByArgument {}
