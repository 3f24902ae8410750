import CarbonPluginKit
import Foundation
import Testing

/// Runs a suite's tests on threads of their own (`ThreadsExecutor`) instead of Swift's
/// cooperative pool.
///
/// The suite runs in parallel, and a 2-core machine's pool has two threads. A synchronous test
/// holds its thread until it returns: a few that compute for seconds (a territory's flux in a
/// debug build, every example of a module) held both threads for up to 7 s, and the hosts other
/// tests start in process — whose tasks need the pool to resume — missed their deadlines and
/// restart delays. On these threads such a test is scheduled by the operating system beside the
/// pool, which keeps answering.
///
/// Give it to every suite whose tests compute without suspending: `@Suite(.cpuBound)`.
/// Tests that mean to block the pool (the COP bridge's test) must not have it.
public struct CPUBoundTrait: SuiteTrait, TestTrait, TestScoping {
  /// Applies to every test of the suite, nested suites included.
  public var isRecursive: Bool { true }

  /// The executor the suites' tests run on: as many threads as cores (at least two), since
  /// these tests compute and more threads would only share the same cores.
  public static let threads = ThreadsExecutor(threads: max(ProcessInfo.processInfo.activeProcessorCount, 2), name: "cpu-bound-tests")

  /// Runs the test with `threads` as its task executor preference: its code, and the child
  /// tasks it makes, run there.
  public func provideScope(
    for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
  ) async throws {
    try await withTaskExecutorPreference(Self.threads) { try await function() }
  }
}

extension Trait where Self == CPUBoundTrait {
  /// The suite's tests compute for long stretches: they run on threads of their own, off Swift's
  /// cooperative pool (`CPUBoundTrait`).
  public static var cpuBound: Self { CPUBoundTrait() }
}

/// Runs `body`, synchronous work that takes a while (opening every plugin, say), on the
/// CPU-bound tests' threads, so that an `async` test does not hold a thread of the cooperative
/// pool meanwhile (`CPUBoundTrait`).
public func onTestThreads<T: Sendable>(_ body: @Sendable () throws -> T) async throws -> T {
  try await withTaskExecutorPreference(CPUBoundTrait.threads) { try body() }
}
