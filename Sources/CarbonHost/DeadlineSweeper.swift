import NIOCore
import NIOPosix
import Synchronization

/// Deadlines of plugin calls, checked every `resolution` by one repeating task on an event
/// loop instead of one timer per call. Almost every call finishes long before its deadline
/// (30 s by default), and arming and cancelling a timer of an event loop from another thread
/// wakes that loop twice per call: at 64 calls in flight that cost the host a fifth of its
/// throughput against the bare grpc-swift echo (`bench grpc`). Registering here takes a lock
/// and an insert; the deadline fires at most `resolution` late.
final class DeadlineSweeper: Sendable {
  /// The process's sweeper, started on first use.
  static let shared = DeadlineSweeper(resolution: .milliseconds(20))

  /// A registered deadline; `cancel()` it when the call ends first.
  struct Registration: Sendable {
    fileprivate let id: UInt64
    fileprivate let sweeper: DeadlineSweeper

    func cancel() { sweeper.remove(id) }
  }

  private struct Entry {
    var deadline: NIODeadline
    var action: @Sendable () -> Void
  }

  private let entries = Mutex<(next: UInt64, pending: [UInt64: Entry])>((0, [:]))

  private init(resolution: TimeAmount) {
    let loop = MultiThreadedEventLoopGroup.singleton.next()
    loop.scheduleRepeatedTask(initialDelay: resolution, delay: resolution) { [self] _ in sweep() }
  }

  /// Runs `action` once `deadline` has passed, unless the registration is cancelled first.
  func register(_ deadline: ContinuousClock.Instant, _ action: @escaping @Sendable () -> Void) -> Registration {
    let delay = ContinuousClock.now.duration(to: deadline)
    let nanoseconds = Int64(min(max(0, delay.timeInterval), 1e9) * 1e9)
    let entry = Entry(deadline: .now() + .nanoseconds(nanoseconds), action: action)
    let id = entries.withLock { entries in
      entries.next += 1
      entries.pending[entries.next] = entry
      return entries.next
    }
    return Registration(id: id, sweeper: self)
  }

  private func remove(_ id: UInt64) {
    _ = entries.withLock { $0.pending.removeValue(forKey: id) }
  }

  private func sweep() {
    let now = NIODeadline.now()
    let due = entries.withLock { entries -> [@Sendable () -> Void] in
      guard !entries.pending.isEmpty else { return [] }
      var due: [@Sendable () -> Void] = []
      for (id, entry) in entries.pending where entry.deadline <= now {
        due.append(entry.action)
        entries.pending[id] = nil
      }
      return due
    }
    due.forEach { $0() }
  }
}
