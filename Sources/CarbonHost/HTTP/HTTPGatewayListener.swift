import Foundation
import GRPCCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL
import Synchronization

/// The HTTP gateway's listening socket (`http_listen`): TLS with the gRPC listener's
/// certificate, client CA and revocation lists; HTTP/1.1 and HTTP/2 (ALPN `h2`, `http/1.1`);
/// the same connection limits. Each request is read whole (at most `maxBodyBytes`), then
/// answered by a `JSONGateway`.
final class HTTPGatewayListener: Sendable {
  private let channel: any Channel
  private let inFlight: GatewayRequests
  /// The bound address ("127.0.0.1:8444").
  let address: String

  init(
    listen: ListenAddress, tls: HostListenerFactory.TLS?, peers: PeerDirectory, connections: ConnectionGuard,
    gateway: JSONGateway, maxBodyBytes: Int, idleTimeout: TimeAmount, logger: Logger, group: any EventLoopGroup
  ) async throws {
    let sslContext = try tls.map { try $0.makeContext(applicationProtocols: ["h2", "http/1.1"]) }
    let inFlight = GatewayRequests()
    self.inFlight = inFlight
    @Sendable func handler() -> GatewayHTTPHandler {
      GatewayHTTPHandler(gateway: gateway, maxBodyBytes: maxBodyBytes, inFlight: inFlight, logger: logger)
    }
    channel = try await ServerBootstrap(group: group)
      .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
      .childChannelInitializer { channel in
        guard connections.admit(channel) else { return channel.close() }
        // A connection without traffic for `idleTimeout` is closed (keep-alive clients that left).
        do {
          try channel.pipeline.syncOperations.addHandlers([IdleStateHandler(allTimeout: idleTimeout), IdleConnectionCloser()])
        } catch {
          return channel.eventLoop.makeFailedFuture(error)
        }
        guard let tls, let sslContext else {
          // Plaintext (`insecure_loopback`): HTTP/1.1 only.
          return channel.pipeline.configureHTTPServerPipeline(withErrorHandling: true).flatMap {
            channel.pipeline.addHandler(handler())
          }
        }
        do {
          try tls.secure(channel, context: sslContext, connections: connections, peers: peers)
        } catch {
          return channel.eventLoop.makeFailedFuture(error)
        }
        return channel.configureHTTP2SecureUpgrade(
          h2ChannelConfigurator: { channel in
            channel.configureHTTP2Pipeline(mode: .server) { stream in
              // The receipt header is kept out of the connection's HPACK table.
              stream.pipeline.addHandlers([UnindexedReceiptHeaders(), HTTP2FramePayloadToHTTP1ServerCodec(), handler()])
            }.map { _ in }
          },
          http1ChannelConfigurator: { channel in
            channel.pipeline.configureHTTPServerPipeline(withErrorHandling: true).flatMap {
              channel.pipeline.addHandler(handler())
            }
          })
      }
      .bind(host: listen.host == "localhost" ? "127.0.0.1" : listen.host, port: listen.port).get()
    let bound = channel.localAddress
    address = "\(bound?.ipAddress ?? listen.host):\(bound?.port ?? listen.port)"
  }

  /// Stops accepting connections, lets the requests being answered finish for up to `drain`,
  /// then closes.
  func close(drain: Duration) async {
    try? await channel.close()
    await inFlight.waitUntilIdle(timeout: drain)
  }
}

/// Closes a connection when `IdleStateHandler` reports it idle.
private final class IdleConnectionCloser: ChannelInboundHandler, Sendable {
  typealias InboundIn = NIOAny

  func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
    if event is IdleStateHandler.IdleStateEvent {
      context.close(promise: nil)
    } else {
      context.fireUserInboundEventTriggered(event)
    }
  }
}

/// The requests being answered, and who waits for there to be none.
final class GatewayRequests: Sendable {
  private struct State {
    var count = 0
    var nextWaiter = 0
    var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
    /// Waits whose time ran out before they began waiting.
    var expired: Set<Int> = []
  }

  private let state = Mutex(State())

  func begin() { state.withLock { $0.count += 1 } }

  func end() {
    let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
      state.count -= 1
      guard state.count == 0 else { return [] }
      defer { state.waiters = [:] }
      return Array(state.waiters.values)
    }
    for waiter in waiters { waiter.resume() }
  }

  /// Returns once no request is being answered, or after `timeout`.
  func waitUntilIdle(timeout: Duration) async {
    let id = state.withLock { state in
      defer { state.nextWaiter += 1 }
      return state.nextWaiter
    }
    // Releases the wait below when time is up; cancelled as soon as the wait is over.
    let timer = Task {
      try? await Task.sleep(for: timeout)
      // Cancelled: the wait ended first.
      guard !Task.isCancelled else { return }
      let waiter = self.state.withLock { state in
        guard let waiter = state.waiters.removeValue(forKey: id) else {
          state.expired.insert(id)
          return nil as CheckedContinuation<Void, Never>?
        }
        return waiter
      }
      waiter?.resume()
    }
    defer { timer.cancel() }
    await withCheckedContinuation { continuation in
      let done = state.withLock { state -> Bool in
        if state.count == 0 || state.expired.remove(id) != nil { return true }
        state.waiters[id] = continuation
        return false
      }
      if done { continuation.resume() }
    }
  }
}

