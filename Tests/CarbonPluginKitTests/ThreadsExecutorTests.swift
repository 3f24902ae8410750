import CarbonPluginKit
import CarbonTestSupport
import Foundation
import Synchronization
import Testing

/// What happened, in order, across threads.
private final class Events: Sendable {
  private let list = Mutex<[String]>([])
  func add(_ event: String) { list.withLock { $0.append(event) } }
  var all: [String] { list.withLock { $0 } }
}

@Suite("ThreadsExecutor: tasks that prefer it run on its threads, off the cooperative pool")
struct ThreadsExecutorTests {
  static let one = ThreadsExecutor(threads: 1, name: "threads-executor-test-one")
  static let two = ThreadsExecutor(threads: 2, name: "threads-executor-test-two")

  /// With the executor's only thread held, a task that prefers it waits: it runs nowhere else.
  @Test(.timeLimit(.minutes(1))) func aTaskWaitsForTheExecutorsThread() async throws {
    let events = Events()
    let release = DispatchSemaphore(value: 0)
    let holder = Task(executorPreference: Self.one) {
      release.wait()
      events.add("released")
    }
    let waiting = Task(executorPreference: Self.one) { events.add("ran") }
    try await Task.sleep(for: .milliseconds(200))
    #expect(events.all.isEmpty, "ran while the executor's only thread was held: \(events.all)")
    release.signal()
    await holder.value
    await waiting.value
    #expect(events.all == ["released", "ran"])
  }

  /// After a suspension, and in its child tasks, the task comes back to the executor: queued
  /// behind a job that holds the only thread for 200 ms, it resumes after it (on any other
  /// thread, its 20 ms sleep would end first).
  @Test(.timeLimit(.minutes(1))) func aTaskResumesAndItsChildrenRunOnTheExecutor() async {
    let events = Events()
    let hold = await Task(executorPreference: Self.one) { () async -> Task<Void, Never> in
      events.add("started")
      let hold = Task(executorPreference: Self.one) {
        usleep(200_000)
        events.add("held")
      }
      async let child: Void = events.add("child")
      try? await Task.sleep(for: .milliseconds(20))
      events.add("resumed")
      await child
      return hold
    }.value
    await hold.value
    #expect(events.all == ["started", "held", "child", "resumed"])
  }

  /// Two jobs that each wait for the other can only finish on two threads at once: the second
  /// thread is real, not a queue drained by one.
  @Test(.timeLimit(.minutes(1))) func twoThreadsRunTwoBlockingJobsAtOnce() async throws {
    let first = DispatchSemaphore(value: 0)
    let second = DispatchSemaphore(value: 0)
    let met = await withTaskGroup(of: Bool.self) { group in
      group.addTask(executorPreference: Self.two) {
        first.signal()
        return second.wait(timeout: .now() + 20) == .success
      }
      group.addTask(executorPreference: Self.two) {
        second.signal()
        return first.wait(timeout: .now() + 20) == .success
      }
      return await group.reduce(true) { $0 && $1 }
    }
    #expect(met)
  }

  /// More jobs queued at once than the queue keeps before compacting (1 024): none is lost or
  /// run twice.
  @Test func thousandsOfQueuedJobsAllRunOnce() async {
    let order = await Task(executorPreference: Self.one) { () async -> [Int] in
      await withTaskGroup(of: Int.self) { group in
        for index in 0..<3000 { group.addTask { index } }
        return await group.reduce(into: []) { $0.append($1) }
      }
    }.value
    #expect(order.sorted() == Array(0..<3000))
  }

  /// The trait the repository's CPU-bound suites carry runs a test with the test threads as
  /// its task executor preference (which the tests above show is where it then runs).
  @Test(.cpuBound) func aCPUBoundTestPrefersTheTestThreads() {
    let preferred = withUnsafeCurrentTask { $0?.unownedTaskExecutor }
    #expect(preferred == CPUBoundTrait.threads.asUnownedTaskExecutor())
  }

  @Test func withoutTheTraitATestHasNoPreference() {
    #expect(withUnsafeCurrentTask { $0?.unownedTaskExecutor } == nil)
  }
}
