/// A tiny, fast, well-mixed hash of (seed, stream, index) so every generated value is a pure
/// function of its position: records can be produced by index in any order, on any machine,
/// without holding a random-number generator's state (which would force sequential generation).
enum SplitMix {
    /// SplitMix64's finaliser: a bijective avalanche over 64 bits.
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A well-mixed value for one (seed, stream, index) triple.
    static func hash(_ seed: UInt64, _ stream: UInt64, _ index: Int) -> UInt64 {
        mix(mix(seed ^ (stream &* 0xD6E8_FEB8_6659_FD93)) &+ UInt64(truncatingIfNeeded: index))
    }

    /// A uniform value in `0 ..< bound`.
    static func pick(_ seed: UInt64, _ stream: UInt64, _ index: Int, below bound: Int) -> Int {
        guard bound > 1 else { return 0 }
        return Int(hash(seed, stream, index) % UInt64(bound))
    }

    /// A uniform value in `[0, 1)`.
    static func unit(_ seed: UInt64, _ stream: UInt64, _ index: Int) -> Double {
        Double(hash(seed, stream, index) >> 11) / Double(UInt64(1) << 53)
    }
}
