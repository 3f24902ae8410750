import CarbonDomain
import Foundation
import Testing

@testable import CarbonHost

/// The host's metrics, recorded through swift-metrics and rendered by swift-prometheus, keep the
/// names, labels and types the docs promise (docs/security.md, docs/deployment.md).
@Suite("Host metrics: swift-metrics recorded, swift-prometheus rendered")
struct HostMetricsTests {
  private func render(_ metrics: HostMetrics, budget: MemoryBudget = MemoryBudget(limit: 1 << 20)) async throws -> [String] {
    let directory = try TestEnvironment.temporaryDirectory("metrics-empty")
    let registry = await ModuleRegistry.load(
      DeploymentConfig(pluginDirectory: directory, stateDirectory: directory), logger: TestEnvironment.logger, metrics: metrics)
    let connections = ConnectionGuard(limits: DeploymentConfig.Limits(), tls: true, metrics: metrics)
    return metrics.render(registry: registry, budget: budget, connections: connections, instance: "test-host")
      .split(separator: "\n").map(String.init)
  }

  /// A Prometheus sample's value, by its exact series.
  private func value(_ lines: [String], _ series: String) -> Double? {
    lines.first { $0.hasPrefix(series + " ") }.flatMap { Double($0.dropFirst(series.count + 1)) }
  }

  @Test func callsCountByStatusAndLatenciesFillCumulativeBuckets() async throws {
    let metrics = HostMetrics()
    let path = "/carbon.units.v1.Units/Convert"
    // Hand-computed: 100 µs, 300 µs and 2 s.
    metrics.recordCall(module: "units", version: "1.0.0", path: path, status: .ok, seconds: 0.0001)
    metrics.recordCall(module: "units", version: "1.0.0", path: path, status: .ok, seconds: 0.0003)
    metrics.recordCall(module: "units", version: "1.0.0", path: path, status: .invalidArgument, seconds: 2)
    let lines = try await render(metrics)

    let labels = "method=\"\(path)\",module=\"units\",version=\"1.0.0\""
    #expect(value(lines, "carbonhub_calls_total{code=\"OK\",\(labels)}") == 2)
    #expect(value(lines, "carbonhub_calls_total{code=\"INVALID_ARGUMENT\",\(labels)}") == 1)
    // Cumulative: ≤100 µs holds 1, ≤250 µs still 1, ≤500 µs 2, ≤1 s 2, ≤2.5 s all 3.
    #expect(value(lines, "carbonhub_call_duration_seconds_bucket{\(labels),le=\"0.0001\"}") == 1, "\(lines)")
    #expect(value(lines, "carbonhub_call_duration_seconds_bucket{\(labels),le=\"0.00025\"}") == 1)
    #expect(value(lines, "carbonhub_call_duration_seconds_bucket{\(labels),le=\"0.0005\"}") == 2)
    #expect(value(lines, "carbonhub_call_duration_seconds_bucket{\(labels),le=\"1.0\"}") == 2)
    #expect(value(lines, "carbonhub_call_duration_seconds_bucket{\(labels),le=\"2.5\"}") == 3)
    #expect(value(lines, "carbonhub_call_duration_seconds_bucket{\(labels),le=\"+Inf\"}") == 3)
    #expect(value(lines, "carbonhub_call_duration_seconds_count{\(labels)}") == 3)
    let sum = try #require(value(lines, "carbonhub_call_duration_seconds_sum{\(labels)}"))
    #expect(abs(sum - 2.0004) < 1e-9)
  }

  @Test func everyFamilyHasItsTypeAndHelp() async throws {
    let metrics = HostMetrics()
    metrics.recordCall(module: "units", version: "1.0.0", path: "/a.B/C", status: .ok, seconds: 0.01)
    metrics.recordWorkerRestart(module: "units", version: "1.0.0")
    let lines = try await render(metrics)
    let types: [HostMetric: String] = [
      .calls: "counter", .callDuration: "histogram", .workerRestarts: "counter", .loaderEvents: "counter", .info: "gauge",
      .bytesInFlight: "gauge", .bytesInFlightPeak: "gauge", .memoryBudget: "gauge", .connectionsOpen: "gauge",
      .overloadRefusals: "counter",
    ]
    for (metric, type) in types {
      #expect(lines.contains("# TYPE \(metric.rawValue) \(type)"), "\(metric)")
      #expect(lines.contains("# HELP \(metric.rawValue) \(metric.help)"), "\(metric)")
    }
  }

  @Test func eventsAndRefusalsStartAtZeroAndCount() async throws {
    let metrics = HostMetrics()
    metrics.record(.memoryBudget)
    metrics.record(.memoryBudget)
    metrics.recordWorkerRestart(module: "crashy", version: "0.1.0")
    let budget = MemoryBudget(limit: 1 << 20)
    let lines = try await render(metrics, budget: budget)
    for refusal in OverloadRefusal.allCases where refusal != .memoryBudget {
      #expect(value(lines, "carbonhub_overload_refusals_total{reason=\"\(refusal.rawValue)\"}") == 0, "\(refusal)")
    }
    #expect(value(lines, "carbonhub_overload_refusals_total{reason=\"memory_budget\"}") == 2)
    #expect(value(lines, "carbonhub_loader_events_total{event=\"worker_restart\"}") == 1)
    #expect(value(lines, "carbonhub_loader_events_total{event=\"load\"}") == 0)
    #expect(value(lines, "carbonhub_worker_restarts_total{module=\"crashy\",version=\"0.1.0\"}") == 1)
    #expect(value(lines, "carbonhub_memory_budget_bytes") == 1_048_576)
    #expect(value(lines, "carbonhub_bytes_in_flight") == 0)
    #expect(value(lines, "carbonhub_info{instance_name=\"test-host\"}") == 1)
  }

  /// Two hosts in one process keep their own counts: the host never bootstraps the
  /// process-wide `MetricsSystem`.
  @Test func eachHostHasItsOwnRegistry() async throws {
    let first = HostMetrics()
    let second = HostMetrics()
    first.recordCall(module: "m", version: "2.1.0", path: "/a.B/C", status: .ok, seconds: 0.001)
    #expect(value(try await render(first), "carbonhub_calls_total{code=\"OK\",method=\"/a.B/C\",module=\"m\",version=\"2.1.0\"}") == 1)
    #expect(value(try await render(second), "carbonhub_calls_total{code=\"OK\",method=\"/a.B/C\",module=\"m\",version=\"2.1.0\"}") == nil)
  }
}
