import CarbonPluginLoader
import Synchronization

/// What one module call is held to: its module's message limit, its server-side deadline, how
/// much of its output may wait for a slow client, and the host's memory budget.
struct CallLimits: Sendable {
  /// The deployment's largest message (`max_message_bytes`), for modules without their own.
  let maxMessageBytes: Int
  let unaryTimeoutMilliseconds: Int
  let streamingTimeoutMilliseconds: Int
  /// How much of a streaming call's output may wait for its client.
  let streamBuffer: StreamBuffer
  let budget: MemoryBudget?
  /// The host's resident memory against `max_resident_mb` (nil: no such limit).
  let resident: ResidentMemoryGuard?
  let metrics: HostMetrics?
  /// Where in-process unary calls run.
  let threads: PluginThreads
  /// The host's drain, whose end cancels the calls still in flight.
  let drain: HostDrain

  init(
    deployment: DeploymentConfig, budget: MemoryBudget?, resident: ResidentMemoryGuard? = nil, metrics: HostMetrics?,
    threads: PluginThreads = .standalone
  ) {
    self.resident = resident
    self.threads = threads
    drain = HostDrain(timeoutMilliseconds: deployment.limits.drainTimeoutMilliseconds)
    maxMessageBytes = deployment.maxMessageBytes
    unaryTimeoutMilliseconds = deployment.limits.unaryTimeoutMilliseconds
    streamingTimeoutMilliseconds = deployment.limits.streamingTimeoutMilliseconds
    streamBuffer = StreamBuffer(bytes: deployment.limits.streamBufferBytes, budget: budget)
    self.budget = budget
    self.metrics = metrics
  }

  /// `module`'s largest request or response message.
  func maxMessageBytes(of module: ModuleRegistry.ModuleSnapshot) -> Int {
    module.settings.maxMessageBytes ?? maxMessageBytes
  }

  /// The server-side deadline of a call to `module`, milliseconds, and the setting it comes from.
  func timeout(of module: ModuleRegistry.ModuleSnapshot, streaming: Bool) -> (milliseconds: Int, source: String) {
    if let milliseconds = module.settings.callTimeoutMilliseconds {
      return (milliseconds, "module '\(module.name)' call_timeout_ms = \(milliseconds)")
    }
    return streaming
      ? (streamingTimeoutMilliseconds, "[limits] streaming_timeout_ms = \(streamingTimeoutMilliseconds)")
      : (unaryTimeoutMilliseconds, "[limits] unary_timeout_ms = \(unaryTimeoutMilliseconds)")
  }

  /// Admits a new call of any kind unless the host's resident memory is above
  /// `max_resident_mb`: nil, or the RESOURCE_EXHAUSTED refusal.
  func admitByResidentMemory() -> PluginCallError? {
    guard let resident, !resident.admits() else { return nil }
    metrics?.record(.residentMemory)
    return PluginCallError(
      status: .resourceExhausted,
      message: "the host's resident memory is \(Self.mebibytes(resident.residentBytes)), above its limit of "
        + "\(Self.mebibytes(resident.limitBytes)) ([limits] max_resident_mb): retry later",
      field: nil)
  }

  /// Admits a call's request of `bytes`: nil when it fits the module's limit and the memory
  /// budget (the bytes are then taken from the budget: release them when the call ends), or
  /// the RESOURCE_EXHAUSTED refusal.
  func admitRequest(_ bytes: Int, _ call: ModuleCalls.Admitted) -> PluginCallError? {
    if bytes > call.maxMessageBytes {
      metrics?.record(.requestTooLarge)
      return Self.requestTooLarge(bytes, call)
    }
    if let budget, !budget.admit(bytes) {
      metrics?.record(.memoryBudget)
      return PluginCallError(
        status: .resourceExhausted,
        message: "the host holds \(Self.mebibytes(budget.current)) for calls in flight and this request needs "
          + "\(Self.mebibytes(bytes)) more, above its memory budget of \(Self.mebibytes(budget.limit)) "
          + "([limits] memory_budget_mb): retry later",
        field: nil)
    }
    return nil
  }

