import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP2
import Testing

@testable import CarbonHost

/// `ModuleCallDrain` on one HTTP/2 stream, as the transport places it: grpc-swift's "server is
/// quiescing" event, which cancels the stream's RPC, is held from a module call until the drain
/// runs out and passed on at once for the host's own services.
@Suite("Module call drain: which streams the host's drain lets finish")
struct ModuleCallDrainTests {
  /// Records the quiescing events that get past the drain guard.
  private final class QuiesceRecorder: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    var seen = 0
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
      if event is ChannelShouldQuiesceEvent { seen += 1 }
      context.fireUserInboundEventTriggered(event)
    }
  }

  /// A stream whose request headers name `path`, then the quiescing event; what got past it
  /// at once, and after the drain's timeout.
  private func quiesce(path: String, registry: ModuleRegistry) throws -> (atOnce: Int, afterTimeout: Int) {
    let loop = EmbeddedEventLoop()
    let recorder = QuiesceRecorder()
    let drain = ModuleCallDrain(drain: HostDrain(timeoutMilliseconds: 30_000), registry: registry)
    let channel = EmbeddedChannel(handlers: [drain, recorder], loop: loop)
    try channel.writeInbound(HTTP2Frame.FramePayload.headers(.init(headers: HPACKHeaders([(":path", path)]))))
    channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
    let atOnce = recorder.seen
    loop.advanceTime(by: .seconds(30))
    let afterTimeout = recorder.seen
    _ = try channel.finish(acceptAlreadyClosed: true)
    return (atOnce, afterTimeout)
  }

  /// A registry serving the units example module.
  private func registry() async throws -> ModuleRegistry {
    let state = try TestEnvironment.temporaryDirectory("drain")
    var config = DeploymentConfig(pluginDirectory: TestEnvironment.pluginDirectory, stateDirectory: state)
    config.modules = [.init(name: "units", path: try TestEnvironment.plugin("libExampleUnits.so"))]
    let registry = await ModuleRegistry.load(config, logger: TestEnvironment.logger)
    try #require(registry.serving.map(\.name) == ["units"])
    return registry
  }

  @Test func aModuleCallIsCancelledOnlyWhenTheDrainRunsOut() async throws {
    let seen = try quiesce(path: "/carbon.examples.v1.Units/Convert", registry: try await registry())
    #expect(seen.atOnce == 0 && seen.afterTimeout == 1)
  }

  @Test func aJSONInvokeIsDrainedLikeTheModuleCallItMakes() async throws {
    let registry = try await registry()
    for path in ["/carbon.host.v1.Host/Invoke", "/carbon.host.v1.Host/InvokeStream"] {
      let seen = try quiesce(path: path, registry: registry)
      #expect(seen.atOnce == 0 && seen.afterTimeout == 1, "\(path)")
    }
  }

  @Test func theHostsOwnStreamsEndAtOnce() async throws {
    let registry = try await registry()
    for path in ["/grpc.health.v1.Health/Watch", "/carbon.host.v1.Host/ListModules", "/carbon.nope.v1.X/Y"] {
      let seen = try quiesce(path: path, registry: registry)
      #expect(seen.atOnce == 1 && seen.afterTimeout == 1, "\(path)")
    }
  }
}
