import Crypto
import Foundation

/// The landing archive's checksums: SHA-256 from swift-crypto, in the hex form `sha256sum`
/// prints, so an operator can check an archived file by hand.
extension SHA256 {
    mutating func update(_ bytes: UnsafeRawBufferPointer) { update(bufferPointer: bytes) }

    mutating func update(_ data: Data) { update(data: data) }

    /// The digest as 64 lowercase hex digits.
    func hexDigest() -> String { finalize().map { String(format: "%02x", $0) }.joined() }
}