  /// The refusal of a response of `bytes` above the module's limit (it is never sent).
  func refusal(ofResponse bytes: Int, _ call: ModuleCalls.Admitted) -> PluginCallError? {
    guard bytes > call.maxMessageBytes else { return nil }
    metrics?.record(.responseTooLarge)
    return PluginCallError(
      status: .resourceExhausted,
      message: "\(call.method.path): the module's response is \(bytes) bytes, above the limit of \(call.maxMessageBytes) "
        + "bytes (max_message_bytes of module '\(call.module.name)'); it was not sent: ask for less per call or use "
        + "the method's streaming twin",
      field: nil)
  }

  /// `error` as the caller sees it: a DEADLINE_EXCEEDED names the setting that set the
  /// deadline (and is counted), a CANCELLED once the host's drain has run out names the drain;
  /// any other error is unchanged.
  func namingDeadline(_ error: PluginCallError, _ call: ModuleCalls.Admitted) -> PluginCallError {
    switch error.status {
    case .deadlineExceeded:
      metrics?.record(.deadline)
      return PluginCallError(status: .deadlineExceeded, message: "\(error.message) (deadline: \(call.deadlineSource))", field: nil)
    case .cancelled where drain.hasRunOut:
      // Not the caller: the host stopped.
      return PluginCallError(
        status: .cancelled,
        message: "\(call.method.path): the host is stopping and the call outlasted its drain ([limits] drain_timeout_ms = "
          + "\(drain.timeoutMilliseconds)): retry on another instance",
        field: nil)
    default:
      return error
    }
  }

  /// A request of `bytes` above the module's limit.
  static func requestTooLarge(_ bytes: Int, _ call: ModuleCalls.Admitted) -> PluginCallError {
    PluginCallError(
      status: .resourceExhausted,
      message: requestTooLargeMessage(path: call.method.path, bytes: bytes, limit: call.maxMessageBytes, module: call.module.name),
      field: nil)
  }

  /// What a caller reads when its request of `bytes` is above `module`'s limit, wherever it is
  /// found (here, or by `OversizedRequestGuard` from the message's prefix).
  static func requestTooLargeMessage(path: String, bytes: Int, limit: Int, module: String) -> String {
    "\(path): the request is \(bytes) bytes, above the limit of \(limit) bytes (max_message_bytes of module "
      + "'\(module)'): send it in smaller pieces or through the method's streaming twin"
  }

  /// Runs `body` until it ends or `deadline` passes, whichever is first; then
  /// DEADLINE_EXCEEDED, `body` cancelled (a write waiting for a client that does not read
  /// included).
  static func within(
    _ deadline: ContinuousClock.Instant?, path: String, _ body: @escaping @Sendable () async throws -> Void
  ) async throws {
    guard let deadline else { return try await body() }
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { try await body() }
      group.addTask {
        try await Task.sleep(until: deadline, clock: .continuous)
        throw PluginCallError.deadlineExceeded(path)
      }
      defer { group.cancelAll() }
      try await group.next()
    }
  }

  static func mebibytes(_ bytes: Int) -> String {
    let value = Double(bytes) / 1_048_576
    return value >= 10 ? "\(Int(value.rounded())) MiB" : "\((value * 10).rounded() / 10) MiB"
  }
}

/// A streaming call's concurrency slot, given back once both the plugin has finished and the
/// relay to the client has ended: a client that stops reading keeps its slot (and counts in
/// `calls_in_flight`) until its call is over.
final class SlotRelease: Sendable {
  private let gate: CallGate
  private let parties = Atomic<Int>(2)

  init(_ gate: CallGate) { self.gate = gate }

  /// One side is done (each side calls it once).
  @Sendable func arrive() {
    if parties.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 { gate.leave() }
  }

  /// The call never started its plugin: give the slot back now.
  func abandon() {
    if parties.exchange(0, ordering: .acquiringAndReleasing) > 0 { gate.leave() }
  }
}
