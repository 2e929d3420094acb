import NIOCore

/// Writes JSON straight into a `ByteBuffer`: a page of 10,000 users through `JSONEncoder` costs
/// the server more CPU than the client spends reading it, and on a small machine the two share
/// the cores. The JSON is what `JSONEncoder` with `.withoutEscapingSlashes` gives (same
/// escapes, nil optionals left out), with keys in declaration order; a test holds the two together.
struct JSONWriter {
    /// An array, not the `ByteBuffer` itself: byte-at-a-time `ByteBuffer` writes cost a
    /// capacity and uniqueness check each, which showed in profiles; one copy at the end does not.
    private(set) var bytes: [UInt8] = []

    init(capacity: Int) {
        bytes.reserveCapacity(capacity)
    }

    var buffer: ByteBuffer { ByteBuffer(bytes: bytes) }

    /// `{`, then `body` writes the members, then `}`.
    mutating func object(_ body: (inout JSONWriter) -> Void) {
        bytes.append(UInt8(ascii: "{"))
        body(&self)
        bytes.append(UInt8(ascii: "}"))
    }

    mutating func array<Element>(_ elements: some Sequence<Element>, _ write: (inout JSONWriter, Element) -> Void) {
        bytes.append(UInt8(ascii: "["))
        var first = true
        for element in elements {
            if !first { bytes.append(UInt8(ascii: ",")) }
            first = false
            write(&self, element)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// Writes `"name":` after a comma unless it is the object's first member. `name` is a plain
    /// ASCII identifier, so it needs no escaping.
    mutating func key(_ name: StaticString) {
        if let last = bytes.last, last != UInt8(ascii: "{") { bytes.append(UInt8(ascii: ",")) }
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    mutating func field(_ name: StaticString, _ value: String) {
        key(name)
        string(value)
    }

    /// Left out when nil, as the synthesized `Encodable` does (`encodeIfPresent`).
    mutating func field(_ name: StaticString, _ value: String?) {
        guard let value else { return }
        field(name, value)
    }

    mutating func field(_ name: StaticString, _ values: [String]) {
        key(name)
        array(values) { $0.string($1) }
    }

    mutating func field<Value: JSONWritable>(_ name: StaticString, _ value: Value?) {
        guard let value else { return }
        key(name)
        value.write(to: &self)
    }

    /// A string, escaped as `JSONEncoder` escapes it (slashes left alone).
    mutating func string(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        escaped(value)
        bytes.append(UInt8(ascii: "\""))
    }

    /// `"<prefix><value>"` without concatenating them first (envelope URIs).
    mutating func string(_ prefix: String, _ value: String) {
        bytes.append(UInt8(ascii: "\""))
        escaped(prefix)
        escaped(value)
        bytes.append(UInt8(ascii: "\""))
    }

    private mutating func escaped(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            var start = 0
            for index in utf8.indices {
                let byte = utf8[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<index]))
                escape(byte)
                start = index + 1
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start...]))
        }
    }

    private mutating func escape(_ byte: UInt8) {
        let hex = Array("0123456789abcdef".utf8)
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"): bytes += [UInt8(ascii: "\\"), byte]
        case 0x08: bytes += Array("\\b".utf8)
        case 0x0C: bytes += Array("\\f".utf8)
        case UInt8(ascii: "\n"): bytes += Array("\\n".utf8)
        case UInt8(ascii: "\r"): bytes += Array("\\r".utf8)
        case UInt8(ascii: "\t"): bytes += Array("\\t".utf8)
        default: bytes += Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
        }
    }
}

/// An API shape the fake server writes with ``JSONWriter``.
protocol JSONWritable {
    func write(to writer: inout JSONWriter)
}

extension API.Link: JSONWritable {
    func write(to writer: inout JSONWriter) {
        writer.object {
            $0.field("rel", rel)
            $0.field("uri", uri)
        }
    }
}

extension API.Object: JSONWritable {
    func write(to writer: inout JSONWriter) {
        switch self {
        case .district(let value): value.write(to: &writer)
        case .school(let value): value.write(to: &writer)
        case .user(let value): value.write(to: &writer)
        case .section(let value): value.write(to: &writer)
        case .term(let value): value.write(to: &writer)
        case .course(let value): value.write(to: &writer)
        }
    }
}

