import CarbonDomain
import CarbonPluginLoader
import Foundation
import Synchronization
import Testing

@testable import CarbonHost

/// carbon_plugin.h, call_cancellable(): "a long calculation whose caller left, or whose deadline
/// passed, can stop early and free its thread". The `patient` fixture works 1 ms at a time and
/// asks between steps; SOBAC's collective project asks between farms (the kit's `ModuleCall`).
@Suite("Unary calls that ask whether they were cancelled", .serialized)
struct CancellableCallTests {
  static let work = "/carbon.test.v1.Patient/Work"

  private func patient() throws -> PluginInstance {
    try PluginLibrary(path: try TestEnvironment.plugin("libpatient.so", in: TestEnvironment.fixtureDirectory))
      .makeInstance(configJSON: "{}", dataDirectory: NSTemporaryDirectory())
  }

  @Test func aCancelledCallStopsAndOneNeverCancelledRunsToTheEnd() throws {
    let instance = try patient()
    let cancelled = CancellationFlag()
    cancelled.cancel()
    #expect(throws: PluginCallError(status: .cancelled, message: "stopped after 0 ms of 10000: cancelled", field: nil)) {
      try instance.call(Self.work, request: Array("10000".utf8), cancellation: cancelled)
    }
    #expect(try instance.call(Self.work, request: Array("5".utf8), cancellation: CancellationFlag()) == Array("done".utf8))
    // Without a flag the host uses call(): the module cannot be asked and works to the end.
    #expect(try instance.call(Self.work, request: Array("5".utf8)) == Array("done".utf8))
  }

  /// In process: the caller gets DEADLINE_EXCEEDED at the deadline (as before), and now the
  /// plugin's thread is free soon after, not 10 s later.
  @Test func pastTheDeadlineThePluginThreadIsFreedAtOnce() async throws {
    let instance = try patient()
    let threads = PluginThreads(count: 2, inlineFastCalls: false)
    let started = ContinuousClock.now
    let finished = Mutex<Duration?>(nil)
    let outcome = await PluginDispatch.unary(
      instance, Self.work, Array("10000".utf8), .protobuf, deadline: .now + .milliseconds(200), threads: threads,
      onFinish: { finished.withLock { $0 = ContinuousClock.now - started } })
    #expect(outcome.status == .deadlineExceeded)
    let deadline = ContinuousClock.now + .seconds(5)
    while finished.withLock({ $0 }) == nil && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
    let freed = try #require(finished.withLock { $0 }, "the plugin's thread was still busy 5 s after the deadline")
    #expect(freed < .seconds(2), "freed after \(freed)")
    await threads.shutdown()
  }

  /// Isolated: the worker stops the call when the host cancels it at the deadline, so it is not
  /// killed as hung (the crashy fixture's Spin, which cannot be asked, is: see
  /// IsolatedModuleTests), and answers the next call at once.
  @Test func anIsolatedCallThatAsksKeepsItsWorkerAlive() async throws {
    let module = try IsolatedHarness(
      name: "patient", library: try TestEnvironment.plugin("libpatient.so", in: TestEnvironment.fixtureDirectory))
    try await module.start()
    let outcome = await module.isolated.unary(Self.work, Array("10000".utf8), encoding: .protobuf, deadline: .now + .milliseconds(200))
    #expect(outcome.status == .deadlineExceeded)
    // Past the harness's 500 ms cancellation grace, the worker would have been killed.
    try await Task.sleep(for: .seconds(1))
    #expect(module.isolated.restartCount == 0, "\(module.states)")
    #expect(try await module.isolated.unary(Self.work, Array("1".utf8), encoding: .protobuf, deadline: .now + .seconds(5)).get() == Array("done".utf8))
    await module.isolated.stop()
  }

  /// A Swift module through the kit: SOBAC's collective project checks `ModuleCall` between farms.
  @Test func aSwiftModuleSeesTheCancellationThroughTheKit() throws {
    let sobac = try PluginLibrary(path: try TestEnvironment.plugin("libSOBAC.so"))
      .makeInstance(configJSON: "{}", dataDirectory: try TestEnvironment.temporaryDirectory("sobac-cancel"))
    let request = try Data(
      contentsOf: URL(fileURLWithPath: TestEnvironment.repositoryRoot + "/Plugins/SOBAC/examples/EvaluateCollectiveProject.json"))
    let path = "/carbon.sobac.v1.Sobac/EvaluateCollectiveProject"
    _ = try sobac.call(path, request: Array(request), encoding: .json, cancellation: CancellationFlag())
    let cancelled = CancellationFlag()
    cancelled.cancel()
    #expect(throws: PluginCallError(status: .cancelled, message: "cancelled by the host at farms[0]", field: nil)) {
      try sobac.call(path, request: Array(request), encoding: .json, cancellation: cancelled)
    }
  }
}
