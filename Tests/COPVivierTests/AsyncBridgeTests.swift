import Foundation
import Testing

@testable import COPVivierModule

/// The PostgreSQL register's bridge from synchronous plugin methods to postgres-nio's async
/// API: its work runs on the module's own executor, so a caller on any thread — even every
/// thread of Swift's cooperative pool blocked at once — gets its answer (before, the work ran
/// on that pool, and such callers waited for ever: the reason the suite ran `--no-parallel`).
@Suite("COP: the async bridge runs its work on the module's own thread")
struct AsyncBridgeTests {
  @Test(.timeLimit(.minutes(1)))
  func callersBlockingEveryCooperativeThreadStillGetTheirAnswers() async throws {
    // Twice as many blocking callers as the cooperative pool has threads, all started at once.
    let callers = 2 * max(ProcessInfo.processInfo.activeProcessorCount, 2)
    let answers = try await withThrowingTaskGroup(of: Int.self) { group in
      for index in 0..<callers {
        group.addTask {
          try AsyncBridge.run {
            // Suspends and resumes: the resumption needs an executor that is not blocked.
            try await Task.sleep(for: .milliseconds(20))
            return index * index
          }
        }
      }
      return try await group.reduce(into: []) { $0.append($1) }
    }
    #expect(answers.sorted() == (0..<callers).map { $0 * $0 })
  }

  @Test func anErrorOfTheWorkReachesTheCaller() {
    struct Refused: Error {}
    #expect(throws: Refused.self) { try AsyncBridge.run { () async throws -> Int in throw Refused() } }
  }
}
