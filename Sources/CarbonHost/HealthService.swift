import CarbonHostProtocol
import GRPCCore

/// `grpc.health.v1.Health`, following each module's real state. Service names answered:
/// - "" — the host as a whole (SERVING while it runs);
/// - a module name ("units") and each gRPC service of a module ("carbon.examples.v1.Units"):
///   SERVING only while the module serves; NOT_SERVING while it loads, restarts, has failed or
///   is disabled;
/// - the host's own services ("carbon.host.v1.Host", …).
/// Anything else is NOT_FOUND for Check and SERVICE_UNKNOWN for Watch, as the standard says.
/// `Watch` sends the current status, then every change (an admin disabling a module, an
/// isolated module's worker dying and coming back) until the client leaves.
struct HealthService: Grpc_Health_V1_Health.SimpleServiceProtocol {
  typealias Status = Grpc_Health_V1_HealthCheckResponse.ServingStatus
  let registry: ModuleRegistry

  static let hostServices = [
    "", "carbon.host.v1.Host", "carbon.host.v1.HostAdmin", "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection",
  ]

  func status(of service: String) -> Status? {
    if Self.hostServices.contains(service) { return .serving }
    for module in registry.all {
      let services = module.metadata?.services ?? []
      if module.name == service || services.contains(service) {
        return module.state.isServing ? .serving : .notServing
      }
    }
    return nil
  }

  func check(request: Grpc_Health_V1_HealthCheckRequest, context: ServerContext) async throws
    -> Grpc_Health_V1_HealthCheckResponse
  {
    guard let status = status(of: request.service) else {
      throw RPCError(code: .notFound, message: "service: unknown service '\(request.service)'")
    }
    var response = Grpc_Health_V1_HealthCheckResponse()
    response.status = status
    return response
  }

  func watch(
    request: Grpc_Health_V1_HealthCheckRequest, response: RPCWriter<Grpc_Health_V1_HealthCheckResponse>,
    context: ServerContext
  ) async throws {
    // Subscribe before the first read so that no change between the two is missed.
    let changes = registry.changes.subscribe()
    var last: Status?
    func sendIfChanged() async throws {
      let status = status(of: request.service) ?? .serviceUnknown
      guard status != last else { return }
      last = status
      var message = Grpc_Health_V1_HealthCheckResponse()
      message.status = status
      try await response.write(message)
    }
    try await sendIfChanged()
    try await withRPCCancellationHandler {
      for await _ in changes.updates {
        try await sendIfChanged()
      }
    } onCancelRPC: {
      changes.end.finish()
    }
  }
}
