import CarbonHostProtocol
import GRPCCore

/// `grpc.health.v1.Health`, following each module's real state. Service names answered:
/// - "" — the host as a whole (SERVING while it runs);
/// - a module name ("units") and each gRPC service of a module ("carbon.examples.v1.Units"):
///   SERVING only while the module serves; NOT_SERVING while it loads, restarts, has failed or
///   is disabled. For a module served in several versions, these follow the default version
///   (the one calls naming no version go to), and each version has its own name ("esca@1.0.0");
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
    Self.status(of: service, in: registry.all)
  }

  /// `service`'s status when the modules are `modules`; nil for a service nobody serves.
  static func status(of service: String, in modules: [ModuleRegistry.ModuleSnapshot]) -> Status? {
    if hostServices.contains(service) { return .serving }
    if let version = modules.first(where: { $0.name == service }) {
      return version.state.isServing ? .serving : .notServing
    }
    // A module's name or one of its services: the version that answers calls naming none.
    guard let owner = modules.first(where: { $0.moduleName == service || $0.metadata?.services.contains(service) ?? false }) else {
      return nil
    }
    let chosen = ModuleRegistry.defaultVersion(among: modules.filter { $0.moduleName == owner.moduleName }) ?? owner
    return chosen.state.isServing ? .serving : .notServing
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
    // Every module's state after each change, in order: a worker that dies and is back
    // within milliseconds is still seen going NOT_SERVING and back.
    let changes = registry.subscribeToChanges()
    var last: Status?
    func sendIfChanged(_ modules: [ModuleRegistry.ModuleSnapshot]) async throws {
      let status = Self.status(of: request.service, in: modules) ?? .serviceUnknown
      guard status != last else { return }
      last = status
      var message = Grpc_Health_V1_HealthCheckResponse()
      message.status = status
      try await response.write(message)
    }
    try await sendIfChanged(changes.current)
    try await withRPCCancellationHandler {
      for await modules in changes.updates {
        try await sendIfChanged(modules)
      }
    } onCancelRPC: {
      changes.end.finish()
    }
  }
}
