import CarbonDomain
@testable import CarbonHost
import CarbonHostProtocol
import CarbonPluginLoader
import Foundation
import GRPCCore
import SwiftProtobuf
import Testing

/// Issue 23, "Versions side by side": one deployment serves several versions of a module, each
/// its own .so; a client pins one with the `carbonhub-module-version` header or gets the
/// default; the response names the version that answered. The versions here are ESCA built
/// once (libESCA.so, 1.0.1) and made into 1.1.0 — with one more request field,
/// `SoilStockRequest.audit_reference` — and 1.2.0-rc.1 by Tests/Fixtures/version-shims.
@Suite("Module versions side by side", .timeLimit(.minutes(3)))
struct ModuleVersionTests {
  static let soilStock = "/carbon.esca.v1.Esca/ComputeSoilStock"
  static let soilStockJSON = try! String(
    contentsOfFile: TestEnvironment.repositoryRoot + "/Plugins/ESCA/examples/ComputeSoilStock.json", encoding: .utf8)

  /// A host serving ESCA 1.0.1, 1.1.0 and 1.2.0-rc.1 (and the metrics endpoint).
  static func startThreeVersions(
    configure: @escaping (inout DeploymentConfig) async throws -> Void = { _ in }
  ) async throws -> RunningHost {
    let host = try await RunningHost.start(modules: [
      ("esca", try TestEnvironment.plugin("libESCA.so")),
      ("esca@1.1.0", try TestEnvironment.plugin("libesca-1.1.0.so", in: TestEnvironment.fixtureDirectory)),
      ("esca@1.2.0-rc.1", try TestEnvironment.plugin("libesca-1.2.0-rc.1.so", in: TestEnvironment.fixtureDirectory)),
    ]) { config in
      config.metricsListen = "127.0.0.1:0"
      try await configure(&config)
    }
    return host
  }

  /// `ComputeSoilStock` through JSON `Invoke`: the response JSON and the version that answered
  /// (the `carbonhub-module-version` response header), or the error.
  static func soilStock(
    _ client: GRPCClient<HostClientTransport>, module: String = "esca", header version: String? = nil,
    json: String = soilStockJSON
  ) async throws -> (json: String, version: String) {
    var metadata: Metadata = [:]
    if let version { metadata.addString(version, forKey: "carbonhub-module-version") }
    let request = Carbon_Host_V1_InvokeRequest.with {
      $0.module = module
      $0.method = "ComputeSoilStock"
      $0.requestJson = json
    }
    return try await Carbon_Host_V1_Host.Client(wrapping: client).invoke(request, metadata: metadata) { response in
      let answered = response.metadata[stringValues: "carbonhub-module-version"].first(where: { _ in true }) ?? ""
      return (try response.message.responseJson, String(answered))
    }
  }

  /// The same call on the method's own path, with protobuf bytes.
  static func soilStockOverProtobuf(
    _ client: GRPCClient<HostClientTransport>, header version: String?
  ) async throws -> (response: [UInt8], version: String, trailers: Metadata) {
    let library = try PluginLibrary(path: try TestEnvironment.plugin("libESCA.so"))
    let request = try JSONToProtobuf(descriptorSet: library.descriptorSet).encodeRequest(json: Array(soilStockJSON.utf8), method: soilStock)
    var metadata: Metadata = [:]
    if let version { metadata.addString(version, forKey: "carbonhub-module-version") }
    return try await client.unary(
      request: ClientRequest(message: request, metadata: metadata),
      descriptor: MethodDescriptor(fullyQualifiedService: "carbon.esca.v1.Esca", method: "ComputeSoilStock"),
      serializer: RawBytesCoder(), deserializer: RawBytesCoder(), options: .defaults
    ) { response in
      (try response.message, String(response.metadata[stringValues: "carbonhub-module-version"].first(where: { _ in true }) ?? ""),
       response.trailingMetadata)
    }
  }

  /// `stock_t_c_per_ha` of a ComputeSoilStock response.
  static func stock(_ json: String) throws -> Double? {
    let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
    return (object?["stock_t_c_per_ha"] as? NSNumber)?.doubleValue
  }

  /// The error a call ends with; fails the test when it succeeds.
  static func refusal(_ call: () async throws -> Any) async -> RPCError? {
    do {
      _ = try await call()
      Issue.record("the call succeeded")
      return nil
    } catch let error as RPCError {
      return error
    } catch {
      Issue.record("\(error)")
      return nil
    }
  }

