import CarbonDomain
import CarbonHost
import CarbonHostProtocol
import Foundation
#if canImport(FoundationNetworking)
  import FoundationNetworking
#endif
import GRPCCore
import Synchronization
import Testing

/// A host with mTLS: a development CA that issues both the server certificate and the
/// callers' client certificates, `ops` as admin, and `units` callable by `coop-a` only.
private struct SecureHost {
  let host: RunningHost
  let certificates: [String: ClientTransportFactory.ClientCertificate]

  static func start(
    callers: [String] = ["ops", "coop-a", "auditor"], modules: [(String, String)]? = nil,
    configure: (inout DeploymentConfig) throws -> Void = { _ in }
  ) async throws -> SecureHost {
    let issued = Mutex<[String: ClientTransportFactory.ClientCertificate]>([:])
    let host = try await RunningHost.start(
      modules: try modules ?? [
        ("units", try TestEnvironment.plugin("libExampleUnits.so")), ("gwp", try TestEnvironment.plugin("libgwp.so")),
      ]
    ) { config in
      let dev = DevelopmentCertificates(directory: config.stateDirectory + "/tls")
      try dev.ensure()
      for name in callers {
        let prefix = config.stateDirectory + "/clients/" + name
        try dev.issue(commonName: name, usage: .clientAuth, certificatePath: prefix + ".pem", keyPath: prefix + "-key.pem")
        issued.withLock { $0[name] = .init(certificate: prefix + ".pem", key: prefix + "-key.pem") }
      }
      config.access = .init(clientCA: dev.caCertificatePath, requireClientCertificate: true, admins: ["ops"])
      if let index = config.modules.firstIndex(where: { $0.name == "units" }) { config.modules[index].allow = ["coop-a"] }
      try configure(&config)
    }
    return SecureHost(host: host, certificates: issued.withLock { $0 })
  }

  func withClient<Result: Sendable>(
    as caller: String?, _ body: @Sendable (GRPCClient<HostClientTransport>) async throws -> Result
  ) async throws -> Result {
    try await host.withClient(certificate: caller.flatMap { certificates[$0] }, body)
  }
}

/// 6 t C → 22 t CO2e.
private let convert = Carbon_Examples_V1_ConvertRequest.with {
  $0.quantity = Quantity(6, .tC)
  $0.targetUnit = .tCo2E
}

/// The status of an RPC that should fail (fails the test if it succeeds).
private func statusOf(_ body: () async throws -> Void) async -> RPCError.Code? {
  do {
    try await body()
    return nil
  } catch let error as RPCError {
    return error.code
  } catch {
    Issue.record("unexpected error \(error)")
    return nil
  }
}

private let sleepMethod = MethodDescriptor(fullyQualifiedService: "carbon.test.v1.Sleepy", method: "Sleep")

/// Calls the sleepy fixture: sleeps `milliseconds` and answers "sleepy VERSION".
private func sleep(
  _ client: GRPCClient<HostClientTransport>, milliseconds: Int, timeout: Duration? = nil
) async throws -> String {
  var options = CallOptions.defaults
  options.timeout = timeout
  return try await client.unary(
    request: ClientRequest(message: Array("\(milliseconds)".utf8)), descriptor: sleepMethod,
    serializer: RawBytesCoder(), deserializer: RawBytesCoder(), options: options
  ) { String(decoding: try $0.message, as: UTF8.self) }
}

@Suite("Security: mTLS identities, allow-lists, admin RPCs, health, metrics, limits")
struct SecurityTests {
  @Test func allowedIdentityPassesOthersAreDeniedAndNoCertificateIsUnauthenticated() async throws {
    let secure = try await SecureHost.start()
    defer { Task { try? await secure.host.stop() } }

    let answer = try await secure.withClient(as: "coop-a") { client in
      try await Carbon_Examples_V1_Units.Client(wrapping: client).convert(convert)
    }
    #expect(abs(answer.quantity.value - 22) < 1e-12)

    let denied = await statusOf {
      try await secure.withClient(as: "auditor") { client in
        _ = try await Carbon_Examples_V1_Units.Client(wrapping: client).convert(convert)
      }
    }
    #expect(denied == .permissionDenied)

    // gwp has no allow-list: any authenticated caller may call it.
    let gwp = try await secure.withClient(as: "auditor") { client in
      try await Carbon_Examples_V1_Gwp.Client(wrapping: client).toCo2e(
        .with {
          $0.masses = [GasMass.with { $0.gas = .ch4; $0.massKg = 10 }]
          $0.gwpSet = .ar4
        })
    }
    #expect(gwp.totalCo2EKg == 250)

    for call in ["module", "host API", "health"] {
      let status = await statusOf {
        try await secure.withClient(as: nil) { client in
          switch call {
          case "module": _ = try await Carbon_Examples_V1_Units.Client(wrapping: client).convert(convert)
          case "host API": _ = try await Carbon_Host_V1_Host.Client(wrapping: client).listModules(.init())
          default: _ = try await Grpc_Health_V1_Health.Client(wrapping: client).check(.init())
          }
        }
      }
      #expect(status == .unauthenticated, "\(call)")
    }

    let whoami = try await secure.withClient(as: "ops") { client in
      try await Carbon_Host_V1_Host.Client(wrapping: client).whoAmI(.init())
    }
    #expect(whoami.authenticated && whoami.identities == ["cn:ops"] && whoami.roles == ["admin"])
    #expect(whoami.callableModules == ["gwp"])
  }

