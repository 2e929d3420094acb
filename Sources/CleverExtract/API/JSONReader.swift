/// A strict, allocation-light JSON reader over one page's bytes.
///
/// `JSONDecoder` into `Decodable` structs was the client's hottest path (a page of users went
/// through a generic JSON tree, then keyed containers looked up by `String`). This reader walks
/// the bytes once, hands each object's keys to the caller as raw bytes to compare, and skips
/// whatever the sync does not read. It accepts exactly RFC 8259 JSON (a truncated or otherwise
/// invalid page is an error, never a short page) and builds `String`s only for wanted values.
struct JSONReader {
    enum Problem: Sendable {
        /// Not JSON, or cut off.
        case syntax
        /// A required key is absent.
        case missing(String)
        /// A value of the wrong JSON type (or null where a value is required).
        case type
        /// Containers nested deeper than ``JSONReader/maxDepth``.
        case tooDeep
    }

    /// Where in the document a problem is, outermost first: object keys and array indices.
    enum Component: Sendable, CustomStringConvertible {
        case key(String)
        case index(Int)

        var description: String {
            switch self {
            case .key(let key): key
            case .index(let index): String(index)
            }
        }
    }

    struct Error: Swift.Error, Sendable {
        var problem: Problem
        var path: [Component] = []
        var offset: Int

        /// As `PageMapper.describe` words decoding errors: `missing data.0.data.id`.
        var detail: String {
            switch problem {
            case .syntax: return "invalid or truncated JSON"
            case .missing(let key): return "missing " + (path.map(\.description) + [key]).joined(separator: ".")
            case .type: return "unexpected value at " + path.map(\.description).joined(separator: ".")
            case .tooDeep: return "objects and arrays nested more than \(JSONReader.maxDepth) deep"
            }
        }
    }

    /// An object key, compared without building a `String` unless it holds escapes.
    struct Key {
        fileprivate let raw: UnsafeRawBufferPointer
        fileprivate let decoded: String?

        static func == (key: Key, name: StaticString) -> Bool {
            if let decoded = key.decoded { return decoded == name.description }
            let count = name.utf8CodeUnitCount
            guard key.raw.count == count else { return false }
            // A plain loop: keys are a few bytes, and this runs for every key of every object.
            let other = name.utf8Start
            for index in 0..<count where key.raw[index] != other[index] { return false }
            return true
        }

        var string: String { decoded ?? String(decoding: raw, as: UTF8.self) }
    }

    /// How deep containers may nest. The reader recurses once per level, so a hostile or broken
    /// page of `[[[[...` would otherwise overflow the stack and kill the run without a word
    /// (`JSONDecoder` stops at the same depth). Clever's pages nest about five levels.
    static let maxDepth = 512

    private let bytes: UnsafeRawBufferPointer
    private var position = 0
    private var depth = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    // MARK: - Documents and containers

    /// Reads a whole document with `body`, which must consume exactly one value; only
    /// whitespace may follow it.
    mutating func document<T>(_ body: (inout JSONReader) throws(Error) -> T) throws(Error) -> T {
        let value = try body(&self)
        skipWhitespace()
        guard position == bytes.count else { throw fail(.syntax) }
        return value
    }

