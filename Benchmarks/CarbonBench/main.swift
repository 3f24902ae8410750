import CarbonDomain
import CarbonHost
import CarbonHostProtocol
import CarbonPluginKit
import CarbonPluginLoader
import ExampleUnitsModule
import Crypto
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import SwiftProtobuf

// carbonhub-bench: the performance figures the README quotes, measured in one run so that
// ratios are not decided by a noisy machine. Build in release:
//   swift build -c release --product carbonhub-bench --product ExampleUnits && scripts/build-c-plugins.sh .build/release
//   .build/release/carbonhub-bench [dispatch|worker|grpc|receipts|http|startup|batch|memory|csv|bounds|all] [--seconds S] [--calls N]
//     [--repo DIR] [--paths abi,grpc] [--csv-mb MB] [--only on|off (grpc: one host alone)]   (batch and memory read the sample requests under DIR/Plugins)

let arguments = Array(CommandLine.arguments.dropFirst())
let mode = arguments.first { !$0.hasPrefix("--") } ?? "all"
func option(_ name: String, _ fallback: Double) -> Double {
  guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count, let value = Double(arguments[index + 1]) else { return fallback }
  return value
}
let binDirectory = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]).deletingLastPathComponent().path
let logger: Logger = {
  var logger = Logger(label: "bench")
  logger.logLevel = .critical
  return logger
}()

func report(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

/// Nanoseconds per call over batches: median and 99th percentile of the batch means.
func measure(batches: Int, perBatch: Int, _ body: () -> Void) -> (median: Double, p99: Double) {
  for _ in 0..<perBatch * 10 { body() }  // warm up
  var samples: [Double] = []
  samples.reserveCapacity(batches)
  for _ in 0..<batches {
    let start = DispatchTime.now().uptimeNanoseconds
    for _ in 0..<perBatch { body() }
    samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) / Double(perBatch))
  }
  samples.sort()
  return (samples[samples.count / 2], samples[min(samples.count - 1, samples.count * 99 / 100)])
}

/// The difference `first − second` in nanoseconds per call, measured in alternating batches so
/// that a slow spell of the machine hits both sides: the median of the per-pair differences.
func measureDifference(batches: Int, perBatch: Int, _ first: () -> Void, _ second: () -> Void) -> Double {
  for _ in 0..<perBatch * 10 {
    first()
    second()
  }
  func time(_ body: () -> Void) -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    for _ in 0..<perBatch { body() }
    return Double(DispatchTime.now().uptimeNanoseconds - start) / Double(perBatch)
  }
  var differences: [Double] = []
  differences.reserveCapacity(batches)
  for _ in 0..<batches { differences.append(time(first) - time(second)) }
  differences.sort()
  return differences[differences.count / 2]
}

func format(_ nanoseconds: Double) -> String { String(format: "%.0f ns", nanoseconds) }

// MARK: - 1. Plugin dispatch, in process, no network

