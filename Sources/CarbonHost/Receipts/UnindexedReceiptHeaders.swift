import NIOCore
import NIOHPACK
import NIOHTTP2

/// Keeps each call's receipt out of the connection's HPACK dynamic table: the gRPC trailer
/// `carbonhub-receipt-bin` and the HTTP/JSON gateway's `carbonhub-receipt` header, on HTTP/2.
///
/// grpc-swift's transport and NIO's HTTP/1-to-HTTP/2 codec send every header as indexable, so
/// the HPACK encoder adds each header it has not seen before to the table both peers keep (4 KiB
/// by default). A receipt is unique to its call and about 1 KiB of base64: indexed, it evicts the
/// headers every response repeats (`content-type`, `grpc-status`, …), which the next responses
/// must then send whole and both sides index again, and it is never used again itself. Sent
/// "without indexing" (RFC 7541 §6.2.2), it costs its own bytes only. On each HTTP/2 stream
/// channel, nearer the connection than whatever writes the headers; event loop only.
final class UnindexedReceiptHeaders: ChannelOutboundHandler, RemovableChannelHandler {
  typealias OutboundIn = HTTP2Frame.FramePayload
  typealias OutboundOut = HTTP2Frame.FramePayload

  /// The names a receipt travels under.
  static let names: Set<String> = [ReceiptRecorder.trailerKey, ReceiptRecorder.httpHeaderKey]

  func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
    guard case .headers(var frame) = unwrapOutboundIn(data), frame.headers.contains(where: { Self.names.contains($0.name) })
    else {
      context.write(data, promise: promise)
      return
    }
    var headers = HPACKHeaders()
    headers.reserveCapacity(frame.headers.count)
    for header in frame.headers {
      headers.add(name: header.name, value: header.value, indexing: Self.names.contains(header.name) ? .nonIndexable : header.indexable)
    }
    frame.headers = headers
    context.write(wrapOutboundOut(.headers(frame)), promise: promise)
  }
}
