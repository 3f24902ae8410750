import CarbonHost
import CarbonPluginLoader
import ESCAModule
import Foundation
import GRPCCore
import SOBACModule
import SwiftProtobuf
import Synchronization

// MARK: - Streaming batches: ESCA ComputeBatch(Stream) and SOBAC EvaluateCollective(Batch|Stream)
//
// Each (module, size, path, shape) runs in its own child process (`batch-child`), so that the
// peak RSS it reports (VmHWM) belongs to that row alone. Two shapes:
//   - one:    the server-streaming method, the batch as ONE request message holding every
//             farm: the request bytes, their copy into the plugin and the decoded request grow
//             with the batch whatever the response streaming does;
//   - stream: the bidirectional method, the batch sent as requests of `pieceFarms` farms each,
//             built as they are sent: no side ever holds the whole batch, so RSS stays flat.
//   - grouped (ESCA): ComputeBatchStreamGrouped, requests of `groupedPieceFarms` farms and up to
//             as many results per response message, so the transport pays a message per group.
// The ESCA dossier (AssessDossierStream) has the stream shape only.
// Responses are streamed in all (the host keeps at most 64 ahead of the client).

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
  /// The server-streaming method: the whole batch in one request.
  let method: String
  /// The bidirectional method: the batch in pieces.
  let streamMethod: String
  let sizes: [Int]
  /// The bidirectional method answering with groups of results (`grouped` shape), if any.
  var groupedMethod: String? = nil

  /// Farms per request of the `stream` shape.
  static let pieceFarms = 100
  /// Farms per request, and results per response message, of the `grouped` shape.
  static let groupedPieceFarms = 1000

  /// The method of a shape, nil when the case does not have it.
  func methodFor(shape: String) -> String? {
    switch shape {
    case "one": return method.isEmpty ? nil : method
    case "grouped": return groupedMethod
    default: return streamMethod
    }
  }

  static let all = [
    BatchCase(
      module: "esca", library: "libESCA.so", method: "/carbon.esca.v1.Esca/ComputeBatch",
      streamMethod: "/carbon.esca.v1.Esca/ComputeBatchStream", sizes: [1_000, 10_000, 100_000],
      groupedMethod: "/carbon.esca.v1.Esca/ComputeBatchStreamGrouped"),
    BatchCase(
      module: "esca-dossier", library: "libESCA.so", method: "",
      streamMethod: "/carbon.esca.v1.Esca/AssessDossierStream", sizes: [1_000, 10_000, 100_000]),
    BatchCase(
      module: "sobac", library: "libSOBAC.so", method: "/carbon.sobac.v1.Sobac/EvaluateCollectiveBatch",
      streamMethod: "/carbon.sobac.v1.Sobac/EvaluateCollectiveStream", sizes: [100, 1_000, 10_000]),
  ]

  /// The sample request of the examples folder, its farms repeated (with distinct ids) to
  /// `farms` farms, as protobuf bytes.
  func request(farms: Int) throws -> [UInt8] {
    try pieceBuilder(grouped: false)(0, farms)
  }

  /// Builds farms `from..<from+count` of the repeated sample as one request (the sample's
  /// other fields, such as the project name, in the first piece only). The sample is read once.
  func pieceBuilder(grouped: Bool) throws -> (_ from: Int, _ count: Int) throws -> [UInt8] {
    switch module {
    case "esca-dossier":
      // The sample's valid dossiers (the third one is an error case).
      var sample = try Carbon_Esca_V1_DossierBatchRequest(
        jsonUTF8Data: try sampleData("Plugins/ESCA/examples/AssessDossierStream.json"))
      sample.dossiers = sample.dossiers.filter { $0.bonus.yieldKgDryPerHaPerYr > 0 }
      return { start, count in
        var request = sample
        request.dossiers = (start..<(start + count)).map { index in
          var dossier = sample.dossiers[index % sample.dossiers.count]
          dossier.farmID += "-\(index)"
          return dossier
        }
        return try request.serializedBytes()
      }
    case "esca":
      let sample = try Carbon_Esca_V1_BatchRequest(jsonUTF8Data: try sampleData("Plugins/ESCA/examples/ComputeBatch.json"))
      return { start, count in
        var request = sample
        if grouped && start == 0 { request.maxResultsPerMessage = Int32(BatchCase.groupedPieceFarms) }
        request.farms = (start..<(start + count)).map { index in
          var farm = sample.farms[index % sample.farms.count]
          farm.farmID += "-\(index)"
          return farm
        }
        return try request.serializedBytes()
      }
    default:
      let sample = try Carbon_Sobac_V1_CollectiveProjectRequest(
        jsonUTF8Data: try sampleData("Plugins/SOBAC/examples/EvaluateCollectiveBatch.json"))
      return { start, count in
        var request = sample
        if start > 0 { request.projectName = "" }
        request.farms = (start..<(start + count)).map { index in
          var farm = sample.farms[index % sample.farms.count]
          farm.farmID += "-\(index)"
          return farm
        }
        return try request.serializedBytes()
      }
    }
  }

  /// The pieces of a batch of `farms` farms, built one at a time as they are asked for.
  func pieces(farms: Int, grouped: Bool = false) throws -> PieceSource {
    PieceSource(
      build: try pieceBuilder(grouped: grouped), farms: farms, pieceFarms: grouped ? BatchCase.groupedPieceFarms : BatchCase.pieceFarms)
  }
}