func benchDispatch() throws {
  report("## Plugin dispatch (in process, no network)")
  let units = try PluginLibrary(path: binDirectory + "/libExampleUnits.so")
  let instance = try units.makeInstance(configJSON: "{}", dataDirectory: NSTemporaryDirectory())
  let direct = try PluginExport.makeInstance(UnitsModule.self, context: ModuleContext(dataDirectory: NSTemporaryDirectory()))
  var request = Carbon_Examples_V1_ConvertRequest()
  request.quantity = Quantity(2, .t)
  request.targetUnit = .kg
  let path = "/carbon.examples.v1.Units/Convert"
  let bytes: [UInt8] = try request.serializedBytes()
  let batches = 2000, perBatch = 100

  // Whole round trip: encode the request (with the plugin kit's encoder, the one Swift modules
  // answer with), call through the C ABI (the plugin decodes, converts, encodes), decode the
  // response (SwiftProtobuf).
  let roundTrip = measure(batches: batches, perBatch: perBatch) {
    let encoded = try! request.onePassSerializedBytes()
    let response = try! instance.call(path, request: encoded)
    _ = try! Carbon_Examples_V1_ConvertResponse(serializedBytes: response)
  }
  // The same work without the C boundary: the kit's own dispatch called directly.
  let inProcess = measure(batches: batches, perBatch: perBatch) {
    let encoded = try! request.onePassSerializedBytes()
    let response = try! direct.call(path, request: encoded)!
    _ = try! Carbon_Examples_V1_ConvertResponse(serializedBytes: response)
  }
  // The call as the host makes it, on pre-encoded bytes; and what the C crossing adds to the
  // same call made on the kit directly.
  let abiOnly = measure(batches: batches, perBatch: perBatch) { _ = try! instance.call(path, request: bytes) }
  let overhead = measureDifference(
    batches: batches, perBatch: perBatch, { _ = try! instance.call(path, request: bytes) }, { _ = try! direct.call(path, request: bytes) })

  let gwp = try PluginLibrary(path: binDirectory + "/libgwp.so")
  let gwpInstance = try gwp.makeInstance(configJSON: "{}", dataDirectory: NSTemporaryDirectory())
  var gwpRequest = Carbon_Examples_V1_ToCo2eRequest()
  gwpRequest.masses = [GasMass.with { $0.gas = .ch4; $0.massKg = 1 }]
  let gwpRoundTrip = measure(batches: batches, perBatch: perBatch) {
    let encoded: [UInt8] = try! gwpRequest.serializedBytes()
    let response = try! gwpInstance.call("/carbon.examples.v1.Gwp/ToCo2e", request: encoded)
    _ = try! Carbon_Examples_V1_ToCo2eResponse(serializedBytes: response)
  }
  let gwpBytes: [UInt8] = try gwpRequest.serializedBytes()
  let gwpCall = measure(batches: batches, perBatch: perBatch) {
    _ = try! gwpInstance.call("/carbon.examples.v1.Gwp/ToCo2e", request: gwpBytes)
  }
  report("| measure | median | p99 (of 100-call batch means) | target |")
  report("|---|---|---|---|")
  report("| Swift plugin call as the host makes it (request bytes in; the plugin decodes, converts with its trace, encodes; response bytes out) | \(format(abiOnly.median)) | \(format(abiOnly.p99)) | ≤ 2000 ns |")
  report("| the same plus a Swift caller's coding (encode the request; decode the response and its trace with SwiftProtobuf) | \(format(roundTrip.median)) | \(format(roundTrip.p99)) | ≤ 2000 ns |")
  report("| same work without the C ABI (kit called directly) | \(format(inProcess.median)) | \(format(inProcess.p99)) | |")
  report("| C plugin call as the host makes it (protobuf-c; a response without a trace) | \(format(gwpCall.median)) | \(format(gwpCall.p99)) | ≤ 2000 ns |")
  report("| C plugin round trip with a Swift caller's coding (SwiftProtobuf) | \(format(gwpRoundTrip.median)) | \(format(gwpRoundTrip.p99)) | ≤ 2000 ns |")
  report("| dispatch overhead beyond coding (ABI call − direct call on the same bytes, alternating batches, median difference) | \(format(overhead)) | | ≤ 100 ns |")
}

// MARK: - 2. Unary calls over TLS gRPC: the host vs a bare echo server, same run

/// A bare grpc-swift service answering raw bytes with the same bytes.
struct EchoService: RegistrableRPCService {
  static let method = MethodDescriptor(fullyQualifiedService: "bench.Echo", method: "Echo")
  func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
    router.registerHandler(forMethod: Self.method, deserializer: RawBytesCoder(), serializer: RawBytesCoder()) { request, _ in
      var iterator = request.messages.makeAsyncIterator()
      let message = try await iterator.next() ?? []
      return StreamingServerResponse(single: ServerResponse(message: message))
    }
  }
}


