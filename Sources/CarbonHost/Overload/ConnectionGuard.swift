import NIOCore
import NIOTLS
import Synchronization

/// Counts the host's open connections, in total and per client address, against
/// `max_connections` and `max_connections_per_address`, and closes those beyond either limit
/// as they are accepted: a client that opens connections and never uses them cannot exhaust
/// the host's file descriptors.
public final class ConnectionGuard: Sendable {
  private struct Open {
    var total = 0
    var byAddress: [String: Int] = [:]
  }

  let maxConnections: Int
  let maxPerAddress: Int
  let handshakeTimeout: TimeAmount?
  let metrics: HostMetrics
  private let open = Mutex(Open())

  init(limits: DeploymentConfig.Limits, tls: Bool, metrics: HostMetrics) {
    maxConnections = limits.maxConnections
    maxPerAddress = limits.maxConnectionsPerAddress
    handshakeTimeout = tls ? .milliseconds(Int64(limits.handshakeTimeoutMilliseconds)) : nil
    self.metrics = metrics
  }

  /// Connections open now.
  public var current: Int { open.withLock { $0.total } }

  /// Admits a newly accepted connection or refuses it (the caller closes it); an admitted
  /// connection is counted until its channel closes.
  func admit(_ channel: any Channel) -> Bool {
    let address = Self.clientAddress(channel.remoteAddress)
    let refusal = open.withLock { open -> OverloadRefusal? in
      if open.total >= maxConnections { return .connections }
      if open.byAddress[address, default: 0] >= maxPerAddress { return .connectionsPerAddress }
      open.total += 1
      open.byAddress[address, default: 0] += 1
      return nil
    }
    if let refusal {
      metrics.record(refusal)
      return false
    }
    channel.closeFuture.whenComplete { [self] _ in
      open.withLock { open in
        open.total -= 1
        let left = open.byAddress[address, default: 1] - 1
        open.byAddress[address] = left > 0 ? left : nil
      }
    }
    return true
  }

  /// The handler that closes a connection whose TLS handshake is not done in time; added after
  /// the TLS handler (it waits for that handler's "handshake completed" event).
  func handshakeDeadline() -> (any ChannelHandler)? {
    handshakeTimeout.map { HandshakeDeadline(timeout: $0, metrics: metrics) }
  }

  /// The client's IP address without its port: the unit of `max_connections_per_address`.
  static func clientAddress(_ address: SocketAddress?) -> String {
    address?.ipAddress ?? "unknown"
  }
}

/// Closes its connection unless the TLS handshake completes within `timeout` of the
/// connection's start.
private final class HandshakeDeadline: ChannelInboundHandler, RemovableChannelHandler {
  typealias InboundIn = NIOAny
  private let timeout: TimeAmount
  private let metrics: HostMetrics
  private var timer: Scheduled<Void>?

  init(timeout: TimeAmount, metrics: HostMetrics) {
    self.timeout = timeout
    self.metrics = metrics
  }

  func handlerAdded(context: ChannelHandlerContext) {
    let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
    let metrics = self.metrics
    timer = context.eventLoop.scheduleTask(in: timeout) {
      metrics.record(.handshakeTimeout)
      loopBound.value.close(promise: nil)
    }
  }

  func handlerRemoved(context: ChannelHandlerContext) {
    timer?.cancel()
    timer = nil
  }

  func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
    context.fireUserInboundEventTriggered(event)
    if case TLSUserEvent.handshakeCompleted = event {
      timer?.cancel()
      timer = nil
      context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
  }

  func channelInactive(context: ChannelHandlerContext) {
    timer?.cancel()
    timer = nil
    context.fireChannelInactive()
  }
}
