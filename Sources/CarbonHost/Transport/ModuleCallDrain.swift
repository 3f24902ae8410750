import NIOCore
import NIOHTTP2
import Synchronization

/// Lets a module call in flight finish when the host drains (SIGTERM, `HostServer.shutdown()`).
///
/// grpc-swift's transport answers a server's graceful shutdown by cancelling every RPC in
/// flight (`ChannelShouldQuiesceEvent` reaches each HTTP/2 stream, whose handler cancels its
/// RPC): the host then cut a calculation short with CANCELLED — in a worker or in a plugin that
/// checks `call_cancellable` — instead of draining it. Placed on each HTTP/2 stream channel
/// ahead of the transport's handler, this handler keeps that event from a module call's stream
/// (a module's method, or the host API's JSON `Invoke`), so the call ends on its own: its
/// answer, its deadline, or the host's `[limits] drain_timeout_ms`, after which the host
/// cancels what is left. Other streams (health
/// `Watch`, reflection) still end at once. The connection itself still gets its GOAWAY: no new
/// call starts on it. Runs on the stream's event loop only.
final class ModuleCallDrain: ChannelInboundHandler, RemovableChannelHandler {
  typealias InboundIn = HTTP2Frame.FramePayload
  typealias InboundOut = HTTP2Frame.FramePayload

  private let registry: ModuleRegistry
  private let drain: HostDrain
  private var moduleCall = false
  private var headersSeen = false
  /// Passes the held event on (cancelling the call) once the drain has run out.
  private var cutOff: Scheduled<Void>?

  /// A guard for one stream of a host whose modules `registry` routes.
  init(drain: HostDrain, registry: ModuleRegistry) {
    self.drain = drain
    self.registry = registry
  }

  /// Whether a method path calls a module: a module's own, or the host API's JSON `Invoke`
  /// (rather than health, reflection or the other host services).
  private func isModuleCall(_ path: String) -> Bool {
    registry.route(path) != nil || HostAPIService.moduleCallPaths.contains(path)
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    if !headersSeen, case .headers(let headers) = unwrapInboundIn(data) {
      headersSeen = true
      moduleCall = headers.headers.first(name: ":path").map(isModuleCall) ?? false
    }
    context.fireChannelRead(data)
  }

  func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
    guard moduleCall, event is ChannelShouldQuiesceEvent, cutOff == nil else {
      context.fireUserInboundEventTriggered(event)
      return
    }
    let context = NIOLoopBound(context, eventLoop: context.eventLoop)
    cutOff = context.value.eventLoop.scheduleTask(in: .milliseconds(Int64(drain.timeoutMilliseconds))) {
      context.value.fireUserInboundEventTriggered(event)
    }
  }

  func handlerRemoved(context: ChannelHandlerContext) {
    cutOff?.cancel()
  }
}

/// The host's drain: when it began, and how long module calls in flight have in it
/// (`[limits] drain_timeout_ms`). Shared by the streams' `ModuleCallDrain`s and the calls,
/// which name the drain when it is what cancelled them.
final class HostDrain: Sendable {
  /// How long module calls in flight have to finish once the drain has begun, as the
  /// deployment says it (`drain_timeout_ms`).
  let timeoutMilliseconds: Int
  private let began = Mutex<ContinuousClock.Instant?>(nil)

  init(timeoutMilliseconds: Int) {
    self.timeoutMilliseconds = timeoutMilliseconds
  }

  /// `timeoutMilliseconds` as a duration.
  var timeout: Duration { .milliseconds(timeoutMilliseconds) }

  /// Marks the start of the drain (the first call counts).
  func begin() {
    began.withLock { if $0 == nil { $0 = .now } }
  }

  /// Whether the drain has run for `timeout` (calls still in flight are then cancelled).
  var hasRunOut: Bool {
    guard let began = began.withLock({ $0 }) else { return false }
    return ContinuousClock.now - began >= timeout
  }
}