struct LoadResult {
  var callsPerSecond: Double
  var p50: Double
  var p99: Double
  var errors: Int
  /// CPU time of the whole process (user + system, every thread: clients and servers alike)
  /// per call, µs. Less sensitive than calls/s to a noisy machine's stolen time.
  var cpuMicrosecondsPerCall: Double = 0
}

/// The process's CPU time so far (user + system), µs.
func processCPUMicroseconds() -> Double {
  var usage = rusage()
  getrusage(RUSAGE_SELF.rawValue, &usage)
  func micros(_ time: timeval) -> Double { Double(time.tv_sec) * 1e6 + Double(time.tv_usec) }
  return micros(usage.ru_utime) + micros(usage.ru_stime)
}

extension LoadResult {
  /// The load of callers that ran from `started` until now, each having returned its calls'
  /// latencies (ms) and its errors.
  static func gather(_ callers: inout ThrowingTaskGroup<([Double], Int), any Error>, since started: ContinuousClock.Instant) async throws -> LoadResult {
    var all: [Double] = []
    var errors = 0
    for try await (latencies, failed) in callers {
      all += latencies
      errors += failed
    }
    let sorted = all.sorted()
    return LoadResult(
      callsPerSecond: Double(sorted.count) / seconds(ContinuousClock.now - started), p50: sorted.isEmpty ? 0 : sorted[sorted.count / 2],
      p99: sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, sorted.count * 99 / 100)], errors: errors)
  }

  /// A duration in seconds.
  static func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
  }
}

/// Drives `concurrency` callers for `seconds` against one method with a fixed request.
func load(address: String, caFile: String, method: MethodDescriptor, request: [UInt8], concurrency: Int, seconds: Double) async throws -> LoadResult {
  let transport = try ClientTransportFactory.make(server: address, caFile: caFile)
  return try await withGRPCClient(transport: transport) { client in
    // Warm the connection.
    for _ in 0..<50 {
      _ = try await client.unary(request: ClientRequest(message: request), descriptor: method, serializer: RawBytesCoder(), deserializer: RawBytesCoder(), options: .defaults) { try $0.message }
    }
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    let started = ContinuousClock.now
    let cpuStarted = processCPUMicroseconds()
    var result = try await withThrowingTaskGroup(of: ([Double], Int).self) { group in
      for _ in 0..<concurrency {
        group.addTask {
          var latencies: [Double] = []
          var errors = 0
          while ContinuousClock.now < deadline {
            let start = ContinuousClock.now
            do {
              _ = try await client.unary(request: ClientRequest(message: request), descriptor: method, serializer: RawBytesCoder(), deserializer: RawBytesCoder(), options: .defaults) { try $0.message }
            } catch {
              errors += 1
            }
            latencies.append(LoadResult.seconds(ContinuousClock.now - start) * 1e3)
          }
          return (latencies, errors)
        }
      }
      return try await LoadResult.gather(&group, since: started)
    }
    let calls = result.callsPerSecond * LoadResult.seconds(ContinuousClock.now - started)
    result.cpuMicrosecondsPerCall = calls > 0 ? (processCPUMicroseconds() - cpuStarted) / calls : 0
    return result
  }
}