/// The requests of a batch sent in pieces; each is built when taken, so the sender never holds
/// more than one.
final class PieceSource: @unchecked Sendable {
  private let build: (Int, Int) throws -> [UInt8]
  private let farms: Int
  /// Farms per piece.
  let pieceFarms: Int
  private var next = 0
  /// Bytes of every piece handed out so far.
  private(set) var bytesSent = 0

  init(build: @escaping (Int, Int) throws -> [UInt8], farms: Int, pieceFarms: Int = BatchCase.pieceFarms) {
    self.build = build
    self.farms = farms
    self.pieceFarms = pieceFarms
  }

  /// The next piece, or nil after the last.
  func take() throws -> [UInt8]? {
    guard next < farms else { return nil }
    let count = min(pieceFarms, farms - next)
    let bytes = try build(next, count)
    next += count
    bytesSent += bytes.count
    return bytes
  }
}

extension BatchCase {
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
  let shapes = (stringOption("--shapes") ?? "one,stream,grouped").split(separator: ",").map(String.init)
  let modules = stringOption("--modules").map { $0.split(separator: ",").map(String.init) }
  report("## Streaming batches (one child process per row; peak RSS = VmHWM of that child)")
  report("shape one = the whole batch in one request; stream = requests of \(BatchCase.pieceFarms) farms, bidirectional, one result per message; grouped = requests of \(BatchCase.groupedPieceFarms) farms, up to \(BatchCase.groupedPieceFarms) results per message")
  report("RSS of the process serving the calls: the child itself (abi), `carbonhub serve` in its own process (grpc);")
  report("client growth = the child's own peak growth over gRPC (it builds and sends the requests)")
  report("| module | farms | path | shape | requests (total) | records/s | RSS before call | peak RSS | growth | growth per farm | client growth |")
  report("|---|---|---|---|---|---|---|---|---|---|---|")
  var rows: [[String: Any]] = []
  let runs = BatchCase.all.filter { modules?.contains($0.module) ?? true }.flatMap { batch in
    batch.sizes.flatMap { size in
      paths.flatMap { path in shapes.filter { batch.methodFor(shape: $0) != nil }.map { (batch, size, path, $0) } }
    }
  }
  for (batch, size, path, shape) in runs {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: binDirectory + "/carbonhub-bench")
    process.arguments = ["batch-child", batch.module, String(size), path, shape, "--repo", repositoryRoot]
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0,
      let row = try JSONSerialization.jsonObject(with: data) as? [String: Any]
    else {
      report("| \(batch.module) | \(size) | \(path) | \(shape) | child failed (status \(process.terminationStatus)) |")
      continue
    }
    rows.append(row)
    func mib(_ key: String) -> String { String(format: "%.1f MiB", (row[key] as? Double ?? 0) / 1024) }
    let request = (row["request_bytes"] as? Double ?? 0) / 1024
    let growth = row["growth_kib"] as? Double ?? 0
    let clientGrowth = (row["client_growth_kib"] as? Double).map { String(format: "%.1f MiB", $0 / 1024) } ?? "—"
    let figures = [
      String(format: "%.1f MiB", request / 1024), String(format: "%.0f", row["records_per_second"] as? Double ?? 0),
      mib("rss_before_kib"), mib("peak_kib"), mib("growth_kib"), String(format: "%.0f B", growth * 1024 / Double(size)),
      clientGrowth,
    ]
    report("| \(batch.module) | \(size) | \(path) | \(shape) | " + figures.joined(separator: " | ") + " |")
  }
  report("json " + String(decoding: try JSONSerialization.data(withJSONObject: ["batch": rows], options: [.sortedKeys]), as: UTF8.self))
}

