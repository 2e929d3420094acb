import CompressNIO
import Crypto
import Foundation
import NIOCore

/// Writes one gzip file as data arrives, under a temporary name until its owner names it.
///
/// Compressed output goes through a fixed window to the file, so memory is one input piece plus the
/// window, whatever the file's size. The SHA-256 and size of the compressed bytes are taken on the way.
/// The temporary file is removed when the writer goes unless ``markMoved()`` says it was renamed,
/// so a failed or cancelled extract never leaves a file that looks complete.
final class GzipFileWriter {
    static let windowSize = 64 * 1024

    /// Where the data goes until the owner renames the finished file (``finish()``).
    let temporaryURL: URL
    private let handle: FileHandle
    private let compressor: ZlibCompressor
    private var window: ByteBuffer
    private var hash = SHA256()
    private(set) var bytesWritten = 0
    private var done = false

    /// A file in `folder`, under a name no other writer uses and that never looks like a finished file.
    init(in folder: URL) throws(ExtractError) {
        temporaryURL = LandingFiles.temporaryURL(in: folder)
        guard
            FileManager.default.createFile(
                atPath: temporaryURL.path, contents: nil, attributes: [.posixPermissions: LandingFiles.filePermissions])
        else {
            throw ExtractError(
                .landingWrite, "cannot create a landing file; check the landing folder's permissions and free space",
                context: temporaryURL.path)
        }
        do {
            handle = try FileHandle(forWritingTo: temporaryURL)
            compressor = try ZlibCompressor(algorithm: .gzip)
        } catch {
            try? FileManager.default.removeItem(at: temporaryURL)
            throw ExtractError(
                .landingWrite, "cannot open a landing file for writing", context: temporaryURL.path, cause: error)
        }
        window = ByteBufferAllocator().buffer(capacity: Self.windowSize)
    }

    deinit {
        if !done { discard() }
    }

    /// Compresses `input` (all its readable bytes) into the file.
    func write(_ input: inout ByteBuffer) throws(ExtractError) {
        while input.readableBytes > 0 {
            window.clear()
            do {
                try compressor.deflate(from: &input, to: &window, flush: .no)
            } catch let error as CompressNIOError where error == .bufferOverflow {
                // The window filled before deflate could move on: write it out and go round again.
            } catch {
                throw ExtractError(.landingWrite, "gzip failed", context: temporaryURL.path, cause: error)
            }
            try flushWindow()
        }
    }

    /// Ends the gzip stream and flushes the file to disk, still under ``temporaryURL``: the owner
    /// decides its name once it knows where the file belongs. Returns the compressed size and SHA-256.
    func finish() throws(ExtractError) -> (bytes: Int, sha256: String) {
        // Capacity 1: the compressor needs a real (if empty) input buffer to point at.
        var empty = ByteBufferAllocator().buffer(capacity: 1)
        while true {
            window.clear()
            do {
                try compressor.deflate(from: &empty, to: &window, flush: .finish)
                try flushWindow()
                break
            } catch let error as CompressNIOError where error == .bufferOverflow {
                try flushWindow()  // more of the stream's end to come
            } catch let error as ExtractError {
                throw error
            } catch {
                throw ExtractError(.landingWrite, "gzip failed", context: temporaryURL.path, cause: error)
            }
        }
        do {
            try handle.synchronize()
            try handle.close()
        } catch {
            throw ExtractError(
                .landingWrite, "cannot flush a landing file to disk; check free space", context: temporaryURL.path,
                cause: error)
        }
        return (bytesWritten, hash.hexDigest())
    }

    /// The finished file was renamed away from ``temporaryURL``: nothing to remove.
    func markMoved() {
        done = true
    }

    /// Closes and removes the temporary file.
    func discard() {
        done = true
        try? handle.close()
        try? FileManager.default.removeItem(at: temporaryURL)
    }

    private func flushWindow() throws(ExtractError) {
        guard window.readableBytes > 0 else { return }
        let data = window.withUnsafeReadableBytes { bytes in
            hash.update(bytes)
            return Data(bytes)
        }
        do {
            try handle.write(contentsOf: data)
        } catch {
            throw ExtractError(
                .landingWrite, "cannot write a landing file; check free space", context: temporaryURL.path, cause: error)
        }
        bytesWritten += data.count
    }
}
