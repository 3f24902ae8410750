import CarbonPluginKit
import Dispatch
import Foundation

/// Runs async work (postgres-nio) from the module's synchronous methods.
///
/// A plugin method blocks its calling thread until the work is done. The work runs as a task
/// that prefers `DatabaseExecutor` (SE-0417 task executors): its code and every resumption of
/// postgres-nio's continuations run on the module's own thread, never on Swift's cooperative
/// pool. So the caller may be any thread — a host plugin thread, a test's async function, or
/// one of the pool's threads with every other one blocked the same way — and the work still
/// runs (`AsyncBridgeTests`).
enum AsyncBridge {
  /// Longest a call waits for the database before giving up with UNAVAILABLE.
  static let timeout: DispatchTimeInterval = .seconds(60)

  /// Runs `operation` on the database executor and waits for its result.
  static func run<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) throws -> T {
    let box = ResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    let task = Task(executorPreference: DatabaseExecutor.shared) {
      do { box.set(.success(try await operation())) } catch { box.set(.failure(error)) }
      done.signal()
    }
    guard done.wait(timeout: .now() + timeout) == .success else {
      task.cancel()
      throw ModuleError(.unavailable, "the PostgreSQL register did not answer within 60 s")
    }
    guard let result = box.get() else { throw ModuleError.internal("async bridge finished without a result") }
    return try result.get()
  }
}

/// The module's thread for its database tasks, started on first use. One thread is enough: the
/// tasks only wait for postgres-nio's event loops and hand results over; the queries run in the
/// database.
enum DatabaseExecutor {
  /// The module's one executor.
  static let shared = ThreadsExecutor(threads: 1, name: "cop-vivier-database")
}

/// A result handed from the task to the waiting thread.
private final class ResultBox<T: Sendable>: @unchecked Sendable {
  private let lock = NSLock()
  private var result: Result<T, any Error>?
  func set(_ value: Result<T, any Error>) { lock.withLock { result = value } }
  func get() -> Result<T, any Error>? { lock.withLock { result } }
}
