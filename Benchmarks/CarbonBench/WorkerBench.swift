import CarbonDomain
import CarbonHost
import CarbonPluginLoader
import ExampleUnitsModule
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
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

// MARK: - 1c. The floor of a gRPC worker: a bare grpc-swift echo on a Unix socket, same run

/// Issue 21 asked whether the worker could be spoken to over gRPC on a Unix domain socket. A
/// gRPC worker's round trip cannot be shorter than grpc-swift's own on the same socket kind with
/// a handler that does nothing: this measures that floor (plaintext HTTP/2 over a Unix socket, one
/// client connection, the same 1-caller and 16-caller shapes as `benchWorker`).
func benchWorkerGRPCFloor(calls: Int) async throws {
  report("## The floor of a gRPC worker: bare grpc-swift echo over a Unix socket (plaintext HTTP/2)")
  let socketPath = NSTemporaryDirectory() + "carbonhub-bench-echo-\(getpid()).sock"
  unlink(socketPath)
  defer { unlink(socketPath) }
  let serverTransport = HTTP2ServerTransport.Posix(address: .unixDomainSocket(path: socketPath), transportSecurity: .plaintext)
  let server = GRPCServer(transport: serverTransport, services: [EchoService()])
  var request = Carbon_Examples_V1_ConvertRequest()
  request.quantity = Quantity(2, .t)
  request.targetUnit = .kg
  let bytes: [UInt8] = try request.serializedBytes()

  try await withThrowingTaskGroup(of: Void.self) { group in
    group.addTask { try await server.serve() }
    _ = try await serverTransport.listeningAddress
    let clientTransport = try HTTP2ClientTransport.Posix(target: .unixDomainSocket(path: socketPath), transportSecurity: .plaintext)
    try await withGRPCClient(transport: clientTransport) { client in
      @Sendable func call() async throws {
        _ = try await client.unary(
          request: ClientRequest(message: bytes), descriptor: EchoService.method, serializer: RawBytesCoder(), deserializer: RawBytesCoder(),
          options: .defaults
        ) { try $0.message }
      }
      for _ in 0..<1000 { try await call() }
      var latencies: [Double] = []
      latencies.reserveCapacity(calls)
      for _ in 0..<calls {
        let start = DispatchTime.now().uptimeNanoseconds
        try await call()
        latencies.append(Double(DispatchTime.now().uptimeNanoseconds - start))
      }
      latencies.sort()
      let concurrency = 16
      let started = DispatchTime.now().uptimeNanoseconds
      try await withThrowingTaskGroup(of: Void.self) { callers in
        for _ in 0..<concurrency {
          callers.addTask { for _ in 0..<(calls / concurrency) { try await call() } }
        }
        try await callers.waitForAll()
      }
      let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
      report("| measure | median | p99 (per call) | |")
      report("|---|---|---|---|")
      report("| gRPC echo round trip over a Unix socket, 1 caller (\(calls) calls) | \(format(latencies[latencies.count / 2])) | \(format(latencies[latencies.count * 99 / 100])) | |")
      report(String(format: "| gRPC echo over a Unix socket, %d concurrent callers | %.0f calls/s | | |", concurrency, Double(calls / concurrency * concurrency) / seconds))
    }
    server.beginGracefulShutdown()
    try await group.waitForAll()
  }
}
