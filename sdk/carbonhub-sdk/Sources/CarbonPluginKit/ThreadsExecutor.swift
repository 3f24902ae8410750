import Foundation

/// A task executor (SE-0417) that runs its jobs on threads of its own, never on Swift's
/// cooperative pool.
///
/// The cooperative pool has one thread per core. Code that blocks a thread (a synchronous plugin
/// method waiting for async work) or computes for seconds without suspending holds one of them,
/// and every task of the process that needs the pool waits. A task that prefers this executor —
/// `Task(executorPreference:)`, `withTaskExecutorPreference(_:operation:)`, and the child tasks
/// they create — runs here instead, beside the pool, scheduled by the operating system.
///
/// Used by the COP module's PostgreSQL bridge (one thread: its tasks only wait for the
/// database) and by the repository's tests for the suites that compute for long stretches.
/// The threads start with the executor and live as long as the process: make one per use and
/// keep it (a `static let`).
public final class ThreadsExecutor: TaskExecutor, @unchecked Sendable {
  // Guarded by `condition`: the queue is `jobs[next...]`.
  private var jobs: [UnownedJob] = []
  private var next = 0
  private let condition = NSCondition()

  /// An executor of `threads` threads (at least one), named `name` for debuggers and `top`.
  public init(threads: Int, name: String) {
    for index in 0..<max(threads, 1) {
      let threadName = threads > 1 ? "\(name)-\(index)" : name
      let thread = Thread { [unowned self] in
        // Set from the thread itself: on Linux, a name given before `start()` is not the
        // thread's (it keeps the name of the thread that created it).
        Thread.current.name = threadName
        self.runJobs()
      }
      thread.start()
    }
  }

  /// Queues `job`; the first idle thread runs it. Called by the Swift runtime.
  public func enqueue(_ job: consuming ExecutorJob) {
    let job = UnownedJob(job)
    condition.lock()
    jobs.append(job)
    condition.signal()
    condition.unlock()
  }

  private func runJobs() {
    while true {
      condition.lock()
      while next == jobs.count { condition.wait() }
      let job = jobs[next]
      next += 1
      if next == jobs.count {
        jobs.removeAll(keepingCapacity: true)
        next = 0
      } else if next >= 1024 {
        jobs.removeFirst(next)
        next = 0
      }
      condition.unlock()
      job.runSynchronously(on: asUnownedTaskExecutor())
    }
  }
}
