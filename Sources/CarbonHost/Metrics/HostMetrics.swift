import CarbonDomain
import CoreMetrics
import Prometheus
import Synchronization

/// The host's metrics: what happened (calls, loader events, refusals, worker restarts) is
/// recorded through swift-metrics as it happens; what is (modules' states, calls and bytes in
/// flight, open connections) is read when Prometheus scrapes. Rendered by swift-prometheus.
public final class HostMetrics: Sendable {
  /// The swift-metrics factory over this host's Prometheus registry.
  public let factory: HostMetricsFactory
  /// The `module_up` labels last exposed per module, so that a change of state (or of version,
  /// on a reload) replaces its series.
  private let exposedStates = Mutex<[String: [(String, String)]]>([:])

  public init() {
    factory = HostMetricsFactory(registry: PrometheusCollectorRegistry())
    // Every event and refusal is listed from the start, at 0, so a rate has a baseline.
    for event in LoaderEvent.allCases { _ = counter(.loaderEvents, [("event", event.rawValue)]) }
    for refusal in OverloadRefusal.allCases { _ = counter(.overloadRefusals, [("reason", refusal.rawValue)]) }
  }

  /// Counts one call of `path` that `module` answered with `status` after `seconds`.
  func recordCall(_ module: ModuleRegistry.ModuleSnapshot, path: String, status: CarbonStatus, seconds: Double) {
    recordCall(module: module.moduleName, version: module.versionText, path: path, status: status, seconds: seconds)
  }

  /// Counts one call of `path` that version `version` of `module` answered.
  func recordCall(module: String, version: String, path: String, status: CarbonStatus, seconds: Double) {
    let labels = [("module", module), ("version", version)]
    counter(.calls, [("code", status.name), ("method", path)] + labels).increment()
    CoreMetrics.Timer(label: HostMetric.callDuration.rawValue, dimensions: [("method", path)] + labels, factory: factory)
      .recordSeconds(seconds)
  }

  /// A module's labels: `module` (its name, "esca") and `version` (the version its plugin
  /// declares; empty before it first loaded), so that versions served side by side count apart.
  static func labels(_ module: ModuleRegistry.ModuleSnapshot) -> [(String, String)] {
    [("module", module.moduleName), ("version", module.versionText)]
  }

  /// Counts a loader event.
  func record(_ event: LoaderEvent) {
    counter(.loaderEvents, [("event", event.rawValue)]).increment()
  }

  /// Counts a call or connection refused to protect the host.
  func record(_ refusal: OverloadRefusal) {
    counter(.overloadRefusals, [("reason", refusal.rawValue)]).increment()
  }

  /// Counts a restart of `module`'s worker (and the loader event).
  func recordWorkerRestart(_ module: ModuleRegistry.ModuleSnapshot) {
    recordWorkerRestart(module: module.moduleName, version: module.versionText)
  }

  /// Counts a restart of the worker of version `version` of `module`.
  func recordWorkerRestart(module: String, version: String) {
    counter(.workerRestarts, [("module", module), ("version", version)]).increment()
    record(.workerRestarted)
  }

  /// The Prometheus text exposition (format 0.0.4) of everything, the current state read
  /// from `registry`, `budget` and `connections` first.
  func render(
    registry: ModuleRegistry, budget: MemoryBudget, connections: ConnectionGuard, instance: String,
    resident: ResidentMemoryGuard? = nil
  ) -> String {
    for module in registry.all {
      let state = module.state.text.split(separator: ":").first.map(String.init) ?? ""
      let labels = Self.labels(module) + [("state", state)]
      let previous = exposedStates.withLock { $0.updateValue(labels, forKey: module.name) }
      if let previous, !previous.elementsEqual(labels, by: ==) {
        meter(.moduleUp, previous).destroy()
      }
      meter(.moduleUp, labels).set(module.state.isServing ? 1 : 0)
      meter(.callsInFlight, Self.labels(module)).set(max(0, module.gate.current))
      // Listed at 0 before a first restart.
      _ = counter(.workerRestarts, Self.labels(module))
    }
    meter(.info, [("instance_name", instance)]).set(1)
    meter(.bytesInFlight).set(max(0, budget.current))
    meter(.bytesInFlightPeak).set(budget.peak)
    meter(.memoryBudget).set(budget.limit)
    meter(.connectionsOpen).set(connections.current)
    meter(.residentMemory).set(ResidentMemoryGuard.readResidentBytes() ?? 0)
    if let resident { meter(.residentMemoryLimit).set(resident.limitBytes) }
    return factory.registry.emitToString()
  }

  private func counter(_ metric: HostMetric, _ dimensions: [(String, String)]) -> CoreMetrics.Counter {
    CoreMetrics.Counter(label: metric.rawValue, dimensions: dimensions, factory: factory)
  }

  private func meter(_ metric: HostMetric, _ dimensions: [(String, String)] = []) -> Meter {
    Meter(label: metric.rawValue, dimensions: dimensions, factory: factory)
  }
}
