import Foundation

/// Writes RFC 4180 CSV rows to a file through a 256 KiB buffer, so a million-row file costs a few
/// thousand `write` calls and no more memory than the buffer.
final class CSVFileWriter {
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private let capacity = 256 * 1024
    let url: URL

    init(url: URL) throws {
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path])
        }
        self.url = url
        self.handle = try FileHandle(forWritingTo: url)
        buffer.reserveCapacity(capacity)
    }

    /// Appends one row; fields that hold a comma, a quote or a line break are quoted, quotes doubled.
    func write(_ fields: [String?]) throws {
        for (position, field) in fields.enumerated() {
            if position > 0 { buffer.append(UInt8(ascii: ",")) }
            guard let field else { continue }
            let bytes = Array(field.utf8)
            let needsQuotes = bytes.contains { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 10 || $0 == 13 }
            if needsQuotes {
                buffer.append(UInt8(ascii: "\""))
                for byte in bytes {
                    if byte == UInt8(ascii: "\"") { buffer.append(byte) }
                    buffer.append(byte)
                }
                buffer.append(UInt8(ascii: "\""))
            } else {
                buffer.append(contentsOf: bytes)
            }
        }
        // RFC 4180 ends records with CRLF.
        buffer.append(13)
        buffer.append(10)
        if buffer.count >= capacity { try flush() }
    }

    func flush() throws {
        guard !buffer.isEmpty else { return }
        try handle.write(contentsOf: buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes and closes; call exactly once.
    func close() throws {
        try flush()
        try handle.close()
    }
}
