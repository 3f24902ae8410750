import CarbonHost
import CarbonPluginLoader
import ESCAModule
import Foundation
import GRPCCore
import SOBACModule
import SwiftProtobuf

// MARK: - Streaming batches: ESCA ComputeBatch and SOBAC EvaluateCollectiveBatch
//
// Each (module, size, path) runs in its own child process (`batch-child`), so that the peak
// RSS it reports (VmHWM) belongs to that size alone. A batch is ONE request message holding
// every farm: the request bytes, their copy into the plugin and the decoded request grow with
// the batch whatever the streaming does; the responses are streamed (the host keeps at most
// 64 ahead of the client). The table gives both the growth and the request size.

/// Command-line value of `--name`, if given.
func stringOption(_ name: String) -> String? {
  guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
  return arguments[index + 1]
}

/// The repository checkout holding Plugins/*/examples: `--repo DIR`, else the current directory.
let repositoryRoot = stringOption("--repo") ?? FileManager.default.currentDirectoryPath

/// One streaming batch to measure.
struct BatchCase {
  /// "esca" or "sobac".
  let module: String
  let library: String
  let method: String
  let sizes: [Int]

  static let all = [
    BatchCase(module: "esca", library: "libESCA.so", method: "/carbon.esca.v1.Esca/ComputeBatch", sizes: [1_000, 10_000, 100_000]),
    BatchCase(module: "sobac", library: "libSOBAC.so", method: "/carbon.sobac.v1.Sobac/EvaluateCollectiveBatch", sizes: [100, 1_000, 10_000]),
  ]

  /// The sample request of the examples folder, its farms repeated (with distinct ids) to
  /// `farms` farms, as protobuf bytes.
  func request(farms: Int) throws -> [UInt8] {
    switch module {
    case "esca":
      let sample = try Carbon_Esca_V1_BatchRequest(jsonUTF8Data: try sampleData("Plugins/ESCA/examples/ComputeBatch.json"))
      var request = sample
      request.farms = (0..<farms).map { index in
        var farm = sample.farms[index % sample.farms.count]
        farm.farmID += "-\(index)"
        return farm
      }
      return try request.serializedBytes()
    default:
      let sample = try Carbon_Sobac_V1_CollectiveProjectRequest(
        jsonUTF8Data: try sampleData("Plugins/SOBAC/examples/EvaluateCollectiveBatch.json"))
      var request = sample
      request.farms = (0..<farms).map { index in
        var farm = sample.farms[index % sample.farms.count]
        farm.farmID += "-\(index)"
        return farm
      }
      return try request.serializedBytes()
    }
  }

  private func sampleData(_ relative: String) throws -> Data {
    let path = repositoryRoot + "/" + relative
    guard let data = FileManager.default.contents(atPath: path) else {
      throw BenchError("\(path) not found: run the benchmark from the repository root or give --repo DIR")
    }
    return data
  }
}

struct BenchError: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}

/// Parent side: one child per case and size, then the table and the JSON.
func benchBatch() throws {
  let paths = (stringOption("--paths") ?? "abi,grpc").split(separator: ",").map(String.init)
  report("## Streaming batches (one child process per row; peak RSS = VmHWM of that child)")
  report("| module | farms | path | request | records/s | RSS before call | peak RSS | growth | growth − request | growth per farm |")
  report("|---|---|---|---|---|---|---|---|---|---|")
  var rows: [[String: Any]] = []
  for batch in BatchCase.all {
    for size in batch.sizes {
      for path in paths {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binDirectory + "/carbonhub-bench")
        process.arguments = ["batch-child", batch.module, String(size), path, "--repo", repositoryRoot]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
          let row = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        else {
          report("| \(batch.module) | \(size) | \(path) | child failed (status \(process.terminationStatus)) |")
          continue
        }
        rows.append(row)
        func mib(_ key: String) -> String { String(format: "%.1f MiB", (row[key] as? Double ?? 0) / 1024) }
        let request = (row["request_bytes"] as? Double ?? 0) / 1024
        let growth = row["growth_kib"] as? Double ?? 0
        report(
          "| \(batch.module) | \(size) | \(path) | \(String(format: "%.1f MiB", request / 1024)) | "
            + String(format: "%.0f", row["records_per_second"] as? Double ?? 0)
            + " | \(mib("rss_before_kib")) | \(mib("peak_kib")) | \(mib("growth_kib")) | "
            + String(format: "%.1f MiB", (growth - request) / 1024) + " | "
            + String(format: "%.0f B", growth * 1024 / Double(size)) + " |")
      }
    }
  }
  report("json " + String(decoding: try JSONSerialization.data(withJSONObject: ["batch": rows], options: [.sortedKeys]), as: UTF8.self))
}