  @Test func onlyAdminsCallAdminRPCsAndChangesApplyAtOnce() async throws {
    let secure = try await SecureHost.start()
    defer { Task { try? await secure.host.stop() } }
    let units = Carbon_Host_V1_ModuleRef.with { $0.name = "units" }

    for caller in ["coop-a", "auditor"] {
      let status = await statusOf {
        try await secure.withClient(as: caller) { client in
          _ = try await Carbon_Host_V1_HostAdmin.Client(wrapping: client).disableModule(units)
        }
      }
      #expect(status == .permissionDenied, "\(caller)")
    }
    #expect(secure.host.server.registry.module(named: "units")?.state == .serving)

    try await secure.withClient(as: "ops") { client in
      let admin = Carbon_Host_V1_HostAdmin.Client(wrapping: client)
      // Re-grant units to the auditor instead of coop-a.
      let changed = try await admin.setModuleAccess(.with {
        $0.name = "units"
        $0.allow = ["auditor"]
      })
      #expect(changed.allow == ["auditor"] && !changed.allowAny)
      let disabled = try await admin.disableModule(units)
      #expect(disabled.state == .disabled)
      let missing = await statusOf { _ = try await admin.enableModule(.with { $0.name = "nope" }) }
      #expect(missing == .notFound)
    }
    let whileDisabled = await statusOf {
      try await secure.withClient(as: "auditor") { client in
        _ = try await Carbon_Examples_V1_Units.Client(wrapping: client).convert(convert)
      }
    }
    #expect(whileDisabled == .unavailable)

    let enabled = try await secure.withClient(as: "ops") { client in
      try await Carbon_Host_V1_HostAdmin.Client(wrapping: client).enableModule(units)
    }
    #expect(enabled.state == .serving)
    let auditorNow = try await secure.withClient(as: "auditor") { client in
      try await Carbon_Examples_V1_Units.Client(wrapping: client).convert(convert)
    }
    #expect(abs(auditorNow.quantity.value - 22) < 1e-12)
    let coopNow = await statusOf {
      try await secure.withClient(as: "coop-a") { client in
        _ = try await Carbon_Examples_V1_Units.Client(wrapping: client).convert(convert)
      }
    }
    #expect(coopNow == .permissionDenied)
  }

  @Test func healthWatchFollowsDisableAndEnable() async throws {
    let secure = try await SecureHost.start()
    defer { Task { try? await secure.host.stop() } }
    let seen = try await secure.withClient(as: "ops") { client in
      let health = Grpc_Health_V1_Health.Client(wrapping: client)
      let admin = Carbon_Host_V1_HostAdmin.Client(wrapping: client)
      return try await health.watch(.with { $0.service = "carbon.examples.v1.Gwp" }) { response in
        var statuses: [Grpc_Health_V1_HealthCheckResponse.ServingStatus] = []
        for try await message in response.messages {
          statuses.append(message.status)
          switch statuses.count {
          case 1: _ = try await admin.disableModule(.with { $0.name = "gwp" })
          case 2: _ = try await admin.enableModule(.with { $0.name = "gwp" })
          default: break
          }
          if statuses.count == 3 { break }
        }
        return statuses
      }
    }
    #expect(seen == [.serving, .notServing, .serving])
  }

  @Test func reloadUnderLoadFailsNoCallAndABadBinaryLeavesTheOldOneServing() async throws {
    let fixtures = TestEnvironment.fixtureDirectory
    let v1 = try TestEnvironment.plugin("libsleepy.so", in: fixtures)
    let v2 = try TestEnvironment.plugin("libsleepy-v2.so", in: fixtures)
    let bad = try TestEnvironment.plugin("libwrong_abi.so", in: fixtures)
    // A reload loads only from plugin_dir: the fixtures' directory here.
    let secure = try await SecureHost.start(modules: [("sleepy", v1)]) { $0.pluginDirectory = fixtures }
    defer { Task { try? await secure.host.stop() } }

    let answers = Locked<[String: Int]>([:])
    let failures = Locked<[String]>([])
    let stop = StopFlag()
    try await withThrowingTaskGroup(of: Void.self) { group in
      for _ in 0..<8 {
        group.addTask {
          try await secure.withClient(as: "coop-a") { client in
            while !stop.isSet {
              do {
                let answer = try await sleep(client, milliseconds: 2)
                answers.withLock { $0[answer, default: 0] += 1 }
              } catch {
                failures.withLock { $0.append("\(error)") }
              }
            }
          }
        }
      }
      try await Task.sleep(for: .milliseconds(300))
      let reloaded = try await secure.withClient(as: "ops") { client in
        try await Carbon_Host_V1_HostAdmin.Client(wrapping: client).reloadModule(.with {
          $0.name = "sleepy"
          $0.path = v2
        })
      }
      #expect(reloaded.version == "2.0.0" && reloaded.state == .serving)
      try await Task.sleep(for: .milliseconds(300))
      let refused = await statusOf {
        try await secure.withClient(as: "ops") { client in
          _ = try await Carbon_Host_V1_HostAdmin.Client(wrapping: client).reloadModule(.with {
            $0.name = "sleepy"
            $0.path = bad
          })
        }
      }
      #expect(refused == .failedPrecondition)
      try await Task.sleep(for: .milliseconds(300))
      stop.set()
      try await group.waitForAll()
    }
    #expect(failures.withLock { $0 } == [])
    let counts = answers.withLock { $0 }
    #expect((counts["sleepy 1.0.0"] ?? 0) > 0 && (counts["sleepy 2.0.0"] ?? 0) > 0, "\(counts)")
    #expect(Set(counts.keys) == ["sleepy 1.0.0", "sleepy 2.0.0"])
    // The bad binary was refused: version 2 still serves.
    let module = try #require(secure.host.server.registry.module(named: "sleepy"))
    #expect(module.state == .serving && module.metadata?.version == "2.0.0")
  }

