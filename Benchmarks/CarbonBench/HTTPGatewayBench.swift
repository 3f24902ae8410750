import CarbonDomain
import CarbonHost
import CarbonPluginLoader
import ExampleUnitsModule
import Foundation
import GRPCCore
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

// The HTTP/JSON gateway against gRPC, same host, same method (units.Convert), same run
// (issue 22): calls/s at 1, 16 and 64 in flight, alternating rounds; then where a JSON call's
// extra time goes, measured in process.

func benchHTTPGateway(seconds: Double) async throws {
  report("## HTTP/JSON gateway against gRPC (units.Convert, one host, TLS on loopback)")
  let state = NSTemporaryDirectory() + "carbonhub-bench-http-\(getpid())"
  var config = DeploymentConfig(pluginDirectory: binDirectory, stateDirectory: state)
  config.listen = "127.0.0.1:0"
  config.httpListen = "127.0.0.1:0"
  config.modules = [.init(name: "units", path: "libExampleUnits.so")]
  let host = try await HostServer(config: config, logger: logger)
  let caFile = state + "/tls/ca.pem"

  var convert = Carbon_Examples_V1_ConvertRequest()
  convert.quantity = Quantity(2, .t)
  convert.targetUnit = .kg
  let protobuf: [UInt8] = try convert.serializedBytes()
  let json = Array(#"{"quantity":{"value":2,"unit":"UNIT_T"},"targetUnit":"UNIT_KG"}"#.utf8)
  let method = MethodDescriptor(fullyQualifiedService: "carbon.examples.v1.Units", method: "Convert")

  try await withThrowingTaskGroup(of: Void.self) { group in
    let (addresses, continuation) = AsyncStream<String>.makeStream()
    group.addTask { try await host.run { continuation.yield($0) } }
    var iterator = addresses.makeAsyncIterator()
    guard let grpcAddress = await iterator.next(), let httpAddress = host.httpListeningAddress else { return }
    let rounds = max(1, Int(option("--rounds", 3)))
    report("\(rounds) alternating rounds of \(seconds) s per side; the median round; receipts on (the default) on both doors")
    report("| concurrent calls | gRPC calls/s (protobuf) | HTTP/1.1 calls/s (JSON) | ratio HTTP/gRPC (min–max) | gRPC p50 / p99 | HTTP p50 / p99 | errors |")
    report("|---|---|---|---|---|---|---|")
    for concurrency in [1, 16, 64] {
      var rows: [(grpc: LoadResult, http: LoadResult)] = []
      for _ in 0..<rounds {
        let grpc = try await load(address: grpcAddress, caFile: caFile, method: method, request: protobuf, concurrency: concurrency, seconds: seconds)
        let http = try await loadHTTP(address: httpAddress, caFile: caFile, path: "/v1/units/Convert", body: json, concurrency: concurrency, seconds: seconds)
        rows.append((grpc, http))
      }
      let ratios = rows.map { $0.http.callsPerSecond / $0.grpc.callsPerSecond }.sorted()
      let row = rows.sorted { $0.http.callsPerSecond / $0.grpc.callsPerSecond < $1.http.callsPerSecond / $1.grpc.callsPerSecond }[rows.count / 2]
      let errors = rows.reduce(0) { $0 + $1.grpc.errors + $1.http.errors }
      report(String(format: "| %d | %.0f | %.0f | %.2f (%.2f–%.2f) | %.2f / %.2f ms | %.2f / %.2f ms | %d |", concurrency, row.grpc.callsPerSecond,
        row.http.callsPerSecond, ratios[ratios.count / 2], ratios.first!, ratios.last!, row.grpc.p50, row.grpc.p99, row.http.p50, row.http.p99, errors))
    }
    await host.shutdown()
    try await group.waitForAll()
  }

  // Where a JSON call's extra work goes: the conversions the gateway makes, in process.
  let units = try PluginLibrary(path: binDirectory + "/libExampleUnits.so")
  let schema = try JSONToProtobuf(descriptorSet: units.descriptorSet)
  var writer = ProtobufToJSON(schema: schema)
  writer.options.jsonNames = true
  let path = "/carbon.examples.v1.Units/Convert"
  let response = try units.makeInstance(configJSON: "{}", dataDirectory: NSTemporaryDirectory()).call(path, request: protobuf)
  let read = measure(batches: 200, perBatch: 100) { _ = try! schema.encodeRequest(json: json, method: path) }
  let write = measure(batches: 200, perBatch: 100) { _ = try! writer.encodeResponse(protobuf: response, method: path) }
  report("| in process, per call | median | p99 (of 100-call batch means) |")
  report("|---|---|---|")
  report("| request: proto3 JSON → protobuf (\(json.count) → \(protobuf.count) bytes) | \(format(read.median)) | \(format(read.p99)) |")
  report("| response: protobuf → proto3 JSON (\(response.count) bytes) | \(format(write.median)) | \(format(write.p99)) |")
}

/// `concurrency` keep-alive HTTP/1.1 connections over TLS, each posting `body` to `path` one
/// call after another for `seconds`.
func loadHTTP(address: String, caFile: String, path: String, body: [UInt8], concurrency: Int, seconds: Double) async throws -> LoadResult {
  var tls = TLSConfiguration.makeClientConfiguration()
  tls.trustRoots = .file(caFile)
  tls.certificateVerification = .noHostnameVerification
  tls.applicationProtocols = ["http/1.1"]
  let context = try NIOSSLContext(configuration: tls)
  let parts = address.split(separator: ":")
  let (hostName, port) = (String(parts[0]), Int(parts[1]) ?? 0)
  var headers = HTTPHeaders()
  headers.add(name: "host", value: address)
  headers.add(name: "content-type", value: "application/json")
  headers.add(name: "content-length", value: "\(body.count)")
  let head = HTTPRequestHead(version: .http1_1, method: .POST, uri: path, headers: headers)
  let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
  let started = ContinuousClock.now
  return try await withThrowingTaskGroup(of: ([Double], Int).self) { group in
    for _ in 0..<concurrency {
      group.addTask {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: hostName, port: port) { channel in
          channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: context, serverHostname: nil))
            try channel.pipeline.syncOperations.addHTTPClientHandlers()
            return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
          }
        }
        return try await channel.executeThenClose { inbound, outbound in
          var responses = inbound.makeAsyncIterator()
          var latencies: [Double] = []
          var errors = 0
          var warm = 50
          while ContinuousClock.now < deadline {
            let start = ContinuousClock.now
            try await outbound.write(.head(head))
            try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body))))
            try await outbound.write(.end(nil))
            var status = 0
            loop: while let part = try await responses.next() {
              switch part {
              case .head(let response): status = Int(response.status.code)
              case .body: break
              case .end: break loop
              }
            }
            if warm > 0 {
              warm -= 1
              continue
            }
            if status != 200 { errors += 1 }
            latencies.append(LoadResult.seconds(ContinuousClock.now - start) * 1e3)
          }
          return (latencies, errors)
        }
      }
    }
    return try await LoadResult.gather(&group, since: started)
  }
}