/// What one child measured: the calls' messages and time, and the memory of the process that
/// served them (the child itself through the ABI; the `carbonhub serve` process over gRPC)
/// and, over gRPC, of the client (the child).
struct BatchMeasurement {
  var messages = 0
  var seconds = 0.0
  var serverBefore: ProcessMemory
  var serverAfter: ProcessMemory
  var clientBefore: ProcessMemory? = nil
  var clientAfter: ProcessMemory? = nil
}

/// Child side: one batch of one size through one path and shape; prints one JSON object.
func batchChild() async throws {
  let rest = arguments.drop { $0 != "batch-child" }.dropFirst()
  guard rest.count >= 4, let batch = BatchCase.all.first(where: { $0.module == rest[rest.startIndex] }),
    let farms = Int(rest[rest.startIndex + 1])
  else { throw BenchError("usage: carbonhub-bench batch-child esca|esca-dossier|sobac FARMS abi|grpc one|stream|grouped") }
  let path = rest[rest.startIndex + 2]
  let shape = rest[rest.startIndex + 3]
  let streamed = shape != "one"
  guard let method = batch.methodFor(shape: shape) else { throw BenchError("\(batch.module) has no \(shape) shape") }
  let warmUp = try batch.request(farms: 3)
  // The whole batch for `one`; the pieces, built as they are sent, for `stream` and `grouped`.
  let request = streamed ? [] : try batch.request(farms: farms)
  let pieces = streamed ? try batch.pieces(farms: farms, grouped: shape == "grouped") : nil

  var measured: BatchMeasurement
  if path == "abi" {
    let library = try PluginLibrary(path: binDirectory + "/" + batch.library)
    let instance = try library.makeInstance(configJSON: "{}", dataDirectory: NSTemporaryDirectory())
    // The warm-up, then the measured call: the batch's pieces as they are built (a piece that
    // cannot be built ends the stream early: the message count then shows it), or its one request.
    func run(measured: Bool, onMessage: @escaping ([UInt8]) -> Bool) throws(PluginCallError) {
      if let pieces {
        let receive = measured ? { (try? pieces.take()).flatMap { $0 }.map(RequestPull.message) ?? .end } : RequestPull.sequence([warmUp])
        try instance.callBidi(method, receive: receive, onMessage: onMessage)
      } else {
        try instance.callStreaming(method, request: measured ? request : warmUp, onMessage: onMessage)
      }
    }
    try run(measured: false) { _ in true }
    ProcessMemory.resetPeak()
    let before = ProcessMemory.read()!
    var count = 0
    let started = ContinuousClock.now
    try run(measured: true) { _ in
      count += 1
      return true
    }
    measured = BatchMeasurement(
      messages: count, seconds: (ContinuousClock.now - started).benchSeconds, serverBefore: before,
      serverAfter: ProcessMemory.read()!)
  } else {
    measured = try await batchOverGRPC(batch, method: method, request: request, warmUp: warmUp, pieces: pieces)
  }
  var row: [String: Any] = [
    "module": batch.module, "method": method, "farms": farms, "path": path == "abi" ? "abi" : "grpc-tls",
    "shape": shape, "request_bytes": Double(pieces?.bytesSent ?? request.count),
    "messages": measured.messages, "seconds": measured.seconds,
    "records_per_second": Double(farms) / measured.seconds,
    "rss_before_kib": Double(measured.serverBefore.residentKiB), "peak_kib": Double(measured.serverAfter.peakResidentKiB),
    "growth_kib": Double(measured.serverAfter.peakResidentKiB - measured.serverBefore.residentKiB),
  ]
  if let pieces { row["piece_farms"] = pieces.pieceFarms }
  if let before = measured.clientBefore, let after = measured.clientAfter {
    row["client_growth_kib"] = Double(after.peakResidentKiB - before.residentKiB)
  }
  FileHandle.standardOutput.write(try JSONSerialization.data(withJSONObject: row, options: [.sortedKeys]))
}