extension API.District: JSONWritable {
    func write(to writer: inout JSONWriter) {
        writer.object {
            $0.field("id", id)
            $0.field("name", name)
            $0.field("state", state)
            $0.field("launch_date", launch_date)
            $0.field("sis_type", sis_type)
        }
    }
}

extension API.Principal: JSONWritable {
    func write(to writer: inout JSONWriter) {
        writer.object {
            $0.field("name", name)
            $0.field("email", email)
        }
    }
}

extension API.Location: JSONWritable {
    func write(to writer: inout JSONWriter) {
        writer.object {
            $0.field("address", address)
            $0.field("city", city)
            $0.field("state", state)
            $0.field("zip", zip)
        }
    }
}

extension API.School: JSONWritable {
    func write(to writer: inout JSONWriter) {
        writer.object {
            $0.field("id", id)
            $0.field("district", district)
            $0.field("sis_id", sis_id)
            $0.field("name", name)
            $0.field("school_number", school_number)
            $0.field("state_id", state_id)
            $0.field("low_grade", low_grade)
            $0.field("high_grade", high_grade)
            $0.field("principal", principal)
            $0.field("location", location)
            $0.field("phone", phone)
        }
    }
}

extension API.Name: JSONWritable {
    func write(to writer: inout JSONWriter) {
        writer.object {
            $0.field("first", first)
            $0.field("middle", middle)
            $0.field("last", last)
        }
    }
}

extension API.Credentials: JSONWritable {
    func write(to writer: inout JSONWriter) {
        writer.object { $0.field("district_username", district_username) }
    }
}

extension API.StudentRole: JSONWritable {
    func write(to writer: inout JSONWriter) {
        writer.object {
            $0.field("sis_id", sis_id)
            $0.field("school", school)
            $0.field("schools", schools)
            $0.field("grade", grade)
            $0.field("dob", dob)
            $0.field("student_number", student_number)
            $0.field("state_id", state_id)
            $0.field("gender", gender)
            $0.field("credentials", credentials)
        }
    }
}

extension API.TeacherRole: JSONWritable {
    func write(to writer: inout JSONWriter) {
        writer.object {
            $0.field("sis_id", sis_id)
            $0.field("school", school)
            $0.field("schools", schools)
            $0.field("teacher_number", teacher_number)
            $0.field("state_id", state_id)
            $0.field("title", title)
            $0.field("credentials", credentials)
        }
    }
}

extension API.AdminRole: JSONWritable {
    func write(to writer: inout JSONWriter) {
        writer.object { $0.field("title", title) }
    }
}

extension API.Roles: JSONWritable {
    func write(to writer: inout JSONWriter) {
        writer.object {
            $0.field("student", student)
            $0.field("teacher", teacher)
            $0.field("district_admin", district_admin)
        }
    }
}

extension API.User: JSONWritable {
    func write(to writer: inout JSONWriter) {
        writer.object {
            $0.field("id", id)
            $0.field("district", district)
            $0.field("email", email)
            $0.field("name", name)
            $0.field("roles", roles)
        }
    }
}

extension API.Section: JSONWritable {
    func write(to writer: inout JSONWriter) {
        writer.object {
            $0.field("id", id)
            $0.field("district", district)
            $0.field("sis_id", sis_id)
            $0.field("school", school)
            $0.field("term_id", term_id)
            $0.field("name", name)
            $0.field("grade", grade)
            $0.field("subject", subject)
            $0.field("section_number", section_number)
            $0.field("period", period)
            $0.field("course", course)
            $0.field("teacher", teacher)
            $0.field("teachers", teachers)
            $0.field("students", students)
        }
    }
}

extension API.Course: JSONWritable {
    func write(to writer: inout JSONWriter) {
        writer.object {
            $0.field("id", id)
            $0.field("district", district)
            $0.field("name", name)
            $0.field("number", number)
        }
    }
}

extension API.Term: JSONWritable {
    func write(to writer: inout JSONWriter) {
        writer.object {
            $0.field("id", id)
            $0.field("district", district)
            $0.field("name", name)
            $0.field("start_date", start_date)
            $0.field("end_date", end_date)
        }
    }
}