    /// Calls `body` with each key of an object; `body` must consume the key's value (read it
    /// or `skipValue()`). A non-object is a type error.
    mutating func object(_ body: (inout JSONReader, Key) throws(Error) -> Void) throws(Error) {
        guard try peek() == UInt8(ascii: "{") else { throw typeError() }
        try enter()
        defer { depth -= 1 }
        position += 1
        if try peek() == UInt8(ascii: "}") {
            position += 1
            return
        }
        while true {
            guard try peek() == UInt8(ascii: "\"") else { throw fail(.syntax) }
            let key = try readKey()
            guard try peek() == UInt8(ascii: ":") else { throw fail(.syntax) }
            position += 1
            do {
                try body(&self, key)
            } catch {
                throw error.inside(.key(key.string))
            }
            switch try peek() {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "}"):
                position += 1
                return
            default: throw fail(.syntax)
            }
        }
    }

    /// Calls `body` with each index of an array; `body` must consume the element. A
    /// non-array is a type error.
    mutating func array(_ body: (inout JSONReader, Int) throws(Error) -> Void) throws(Error) {
        guard try peek() == UInt8(ascii: "[") else { throw typeError() }
        try enter()
        defer { depth -= 1 }
        position += 1
        if try peek() == UInt8(ascii: "]") {
            position += 1
            return
        }
        var index = 0
        while true {
            do {
                try body(&self, index)
            } catch {
                throw error.inside(.index(index))
            }
            index += 1
            switch try peek() {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "]"):
                position += 1
                return
            default: throw fail(.syntax)
            }
        }
    }

    private mutating func enter() throws(Error) {
        guard depth < Self.maxDepth else { throw fail(.tooDeep) }
        depth += 1
    }

    /// True (and consumed) if the next value is `null`: an optional that is present but null
    /// reads as nil, as `decodeIfPresent` does.
    mutating func null() throws(Error) -> Bool {
        guard try peek() == UInt8(ascii: "n") else { return false }
        try literal("null")
        return true
    }

    // MARK: - Values

    mutating func string() throws(Error) -> String {
        guard try peek() == UInt8(ascii: "\"") else { throw typeError() }
        let start = position + 1
        var index = start
        var high: UInt8 = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                position = index + 1
                let utf8 = UnsafeRawBufferPointer(rebasing: bytes[start..<index]).assumingMemoryBound(to: UInt8.self)
                // ASCII needs no validation, and `String(decoding:)` of a buffer is the fast path;
                // `String(validating:)` is generic and not specialised, so only other text pays for it.
                if high < 0x80 { return String(decoding: utf8, as: UTF8.self) }
                guard let value = String(validating: utf8, as: UTF8.self) else { throw fail(.syntax) }
                return value
            }
            if byte == UInt8(ascii: "\\") { return try escapedString() }
            if byte < 0x20 { throw fail(.syntax) }
            high |= byte
            index += 1
        }
        throw fail(.syntax)
    }

    mutating func optionalString() throws(Error) -> String? {
        try null() ? nil : string()
    }

    mutating func optionalStrings() throws(Error) -> [String]? {
        if try null() { return nil }
        var values: [String] = []
        try array { reader, _ throws(Error) in values.append(try reader.string()) }
        return values
    }

    /// Skips any one value, checking its syntax.
    mutating func skipValue() throws(Error) {
        switch try peek() {
        case UInt8(ascii: "{"): try object { reader, _ throws(Error) in try reader.skipValue() }
        case UInt8(ascii: "["): try array { reader, _ throws(Error) in try reader.skipValue() }
        case UInt8(ascii: "\""): try skipString()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default: try number()
        }
    }

    func missing(_ key: StaticString) -> Error { Error(problem: .missing(key.description), offset: position) }

    // MARK: - Lexing

    private mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"): position += 1
            default: return
            }
        }
    }

    /// The next non-whitespace byte, not consumed; the end of the bytes is a syntax error.
    private mutating func peek() throws(Error) -> UInt8 {
        skipWhitespace()
        guard position < bytes.count else { throw fail(.syntax) }
        return bytes[position]
    }

    private func fail(_ problem: Problem) -> Error { Error(problem: problem, offset: position) }

    /// A well-formed value of the wrong type is a type error; anything else is bad syntax.
    private mutating func typeError() -> Error {
        let start = position
        let wellFormed = (try? skipValue()) != nil
        position = start
        return fail(wellFormed ? .type : .syntax)
    }

    private mutating func literal(_ word: StaticString) throws(Error) {
        let count = word.utf8CodeUnitCount
        guard bytes.count - position >= count,
            word.withUTF8Buffer({ UnsafeRawBufferPointer(rebasing: bytes[position..<position + count]).elementsEqual($0) })
        else { throw fail(.syntax) }
        position += count
    }

    private mutating func readKey() throws(Error) -> Key {
        let start = position + 1
        var index = start
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\""):
                position = index + 1
                return Key(raw: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), decoded: nil)
            case UInt8(ascii: "\\"):
                return Key(raw: UnsafeRawBufferPointer(start: nil, count: 0), decoded: try escapedString())
            case 0..<0x20: throw fail(.syntax)
            default: index += 1
            }
        }
        throw fail(.syntax)
    }

    private mutating func skipString() throws(Error) {
        var index = position + 1
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\""):
                position = index + 1
                return
            case UInt8(ascii: "\\"):
                // Rare in skipped values; the full decoder checks the escape.
                _ = try escapedString()
                return
            case 0..<0x20: throw fail(.syntax)
            default: index += 1
            }
        }
        throw fail(.syntax)
    }

    /// The slow path of a string with backslash escapes, from its opening quote.
    private mutating func escapedString() throws(Error) -> String {
        var utf8: [UInt8] = []
        position += 1
        while position < bytes.count {
            let byte = bytes[position]
            position += 1
            switch byte {
            case UInt8(ascii: "\""):
                guard let value = String(validating: utf8, as: UTF8.self) else { throw fail(.syntax) }
                return value
            case UInt8(ascii: "\\"):
                guard position < bytes.count else { throw fail(.syntax) }
                let escape = bytes[position]
                position += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(escape)
                case UInt8(ascii: "b"): utf8.append(0x08)
                case UInt8(ascii: "f"): utf8.append(0x0C)
                case UInt8(ascii: "n"): utf8.append(0x0A)
                case UInt8(ascii: "r"): utf8.append(0x0D)
                case UInt8(ascii: "t"): utf8.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800..<0xDC00).contains(scalar) {
                        // A high surrogate must be followed by an escaped low one.
                        guard bytes.count - position >= 6, bytes[position] == UInt8(ascii: "\\"),
                            bytes[position + 1] == UInt8(ascii: "u")
                        else { throw fail(.syntax) }
                        position += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw fail(.syntax) }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00..<0xE000).contains(scalar) {
                        throw fail(.syntax)
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { throw fail(.syntax) }
                    utf8.append(contentsOf: String(Character(unicode)).utf8)
                default: throw fail(.syntax)
                }
            case 0..<0x20: throw fail(.syntax)
            default: utf8.append(byte)
            }
        }
        throw fail(.syntax)
    }

    private mutating func hex4() throws(Error) -> UInt32 {
        guard bytes.count - position >= 4 else { throw fail(.syntax) }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[position]
            position += 1
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw fail(.syntax)
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    private mutating func number() throws(Error) {
        func digits(_ reader: inout JSONReader) -> Int {
            let start = reader.position
            while reader.position < reader.bytes.count,
                (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(reader.bytes[reader.position])
            {
                reader.position += 1
            }
            return reader.position - start
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: "-") { position += 1 }
        let leadingZero = position < bytes.count && bytes[position] == UInt8(ascii: "0")
        let integer = digits(&self)
        guard integer > 0, !leadingZero || integer == 1 else { throw fail(.syntax) }
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            position += 1
            guard digits(&self) > 0 else { throw fail(.syntax) }
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
            position += 1
            if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
                position += 1
            }
            guard digits(&self) > 0 else { throw fail(.syntax) }
        }
    }
}

extension JSONReader.Error {
    func inside(_ component: JSONReader.Component) -> JSONReader.Error {
        var error = self
        error.path.insert(component, at: 0)
        return error
    }
}
