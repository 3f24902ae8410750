import Foundation

/// The threads of plugin work that holds a thread for as long as it runs: in the host, an
/// in-process streaming call (its plugin code, blocked in `emit` while the client reads) and the
/// feeder of an isolated bidirectional call; in a worker, every plugin call. Such work never
/// waits behind another: it takes an idle thread, or starts a new one. (In-process unary calls
/// run on `PluginThreads` instead, a fixed pool where calls wait their turn.)
///
/// Threads, not a dispatch queue: libdispatch caps its pool near the core count, so one call
/// spinning in plugin code would hold back every later call (seen on 2 cores). Not a fixed
/// `NIOThreadPool` either: it starts all its threads at once, which a worker's
/// `memory_limit_mb` address-space limit can refuse. Idle threads are kept for reuse (starting
/// one costs tens of microseconds, the better part of a small call) and exit after
/// `idleLifetime`.
final class CallThreads: @unchecked Sendable {
  /// The process's pool: the host's streams and feeders, or a worker's calls.
  static let shared = CallThreads()

  private let condition = NSCondition()
  // Guarded by `condition`.
  private var queue: [@Sendable () -> Void] = []
  private var idle = 0
  private let idleLifetime: TimeInterval

  init(idleLifetime: TimeInterval = 30) { self.idleLifetime = idleLifetime }

  /// Threads waiting for work now.
  var idleThreads: Int {
    condition.lock()
    defer { condition.unlock() }
    return idle
  }

  /// Runs `work` on an idle thread, or on a new one when every thread is busy.
  func run(_ work: @escaping @Sendable () -> Void) {
    condition.lock()
    // Idle threads not yet claimed by queued work.
    if idle > queue.count {
      queue.append(work)
      condition.signal()
      condition.unlock()
      return
    }
    condition.unlock()
    let thread = Thread { [self] in
      work()
      serve()
    }
    thread.name = "carbonhub-call"
    thread.start()
  }

  /// Waits for work until `idleLifetime` passes without any.
  private func serve() {
    condition.lock()
    while true {
      idle += 1
      let deadline = Date(timeIntervalSinceNow: idleLifetime)
      while queue.isEmpty {
        if !condition.wait(until: deadline) && queue.isEmpty {
          idle -= 1
          condition.unlock()
          return
        }
      }
      idle -= 1
      let work = queue.removeFirst()
      condition.unlock()
      work()
      condition.lock()
    }
  }
}