func benchGRPC(seconds: Double) async throws {
  report("## Unary calls over TLS gRPC on loopback (client and servers share the machine)")
  let state = NSTemporaryDirectory() + "carbonhub-bench-\(getpid())"
  var config = DeploymentConfig(pluginDirectory: binDirectory, stateDirectory: state)
  config.listen = "127.0.0.1:0"
  config.modules = [.init(name: "units", path: "libExampleUnits.so"), .init(name: "gwp", path: "libgwp.so")]
  // `--inline-fast-calls 0` sends every plugin call to the plugin threads, for comparison.
  config.limits.inlineFastCalls = option("--inline-fast-calls", 1) != 0
  report("host: [limits] inline_fast_calls = \(config.limits.inlineFastCalls)")
  // Two hosts of the same build, signed receipts on (the default) and off, beside the echo.
  // `--batch-window-us N` sets the receipts' batch window of the host that signs them.
  config.receipts.batchWindow = .microseconds(Int64(option("--batch-window-us", 0)))
  report("host with receipts: [receipts] batch_window_us = \(Int(option("--batch-window-us", 0)))")
  let host = try await HostServer(config: config, logger: logger)
  var unsignedConfig = config
  unsignedConfig.receipts.enabled = false
  let unsignedHost = try await HostServer(config: unsignedConfig, logger: logger)
  let certificates = DevelopmentCertificates(directory: state + "/tls")

  let echoTransport = HTTP2ServerTransport.Posix(
    address: .ipv4(host: "127.0.0.1", port: 0),
    transportSecurity: .tls(certificateChain: [.file(path: certificates.serverCertificatePath, format: .pem)], privateKey: .file(path: certificates.serverKeyPath, format: .pem)))
  let echo = GRPCServer(transport: echoTransport, services: [EchoService()])

  try await withThrowingTaskGroup(of: Void.self) { group in
    let (addresses, continuation) = AsyncStream<String>.makeStream()
    let (unsignedAddresses, unsignedContinuation) = AsyncStream<String>.makeStream()
    group.addTask { try await host.run { continuation.yield($0) } }
    group.addTask { try await unsignedHost.run { unsignedContinuation.yield($0) } }
    group.addTask { try await echo.serve() }
    var iterator = addresses.makeAsyncIterator()
    var unsignedIterator = unsignedAddresses.makeAsyncIterator()
    guard let hostAddress = await iterator.next(), let unsignedAddress = await unsignedIterator.next() else { return }
    guard let echoAddress = try await echoTransport.listeningAddress.ipv4 else { return }
    let echoTarget = "127.0.0.1:\(echoAddress.port)"

    var convert = Carbon_Examples_V1_ConvertRequest()
    convert.quantity = Quantity(2, .t)
    convert.targetUnit = .kg
    let request: [UInt8] = try convert.serializedBytes()
    let unitsMethod = MethodDescriptor(fullyQualifiedService: "carbon.examples.v1.Units", method: "Convert")
    // Echo and the two hosts alternate, `rounds` times each: a slow spell of the machine then
    // hits every side of a round, and the ratios reported are the medians of the rounds' ratios.
    let rounds = max(1, Int(option("--rounds", 3)))
    // `--only on|off`: one host alone at 64 in flight, `rounds` times, for a profiler
    // (`perf record` of one run each; docs/performance.md, "Receipts").
    if let index = arguments.firstIndex(of: "--only"), index + 1 < arguments.count {
      let signed = arguments[index + 1] == "on"
      report("| host alone, 64 in flight | calls/s | CPU µs a call |")
      report("|---|---|---|")
      for _ in 0..<rounds {
        let result = try await load(
          address: signed ? hostAddress : unsignedAddress, caFile: certificates.caCertificatePath, method: unitsMethod,
          request: request, concurrency: 64, seconds: seconds)
        report(String(format: "| receipts %@ | %.0f | %.0f |", signed ? "on" : "off", result.callsPerSecond, result.cpuMicrosecondsPerCall))
      }
    } else {
      report("\(rounds) alternating rounds of \(seconds) s per side; calls/s and latencies of the median round, ratios = medians of the rounds' ratios (min–max)")
      report("| concurrent calls | echo calls/s | host, receipts off | host, receipts on (default) | ratio off/echo | ratio on/echo (min–max) | on/off | host p50 / p99 (on) | CPU µs a call: echo / off / on | errors |")
      report("|---|---|---|---|---|---|---|---|---|---|")
      func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
      for concurrency in [1, 16, 64] {
        var rows: [(echo: LoadResult, off: LoadResult, on: LoadResult)] = []
        for _ in 0..<rounds {
          let e = try await load(address: echoTarget, caFile: certificates.caCertificatePath, method: EchoService.method, request: request, concurrency: concurrency, seconds: seconds)
          let off = try await load(address: unsignedAddress, caFile: certificates.caCertificatePath, method: unitsMethod, request: request, concurrency: concurrency, seconds: seconds)
          let on = try await load(address: hostAddress, caFile: certificates.caCertificatePath, method: unitsMethod, request: request, concurrency: concurrency, seconds: seconds)
          rows.append((e, off, on))
        }
        let onRatios = rows.map { $0.on.callsPerSecond / $0.echo.callsPerSecond }.sorted()
        let offRatio = median(rows.map { $0.off.callsPerSecond / $0.echo.callsPerSecond })
        let onOff = median(rows.map { $0.on.callsPerSecond / $0.off.callsPerSecond })
        let row = rows.sorted { $0.on.callsPerSecond / $0.echo.callsPerSecond < $1.on.callsPerSecond / $1.echo.callsPerSecond }[rows.count / 2]
        let errors = rows.reduce(0) { $0 + $1.echo.errors + $1.off.errors + $1.on.errors }
        // CPU per call (client and server together, the whole process), median of the rounds.
        let cpu = (median(rows.map(\.echo.cpuMicrosecondsPerCall)), median(rows.map(\.off.cpuMicrosecondsPerCall)), median(rows.map(\.on.cpuMicrosecondsPerCall)))
        report(String(format: "| %d | %.0f | %.0f | %.0f | %.2f | %.2f (%.2f–%.2f) | %.2f | %.2f / %.2f ms | %.0f / %.0f / %.0f | %d |", concurrency, row.echo.callsPerSecond, row.off.callsPerSecond, row.on.callsPerSecond, offRatio, onRatios[onRatios.count / 2], onRatios.first!, onRatios.last!, onOff, row.on.p50, row.on.p99, cpu.0, cpu.1, cpu.2, errors))
      }
    }
    await host.shutdown()
    await unsignedHost.shutdown()
    echo.beginGracefulShutdown()
    try await group.waitForAll()
  }
}

