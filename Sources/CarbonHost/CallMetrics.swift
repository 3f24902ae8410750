import CarbonDomain
import Foundation
import Synchronization

/// Per-method call counters kept by the host: calls by status, and a latency histogram.
/// Rendered for Prometheus by `MetricsExposition`.
public final class CallMetrics: Sendable {
  /// Upper bounds (seconds) of the latency histogram's buckets, as Prometheus `le` labels.
  public static let bucketBounds: [Double] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
  ]

  /// Counters of one method.
  public struct Counters: Sendable, Equatable {
    /// The module that served the calls.
    public var module: String
    /// Calls by status.
    public var callsByStatus: [CarbonStatus: Int] = [:]
    /// Calls per latency bucket (same order as `bucketBounds`; the last one is +Inf).
    public var buckets: [Int] = Array(repeating: 0, count: CallMetrics.bucketBounds.count + 1)
    /// Sum of latencies, seconds.
    public var totalSeconds: Double = 0

    /// Every call, whatever its status.
    public var calls: Int { callsByStatus.values.reduce(0, +) }
    /// Calls that did not end OK, by status.
    public var errorsByStatus: [CarbonStatus: Int] { callsByStatus.filter { $0.key != .ok } }
  }

  private let counters = Mutex<[String: Counters]>([:])

  public init() {}

  /// Counts one call of `path` that ended with `status` after `seconds`.
  func record(module: String, path: String, status: CarbonStatus, seconds: Double) {
    let bucket = Self.bucketBounds.firstIndex { seconds <= $0 } ?? Self.bucketBounds.count
    counters.withLock { all in
      var entry = all[path] ?? Counters(module: module)
      entry.module = module
      entry.callsByStatus[status, default: 0] += 1
      entry.buckets[bucket] += 1
      entry.totalSeconds += seconds
      all[path] = entry
    }
  }

  /// A copy of every method's counters, by method path.
  public var snapshot: [String: Counters] { counters.withLock { $0 } }
}

/// The Prometheus text exposition (format 0.0.4) of the host's state.
public enum MetricsExposition {
  /// Renders calls, latencies, module states, calls in flight, worker restarts and loader events.
  public static func render(metrics: CallMetrics, registry: ModuleRegistry, instance: String) -> String {
    var out = ""
    func line(_ text: String) { out += text + "\n" }
    let calls = metrics.snapshot.sorted { $0.key < $1.key }

    line("# HELP carbonhub_calls_total Module calls answered, by module, method and gRPC status code.")
    line("# TYPE carbonhub_calls_total counter")
    for (path, counters) in calls {
      for (status, count) in counters.callsByStatus.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
        line("carbonhub_calls_total{\(labels(["module": counters.module, "method": path, "code": status.name]))} \(count)")
      }
    }

    line("# HELP carbonhub_call_duration_seconds Latency of module calls, by module and method.")
    line("# TYPE carbonhub_call_duration_seconds histogram")
    for (path, counters) in calls {
      let base = ["module": counters.module, "method": path]
      var cumulative = 0
      for (index, count) in counters.buckets.enumerated() {
        cumulative += count
        let bound = index < CallMetrics.bucketBounds.count ? "\(CallMetrics.bucketBounds[index])" : "+Inf"
        line("carbonhub_call_duration_seconds_bucket{\(labels(base.merging(["le": bound]) { $1 }))} \(cumulative)")
      }
      line("carbonhub_call_duration_seconds_sum{\(labels(base))} \(counters.totalSeconds)")
      line("carbonhub_call_duration_seconds_count{\(labels(base))} \(counters.calls)")
    }

    let modules = registry.all
    line("# HELP carbonhub_module_up 1 when the module is serving, else 0; the state label says why.")
    line("# TYPE carbonhub_module_up gauge")
    for module in modules {
      let state = module.state.text.split(separator: ":").first.map(String.init) ?? ""
      line("carbonhub_module_up{\(labels(["module": module.name, "state": state]))} \(module.state.isServing ? 1 : 0)")
    }
    line("# HELP carbonhub_calls_in_flight Calls a module is answering now.")
    line("# TYPE carbonhub_calls_in_flight gauge")
    for module in modules {
      line("carbonhub_calls_in_flight{\(labels(["module": module.name]))} \(max(0, module.gate.current))")
    }
    line("# HELP carbonhub_worker_restarts_total Restarts of an isolated module's worker process.")
    line("# TYPE carbonhub_worker_restarts_total counter")
    for module in modules {
      line("carbonhub_worker_restarts_total{\(labels(["module": module.name]))} \(module.restarts)")
    }
    line("# HELP carbonhub_loader_events_total Module loads, reloads and their failures.")
    line("# TYPE carbonhub_loader_events_total counter")
    let events = registry.events.snapshot
    for event in LoaderEvents.Event.allCases {
      line("carbonhub_loader_events_total{\(labels(["event": event.rawValue]))} \(events[event] ?? 0)")
    }
    line("# HELP carbonhub_info The host's name.")
    line("# TYPE carbonhub_info gauge")
    line("carbonhub_info{\(labels(["instance_name": instance]))} 1")
    return out
  }

  /// Renders the overload protection: bytes held against the memory budget, open connections,
  /// and calls and connections refused by reason.
  public static func render(budget: MemoryBudget, overload: OverloadEvents, connections: ConnectionGuard) -> String {
    var out = ""
    func line(_ text: String) { out += text + "\n" }
    line("# HELP carbonhub_bytes_in_flight Request and response bytes held for calls in flight.")
    line("# TYPE carbonhub_bytes_in_flight gauge")
    line("carbonhub_bytes_in_flight \(max(0, budget.current))")
    line("# HELP carbonhub_bytes_in_flight_peak The most request and response bytes held at once since the start.")
    line("# TYPE carbonhub_bytes_in_flight_peak gauge")
    line("carbonhub_bytes_in_flight_peak \(budget.peak)")
    line("# HELP carbonhub_memory_budget_bytes The budget (memory_budget_mb): new calls are refused beyond it.")
    line("# TYPE carbonhub_memory_budget_bytes gauge")
    line("carbonhub_memory_budget_bytes \(budget.limit)")
    line("# HELP carbonhub_connections_open Client connections open now.")
    line("# TYPE carbonhub_connections_open gauge")
    line("carbonhub_connections_open \(connections.current)")
    line("# HELP carbonhub_overload_refusals_total Calls and connections refused or cut to protect the host, by reason.")
    line("# TYPE carbonhub_overload_refusals_total counter")
    let refusals = overload.snapshot
    for reason in OverloadEvents.Refusal.allCases {
      line("carbonhub_overload_refusals_total{\(labels(["reason": reason.rawValue]))} \(refusals[reason] ?? 0)")
    }
    return out
  }

  private static func labels(_ values: [String: String]) -> String {
    values.sorted { $0.key < $1.key }.map { key, value in
      let escaped = value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        .replacingOccurrences(of: "\n", with: "\\n")
      return "\(key)=\"\(escaped)\""
    }.joined(separator: ",")
  }
}
