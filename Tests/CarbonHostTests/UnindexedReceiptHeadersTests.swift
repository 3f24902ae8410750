import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP2
import Testing

@testable import CarbonHost

/// `UnindexedReceiptHeaders` on one HTTP/2 stream: a call's receipt (the gRPC trailer, the HTTP
/// gateway's header) goes out "without indexing" (RFC 7541 §6.2.2), so it never enters the
/// connection's HPACK table; everything else is sent as it was written.
@Suite("Receipts stay out of the HPACK table")
struct UnindexedReceiptHeadersTests {
  /// What the handler passes on for `frame`.
  private func written(_ frame: HTTP2Frame.FramePayload) throws -> HTTP2Frame.FramePayload.Headers {
    let channel = EmbeddedChannel(handler: UnindexedReceiptHeaders())
    try channel.writeOutbound(frame)
    let out = try #require(try channel.readOutbound(as: HTTP2Frame.FramePayload.self))
    _ = try channel.finish()
    guard case .headers(let headers) = out else {
      Issue.record("not a headers frame: \(out)")
      return .init(headers: [:])
    }
    return headers
  }

  private func indexing(of name: String, in headers: HPACKHeaders) -> HPACKIndexing? {
    headers.first { $0.name == name }?.indexable
  }

  @Test func theReceiptOfTheTrailersIsNotIndexedTheRestIsKept() throws {
    var trailers = HPACKHeaders()
    trailers.add(name: "grpc-status", value: "0")
    trailers.add(name: ReceiptRecorder.trailerKey, value: "CgZyZWNlaXB0")
    trailers.add(name: "x-secret", value: "s", indexing: .neverIndexed)
    let out = try written(.headers(.init(headers: trailers, endStream: true)))
    #expect(out.endStream)
    #expect(out.headers.map(\.name) == ["grpc-status", ReceiptRecorder.trailerKey, "x-secret"])
    #expect(out.headers.map(\.value) == ["0", "CgZyZWNlaXB0", "s"])
    #expect(indexing(of: ReceiptRecorder.trailerKey, in: out.headers) == .nonIndexable)
    #expect(indexing(of: "grpc-status", in: out.headers) == .indexable)
    #expect(indexing(of: "x-secret", in: out.headers) == .neverIndexed)
  }

  /// The HTTP/JSON gateway's response headers over h2 (before the body, not the end of the stream).
  @Test func theGatewaysReceiptHeaderIsNotIndexed() throws {
    var response = HPACKHeaders([(":status", "200"), ("content-type", "application/json")])
    response.add(name: ReceiptRecorder.httpHeaderKey, value: "CgZyZWNlaXB0")
    let out = try written(.headers(.init(headers: response)))
    #expect(!out.endStream)
    #expect(out.headers.map(\.name) == [":status", "content-type", ReceiptRecorder.httpHeaderKey])
    #expect(indexing(of: ReceiptRecorder.httpHeaderKey, in: out.headers) == .nonIndexable)
    #expect(indexing(of: "content-type", in: out.headers) == .indexable)
  }

  /// Response headers and trailers without a receipt pass as written.
  @Test func otherHeadersPassUntouched() throws {
    let response = try written(.headers(.init(headers: HPACKHeaders([(":status", "200"), ("content-type", "application/grpc")]))))
    #expect(!response.endStream)
    #expect(response.headers.allSatisfy { $0.indexable == .indexable })
    let refused = try written(.headers(.init(headers: HPACKHeaders([("grpc-status", "5"), ("grpc-message", "no")]), endStream: true)))
    #expect(refused.headers.allSatisfy { $0.indexable == .indexable })
    #expect(refused.headers.map(\.name) == ["grpc-status", "grpc-message"])
  }

  /// The encoder's table as the client's decoder keeps it: after a thousand trailers with a
  /// receipt each, `content-type` of the next response is still one indexed byte.
  @Test func aConnectionsTableKeepsTheRepeatedHeaders() throws {
    var encoder = HPACKEncoder(allocator: ByteBufferAllocator())
    func encoded(_ headers: HPACKHeaders) throws -> Int {
      var buffer = ByteBuffer()
      try encoder.encode(headers: headers, to: &buffer)
      return buffer.readableBytes
    }
    let response = HPACKHeaders([(":status", "200"), ("content-type", "application/grpc")])
    _ = try encoded(response)
    for call in 0..<1000 {
      var trailers = HPACKHeaders()
      trailers.add(name: "grpc-status", value: "0")
      trailers.add(name: ReceiptRecorder.trailerKey, value: String(repeating: "A", count: 1300) + "\(call)")
      _ = try encoded(try written(.headers(.init(headers: trailers, endStream: true))).headers)
    }
    // Two indexed fields: one byte each.
    #expect(try encoded(response) == 2)
  }
}