/// What a receipt costs per call in the host's own process: the two SHA-256 hashes and the
/// Ed25519 signature (with encoding the statement), on the Convert call's request and response.
func benchReceipts() throws {
  report("## Signing a receipt (in process)")
  let signer = ReceiptSigner(key: PublisherSigningKey(), instanceName: "bench")
  var convert = Carbon_Examples_V1_ConvertRequest()
  convert.quantity = Quantity(2, .t)
  convert.targetUnit = .kg
  let request: [UInt8] = try convert.serializedBytes()
  let units = try PluginLibrary(path: binDirectory + "/libExampleUnits.so")
  let response = try units.makeInstance(configJSON: "{}", dataDirectory: NSTemporaryDirectory())
    .call("/carbon.examples.v1.Units/Convert", request: request)
  let cost = measure(batches: 200, perBatch: 100) {
    var content = Carbon_Host_V1_ReceiptContent()
    content.format = 1
    content.module = "units"
    content.moduleVersion = "1.0.0"
    content.pluginSha256 = units.sha256
    content.method = "/carbon.examples.v1.Units/Convert"
    content.encoding = "protobuf"
    content.requestSha256 = [Data(SHA256.hash(data: request))]
    content.responseSha256 = [Data(SHA256.hash(data: response))]
    content.issuedAtUnixMs = Int64(Date().timeIntervalSince1970 * 1000)
    content.hostInstance = "bench"
    content.requestID = "0123456789abcdef"
    content.caller = "anonymous"
    _ = signer.sign(content)
  }
  let key = PublisherSigningKey().curve25519
  let root = Data(SHA256.hash(data: request))
  let signature = measure(batches: 200, perBatch: 100) { _ = try! key.signature(for: root) }
  let hashes = measure(batches: 200, perBatch: 100) {
    _ = SHA256.hash(data: request)
    _ = SHA256.hash(data: response)
  }
  report("| measure | median | p99 (of 100-call batch means) |")
  report("|---|---|---|")
  report("| receipt of one unary call: 2 × SHA-256 + statement encoded + Ed25519 signature | \(format(cost.median)) | \(format(cost.p99)) |")
  report("| of which the Ed25519 signature of 32 bytes | \(format(signature.median)) | \(format(signature.p99)) |")
  report("| of which the two SHA-256 of the messages | \(format(hashes.median)) | \(format(hashes.p99)) |")
}