/// Child side: one batch of one size through one path; prints one JSON object.
func batchChild() async throws {
  let rest = arguments.drop { $0 != "batch-child" }.dropFirst()
  guard rest.count >= 3, let batch = BatchCase.all.first(where: { $0.module == rest[rest.startIndex] }),
    let farms = Int(rest[rest.startIndex + 1])
  else { throw BenchError("usage: carbonhub-bench batch-child esca|sobac FARMS abi|grpc") }
  let path = rest[rest.startIndex + 2]
  let request = try batch.request(farms: farms)
  let warmUp = try batch.request(farms: 3)

  let messages: Int
  let before: ProcessMemory
  let seconds: Double
  if path == "abi" {
    let library = try PluginLibrary(path: binDirectory + "/" + batch.library)
    let instance = try library.makeInstance(configJSON: "{}", dataDirectory: NSTemporaryDirectory())
    try instance.callStreaming(batch.method, request: warmUp) { _ in true }
    ProcessMemory.resetPeak()
    before = ProcessMemory.read()!
    var count = 0
    let started = ContinuousClock.now
    try instance.callStreaming(batch.method, request: request) { _ in
      count += 1
      return true
    }
    seconds = (ContinuousClock.now - started).benchSeconds
    messages = count
  } else {
    (messages, before, seconds) = try await batchOverGRPC(batch, request: request, warmUp: warmUp)
  }
  let after = ProcessMemory.read()!
  let row: [String: Any] = [
    "module": batch.module, "method": batch.method, "farms": farms, "path": path == "abi" ? "abi" : "grpc-tls",
    "request_bytes": Double(request.count), "messages": messages, "seconds": seconds,
    "records_per_second": Double(farms) / seconds, "rss_before_kib": Double(before.residentKiB),
    "peak_kib": Double(after.peakResidentKiB), "growth_kib": Double(after.peakResidentKiB - before.residentKiB),
  ]
  FileHandle.standardOutput.write(try JSONSerialization.data(withJSONObject: row, options: [.sortedKeys]))
}

/// The batch over TLS gRPC through a host in this process (client and server share the
/// process, so the peak counts the client's request copy too).
func batchOverGRPC(_ batch: BatchCase, request: [UInt8], warmUp: [UInt8]) async throws -> (Int, ProcessMemory, Double) {
  let state = NSTemporaryDirectory() + "carbonhub-bench-batch-\(getpid())"
  var config = DeploymentConfig(pluginDirectory: binDirectory, stateDirectory: state)
  config.listen = "127.0.0.1:0"
  config.modules = [.init(name: batch.module, path: batch.library)]
  let host = try HostServer(config: config, logger: logger)
  let parts = batch.method.split(separator: "/")
  let descriptor = MethodDescriptor(fullyQualifiedService: String(parts[0]), method: String(parts[1]))
  return try await withThrowingTaskGroup(of: Void.self) { group in
    let (addresses, continuation) = AsyncStream<String>.makeStream()
    group.addTask { try await host.run(handleSignals: false) { continuation.yield($0) } }
    var iterator = addresses.makeAsyncIterator()
    guard let address = await iterator.next() else { throw BenchError("the host did not start") }
    let transport = try ClientTransportFactory.make(server: address, caFile: state + "/tls/ca.pem")
    let result = try await withGRPCClient(transport: transport) { client in
      func stream(_ bytes: [UInt8]) async throws -> Int {
        try await client.serverStreaming(
          request: ClientRequest(message: bytes), descriptor: descriptor, serializer: RawBytesCoder(),
          deserializer: RawBytesCoder(), options: .defaults
        ) { response in
          var count = 0
          for try await _ in response.messages { count += 1 }
          return count
        }
      }
      _ = try await stream(warmUp)
      ProcessMemory.resetPeak()
      let before = ProcessMemory.read()!
      let started = ContinuousClock.now
      let count = try await stream(request)
      return (count, before, (ContinuousClock.now - started).benchSeconds)
    }
    host.shutdown()
    try await group.waitForAll()
    return result
  }
}

extension Duration {
  /// Seconds as a Double.
  var benchSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
