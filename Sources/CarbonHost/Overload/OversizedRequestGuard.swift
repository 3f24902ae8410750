import NIOCore
import NIOHPACK
import NIOHTTP2

/// Refuses a request message above its module's `max_message_bytes` as soon as the message's
/// 5-byte gRPC prefix arrives on the HTTP/2 stream, answering RESOURCE_EXHAUSTED with the limit
/// in the message, before anything reads the message itself.
///
/// Without it, grpc-swift's transport reads a message whole up to its own ceiling
/// (`DeploymentConfig.transportMessageCeiling`) and resets the stream beyond it without a status
/// (the client sees UNAVAILABLE); grpc-java behaved the same until its PR #11065. Placed first
/// on each HTTP/2 stream channel (the transport's `onAcceptHTTP2Stream`), it reads the request
/// path from the headers and then only the prefixes of the messages in the DATA frames it passes
/// on unchanged. Runs on the stream's event loop only.
final class OversizedRequestGuard: ChannelDuplexHandler, RemovableChannelHandler {
  typealias InboundIn = HTTP2Frame.FramePayload
  typealias InboundOut = HTTP2Frame.FramePayload
  typealias OutboundIn = HTTP2Frame.FramePayload
  typealias OutboundOut = HTTP2Frame.FramePayload

  /// A method's limit and the module that sets it.
  struct Limit: Sendable {
    let bytes: Int
    let module: String
  }

  /// The limit of a method path; nil when no module serves it (the call fails later, UNIMPLEMENTED).
  private let limitOf: @Sendable (String) -> Limit?
  private let onRefusal: @Sendable () -> Void
  private var path: String?
  private var limit: Limit?
  /// The prefix of the message being read, while it is incomplete.
  private var prefix: [UInt8] = []
  /// Bytes of the current message still to pass before the next prefix.
  private var remaining = 0
  private var responseHeadersSent = false
  private var refused = false

  init(limitOf: @escaping @Sendable (String) -> Limit?, onRefusal: @escaping @Sendable () -> Void) {
    self.limitOf = limitOf
    self.onRefusal = onRefusal
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    // After a refusal nothing more of the request is read.
    guard !refused else { return }
    switch unwrapInboundIn(data) {
    case .headers(let headers) where path == nil:
      path = headers.headers.first(name: ":path")
      limit = path.flatMap(limitOf)
    case .data(let frame):
      if let limit, case .byteBuffer(let buffer) = frame.data, let size = firstOversized(in: buffer, limit: limit.bytes) {
        refuse(context: context, size: size, limit: limit)
        return
      }
    default:
      break
    }
    context.fireChannelRead(data)
  }

  func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
    if case .headers = unwrapOutboundIn(data) { responseHeadersSent = true }
    context.write(data, promise: promise)
  }

  /// Walks the message prefixes in `buffer` (a prefix may straddle frames); returns the size
  /// of the first message above `limit`, nil when there is none.
  private func firstOversized(in buffer: ByteBuffer, limit: Int) -> Int? {
    var view = buffer.readableBytesView[...]
    while !view.isEmpty {
      if remaining > 0 {
        let skipped = min(remaining, view.count)
        view = view.dropFirst(skipped)
        remaining -= skipped
        continue
      }
      let taken = view.prefix(5 - prefix.count)
      prefix.append(contentsOf: taken)
      view = view.dropFirst(taken.count)
      guard prefix.count == 5 else { break }
      // Byte 0: the compressed flag; bytes 1–4: the length, big-endian.
      let length = prefix[1...4].reduce(0) { $0 << 8 | Int($1) }
      prefix.removeAll(keepingCapacity: true)
      if length > limit { return length }
      remaining = length
    }
    return nil
  }

  /// Answers RESOURCE_EXHAUSTED (trailers-only unless response headers already went out) and
  /// ends the stream.
  private func refuse(context: ChannelHandlerContext, size: Int, limit: Limit) {
    refused = true
    onRefusal()
    let message = CallLimits.requestTooLargeMessage(path: path ?? "?", bytes: size, limit: limit.bytes, module: limit.module)
    var trailers = HPACKHeaders()
    if !responseHeadersSent {
      trailers.add(name: ":status", value: "200")
      trailers.add(name: "content-type", value: "application/grpc")
    }
    trailers.add(name: "grpc-status", value: "8")  // RESOURCE_EXHAUSTED
    trailers.add(name: "grpc-message", value: Self.percentEncoded(message))
    context.write(wrapOutboundOut(.headers(.init(headers: trailers, endStream: true))), promise: nil)
    // The client is still sending: end its half with NO_ERROR, as the gRPC HTTP/2 protocol asks
    // of a server that answers early. (Closing the channel would reset with CANCEL, which grpcio
    // reports as CANCELLED instead of the status just sent.)
    context.writeAndFlush(wrapOutboundOut(.rstStream(.noError)), promise: nil)
  }

  /// `grpc-message` encoding: bytes outside printable ASCII, and '%', as %XX.
  static func percentEncoded(_ text: String) -> String {
    var out = ""
    for byte in text.utf8 {
      if byte >= 0x20 && byte <= 0x7E && byte != UInt8(ascii: "%") {
        out.unicodeScalars.append(Unicode.Scalar(byte))
      } else {
        out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
      }
    }
    return out
  }
}

extension String {
  fileprivate func leftPadded(to width: Int) -> String {
    count >= width ? self : String(repeating: "0", count: width - count) + self
  }
}
