import CarbonHost
import CarbonHostProtocol
import CarbonPluginLoader
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Testing

/// Issue 24, "Done means": "A test builds a scaffolded … C plugin out of tree (in a temp dir,
/// from the SDK only), verifies, signs and serves them over TLS beside the product's modules,
/// and calls them with JSON and protobuf."
@Suite("A scaffolded C module, built out of tree from the SDK", .serialized)
struct ScaffoldTests {
  static var carbonhub: String { TestEnvironment.pluginDirectory + "/carbonhub" }

  @Test func aNewCModuleBuildsVerifiesSignsAndServesBesideTheProductsModules() async throws {
    let workspace = try TestEnvironment.temporaryDirectory("scaffold")
    let created = try await runProcess(Self.carbonhub, ["plugin", "new", "hedge", "--dir", workspace])
    #expect(created.status == 0 && created.output.contains("make verify"), "\(created.output)")
    let folder = workspace + "/hedge"
    let make = { (arguments: [String]) async throws -> (status: Int32, output: String) in
      try await runProcess("/usr/bin/make", ["-C", folder, "CARBONHUB=\(Self.carbonhub)"] + arguments, timeout: 120)
    }
    let built = try await make([])
    #expect(built.status == 0 && FileManager.default.fileExists(atPath: folder + "/libhedge.so"), "\(built.output)")
    let verified = try await make(["verify"])
    #expect(verified.status == 0 && verified.output.contains("conformant"), "\(verified.output)")
    #expect(verified.output.contains("ok    examples: 2 cases"), "its examples ran against their .expect.json: \(verified.output)")
    _ = try await runProcess(Self.carbonhub, ["plugin", "keygen", "--out", workspace + "/tester"])
    let signed = try await make(["sign", "KEY=\(workspace)/tester.key"])
    #expect(signed.status == 0 && FileManager.default.fileExists(atPath: folder + "/libhedge.so.manifest.sig"), "\(signed.output)")
    let publicKey = try String(contentsOfFile: workspace + "/tester.pub", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)

    // Served over TLS beside ESCA and the units example, its signature recognised.
    let host = try await RunningHost.start(modules: [
      ("esca", try TestEnvironment.plugin("libESCA.so")), ("units", try TestEnvironment.plugin("libExampleUnits.so")),
      ("hedge", folder + "/libhedge.so"),
    ]) { config in
      config.trust = PluginTrustPolicy(requireManifest: true, trustedPublishers: ["tester": try PublisherKey(base64: publicKey)])
    }
    defer { Task { try? await host.stop() } }
    let hedge = try #require(host.server.registry.module(named: "hedge"))
    #expect(hedge.state == .serving, "\(hedge.state)")
    #expect(hedge.metadata?.manifest == "manifest signed by 'tester'")
    #expect(host.server.registry.module(named: "esca")?.state == .serving)

    try await host.withClient { client in
      // JSON, through Host/Invoke: the host converts (the module reads protobuf only).
      let answer = try await Carbon_Host_V1_Host.Client(wrapping: client).invoke(.with {
        $0.module = "hedge"
        $0.method = "Compute"
        $0.requestJson = #"{"quantity": 2.5, "factor": 4}"#
      })
      #expect(answer.responseJson == #"{"result":10}"#, "\(answer.responseJson)")
      do {
        _ = try await Carbon_Host_V1_Host.Client(wrapping: client).invoke(.with {
          $0.module = "hedge"
          $0.method = "Compute"
          $0.requestJson = #"{"quantity": 2.5, "factour": 4}"#
        })
        Issue.record("a misspelt field was accepted")
      } catch let error as RPCError {
        #expect(error.code == .invalidArgument && error.message.contains("factour"), "\(error)")
      }

      // Protobuf, on the module's own route: field 1 (double) 2.5, field 2 (double) 4.
      var request: [UInt8] = [0x09]
      withUnsafeBytes(of: (2.5).bitPattern.littleEndian) { request += $0 }
      request.append(0x11)
      withUnsafeBytes(of: (4.0).bitPattern.littleEndian) { request += $0 }
      let response = try await client.unary(
        request: ClientRequest(message: request), descriptor: MethodDescriptor(fullyQualifiedService: "hedge.v1.Hedge", method: "Compute"),
        serializer: RawBytesCoder(), deserializer: RawBytesCoder(), options: .defaults
      ) { try $0.message }
      #expect(response.count == 9 && response[0] == 0x09, "\(response)")
      let result = response.dropFirst().reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
      #expect(Double(bitPattern: result) == 10)
    }
  }
}