// MARK: - 3. Cold start and memory of the carbonhub process

func benchStartup() async throws {
  report("## Cold start and memory (`carbonhub serve`, embedded default, every plugin of \(binDirectory))")
  let state = NSTemporaryDirectory() + "carbonhub-bench-start-\(getpid())"
  // First start generates the development certificates; measure the second, as in production.
  for attempt in 0..<2 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: binDirectory + "/carbonhub")
    process.arguments = ["serve", "--listen", "127.0.0.1:18443", "--state-dir", state, "--log-level", "error"]
    process.standardError = FileHandle.nullDevice
    let started = ContinuousClock.now
    try process.run()
    var modules = 0
    while ContinuousClock.now - started < .seconds(30) {
      if FileManager.default.fileExists(atPath: state + "/tls/ca.pem"),
        let transport = try? ClientTransportFactory.make(server: "127.0.0.1:18443", caFile: state + "/tls/ca.pem"),
        let count = try? await withGRPCClient(transport: transport, handleClient: { client in
          try await client.unary(request: ClientRequest(message: [UInt8]()), descriptor: MethodDescriptor(fullyQualifiedService: "carbon.host.v1.Host", method: "ListModules"), serializer: RawBytesCoder(), deserializer: RawBytesCoder(), options: .defaults) { try $0.message.count }
        })
      {
        modules = count
        break
      }
      try await Task.sleep(for: .milliseconds(5))
    }
    let elapsed = ContinuousClock.now - started
    if attempt == 1 {
      try await Task.sleep(for: .seconds(1))
      report("| cold start to first served call | \(elapsed.formatted(.units(allowed: [.milliseconds]))) | target ≤ 500 ms |")
      report("| idle RSS after start | \((ProcessMemory.read(pid: process.processIdentifier)?.residentKiB ?? 0) / 1024) MiB | |")
      _ = modules
    }
    process.terminate()
    process.waitUntilExit()
  }
}

let seconds = option("--seconds", 5)
if mode == "dispatch" || mode == "all" { try benchDispatch() }
if mode == "dispatch" || mode == "worker" || mode == "all" { try await benchWorker(calls: Int(option("--calls", 20_000))) }
if mode == "worker" || mode == "all" { try await benchWorkerGRPCFloor(calls: Int(option("--calls", 20_000))) }
if mode == "grpc" || mode == "all" { try await benchGRPC(seconds: seconds) }
if mode == "grpc" || mode == "receipts" || mode == "all" { try benchReceipts() }
if mode == "http" || mode == "all" { try await benchHTTPGateway(seconds: seconds) }
if mode == "startup" || mode == "all" { try await benchStartup() }
if mode == "batch" || mode == "all" { try benchBatch() }
if mode == "batch-child" { try await batchChild() }
if mode == "memory" || mode == "all" { try benchMemory(calls: Int(option("--calls", 1_000_000))) }
if mode == "csv" || mode == "all" { try benchCSVImport() }
if mode == "bounds" || mode == "all" { try benchBounds() }
if mode == "territory" || mode == "all" { try benchTerritory(calls: Int(option("--calls", 5))) }
if mode == "profile-dispatch" { try profileDispatch(calls: Int(option("--calls", 100_000))) }
if mode == "profile-call" { try profileCall(calls: Int(option("--calls", 200))) }
