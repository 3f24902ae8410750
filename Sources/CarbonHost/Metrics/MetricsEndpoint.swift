import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// A plain-HTTP endpoint answering `GET /metrics` with the Prometheus text exposition, on the
/// deployment's `metrics_listen` address. Anything else gets 404. It shares nothing with the
/// gRPC listener, so scraping never competes with TLS handshakes or calls.
final class MetricsEndpoint: Sendable {
  private let channel: any Channel

  /// The bound address ("127.0.0.1:9464").
  let address: String

  /// Binds the endpoint; `render` produces the body of each scrape.
  init(listen: ListenAddress, group: any EventLoopGroup, render: @escaping @Sendable () -> String) async throws {
    channel = try await ServerBootstrap(group: group)
      .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
      .childChannelInitializer { channel in
        channel.pipeline.configureHTTPServerPipeline().flatMap {
          channel.pipeline.addHandler(MetricsHandler(render: render))
        }
      }
      .bind(host: listen.host == "localhost" ? "127.0.0.1" : listen.host, port: listen.port).get()
    let bound = channel.localAddress
    address = "\(bound?.ipAddress ?? listen.host):\(bound?.port ?? listen.port)"
  }

  /// Stops listening.
  func close() async {
    try? await channel.close()
  }
}

private final class MetricsHandler: ChannelInboundHandler, Sendable {
  typealias InboundIn = HTTPServerRequestPart
  typealias OutboundOut = HTTPServerResponsePart
  let render: @Sendable () -> String

  init(render: @escaping @Sendable () -> String) {
    self.render = render
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    guard case .head(let request) = unwrapInboundIn(data) else { return }
    let found = request.method == .GET && (request.uri == "/metrics" || request.uri.hasPrefix("/metrics?"))
    let body = found ? render() : "not found: scrape /metrics\n"
    var headers = HTTPHeaders()
    headers.add(name: "Content-Type", value: found ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain")
    headers.add(name: "Content-Length", value: "\(body.utf8.count)")
    headers.add(name: "Connection", value: "close")
    let head = HTTPResponseHead(version: request.version, status: found ? .ok : .notFound, headers: headers)
    context.write(wrapOutboundOut(.head(head)), promise: nil)
    context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
    context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { [context] _ in context.close(promise: nil) }
  }
}
