import CarbonDomain
import CarbonHost
import CarbonHostProtocol
import Foundation
import GRPCCore
import Synchronization
import Testing

/// Per-method authorisation (issue 26, point 5): "a read-only auditor may call Get/List/Export
/// of the COP pool but not Create/Update/Import", shown on the units example module: the
/// auditor may call `ConvertBatch` (rule 0), only the co-operative `Convert` (rule 1).
@Suite("Per-method rules: the first rule covering a method decides, after the module's allow-list", .serialized)
struct MethodRulesSecurityTests {
  @Test func rulesParseAndErrorsNameTheRule() throws {
    let defaults = DeploymentConfig(pluginDirectory: "/p", stateDirectory: "/s")
    let config = try DeploymentConfig.parse(
      toml: """
        [modules.units]
        path = "u.so"
        allow = ["cn:coop-a", "cn:auditor"]
        [[modules.units.rules]]
        methods = ["ConvertB*"]
        allow = ["cn:auditor", "cn:coop-a"]
        [[modules.units.rules]]
        methods = ["*"]
        allow = ["cn:coop-a"]
        """, defaults: defaults)
    let rules = config.modules[0].methodRules
    #expect(rules == [.init(methods: ["ConvertB*"], allow: ["cn:auditor", "cn:coop-a"]), .init(methods: ["*"], allow: ["cn:coop-a"])])
    #expect(MethodRule.deciding(rules, for: "ConvertBatch") == 0)
    #expect(MethodRule.deciding(rules, for: "Convert") == 1)
    #expect(MethodRule.deciding([.init(methods: ["GetProject"], allow: ["a"])], for: "GetProjects") == nil, "exact names are exact")
    for (rule, key) in [
      ("methods = []\nallow = [\"cn:a\"]", "modules.units.rules[0].methods"),
      ("methods = [\"Get/*\"]\nallow = [\"cn:a\"]", "modules.units.rules[0].methods[0]"),
      ("methods = [\"Get*\"]", "modules.units.rules[0].allow"),
      ("methods = [\"Get*\"]\nallow = [\"dns:\"]", "modules.units.rules[0].allow[0]"),
      ("methods = [\"Get*\"]\nallow = [\"cn:a\"]\ndeny = [\"cn:b\"]", "modules.units.rules[0].deny"),
    ] {
      do {
        _ = try DeploymentConfig.parse(toml: "[modules.units]\npath = \"u.so\"\n[[modules.units.rules]]\n" + rule, defaults: defaults)
        Issue.record("expected an error for \(rule)")
      } catch {
        #expect(error.key == key, "\(rule): \(error)")
      }
    }
  }

  @Test func aReadOnlyCallerReachesOnlyTheMethodsItsRuleCovers() async throws {
    let issued = Mutex<[String: ClientTransportFactory.ClientCertificate]>([:])
    let host = try await RunningHost.start(modules: [("units", try TestEnvironment.plugin("libExampleUnits.so"))]) { config in
      let dev = DevelopmentCertificates(directory: config.stateDirectory + "/tls")
      try dev.ensure()
      for name in ["coop-a", "auditor", "stranger"] {
        let prefix = config.stateDirectory + "/clients/" + name
        try dev.issue(commonName: name, usage: .clientAuth, certificatePath: prefix + ".pem", keyPath: prefix + "-key.pem")
        issued.withLock { $0[name] = .init(certificate: prefix + ".pem", key: prefix + "-key.pem") }
      }
      config.access = .init(clientCA: dev.caCertificatePath, requireClientCertificate: true)
      config.modules[0].allow = ["cn:coop-a", "cn:auditor"]
      config.modules[0].methodRules = [
        .init(methods: ["ConvertB*"], allow: ["cn:auditor", "cn:coop-a"]),
        .init(methods: ["*"], allow: ["cn:coop-a"]),
      ]
    }
    defer { Task { try? await host.stop() } }
    let certificates = issued.withLock { $0 }
    func status(_ caller: String, _ body: @escaping @Sendable (GRPCClient<HostClientTransport>) async throws -> Void) async -> RPCError.Code? {
      do {
        try await host.withClient(certificate: certificates[caller]) { try await body($0) }
        return nil
      } catch let error as RPCError {
        return error.code
      } catch {
        Issue.record("\(error)")
        return nil
      }
    }
    let convert: @Sendable (GRPCClient<HostClientTransport>) async throws -> Void = { client in
      _ = try await Carbon_Examples_V1_Units.Client(wrapping: client).convert(.with {
        $0.quantity = Quantity(6, .tC)
        $0.targetUnit = .tCo2E
      })
    }
    let batch: @Sendable (GRPCClient<HostClientTransport>) async throws -> Void = { client in
      var request = Carbon_Examples_V1_ConvertBatchRequest()
      request.items = [.with { $0.quantity = Quantity(1, .t); $0.targetUnit = .kg }]
      let count = try await Carbon_Examples_V1_Units.Client(wrapping: client).convertBatch(request) { response in
        var count = 0
        for try await _ in response.messages { count += 1 }
        return count
      }
      #expect(count == 1)
    }
    let invokeConvert: @Sendable (GRPCClient<HostClientTransport>) async throws -> Void = { client in
      _ = try await Carbon_Host_V1_Host.Client(wrapping: client).invoke(.with {
        $0.module = "units"
        $0.method = "Convert"
        $0.requestJson = #"{"quantity": {"value": 2, "unit": "UNIT_T_C"}, "target_unit": "UNIT_T_CO2E"}"#
      })
    }
    #expect(await status("coop-a", convert) == nil)
    #expect(await status("coop-a", batch) == nil)
    #expect(await status("auditor", batch) == nil, "rule 0 covers ConvertBatch")
    #expect(await status("auditor", convert) == .permissionDenied, "rule 1 covers Convert: the co-operative only")
    #expect(await status("auditor", invokeConvert) == .permissionDenied, "the same rule through Host/Invoke")
    #expect(await status("stranger", batch) == .permissionDenied, "the module's allow-list still comes first")
    let audit = try String(contentsOfFile: (host.caFile as NSString).deletingLastPathComponent + "/../audit.log", encoding: .utf8)
    #expect(audit.contains(#""detail":"not allowed by rules[1] of the module""#), "\(audit)")
  }
}
