import NIOCore
import NIOHPACK
import NIOHTTP2

/// Keeps each call's receipt out of the connection's HPACK dynamic table.
///
/// grpc-swift's transport sends every header as indexable, so the HPACK encoder adds each
/// trailer it has not seen before to the table both peers keep (4 KiB by default). A receipt is
/// unique to its call and about 1 KiB of base64: indexed, it evicts the headers every response
/// repeats (`content-type`, `grpc-status`, …), which the next responses must then send whole and
/// both sides index again, and it is never used again itself. Sent "without indexing" (RFC 7541
/// §6.2.2), it costs its own bytes only. On each HTTP/2 stream channel; event loop only.
final class UnindexedReceiptTrailer: ChannelOutboundHandler, RemovableChannelHandler {
  typealias OutboundIn = HTTP2Frame.FramePayload
  typealias OutboundOut = HTTP2Frame.FramePayload

  func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
    guard case .headers(var frame) = unwrapOutboundIn(data), frame.endStream,
      frame.headers.contains(name: ReceiptRecorder.trailerKey)
    else {
      context.write(data, promise: promise)
      return
    }
    var headers = HPACKHeaders()
    headers.reserveCapacity(frame.headers.count)
    for header in frame.headers {
      headers.add(
        name: header.name, value: header.value,
        indexing: header.name == ReceiptRecorder.trailerKey ? .nonIndexable : header.indexable)
    }
    frame.headers = headers
    context.write(wrapOutboundOut(.headers(frame)), promise: promise)
  }
}
