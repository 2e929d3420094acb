import NIOCore

/// Writes rows in PostgreSQL's COPY text format straight into a `ByteBuffer`: tab-separated,
/// `\N` for NULL, backslash escapes for backslash, tab, newline and carriage return. A NUL byte,
/// which no PostgreSQL text can hold (one in a name failed the whole feed every night), is dropped.
struct CopyEncoder {
    var buffer: ByteBuffer
    private var firstField = true

    init(capacity: Int = 1 << 18) {
        buffer = ByteBufferAllocator().buffer(capacity: capacity)
    }

    mutating func field(_ value: String?) {
        separator()
        guard let value else {
            buffer.writeStaticString("\\N")
            return
        }
        var text = value
        text.withUTF8 { bytes in
            // Most values need no escaping: copy them in one go.
            if !bytes.contains(where: Self.needsEscape) {
                buffer.writeBytes(bytes)
                return
            }
            for byte in bytes {
                switch byte {
                case 0x5C: buffer.writeStaticString("\\\\")
                case 0x09: buffer.writeStaticString("\\t")
                case 0x0A: buffer.writeStaticString("\\n")
                case 0x0D: buffer.writeStaticString("\\r")
                case 0x00: continue
                default: buffer.writeInteger(byte)
                }
            }
        }
    }

    private static func needsEscape(_ byte: UInt8) -> Bool {
        byte == 0x5C || byte == 0x09 || byte == 0x0A || byte == 0x0D || byte == 0x00
    }

    mutating func field(_ value: Int64) {
        separator()
        buffer.writeString(String(value))
    }

    mutating func field(_ value: Int?) {
        guard let value else { return field(nil as String?) }
        separator()
        buffer.writeString(String(value))
    }

    mutating func field(_ value: Bool?) {
        guard let value else { return field(nil as String?) }
        separator()
        buffer.writeStaticString(value ? "t" : "f")
    }

    /// A PostgreSQL `text[]` literal; elements are always quoted, NULL for nil.
    mutating func arrayField(_ values: [String?]) {
        var literal = "{"
        for (index, value) in values.enumerated() {
            if index > 0 { literal += "," }
            guard let value else {
                literal += "NULL"
                continue
            }
            literal += "\""
            for character in value.unicodeScalars {
                if character == "\"" || character == "\\" { literal += "\\" }
                literal.unicodeScalars.append(character)
            }
            literal += "\""
        }
        literal += "}"
        field(literal)
    }

    mutating func endRow() {
        buffer.writeInteger(UInt8(0x0A))
        firstField = true
    }

    private mutating func separator() {
        if firstField {
            firstField = false
        } else {
            buffer.writeInteger(UInt8(0x09))
        }
    }
}