/// Reads one HTTP request at a time (HTTP/1.1 on a connection, or one HTTP/2 stream), then
/// has the gateway answer it on a task of its own.
private final class GatewayHTTPHandler: ChannelInboundHandler {
  typealias InboundIn = HTTPServerRequestPart
  typealias OutboundOut = HTTPServerResponsePart

  private let gateway: JSONGateway
  private let maxBodyBytes: Int
  private let inFlight: GatewayRequests
  private let logger: Logger
  private var head: HTTPRequestHead?
  private var body: [UInt8] = []
  private var tooLarge = false
  private let running = GatewayRunningCalls()

  init(gateway: JSONGateway, maxBodyBytes: Int, inFlight: GatewayRequests, logger: Logger) {
    self.gateway = gateway
    self.maxBodyBytes = maxBodyBytes
    self.inFlight = inFlight
    self.logger = logger
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    switch unwrapInboundIn(data) {
    case .head(let head):
      self.head = head
      body = []
      tooLarge = head.headers.first(name: "content-length").flatMap(Int.init).map { $0 > maxBodyBytes } ?? false
    case .body(var buffer):
      guard !tooLarge else { return }
      if body.count + buffer.readableBytes > maxBodyBytes {
        tooLarge = true
        body = []
      } else {
        body += buffer.readBytes(length: buffer.readableBytes) ?? []
      }
    case .end:
      guard let head else { return }
      self.head = nil
      let channel = context.channel
      let writer = ChannelResponseWriter(channel: channel, version: head.version, keepAlive: head.isKeepAlive)
      let connection = channel.parent ?? channel
      let request = JSONGateway.Request(
        method: head.method.rawValue, uri: head.uri,
        headers: head.headers.map { (name: $0.name.lowercased(), value: $0.value) }, body: body,
        remotePeer: PeerAddress.describe(connection.remoteAddress))
      body = []
      let (gateway, limit, tooLarge, logger, inFlight, running) = (gateway, maxBodyBytes, tooLarge, logger, inFlight, running)
      inFlight.begin()
      Task {
        defer { inFlight.end() }
        // The call's cancellation, as a gRPC call's: the module call stops when the client leaves.
        await withServerContextRPCCancellationHandle { cancellation in
          let registration = running.register(cancellation)
          defer { running.remove(registration) }
          do {
            if tooLarge {
              try await gateway.refuseTooLarge(limit: limit, requestID: request.header("x-request-id"), writer)
            } else {
              try await gateway.handle(request, writer, cancellation: cancellation)
            }
          } catch {
            // The client left, or the connection broke: nothing is left to answer.
            logger.debug("HTTP gateway: response not completed", metadata: ["error": "\(error)"])
            channel.close(promise: nil)
          }
        }
      }
    }
  }

  /// The connection (HTTP/1.1) or stream (HTTP/2) closed: the client left, or reset the
  /// stream. Its calls still running are cancelled, as a gRPC call is when its client leaves.
  func channelInactive(context: ChannelHandlerContext) {
    running.cancelAll()
    context.fireChannelInactive()
  }
}

/// The calls a connection or HTTP/2 stream is answering, cancelled together when it closes.
/// A call that starts after the close is cancelled at once.
final class GatewayRunningCalls: Sendable {
  private struct State {
    var next = 0
    var calls: [Int: ServerContext.RPCCancellationHandle] = [:]
    var closed = false
  }
  private let state = Mutex(State())

  /// Keeps `call` until `remove`; nil (and `call` cancelled) once the connection has closed.
  func register(_ call: ServerContext.RPCCancellationHandle) -> Int? {
    let id = state.withLock { state -> Int? in
      guard !state.closed else { return nil }
      defer { state.next += 1 }
      state.calls[state.next] = call
      return state.next
    }
    if id == nil { call.cancel() }
    return id
  }

  func remove(_ id: Int?) {
    guard let id else { return }
    _ = state.withLock { $0.calls.removeValue(forKey: id) }
  }

  func cancelAll() {
    let calls = state.withLock { state in
      state.closed = true
      defer { state.calls = [:] }
      return Array(state.calls.values)
    }
    for call in calls { call.cancel() }
  }
}

/// Writes a response on a connection (HTTP/1.1) or stream (HTTP/2), waiting for each write.
private struct ChannelResponseWriter: JSONGateway.ResponseWriter {
  let channel: any Channel
  let version: HTTPVersion
  let keepAlive: Bool

  func head(status: Int, headers: [(String, String)], contentLength: Int?) async throws {
    var fields = HTTPHeaders(headers)
    if let contentLength { fields.replaceOrAdd(name: "content-length", value: "\(contentLength)") }
    if !keepAlive && version.major == 1 { fields.replaceOrAdd(name: "connection", value: "close") }
    let head = HTTPResponseHead(version: version, status: HTTPResponseStatus(statusCode: status), headers: fields)
    try await channel.writeAndFlush(HTTPServerResponsePart.head(head))
  }

  func body(_ bytes: [UInt8]) async throws {
    try await channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: bytes))))
  }

  func end() async throws {
    try await channel.writeAndFlush(HTTPServerResponsePart.end(nil))
    if !keepAlive && version.major == 1 { try? await channel.close() }
  }
}
