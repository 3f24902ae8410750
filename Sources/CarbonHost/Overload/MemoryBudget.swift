import Synchronization

/// Request and response bytes held for calls in flight, across every call of the host, against
/// the deployment's `memory_budget_mb`. A new call is admitted only while the budget has room
/// for its request; bytes a call produces (its responses) are always counted, so that the
/// budget shows what is really held, and refuse the next calls until they are released.
public final class MemoryBudget: Sendable {
  /// The budget, bytes.
  public let limit: Int
  private let held = Atomic<Int>(0)
  private let peakHeld = Atomic<Int>(0)

  public init(limit: Int) {
    self.limit = limit
  }

  /// Takes `bytes` for a new call's request; false (nothing taken) when that would exceed the
  /// budget.
  func admit(_ bytes: Int) -> Bool {
    let now = held.add(bytes, ordering: .relaxed).newValue
    if now > limit {
      held.subtract(bytes, ordering: .relaxed)
      return false
    }
    notePeak(now)
    return true
  }

  /// Counts `bytes` a call holds whatever the budget (a response already produced).
  func charge(_ bytes: Int) {
    notePeak(held.add(bytes, ordering: .relaxed).newValue)
  }

  /// Gives back bytes taken by `admit` or `charge`.
  func release(_ bytes: Int) {
    held.subtract(bytes, ordering: .relaxed)
  }

  /// Bytes held now.
  public var current: Int { held.load(ordering: .relaxed) }
  /// The most bytes held at once since the host started.
  public var peak: Int { peakHeld.load(ordering: .relaxed) }

  private func notePeak(_ value: Int) {
    var seen = peakHeld.load(ordering: .relaxed)
    while value > seen {
      let (exchanged, original) = peakHeld.compareExchange(expected: seen, desired: value, ordering: .relaxed)
      if exchanged { return }
      seen = original
    }
  }
}
