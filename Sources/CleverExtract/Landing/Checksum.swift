import Crypto
import Foundation

/// The landing archive's checksums (and the unchanged-night input digest): SHA-256 from
/// swift-crypto, in the hex form `sha256sum` prints, so an operator can check a file by hand.
extension SHA256 {
    mutating func update(_ bytes: UnsafeRawBufferPointer) { update(bufferPointer: bytes) }

    mutating func update(_ data: Data) { update(data: data) }

    /// The digest as 64 lowercase hex digits.
    package func hexDigest() -> String { finalize().map { String(format: "%02x", $0) }.joined() }
}
