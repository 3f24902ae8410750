import Foundation
import Synchronization
import Testing

@testable import CarbonHost

/// `CallThreads`, the pool of plugin work that holds a thread for as long as it runs (in-process
/// streams, isolated bidi feeders, a worker's calls): work never waits behind other work, and
/// an idle thread is reused rather than a new one started.
@Suite("Call threads: never queued behind a busy thread, idle threads reused")
struct CallThreadsTests {
  /// Runs `work` on `threads` and waits for it without holding a cooperative thread.
  private func run<T: Sendable>(_ threads: CallThreads, _ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in threads.run { continuation.resume(returning: work()) } }
  }

  @Test func workThatBlocksDoesNotHoldBackTheNext() async throws {
    let threads = CallThreads(idleLifetime: 120)
    let release = DispatchSemaphore(value: 0)
    let blocked = Task { await run(threads) { release.wait() } }
    // While the first thread is blocked (as a stream's `emit` blocks for a slow client), the
    // next work still runs: on a new thread.
    let answered = await run(threads) { 42 }
    #expect(answered == 42)
    release.signal()
    await blocked.value
  }

  /// (Idle threads last 120 s here: a parallel run can starve this test's polling for seconds.)
  @Test func anIdleThreadIsReused() async throws {
    let threads = CallThreads(idleLifetime: 120)
    let first = await run(threads) { pthread_self() }
    // The first thread goes idle once its work has returned.
    try await waitUntil("the first thread is idle") { threads.idleThreads == 1 }
    let second = await run(threads) { pthread_self() }
    #expect(pthread_equal(first, second) != 0, "a second thread was started while one was idle")
  }
}
