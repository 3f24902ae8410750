import CarbonDomain
import CarbonHost
import CarbonHostProtocol
import CarbonPluginKit
import CarbonPluginLoader
import Foundation
import GRPCCore
import Testing

/// Every sample request of every plugin, sent over TLS gRPC to a host running the embedded
/// default deployment (every plugin of the build directory), through the host's JSON door
/// exactly as `carbonhub call` sends it; each answer is checked against its `.expect.json`.
@Suite("Sample requests over TLS through the host")
struct ExamplesOverTLSTests {
  @Test func everyExampleOfEveryPluginAnswersAsExpected() async throws {
    var plugins: [(module: String, cases: [ExampleCase], streaming: Set<String>)] = []
    for plugin in TestEnvironment.repositoryPlugins {
      let library = try PluginLibrary(path: try TestEnvironment.plugin(plugin.file))
      let cases = try ExampleCase.load(directory: TestEnvironment.repositoryRoot + "/" + plugin.examples)
      #expect(!cases.isEmpty, "\(plugin.examples) has no example")
      plugins.append((library.name, cases, Set(library.methods.filter(\.isServerStreaming).map(\.name))))
    }
    let state = try TestEnvironment.temporaryDirectory("examples")
    var config = DeploymentConfig.embeddedDefault(pluginDirectory: TestEnvironment.pluginDirectory, stateDirectory: state)
    config.listen = "127.0.0.1:0"
    let server = try await HostServer(config: config, logger: TestEnvironment.logger)
    let (addresses, continuation) = AsyncStream<String>.makeStream()
    let task = Task { try await server.run { continuation.yield($0) } }
    var iterator = addresses.makeAsyncIterator()
    let address = try #require(await iterator.next())
    // Cancelling `run` stops every part of the host.
    defer { task.cancel() }

    let transport = try ClientTransportFactory.make(server: address, caFile: state + "/tls/ca.pem")
    let problems = try await withGRPCClient(transport: transport) { client in
      let hostAPI = Carbon_Host_V1_Host.Client(wrapping: client)
      var problems: [String] = []
      for plugin in plugins {
        for example in plugin.cases {
          let request = Carbon_Host_V1_InvokeRequest.with {
            $0.module = plugin.module
            $0.method = example.method
            $0.requestJson = example.requestJSON
          }
          do {
            let response: String
            let trailers: Metadata
            if plugin.streaming.contains(example.method) {
              let (lines, streamTrailers) = try await hostAPI.invokeStream(request) { stream in
                var lines: [String] = []
                var trailers: Metadata = [:]
                for try await part in stream.bodyParts {
                  switch part {
                  case .message(let message): lines.append(message.responseJson)
                  case .trailingMetadata(let metadata): trailers = metadata
                  }
                }
                return (lines, trailers)
              }
              response = "[" + lines.joined(separator: ",") + "]"
              trailers = streamTrailers
            } else {
              (response, trailers) = try await hostAPI.invoke(request) { (try $0.message.responseJson, $0.trailingMetadata) }
            }
            problems += example.mismatches(responseJSON: response, status: "OK", field: nil).map { "\(plugin.module): \($0)" }
            // Every answer is signed, and its receipt stays well inside the 8 KiB of metadata
            // that common gRPC clients accept (issue 23).
            let receipt = trailers[binaryValues: "carbonhub-receipt-bin"].first(where: { _ in true })
            if receipt == nil || receipt!.count > 4096 {
              problems.append("\(plugin.module).\(example.method): receipt \(receipt.map { "of \($0.count) bytes" } ?? "missing")")
            }
          } catch let error as RPCError {
            let field = error.metadata[stringValues: "carbon-error-field"].first(where: { _ in true })
            let status = CarbonStatus(error.code).name
            problems += example.mismatches(responseJSON: nil, status: status, field: field).map { "\(plugin.module): \($0) (\(error.message))" }
          }
        }
      }
      return problems
    }
    #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
  }
}
