import GRPCCore

/// Wraps the server transport so that module methods are routed at call time rather than fixed
/// when the server starts.
///
/// grpc-swift's router is built once, but modules come and go while the host runs (an admin
/// enables one, or reloads one whose new version has more methods). Every stream whose service
/// is not one of the host's own is therefore handed to the router under the single
/// `ModuleRoutingTransport.moduleCall` descriptor; `ServerContext.descriptor` keeps the method
/// the caller asked for, and the module handler looks it up in the registry of the moment.
struct ModuleRoutingTransport<Base: ServerTransport>: ServerTransport {
  typealias Bytes = Base.Bytes

  /// The descriptor every module method is registered under.
  static var moduleCall: MethodDescriptor { MethodDescriptor(fullyQualifiedService: "carbonhub.internal.Module", method: "Call") }

  let base: Base
  /// Services the host itself implements (host API, admin, health, reflection).
  let hostServices: Set<String>

  func configure(context: GRPCServerContext) {
    base.configure(context: context)
  }

  func listen(
    streamHandler: @escaping @Sendable (RPCStream<Inbound, Outbound>, ServerContext) async -> Void
  ) async throws {
    let hostServices = self.hostServices
    try await base.listen { stream, context in
      if hostServices.contains(stream.descriptor.service.fullyQualifiedService) {
        await streamHandler(stream, context)
      } else {
        var routed = stream
        routed.descriptor = Self.moduleCall
        await streamHandler(routed, context)
      }
    }
  }

  func beginGracefulShutdown() {
    base.beginGracefulShutdown()
  }
}
