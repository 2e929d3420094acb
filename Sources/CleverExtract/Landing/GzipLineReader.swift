import CompressNIO
import Crypto
import Foundation
import NIOCore

/// Reads the lines of one gzip file, decompressing a chunk at a time, and takes the SHA-256 of the
/// compressed bytes on the way.
///
/// Memory is one compressed chunk, one decompressed window and the line being read. A truncated
/// stream, bytes after its end or a bad gzip checksum (zlib checks the CRC-32 in the trailer) are
/// ``ExtractError/Code/corruptArchive`` errors.
final class GzipLineReader {
    static let chunkSize = 64 * 1024
    static let windowSize = 256 * 1024
    /// A longer line is not a record: the file is damaged and the "line" would swallow it.
    static let maxLineBytes = 16 * 1024 * 1024

    let url: URL
    /// Lines returned so far; the number of the last one.
    private(set) var line = 0
    private let handle: FileHandle
    private let decompressor: ZlibDecompressor
    private var compressed: ByteBuffer
    private var window: ByteBuffer
    private var hash = SHA256()
    private var fileEnded = false
    private var streamEnded = false
    /// Decompressed bytes not yet returned, from `start`.
    private var pending: [UInt8] = []
    private var start = 0
    /// Where to look for the next newline: bytes before it (from `start`) have none.
    private var scanned = 0

    init(url: URL) throws(ExtractError) {
        self.url = url
        do {
            handle = try FileHandle(forReadingFrom: url)
            decompressor = try ZlibDecompressor(algorithm: .gzip)
        } catch {
            throw ExtractError(
                .unreadable, "cannot open \(url.lastPathComponent); check that it exists and is readable by this user",
                context: url.path, cause: error)
        }
        compressed = ByteBufferAllocator().buffer(capacity: Self.chunkSize)
        window = ByteBufferAllocator().buffer(capacity: Self.windowSize)
    }

    deinit {
        try? handle.close()
    }

    /// SHA-256 of the compressed file; complete once ``nextLine()`` has returned nil.
    var sha256: String { hash.hexDigest() }

    /// The next line without its newline, or nil at the end of the file.
    func nextLine() throws(ExtractError) -> Data? {
        while true {
            if let newline = pending[scanned...].firstIndex(of: UInt8(ascii: "\n")) {
                let text = Data(pending[start..<newline])
                start = newline + 1
                scanned = start
                line += 1
                return text
            }
            scanned = pending.count
            if start > 0 {
                // Drop returned lines before the next window is appended, so `pending` stays small.
                pending.removeFirst(start)
                scanned -= start
                start = 0
            }
            guard pending.count <= Self.maxLineBytes else {
                throw corrupt("line \(line + 1) is longer than \(Self.maxLineBytes) bytes")
            }
            guard try inflateMore() else {
                guard pending.isEmpty else { throw corrupt("the last line has no newline") }
                return nil
            }
        }
    }

    /// Appends the next decompressed piece to `pending`. Returns false once the gzip stream has ended
    /// and the file has been read to its end.
    private func inflateMore() throws(ExtractError) -> Bool {
        while !streamEnded {
            if compressed.readableBytes == 0 && !fileEnded { try readChunk() }
            let inputBefore = compressed.readableBytes
            var needsInput = false
            window.clear()
            do {
                try decompressor.inflate(from: &compressed, to: &window)
            } catch let error as CompressNIOError where error == .bufferOverflow {
                // The window is full; the rest comes on the next call.
            } catch let error as CompressNIOError where error == .inputBufferOverflow {
                needsInput = true
            } catch {
                throw corrupt("it cannot be decompressed", cause: error)
            }
            if window.readableBytes > 0 {
                window.withUnsafeReadableBytes { pending.append(contentsOf: $0) }
                return true
            }
            if needsInput {
                if fileEnded { throw corrupt("it ends before its gzip stream does (a truncated copy?)") }
                continue
            }
            // zlib reports "no progress" as an error, so a quiet call with no input and no output
            // means the stream has ended (Z_STREAM_END); with input left over, it ended early.
            if compressed.readableBytes > 0 { throw corrupt("it has bytes after the end of its gzip stream") }
            if inputBefore == 0 && fileEnded { streamEnded = true }
        }
        return false
    }

    private func readChunk() throws(ExtractError) {
        let data: Data?
        do {
            data = try handle.read(upToCount: Self.chunkSize)
        } catch {
            throw ExtractError(.unreadable, "cannot read \(url.lastPathComponent)", context: url.path, cause: error)
        }
        guard let data, !data.isEmpty else {
            fileEnded = true
            return
        }
        hash.update(data)
        compressed.clear()
        compressed.writeBytes(data)
    }

    private func corrupt(_ problem: String, cause: (any Error)? = nil) -> ExtractError {
        ExtractError(
            .corruptArchive,
            "\(url.lastPathComponent) is damaged: \(problem). Restore the landing folder from a backup or "
                + "replay another night",
            context: url.path, cause: cause)
    }
}
