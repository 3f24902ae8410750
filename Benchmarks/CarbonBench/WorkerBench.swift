import CarbonDomain
import CarbonHost
import CarbonPluginLoader
import ExampleUnitsModule
import Foundation
import SwiftProtobuf

// MARK: - 1b. Plugin dispatch in isolated mode (host → Unix socket → worker → plugin → back)

/// The same tiny Convert request as the in-process dispatch figure, through an `WorkerSupervisor`
/// whose worker is this build's `carbonhub worker`: the cost of isolation per call.
@MainActor func benchWorker(calls: Int) async throws {
  report("## Plugin dispatch in isolated mode (Unix socket round trip to a `carbonhub worker`)")
  let data = NSTemporaryDirectory() + "carbonhub-bench-worker-\(getpid())"
  let module = WorkerSupervisor(
    name: "units", libraryPath: binDirectory + "/libExampleUnits.so", expectedSHA256: nil, configJSON: "{}",
    dataDirectory: data, workerExecutable: binDirectory + "/carbonhub", memoryLimitMB: nil, logger: logger)
  try await module.start()
  defer { try? FileManager.default.removeItem(atPath: data) }
  var request = Carbon_Examples_V1_ConvertRequest()
  request.quantity = Quantity(2, .t)
  request.targetUnit = .kg
  let bytes: [UInt8] = try request.serializedBytes()
  let path = "/carbon.examples.v1.Units/Convert"

  // Sequential calls: each one's latency, the whole round trip as a caller sees it.
  for _ in 0..<1000 { _ = try await module.unary(path, bytes, encoding: .protobuf, deadline: nil).get() }
  var latencies: [Double] = []
  latencies.reserveCapacity(calls)
  for _ in 0..<calls {
    let start = DispatchTime.now().uptimeNanoseconds
    _ = try await module.unary(path, bytes, encoding: .protobuf, deadline: nil).get()
    latencies.append(Double(DispatchTime.now().uptimeNanoseconds - start))
  }
  latencies.sort()
  let median = latencies[latencies.count / 2], p99 = latencies[latencies.count * 99 / 100]

  // Concurrent callers: throughput of one worker.
  let concurrency = 16
  let started = DispatchTime.now().uptimeNanoseconds
  try await withThrowingTaskGroup(of: Void.self) { group in
    for _ in 0..<concurrency {
      group.addTask {
        for _ in 0..<(calls / concurrency) { _ = try await module.unary(path, bytes, encoding: .protobuf, deadline: nil).get() }
      }
    }
    try await group.waitForAll()
  }
  let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
  let throughput = Double(calls / concurrency * concurrency) / seconds

  report("| measure | median | p99 (per call) | |")
  report("|---|---|---|---|")
  report("| isolated round trip, 1 caller (\(calls) calls: host → socket → worker → plugin → back) | \(format(median)) | \(format(p99)) | |")
  report(String(format: "| isolated, %d concurrent callers | %.0f calls/s | | |", concurrency, throughput))
  await module.stop()
}
