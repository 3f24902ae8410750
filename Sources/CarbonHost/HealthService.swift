import CarbonHostProtocol
import GRPCCore

/// `grpc.health.v1.Health`. Service names answered:
/// - "" — the host as a whole (SERVING while it runs);
/// - a module name ("units") and each gRPC service of a module ("carbon.examples.v1.Units"):
///   SERVING when the module serves, NOT_SERVING when it failed or is disabled;
/// - the host's own services ("carbon.host.v1.Host", "grpc.reflection.v1.ServerReflection").
/// Anything else is NOT_FOUND for Check and SERVICE_UNKNOWN for Watch, as the standard says.
struct HealthService: Grpc_Health_V1_Health.SimpleServiceProtocol {
  typealias Status = Grpc_Health_V1_HealthCheckResponse.ServingStatus
  let registry: ModuleRegistry

  static let hostServices = ["", "carbon.host.v1.Host", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"]

  func status(of service: String) -> Status? {
    if Self.hostServices.contains(service) { return .serving }
    for module in registry.all {
      let services = module.library?.methods.map(\.service) ?? []
      if module.name == service || services.contains(service) {
        return module.state == .serving ? .serving : .notServing
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
    // Module states are fixed for the life of this registry: send the state, then hold the
    // stream open until the client leaves, as the standard expects.
    var message = Grpc_Health_V1_HealthCheckResponse()
    message.status = status(of: request.service) ?? .serviceUnknown
    try await response.write(message)
    while !Task.isCancelled {
      try await Task.sleep(for: .seconds(3600))
    }
  }
}
