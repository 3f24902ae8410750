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
  /// The state label last exposed per module, so a state change replaces its series.
  private let exposedStates = Mutex<[String: String]>([:])

  public init() {
    factory = HostMetricsFactory(registry: PrometheusCollectorRegistry())
    // Every event and refusal is listed from the start, at 0, so a rate has a baseline.
    for event in LoaderEvent.allCases { _ = counter(.loaderEvents, [("event", event.rawValue)]) }
    for refusal in OverloadRefusal.allCases { _ = counter(.overloadRefusals, [("reason", refusal.rawValue)]) }
  }

  /// Counts one call of `path` that ended with `status` after `seconds`.
  func recordCall(module: String, path: String, status: CarbonStatus, seconds: Double) {
    counter(.calls, [("code", status.name), ("method", path), ("module", module)]).increment()
    CoreMetrics.Timer(label: HostMetric.callDuration.rawValue, dimensions: [("method", path), ("module", module)], factory: factory)
      .recordSeconds(seconds)
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
  func recordWorkerRestart(module: String) {
    counter(.workerRestarts, [("module", module)]).increment()
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
      let previous = exposedStates.withLock { $0.updateValue(state, forKey: module.name) }
      if let previous, previous != state {
        meter(.moduleUp, [("module", module.name), ("state", previous)]).destroy()
      }
      meter(.moduleUp, [("module", module.name), ("state", state)]).set(module.state.isServing ? 1 : 0)
      meter(.callsInFlight, [("module", module.name)]).set(max(0, module.gate.current))
      // Listed at 0 before a first restart.
      _ = counter(.workerRestarts, [("module", module.name)])
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
