import Synchronization

/// Per-method call counters kept by the host (count, errors by status, total latency).
/// Exposed to logs and, later, to a Prometheus endpoint.
public final class CallMetrics: Sendable {
  /// Counters of one method.
  public struct Counters: Sendable, Equatable {
    public var calls = 0
    public var errorsByStatus: [UInt32: Int] = [:]
    public var totalNanoseconds: Int64 = 0
  }

  private let counters = Mutex<[String: Counters]>([:])

  public init() {}

  func record(_ path: String, status: UInt32, since start: ContinuousClock.Instant) {
    let elapsed = ContinuousClock.now - start
    let nanoseconds = elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
    counters.withLock { all in
      var entry = all[path] ?? Counters()
      entry.calls += 1
      if status != 0 { entry.errorsByStatus[status, default: 0] += 1 }
      entry.totalNanoseconds += nanoseconds
      all[path] = entry
    }
  }

  /// A copy of every method's counters.
  public var snapshot: [String: Counters] { counters.withLock { $0 } }
}
