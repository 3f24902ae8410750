import CoreMetrics
import Prometheus

/// A swift-metrics factory that keeps its metrics in one host's Prometheus registry, with the
/// help text of `HostMetric` and its latency buckets.
///
/// Each host has its own registry (tests run several hosts in one process), so the host never
/// bootstraps the process-wide `MetricsSystem`: its metrics are made with
/// `Counter(label:dimensions:factory:)` and the like. swift-prometheus's own factory would
/// register every family without help text, and a family's help cannot change once registered.
public struct HostMetricsFactory: MetricsFactory {
  /// Where the metrics live and are rendered from.
  public let registry: PrometheusCollectorRegistry

  public init(registry: PrometheusCollectorRegistry) {
    self.registry = registry
  }

  private func descriptor(_ label: String) -> MetricNameDescriptor {
    MetricNameDescriptor(metricName: label, unitName: "", helpText: HostMetric(rawValue: label)?.help ?? "")
  }

  public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
    registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
  }

  public func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
    registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
  }

  public func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
    registry.makeGauge(descriptor: descriptor(label), labels: dimensions)
  }

  public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
    // A value histogram would need buckets of its own: the host records none, so a recorder is a gauge.
    registry.makeGauge(descriptor: descriptor(label), labels: dimensions)
  }

  public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
    registry.makeDurationHistogram(descriptor: descriptor(label), labels: dimensions, buckets: HostMetric.latencyBuckets)
  }

  public func destroyCounter(_ handler: any CounterHandler) {
    if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
  }

  public func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
    if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
  }

  public func destroyMeter(_ handler: any MeterHandler) {
    if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
  }

  public func destroyRecorder(_ handler: any RecorderHandler) {
    if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
  }

  public func destroyTimer(_ handler: any TimerHandler) {
    if let histogram = handler as? DurationHistogram { registry.unregisterDurationHistogram(histogram) }
  }
}