  @Test func deadlinesAndConcurrencyLimitsAreEnforcedByTheHost() async throws {
    let sleepy = try TestEnvironment.plugin("libsleepy.so", in: TestEnvironment.fixtureDirectory)
    let secure = try await SecureHost.start(modules: [("sleepy", sleepy)]) { config in
      config.modules[0].callTimeoutMilliseconds = 300
      config.modules[0].maxConcurrentCalls = 1
    }
    defer { Task { try? await secure.host.stop() } }
    try await secure.withClient(as: "coop-a") { client in
      // The module's own 300 ms deadline, enforced by the host (the caller set none): the
      // answer comes well before the plugin's 10 s sleep ends. (The bound is loose on purpose:
      // this checks who ends the call, not how fast; the suite running in parallel on a 2-core
      // machine stretches times.)
      let started = ContinuousClock.now
      let timedOut = await statusOf { _ = try await sleep(client, milliseconds: 10_000) }
      #expect(timedOut == .deadlineExceeded)
      #expect(started.duration(to: .now) < .milliseconds(8000))
      // The hung call still holds the module's only slot until the plugin really returns.
      let busy = await statusOf { _ = try await sleep(client, milliseconds: 0) }
      #expect(busy == .resourceExhausted)
      // Then the slot comes back.
      var answer: String?
      while answer == nil, started.duration(to: .now) < .seconds(40) {
        try await Task.sleep(for: .milliseconds(200))
        answer = try? await sleep(client, milliseconds: 0)
      }
      #expect(answer == "sleepy 1.0.0")
      #expect(started.duration(to: .now) > .milliseconds(9900), "the slot was held until the plugin returned")
    }
  }

  @Test func prometheusEndpointCountsCallsByStatus() async throws {
    let secure = try await SecureHost.start { config in
      config.metricsListen = "127.0.0.1:0"
    }
    defer { Task { try? await secure.host.stop() } }
    _ = try await secure.withClient(as: "coop-a") { client in
      try await Carbon_Examples_V1_Units.Client(wrapping: client).convert(convert)
    }
    _ = await statusOf {
      try await secure.withClient(as: "auditor") { client in
        _ = try await Carbon_Examples_V1_Units.Client(wrapping: client).convert(convert)
      }
    }
    let address = try #require(secure.host.server.metricsListeningAddress)
    let (data, response) = try await URLSession.shared.data(from: URL(string: "http://\(address)/metrics")!)
    #expect((response as? HTTPURLResponse)?.statusCode == 200)
    let text = String(decoding: data, as: UTF8.self)
    let path = "/carbon.examples.v1.Units/Convert"
    #expect(text.contains("carbonhub_calls_total{code=\"OK\",method=\"\(path)\",module=\"units\",version=\"1.0.0\"} 1"))
    #expect(text.contains("carbonhub_calls_total{code=\"PERMISSION_DENIED\",method=\"\(path)\",module=\"units\",version=\"1.0.0\"} 1"))
    #expect(text.contains("carbonhub_call_duration_seconds_count{method=\"\(path)\",module=\"units\",version=\"1.0.0\"} 2"))
    #expect(text.contains("carbonhub_module_up{module=\"gwp\",version=\"1.0.0\",state=\"serving\"} 1"))
    #expect(text.contains("carbonhub_loader_events_total{event=\"load\"} 2"))
  }
}

/// Set once by the test, read by its load tasks.
private final class StopFlag: Sendable {
  private let value = Mutex(false)
  var isSet: Bool { value.withLock { $0 } }
  func set() { value.withLock { $0 = true } }
}

/// A value shared by the test's concurrent tasks.
private final class Locked<Value: Sendable>: Sendable {
  private let value: Mutex<Value>
  init(_ value: Value) { self.value = Mutex(value) }
  func withLock<R: Sendable>(_ body: (inout sending Value) -> R) -> R { value.withLock { body(&$0) } }
}
