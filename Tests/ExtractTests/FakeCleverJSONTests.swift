@testable import FakeClever
import Foundation
import NIOCore
import Testing

@Suite("FakeClever page JSON")
struct FakeCleverJSONTests {
    /// The pages the server writes by hand are the JSON JSONEncoder gives for the same page
    /// (compared as parsed values: JSONEncoder's key order is not fixed on Linux).
    @Test("written pages equal JSONEncoder's JSON", arguments: [APICollection.schools, .students, .teachers, .districtAdmins, .sections, .terms])
    func sameBytesAsEncoder(collection: APICollection) throws {
        let district = SyntheticDistrict(students: 400, seed: 3, nextNight: .init(changedFraction: 0.1, removedFraction: 0.05))
        let objects = (0..<district.slotCount(collection)).compactMap { district.object(collection, at: $0) }
        #expect(!objects.isEmpty)
        try expectSameBytes(objects, base: "/v3.0/\(collection.path)")
    }

    @Test("escaping: quotes, backslashes, control characters, slashes and non-ASCII text")
    func escaping() throws {
        let tricky = "O'Brien \"Jr.\" \\ a/b \n\r\t\u{08}\u{0C}\u{01}\u{1F} José Zoë 😀 Nguyễn"
        let school = API.School(
            id: "id\"1", district: "d/1", sis_id: tricky, name: tricky, school_number: nil, state_id: "",
            low_grade: nil, high_grade: "12", principal: API.Principal(name: nil, email: nil),
            location: API.Location(address: tricky, city: nil, state: "CA", zip: nil), phone: nil)
        try expectSameBytes([.school(school), .district(API.District(id: "x", name: tricky, state: "s", launch_date: "", sis_type: "t"))], base: "/v3.0/schools")
    }

    func expectSameBytes(_ objects: [API.Object], base: String) throws {
        let links = [API.Link(rel: "self", uri: "\(base)?limit=10"), API.Link(rel: "next", uri: "\(base)?limit=10&starting_after=x")]
        let written = FakeCleverServer.page(objects, uriPrefix: base + "/", links: links)
        let envelopes = objects.map { API.Envelope(data: $0, uri: "\(base)/\($0.id)") }
        let encoded = try FakeCleverServer.encoder().encode(API.Page(data: envelopes, links: links))
        let writtenValue = try JSONSerialization.jsonObject(with: Data(written.readableBytesView))
        let encodedValue = try JSONSerialization.jsonObject(with: encoded)
        #expect((writtenValue as? NSDictionary)?.isEqual(encodedValue) == true)
    }
}
