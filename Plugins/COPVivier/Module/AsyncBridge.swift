import CarbonPluginKit
import Dispatch
import Foundation

/// Runs async work (postgres-nio) from the module's synchronous methods.
///
/// The host calls plugin methods on Dispatch threads, never on Swift's cooperative pool, so
/// blocking the calling thread on a semaphore while a detached task does the work is safe
/// there. Never call it from a cooperative-pool thread (an `async` context): with every pool
/// thread blocked the task could not run. Tests hop to a Dispatch queue for that reason.
enum AsyncBridge {
  /// Longest a call waits for the database before giving up with UNAVAILABLE.
  static let timeout: DispatchTimeInterval = .seconds(60)

  /// Runs `operation` and waits for its result.
  static func run<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) throws -> T {
    let box = ResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    let task = Task.detached {
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

/// A result handed from the task to the waiting thread.
private final class ResultBox<T: Sendable>: @unchecked Sendable {
  private let lock = NSLock()
  private var result: Result<T, any Error>?
  func set(_ value: Result<T, any Error>) { lock.withLock { result = value } }
  func get() -> Result<T, any Error>? { lock.withLock { result } }
}
