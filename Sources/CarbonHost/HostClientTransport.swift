import GRPCCore
import GRPCNIOTransportHTTP2

/// The client side of a connection to a host: grpc-swift's HTTP/2 transport, with one repair.
///
/// grpc-swift-nio-transport 2.9 picks a connection from its load balancer and then opens the
/// stream on it as two steps. When the connection goes away between them, before the load
/// balancer has heard of it, the call fails at once with UNAVAILABLE "subchannel isn't ready"
/// (or "no subchannel available") although nothing was sent and a new connection is on its
/// way (grpc/grpc-swift-nio-transport#196, open). On a loaded machine that window lasts as long
/// as the cooperative pool is busy. gRPC's other clients retry such a call themselves
/// ("transparent retry", gRFC A6): so does this transport. A call is retried only when its
/// stream never opened, with growing pauses, for at most `settleTime`; every other error,
/// and any error once the stream opened, reaches the caller unchanged.
public struct HostClientTransport: ClientTransport {
  public typealias Bytes = HTTP2ClientTransport.Posix.Bytes

  /// The transport calls go through.
  public let base: HTTP2ClientTransport.Posix
  /// How long a call that could not open its stream keeps trying (default 2 s).
  public let settleTime: Duration

  /// Wraps `base`.
  public init(_ base: HTTP2ClientTransport.Posix, settleTime: Duration = .seconds(2)) {
    self.base = base
    self.settleTime = settleTime
  }

  public var retryThrottle: RetryThrottle? { base.retryThrottle }

  public func connect() async throws { try await base.connect() }

  public func beginGracefulShutdown() { base.beginGracefulShutdown() }

  public func config(forMethod descriptor: MethodDescriptor) -> MethodConfig? { base.config(forMethod: descriptor) }

  public func withStream<T: Sendable>(
    descriptor: MethodDescriptor, options: CallOptions,
    _ closure: (_ stream: RPCStream<Inbound, Outbound>, _ context: ClientContext) async throws -> T
  ) async throws -> T {
    try await StreamOpening.retrying(for: settleTime) { opened in
      try await base.withStream(descriptor: descriptor, options: options) { stream, context in
        opened()
        return try await closure(stream, context)
      }
    }
  }
}

/// The retry of `HostClientTransport`, apart from any transport so that it can be tested alone.
enum StreamOpening {
  /// The messages grpc-swift-nio-transport gives a call whose stream it could not open on a
  /// connection its load balancer still believed ready.
  static let stalePickMessages: Set<String> = ["subchannel isn't ready", "Channel isn't ready, no subchannel available."]

  /// True for an error that says the call's stream never opened because the connection picked
  /// for it had gone away.
  static func isStalePick(_ error: any Error) -> Bool {
    guard let error = error as? RPCError else { return false }
    return error.code == .unavailable && stalePickMessages.contains(error.message)
  }

  /// Runs `attempt` until it succeeds, fails with anything but a stale pick, fails after calling
  /// `opened` (its stream opened: the call may have reached the server), or `limit` has passed.
  /// Pauses 5 ms after the first failure, doubling up to 200 ms.
  static func retrying<T>(
    for limit: Duration, clock: ContinuousClock = .init(), _ attempt: (_ opened: () -> Void) async throws -> T
  ) async throws -> T {
    let deadline = clock.now + limit
    var pause = Duration.milliseconds(5)
    while true {
      var didOpen = false
      do {
        return try await attempt { didOpen = true }
      } catch {
        guard !didOpen, isStalePick(error), clock.now + pause < deadline else { throw error }
        try await Task.sleep(for: pause)
        pause = min(pause * 2, .milliseconds(200))
      }
    }
  }
}
