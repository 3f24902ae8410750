/// Every metric the host exposes: its Prometheus name and help text, declared once.
///
/// The host records them through swift-metrics (`Counter`, `Timer`, `Meter`) with a
/// `HostMetricsFactory`; swift-prometheus renders them. docs/security.md and docs/deployment.md
/// describe them for admins.
public enum HostMetric: String, Sendable, CaseIterable {
  /// Counter `{module, version, method, code}`.
  case calls = "carbonhub_calls_total"
  /// Histogram `{module, version, method}`, seconds.
  case callDuration = "carbonhub_call_duration_seconds"
  /// Gauge `{module, version, state}`: 1 while serving.
  case moduleUp = "carbonhub_module_up"
  /// Gauge `{module, version}`.
  case callsInFlight = "carbonhub_calls_in_flight"
  /// Counter `{module, version}`.
  case workerRestarts = "carbonhub_worker_restarts_total"
  /// Counter `{event}` (`LoaderEvent`).
  case loaderEvents = "carbonhub_loader_events_total"
  /// Gauge `{instance_name}`, always 1.
  case info = "carbonhub_info"
  /// Gauge, bytes.
  case bytesInFlight = "carbonhub_bytes_in_flight"
  /// Gauge, bytes.
  case bytesInFlightPeak = "carbonhub_bytes_in_flight_peak"
  /// Gauge, bytes.
  case memoryBudget = "carbonhub_memory_budget_bytes"
  /// Gauge, bytes.
  case residentMemory = "carbonhub_resident_memory_bytes"
  /// Gauge, bytes (only with `max_resident_mb`).
  case residentMemoryLimit = "carbonhub_resident_memory_limit_bytes"
  /// Gauge.
  case connectionsOpen = "carbonhub_connections_open"
  /// Counter `{reason}` (`OverloadRefusal`).
  case overloadRefusals = "carbonhub_overload_refusals_total"

  /// The `# HELP` line's text.
  public var help: String {
    switch self {
    case .calls: "Module calls answered, by module, version, method and gRPC status code."
    case .callDuration: "Latency of module calls, by module, version and method."
    case .moduleUp: "1 when the module is serving, else 0; the state label says why."
    case .callsInFlight: "Calls a module is answering now."
    case .workerRestarts: "Restarts of an isolated module's worker process."
    case .loaderEvents: "Module loads, reloads and their failures."
    case .info: "The host's name."
    case .bytesInFlight: "Request and response bytes held for calls in flight."
    case .bytesInFlightPeak: "The most request and response bytes held at once since the start."
    case .memoryBudget: "The budget (memory_budget_mb): new calls are refused beyond it."
    case .residentMemory: "The host's resident memory (the kernel's VmRSS), read at each scrape."
    case .residentMemoryLimit: "max_resident_mb: new calls are refused while the resident memory is above it."
    case .connectionsOpen: "Client connections open now."
    case .overloadRefusals: "Calls and connections refused or cut to protect the host, by reason."
    }
  }

  /// Upper bounds of `callDuration`'s buckets (its `le` labels): 100 µs to 30 s.
  public static let latencyBuckets: [Duration] = [
    .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .microseconds(2500),
    .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
    .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30),
  ]
}

/// A module load event, counted in `carbonhub_loader_events_total{event}`.
public enum LoaderEvent: String, Sendable, CaseIterable {
  case loaded = "load"
  case loadFailed = "load_failure"
  case reloaded = "reload"
  case reloadFailed = "reload_failure"
  case workerRestarted = "worker_restart"
}

/// Why the host refused a call or a connection, counted in
/// `carbonhub_overload_refusals_total{reason}`.
public enum OverloadRefusal: String, Sendable, CaseIterable {
  /// A request above its module's `max_message_bytes`.
  case requestTooLarge = "request_too_large"
  /// A plugin's response above its module's `max_message_bytes` (never sent).
  case responseTooLarge = "response_too_large"
  /// A new call while the host's memory budget was exceeded.
  case memoryBudget = "memory_budget"
  /// A new call while the host's resident memory was above `max_resident_mb`.
  case residentMemory = "resident_memory"
  /// A call cut by its server-side deadline.
  case deadline
  /// A connection beyond `max_connections`.
  case connections
  /// A connection beyond `max_connections_per_address`.
  case connectionsPerAddress = "connections_per_address"
  /// A connection that did not complete its TLS handshake in time.
  case handshakeTimeout = "handshake_timeout"
}
