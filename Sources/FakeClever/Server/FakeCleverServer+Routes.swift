import Foundation
import Hummingbird
import Logging

extension FakeCleverServer {
    static let maxLimit = 10_000
    static let defaultLimit = 100

    func makeRouter() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.get("/v3.0/:collection") { request, context in
            await self.list(request, collection: context.parameters.get("collection") ?? "")
        }
        router.post("/__faults") { request, context in
            let faults = try await request.decode(as: Faults.self, context: context)
            await self.setFaults(faults)
            return Self.json(.ok, faults)
        }
        router.get("/__faults") { _, _ in Self.json(.ok, await self.faults()) }
        router.post("/__district") { request, context in
            guard let base = self.baseDistrict else {
                return Self.error(.badRequest, "this server serves CSV fixtures; there is no next night to serve")
            }
            let nextNight = try await request.decode(as: SyntheticDistrict.NextNight.self, context: context)
            await self.serve(SyntheticDistrict(students: base.baseStudentCount, seed: base.seed, nextNight: nextNight))
            return Self.json(.ok, nextNight)
        }
        return router
    }

    /// One page of a collection, with the faults of the moment.
    func list(_ request: Request, collection path: String) async -> Response {
        guard request.headers[.authorization] == "Bearer \(configuration.token)" else {
            return Self.error(.unauthorized, "invalid or missing bearer token")
        }
        let query = request.uri.queryParameters
        let role = query["role"].map(String.init)
        let isDistricts = path == "districts"
        guard isDistricts || APICollection(path: path, role: role) != nil else {
            return path == "users"
                ? Self.error(.badRequest, "role must be student, teacher, staff or district_admin")
                : Self.error(.notFound, "no such collection: \(path)")
        }
        let limit = query["limit"].map { Int(String($0)) } ?? Self.defaultLimit
        guard let limit, (1...Self.maxLimit).contains(limit) else {
            return Self.error(.badRequest, "limit must be an integer from 1 to \(Self.maxLimit)")
        }
        let (fault, faults, district) = await state.begin()
        let (looping, firstPagesOnly, omitNextLinks, blankSISIDs) = (
            faults.loopingNextLink, faults.firstPagesOnly, faults.omitNextLinks, faults.blankSISIDs
        )
        if faults.delayMilliseconds > 0 { try? await Task.sleep(for: .milliseconds(faults.delayMilliseconds)) }
        if faults.refuseCourses, path == "courses" {
            return Self.error(.forbidden, "courses are not shared with this application")
        }
        switch fault {
        case .rateLimited(let seconds, let resetOnly):
            var response = Self.error(.tooManyRequests, "rate limit exceeded")
            if !resetOnly { response.headers[.retryAfter] = String(seconds) }
            Self.rateLimitHeaders(&response, remaining: 0, resetIn: seconds)
            return response
        case .serverError(let status):
            return Self.error(HTTPResponse.Status(code: status), "injected server error")
        default:
            break
        }

        let base = "/v3.0/\(path)"
        let served: APICollection? = isDistricts ? nil : APICollection(path: path, role: role)
        let startingAfter = query["starting_after"].map(String.init)
        var objects: [API.Object] = []
        var nextAfter: String?
        if let served {
            // A wrong-type fault answers from another collection, as a misrouted proxy would.
            let source = fault == .wrongType ? Self.wrongType(for: served) : served
            var index = 0
            if let startingAfter {
                guard let position = district.index(ofID: startingAfter, in: served) else {
                    return Self.error(.badRequest, "starting_after \(startingAfter) is not an object of this collection")
                }
                // A looping server ignores where the page should start and serves the first again.
                index = looping ? 0 : position + 1
            }
            let end = district.slotCount(served)
            let sourceCount = max(1, district.slotCount(source))
            var lastServed: Int?
            if firstPagesOnly, startingAfter != nil { index = end }
            while objects.count < limit, index < end {
                if district.exists(served, at: index), let object = district.object(source, at: index % sourceCount) {
                    objects.append(object)
                    lastServed = index
                }
                index += 1
            }
            while index < end, !district.exists(served, at: index) { index += 1 }
            if index < end, let lastServed { nextAfter = district.objectID(served, at: lastServed) }
        } else {
            var served = district.district
            if let id = configuration.districtID {
                served = API.District(
                    id: id, name: served.name, state: served.state, launch_date: served.launch_date, sis_type: served.sis_type)
            }
            objects = fault == .wrongType ? [district.object(.schools, at: 0)].compactMap { $0 } : [.district(served)]
        }

        if !blankSISIDs.isEmpty { objects = objects.map { $0.blankingSISID(in: blankSISIDs) } }

        let roleQuery = role.map { "role=\($0)&" } ?? ""
        let firstPage = "\(base)?\(roleQuery)limit=\(limit)"
        let selfLink = startingAfter.map { "\(firstPage)&starting_after=\($0)" } ?? firstPage
        var links = [API.Link(rel: "self", uri: selfLink)]
        if let nextAfter, !firstPagesOnly, !omitNextLinks {
            links.append(API.Link(rel: "next", uri: "\(firstPage)&starting_after=\(nextAfter)"))
        }
        // Like Clever, an envelope's uri names the object's own collection, even on a wrong-type page.
        let objectBase = served.map { "/v3.0/\((fault == .wrongType ? Self.wrongType(for: $0) : $0).path)" }
            ?? (fault == .wrongType ? "/v3.0/schools" : base)
        let page = Self.page(objects, uriPrefix: objectBase + "/", links: links)
        var response: Response
        switch fault {
        case .missingEnvelope:
            response = Self.json(.ok, MissingEnvelopePage(results: objects, links: links))
        case .truncated:
            response = Self.raw(.ok, page.getSlice(at: page.readerIndex, length: max(1, page.readableBytes / 2)) ?? page)
        case .stalled(let milliseconds):
            let half = page.readableBytes / 2
            let (head, rest) = (page.getSlice(at: page.readerIndex, length: half) ?? page,
                                page.getSlice(at: page.readerIndex + half, length: page.readableBytes - half) ?? page)
            response = Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody(contentLength: page.readableBytes) { writer in
                    try await writer.write(head)
                    try await Task.sleep(for: .milliseconds(milliseconds))
                    try await writer.write(rest)
                    try await writer.finish(nil)
                })
        default:
            response = Self.raw(.ok, page)
        }
        Self.rateLimitHeaders(&response, remaining: 1_199, resetIn: 60)
        return response
    }

    /// A page as a broken proxy might return it: no `data`.
    struct MissingEnvelopePage: Encodable {
        let results: [API.Object]
        let links: [API.Link]
    }

    static func wrongType(for collection: APICollection) -> APICollection {
        switch collection {
        case .students: .teachers
        case .teachers, .staff, .districtAdmins: .students
        case .sections: .terms
        case .terms, .courses: .schools
        case .schools: .terms
        }
    }

    static func rateLimitHeaders(_ response: inout Response, remaining: Int, resetIn seconds: Int) {
        let reset = Int(Date().timeIntervalSince1970) + seconds
        for (name, value) in [
            ("X-RateLimit-Limit", "1200"), ("X-RateLimit-Remaining", String(remaining)), ("X-RateLimit-Reset", String(reset)),
        ] {
            // HTTPTypes is not a dependency of this module; reach its field name type through HTTPFields.
            if let field = HTTPFields.Element.Name(name) { response.headers[field] = value }
        }
    }

    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }

    static func json(_ status: HTTPResponse.Status, _ value: some Encodable) -> Response {
        do {
            return raw(status, try encoder().encode(value))
        } catch {
            return raw(.internalServerError, Data("{\"message\":\"cannot encode the response\"}".utf8))
        }
    }

    static func error(_ status: HTTPResponse.Status, _ message: String) -> Response {
        json(status, API.ErrorBody(message: message))
    }

    static func raw(_ status: HTTPResponse.Status, _ data: Data) -> Response {
        raw(status, ByteBuffer(bytes: data))
    }

    static func raw(_ status: HTTPResponse.Status, _ buffer: ByteBuffer) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: buffer))
    }

    /// A list page, `{"data": [{"data": {...}, "uri": "<uriPrefix><id>"}, ...], "links": [...]}`,
    /// the bytes `JSONEncoder` gives for an ``API/Page``, written directly (see ``JSONWriter``).
    static func page(_ objects: [API.Object], uriPrefix: String, links: [API.Link]) -> ByteBuffer {
        // About 700 bytes a user; a larger page grows the buffer once or twice.
        var writer = JSONWriter(capacity: 256 + objects.count * 768)
        writer.object { writer in
            writer.key("data")
            writer.array(objects) { writer, object in
                writer.object { writer in
                    writer.key("data")
                    object.write(to: &writer)
                    writer.key("uri")
                    writer.string(uriPrefix, object.id)
                }
            }
            writer.key("links")
            writer.array(links) { writer, link in link.write(to: &writer) }
        }
        return writer.buffer
    }
}