/// The batch over TLS gRPC through `carbonhub serve` in a process of its own, so that the
/// host's memory is measured apart from the client's. With `pieces`, the batch goes to the
/// bidirectional method, one piece at a time.
func batchOverGRPC(
  _ batch: BatchCase, method: String, request: [UInt8], warmUp: [UInt8], pieces: PieceSource? = nil
) async throws -> BatchMeasurement {
  let state = NSTemporaryDirectory() + "carbonhub-bench-batch-\(getpid())"
  try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
  let log = state + "/serve.log"
  FileManager.default.createFile(atPath: log, contents: nil)
  let server = Process()
  server.executableURL = URL(fileURLWithPath: binDirectory + "/carbonhub")
  // The `one` shape sends a whole batch (100 000 farms: tens of MiB) as one message: this
  // deployment lets it through and gives it time, where the default (4 MiB, 30 s / 5 min)
  // would send it to the streaming twins.
  let deployment = state + "/deployment.toml"
  try "max_message_bytes = 268435456\n[limits]\nunary_timeout_ms = 3600000\nstreaming_timeout_ms = 3600000\n"
    .write(toFile: deployment, atomically: true, encoding: .utf8)
  server.arguments = [
    "serve", "--config", deployment, "--listen", "127.0.0.1:0", "--plugins", binDirectory, "--state-dir", state,
    "--log-level", "error",
  ]
  server.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
  try server.run()
  defer {
    server.terminate()
    server.waitUntilExit()
  }
  // `carbonhub serve` logs "serving on ADDRESS" once it listens.
  var address: String? = nil
  for _ in 0..<300 where address == nil {
    let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
    if let range = text.range(of: "serving on ") {
      address = text[range.upperBound...].split(whereSeparator: { $0 == " " || $0 == "\n" }).first.map(String.init)
    } else {
      guard server.isRunning else { throw BenchError("carbonhub serve exited: \(text)") }
      try await Task.sleep(for: .milliseconds(100))
    }
  }
  guard let address else { throw BenchError("carbonhub serve did not start (see \(log))") }
  let pid = server.processIdentifier
  let parts = (pieces == nil ? method : batch.streamMethod).split(separator: "/")
  let descriptor = MethodDescriptor(fullyQualifiedService: String(parts[0]), method: String(parts[1]))
  let transport = try ClientTransportFactory.make(server: address, caFile: state + "/tls/ca.pem")
  return try await withGRPCClient(transport: transport) { client in
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
    let streamParts = method.split(separator: "/")
    let streamDescriptor = MethodDescriptor(fullyQualifiedService: String(streamParts[0]), method: String(streamParts[1]))
    func bidi(_ next: @escaping @Sendable () throws -> [UInt8]?) async throws -> Int {
      try await client.bidirectionalStreaming(
        request: StreamingClientRequest(of: [UInt8].self) { writer in
          while let piece = try next() { try await writer.write(piece) }
        },
        descriptor: streamDescriptor, serializer: RawBytesCoder(), deserializer: RawBytesCoder(), options: .defaults
      ) { response in
        var count = 0
        for try await _ in response.messages { count += 1 }
        return count
      }
    }
    if pieces != nil {
      let sent = Mutex(false)
      _ = try await bidi {
        sent.withLock { sent in
          defer { sent = true }
          return sent ? nil : warmUp
        }
      }
    } else {
      _ = try await stream(warmUp)
    }
    ProcessMemory.resetPeak()
    ProcessMemory.resetPeak(pid: pid)
    let clientBefore = ProcessMemory.read()!
    guard let serverBefore = ProcessMemory.read(pid: pid) else { throw BenchError("cannot read the server's memory") }
    let started = ContinuousClock.now
    let count: Int
    if let pieces {
      count = try await bidi { try pieces.take() }
    } else {
      count = try await stream(request)
    }
    let seconds = (ContinuousClock.now - started).benchSeconds
    guard let serverAfter = ProcessMemory.read(pid: pid) else { throw BenchError("the server is gone") }
    return BatchMeasurement(
      messages: count, seconds: seconds, serverBefore: serverBefore, serverAfter: serverAfter,
      clientBefore: clientBefore, clientAfter: ProcessMemory.read()!)
  }
}

extension Duration {
  /// Seconds as a Double.
  var benchSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