  // MARK: Which version answers

  @Test func clientsPinEachVersionOrGetTheDefaultAndTheResponseNamesIt() async throws {
    let host = try await Self.startThreeVersions()
    defer { Task { try? await host.stop() } }
    try await host.withClient { client async throws in
      // No header: the highest serving release — 1.1.0, not the pre-release 1.2.0-rc.1.
      let unpinned = try await Self.soilStock(client)
      #expect(unpinned.version == "1.1.0")
      // Exact versions, and release prefixes: "1.0" selects 1.0.1, "1" the highest 1.x release.
      for (asked, answered) in [("1.0.1", "1.0.1"), ("1.0", "1.0.1"), ("1.1.0", "1.1.0"), ("1", "1.1.0"), ("1.2.0-rc.1", "1.2.0-rc.1")] {
        let pinned = try await Self.soilStock(client, header: asked)
        #expect(pinned.version == answered, "asked \(asked)")
        // The same library answers: the same numbers (stock 39 t C/ha, hand-computed in
        // ESCA's examples: 10 g/kg × 30 cm × 1.3 g/cm³ × 0.1).
        #expect(try Self.stock(pinned.json) == 39, "\(pinned.json)")
      }
      // "esca@1.0" in Invoke's module field pins as the header does.
      #expect(try await Self.soilStock(client, module: "esca@1.0").version == "1.0.1")
      // On the method's own path (protobuf), the same choice.
      #expect(try await Self.soilStockOverProtobuf(client, header: nil).version == "1.1.0")
      #expect(try await Self.soilStockOverProtobuf(client, header: "1.0.1").version == "1.0.1")

      // A pre-release is chosen only when named exactly: "1.2" selects no release.
      let unknown = await Self.refusal { try await Self.soilStockOverProtobuf(client, header: "1.2") }
      #expect(unknown?.code == .notFound)
      #expect(
        unknown?.message == "carbonhub-module-version: module 'esca' has no version '1.2' (versions served: 1.0.1, 1.1.0, 1.2.0-rc.1)",
        "\(String(describing: unknown))")
      let absent = await Self.refusal { try await Self.soilStock(client, header: "2") }
      #expect(absent?.code == .notFound && absent?.message.contains("has no version '2'") == true, "\(String(describing: absent))")
    }
  }

  /// Two versions with different protos under one service name: the host converts each
  /// call's JSON with the descriptors of the version that answers it, not of the path.
  @Test func aVersionWithAnExtraFieldAndOneWithoutBothServe() async throws {
    let host = try await Self.startThreeVersions()
    defer { Task { try? await host.stop() } }
    let withReference = #"{"analysis": {"carbon_g_per_kg": 10, "depth_cm": 30, "bulk_density_g_per_cm3": 1.3, "#
      + #""bulk_density_method": "BULK_DENSITY_METHOD_CYLINDER"}, "purpose": "ANALYSIS_PURPOSE_CLAIM", "auditReference": "case-42"}"#
    try await host.withClient { client async throws in
      let newer = try await Self.soilStock(client, header: "1.1.0", json: withReference)
      #expect(newer.version == "1.1.0")
      #expect(try Self.stock(newer.json) == 39, "\(newer)")
      // The default (1.1.0) knows the field too.
      #expect(try await Self.soilStock(client, json: withReference).version == "1.1.0")
      // 1.0.1 has no such field: refused before the module runs, naming it.
      let older = await Self.refusal { try await Self.soilStock(client, header: "1.0.1", json: withReference) }
      #expect(older?.code == .invalidArgument, "\(String(describing: older))")
      #expect(older?.message.contains("auditReference") == true, "\(String(describing: older))")
    }
    // Reflection describes each version's request: the field in 1.1.0's, not in 1.0.1's.
    func soilStockRequestFields(_ version: String?) async throws -> [String] {
      try await host.withClient { client async throws in
        var metadata: Metadata = [:]
        if let version { metadata.addString(version, forKey: "carbonhub-module-version") }
        let files = try await Grpc_Reflection_V1_ServerReflection.Client(wrapping: client).serverReflectionInfo(metadata: metadata) { writer in
          try await writer.write(.with { $0.fileContainingSymbol = "carbon.esca.v1.SoilStockRequest" })
        } onResponse: { response in
          var files: [Google_Protobuf_FileDescriptorProto] = []
          for try await message in response.messages {
            files += try message.fileDescriptorResponse.fileDescriptorProto.map { try Google_Protobuf_FileDescriptorProto(serializedBytes: $0) }
          }
          return files
        }
        let file = try #require(files.first { $0.name == "carbon/esca/v1/esca.proto" })
        return try #require(file.messageType.first { $0.name == "SoilStockRequest" }).field.map(\.name)
      }
    }
    #expect(try await soilStockRequestFields("1.0.1") == ["analysis", "purpose"])
    #expect(try await soilStockRequestFields("1.1.0") == ["analysis", "purpose", "audit_reference"])
    #expect(try await soilStockRequestFields(nil) == ["analysis", "purpose", "audit_reference"], "the default, 1.1.0")
  }

  @Test func theConfiguredDefaultAnswersAndIsNeverReplacedBehindTheCallersBack() async throws {
    let host = try await Self.startThreeVersions { config in
      config.modules[0].isDefaultVersion = true  // "esca": 1.0.1
    }
    defer { Task { try? await host.stop() } }
    try await host.withClient { client async throws in
      #expect(try await Self.soilStock(client).version == "1.0.1")
      #expect(try await Self.soilStock(client, header: "1.1").version == "1.1.0")
      _ = try await host.server.registry.disable("esca", by: .anonymous)
      // The default is disabled: calls naming no version are refused, not sent to 1.1.0.
      let refused = await Self.refusal { try await Self.soilStockOverProtobuf(client, header: nil) }
      #expect(refused?.code == .unavailable)
      #expect(
        refused?.message == "\(Self.soilStock): module 'esca', the default version of 'esca', is disabled", "\(String(describing: refused))")
      #expect(try await Self.soilStock(client, header: "1.1.0").version == "1.1.0")
    }
  }

  // MARK: Retiring, admin, health, metrics and access per version

  @Test func aRetiredVersionRefusesNamingTheVersionsStillServedAndTheOthersGoOn() async throws {
    let host = try await Self.startThreeVersions()
    defer { Task { try? await host.stop() } }
    let registry = host.server.registry
    let retired = try await registry.retire("esca", by: .anonymous)
    #expect(retired.state == .retired)
    try await host.withClient { client async throws in
      let refused = await Self.refusal { try await Self.soilStockOverProtobuf(client, header: "1.0.1") }
      #expect(refused?.code == .failedPrecondition)
      #expect(
        refused?.message == "carbonhub-module-version: version 1.0.1 of 'esca' is retired; versions served: 1.1.0, 1.2.0-rc.1",
        "\(String(describing: refused))")
      #expect(try await Self.soilStock(client).version == "1.1.0")
      #expect(try await Self.soilStock(client, header: "1.2.0-rc.1").version == "1.2.0-rc.1")

      // Health: each version under its own name; the module and its service follow the default.
      let health = Grpc_Health_V1_Health.Client(wrapping: client)
      func status(_ service: String) async throws -> Grpc_Health_V1_HealthCheckResponse.ServingStatus {
        try await health.check(.with { $0.service = service }).status
      }
      #expect(try await status("esca") == .notServing, "the entry 'esca' is version 1.0.1, retired")
      #expect(try await status("esca@1.1.0") == .serving)
      #expect(try await status("carbon.esca.v1.Esca") == .serving, "the default version, 1.1.0, serves")

      // ListModules: every version, which is the default, and the retired state.
      let modules = try await Carbon_Host_V1_Host.Client(wrapping: client).listModules(.init()).modules
      #expect(modules.map(\.name) == ["esca", "esca@1.1.0", "esca@1.2.0-rc.1"])
      #expect(modules.map(\.module) == ["esca", "esca", "esca"])
      #expect(modules.map(\.version) == ["1.0.1", "1.1.0", "1.2.0-rc.1"])
      #expect(modules.map(\.state) == [.retired, .serving, .serving])
      #expect(modules.map(\.defaultVersion) == [false, true, false])
    }
    // Enable serves it again.
    _ = try await registry.enable("esca", by: .anonymous)
    try await host.withClient { client async throws in
      #expect(try await Self.soilStock(client, header: "1.0.1").version == "1.0.1")
    }
  }

  @Test func adminActionsAllowListsAndMetricsApplyToOneVersion() async throws {
    let host = try await Self.startThreeVersions()
    defer { Task { try? await host.stop() } }
    let registry = host.server.registry
    // Only one identity may call the pre-release; the test's anonymous client is not it.
    _ = try await registry.setAccess("esca@1.2.0-rc.1", allow: ["cn:pilot"], by: .anonymous)
    try await host.withClient { client async throws in
      let denied = await Self.refusal { try await Self.soilStock(client, header: "1.2.0-rc.1") }
      #expect(denied?.code == .permissionDenied && denied?.message.contains("'esca@1.2.0-rc.1'") == true, "\(String(describing: denied))")
      #expect(try await Self.soilStock(client, header: "1.0.1").version == "1.0.1")
      #expect(try await Self.soilStock(client, header: "1.0.1").version == "1.0.1")
      #expect(try await Self.soilStock(client).version == "1.1.0")
    }
    // Disabling 1.1.0 leaves the others; calls naming no version go to the highest release left.
    _ = try await registry.disable("esca@1.1.0", by: .anonymous)
    try await host.withClient { client async throws in
      #expect(try await Self.soilStock(client).version == "1.0.1")
      let disabled = await Self.refusal { try await Self.soilStock(client, header: "1.1.0") }
      #expect(disabled?.code == .unavailable && disabled?.message.contains("'esca@1.1.0' is disabled") == true, "\(String(describing: disabled))")
    }
    let metrics = try await host.metricsText()
    let calls = "carbonhub_calls_total{code=\"OK\",method=\"\(Self.soilStock)\",module=\"esca\""
    #expect(metrics.contains(calls + ",version=\"1.0.1\"} 3"), "\(metrics)")
    #expect(metrics.contains(calls + ",version=\"1.1.0\"} 1"), "\(metrics)")
    #expect(metrics.contains("carbonhub_calls_total{code=\"PERMISSION_DENIED\",method=\"\(Self.soilStock)\",module=\"esca\",version=\"1.2.0-rc.1\"} 1"))
    #expect(metrics.contains("carbonhub_module_up{module=\"esca\",version=\"1.1.0\",state=\"disabled\"} 0"), "\(metrics)")
    #expect(metrics.contains("carbonhub_module_up{module=\"esca\",version=\"1.2.0-rc.1\",state=\"serving\"} 1"))
  }

  /// A receipt names the module and the version that answered, with that version's library.
  @Test func aReceiptNamesTheVersionThatAnswered() async throws {
    let host = try await Self.startThreeVersions()
    defer { Task { try? await host.stop() } }
    try await host.withClient { client async throws in
      for (asked, library) in [("1.0.1", try TestEnvironment.plugin("libESCA.so")),
                               ("1.1.0", try TestEnvironment.plugin("libesca-1.1.0.so", in: TestEnvironment.fixtureDirectory))] {
        let (response, version, trailers) = try await Self.soilStockOverProtobuf(client, header: asked)
        #expect(version == asked)
        let receipt = try ReceiptTests.receipt(in: trailers)
        let content = try Carbon_Host_V1_ReceiptContent(serializedBytes: receipt.content)
        #expect(content.module == "esca" && content.moduleVersion == asked)
        #expect(content.pluginSha256 == (try PluginLibrary(path: library)).sha256)
        let verified = try ReceiptVerification.verify(
          receipt, publicKey: try await ReceiptTests.receiptKey(client), requests: [], responses: [Data(response)])
        #expect(verified.checked == ["response 1 of 1 matches"], "\(verified.checked)")
      }
    }
  }

  // MARK: What the deployment may say

  @Test func anEntryServesOnlyTheVersionItsKeyNamesAndOneVersionOnce() async throws {
    let host = try await RunningHost.start(modules: [
      ("esca", try TestEnvironment.plugin("libESCA.so")),
      ("esca@1.0.1", try TestEnvironment.plugin("libESCA.so")),
      ("esca@2.0.0", try TestEnvironment.plugin("libesca-1.1.0.so", in: TestEnvironment.fixtureDirectory)),
    ])
    defer { Task { try? await host.stop() } }
    let registry = host.server.registry
    #expect(registry.module(named: "esca")?.state == .serving)
    #expect(
      registry.module(named: "esca@1.0.1")?.state
        == .failed(reason: "version 1.0.1 of module 'esca' is already served (by 'esca')"))
    #expect(
      registry.module(named: "esca@2.0.0")?.state
        == .failed(reason: "the deployment serves this entry as version 2.0.0 of 'esca' but the plugin declares version 1.1.0"))
  }

  /// The embedded default serves every plugin of its directory: two versions of one module
  /// found there are both served, the second under NAME@VERSION.
  @Test func discoveredVersionsOfOneModuleAreServedSideBySide() async throws {
    let directory = try TestEnvironment.temporaryDirectory("discovered-versions")
    try TestEnvironment.copyPlugin("libESCA.so", to: directory)
    try TestEnvironment.copyPlugin("libesca-1.1.0.so", from: TestEnvironment.fixtureDirectory, to: directory)
    let config = DeploymentConfig.embeddedDefault(pluginDirectory: directory, stateDirectory: try TestEnvironment.temporaryDirectory("state"))
    let registry = await ModuleRegistry.load(config, logger: TestEnvironment.logger)
    #expect(registry.all.map { "\($0.name) \($0.version?.text ?? "-") \($0.state.text)" } == ["esca 1.0.1 serving", "esca@1.1.0 1.1.0 serving"])
    #expect(registry.route(Self.soilStock)?.name == "esca@1.1.0")
    // A discovered module can be disabled and enabled again under the name it took.
    _ = try await registry.disable("esca@1.1.0", by: .anonymous)
    #expect(try await registry.enable("esca@1.1.0", by: .anonymous).state == .serving)
  }

  static let defaults = DeploymentConfig(pluginDirectory: "/tmp", stateDirectory: "/tmp")

  @Test(arguments: [
    ("[modules.\"esca@1.0.0\"]\npath = \"a.so\"\ndefault = true\n[modules.\"esca@1.1.0\"]\npath = \"b.so\"\ndefault = true\n",
     "modules.esca@1.1.0.default: 'esca@1.0.0' is already the default version of 'esca'"),
    ("[modules.\"esca@1.0.0\"]\npath = \"a.so\"\ndefault = true\nretired = true\n",
     "modules.esca@1.0.0.default: a retired version cannot be the default"),
    ("[modules.\"esca@\"]\npath = \"a.so\"\n", "modules.esca@: a module is named NAME or NAME@VERSION (e.g. \"esca@1.0.0\")"),
  ])
  func theDeploymentFileRefusesAmbiguousVersions(toml: String, message: String) throws {
    #expect(throws: DeploymentConfig.Error.self) { try DeploymentConfig.parse(toml: toml, defaults: Self.defaults) }
    do {
      _ = try DeploymentConfig.parse(toml: toml, defaults: Self.defaults)
    } catch {
      #expect("\(error)" == message)
    }
  }

  @Test func theDeploymentFileReadsVersionsDefaultAndRetired() throws {
    let config = try DeploymentConfig.parse(
      toml: "[modules.esca]\npath = \"a.so\"\nretired = true\n[modules.\"esca@1.1.0\"]\npath = \"b.so\"\ndefault = true\n",
      defaults: Self.defaults)
    #expect(config.modules.map(\.name) == ["esca", "esca@1.1.0"])
    #expect(config.modules.map(\.moduleName) == ["esca", "esca"])
    #expect(config.modules.map(\.pinnedVersion) == [nil, "1.1.0"])
    #expect(config.modules.map(\.retired) == [true, false])
    #expect(config.modules.map(\.isDefaultVersion) == [false, true])
  }

  // MARK: Ordering

  @Test func versionsOrderAsSemanticVersioningSays() {
    // semver.org §11: "1.0.0-alpha < 1.0.0-alpha.1 < 1.0.0-alpha.beta < 1.0.0-beta < 1.0.0-beta.2
    // < 1.0.0-beta.11 < 1.0.0-rc.1 < 1.0.0"; and "1.9.0 < 1.10.0 < 1.11.0".
    let ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1",
                   "1.0.0", "1.9.0", "1.10.0", "1.11.0"].map(ModuleVersion.init)
    #expect(ordered.shuffled().sorted() == ordered)
    #expect(!(ModuleVersion("1.2") < ModuleVersion("1.2.0")) && !(ModuleVersion("1.2.0") < ModuleVersion("1.2")))
    let one = try! #require(VersionSelector("1.0"))
    #expect(one.selects(ModuleVersion("1.0.0")) && one.selects(ModuleVersion("1.0.3")))
    #expect(!one.selects(ModuleVersion("1.01.0")) && !one.selects(ModuleVersion("1.0.0-rc.1")) && !one.selects(ModuleVersion("1.1.0")))
    #expect(VersionSelector("1.0.0-rc.1")!.selects(ModuleVersion("1.0.0-rc.1")))
    #expect(VersionSelector("  ") == nil)
  }
}
