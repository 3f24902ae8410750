import CarbonHost
import CarbonHostProtocol
import CarbonPluginLoader
import Foundation
import GRPCCore
import Synchronization
import Testing

#if canImport(FoundationNetworking)
  import FoundationNetworking
#endif
#if canImport(Glibc)
  import Glibc
#endif

/// Isolated mode as an admin deploys it: `isolation = "isolated"` in the deployment, the host
/// serving over TLS gRPC, and what callers, health, the host API and the metrics endpoint see
/// when the worker crashes, aborts, runs out of memory or hangs.
@Suite("Isolated mode in a deployment: crashes seen through gRPC, health and metrics", .serialized, .timeLimit(.minutes(3)))
struct IsolatedDeploymentTests {
  static let crashyService = "carbon.test.v1.Crashy"

  @Test func crashesGiveUnavailableHealthFollowsRestartsAndMetricsCountThem() async throws {
    let crashy = try TestEnvironment.plugin("libcrashy.so", in: TestEnvironment.fixtureDirectory)
    let host = try await RunningHost.start(modules: [
      ("crashy", crashy), ("units", try TestEnvironment.plugin("libExampleUnits.so")),
    ]) { config in
      config.metricsListen = "127.0.0.1:0"
      config.workerExecutable = try TestEnvironment.plugin("carbonhub")
      config.modules[0].isolation = .isolated
      // Small, so that Hog reaches it quickly: touching its pages is slow when the suite runs
      // in parallel on two cores (with 512 MiB and 3 s, Hog once met the deadline first).
      config.modules[0].memoryLimitMB = 384
      // The server's own deadline, so that the host (not the client) ends the hung call. (Spin
      // holds a core until then and for the grace after: not longer than needed.)
      config.modules[0].callTimeoutMilliseconds = 5000
    }
    defer { Task { try? await host.stop() } }
    try await host.withClient { client in
      let health = Grpc_Health_V1_Health.Client(wrapping: client)
      try await waitForHealth(health, Self.crashyService, .serving)
      let firstWorker = try #require(host.server.registry.module(named: "crashy")?.isolated?.workerProcessID)
      #expect(firstWorker != getpid())
      #expect(try await raw(client, "Echo", [1, 2]) == [1, 2])

      // Health as a watcher sees it, for the whole test: serving, then (not serving, serving) × 4.
      // Every wait below has a deadline naming what it waits for, so a hang says where it is.
      let seen = Mutex<[Grpc_Health_V1_HealthCheckResponse.ServingStatus]>([])
      let watched = Task {
        try await health.watch(.with { $0.service = Self.crashyService }) { response in
          for try await message in response.messages {
            let count = seen.withLock { statuses in
              if statuses.last != message.status { statuses.append(message.status) }
              return statuses.count
            }
            if count == 9 { break }
          }
        }
      }
      // The Watch must be open before the first crash, or it would miss a transition.
      try await waitUntil("the health Watch's first status") { seen.withLock { !$0.isEmpty } }

      // The in-process neighbour answers throughout.
      let stop = Atomic<Bool>(false)
      let neighbour = Task { () -> (calls: Int, failures: [String]) in
        var calls = 0
        var failures: [String] = []
        let units = Carbon_Examples_V1_Units.Client(wrapping: client)
        while !stop.load(ordering: .acquiring) {
          do {
            // Slow answers are still answers: on a saturated machine (the suite in parallel,
            // Spin holding a core) a call once took over 10 s.
            let answer = try await units.convert(
              .with {
                $0.quantity = .with { $0.value = 2; $0.unit = .tC }
                $0.targetUnit = .tCo2E
              }, options: deadline(.seconds(30)))
            if abs(answer.quantity.value - 2 * 44.0 / 12.0) > 1e-9 { failures.append("units answered \(answer.quantity.value)") }
          } catch {
            failures.append("\(error)")
          }
          calls += 1
        }
        return (calls, failures)
      }

      let crashes: [(method: String, code: RPCError.Code, cause: String)] = [
        ("Segfault", .unavailable, "SIGSEGV"), ("Abort", .unavailable, "SIGABRT"),
        ("Hog", .unavailable, "memory_limit_mb = 384"), ("Spin", .deadlineExceeded, "exceeded its deadline"),
      ]
      for (round, crash) in crashes.enumerated() {
        do {
          _ = try await raw(client, crash.method, [])
          Issue.record("\(crash.method) answered")
        } catch let error as RPCError {
          #expect(error.code == crash.code, "\(crash.method): \(error)")
          #expect(error.message.contains(crash.cause), "\(crash.method): \(error.message)")
        }
        if crash.code == .unavailable {
          // Reported before the caller heard UNAVAILABLE: no stale SERVING in between. SERVING is
          // right only once the restart is counted (a fast restart can beat this check).
          let now = try await health.check(.with { $0.service = Self.crashyService }, options: deadline(.seconds(5)))
          let restarted = host.server.registry.module(named: "crashy")?.restarts == round + 1
          #expect(now.status == .notServing || (now.status == .serving && restarted), "\(crash.method): \(now.status)")
        }
        // A hung worker is killed once its overdue call has had its grace period.
        try await waitUntil("restart \(round + 1) after \(crash.method)") {
          host.server.registry.module(named: "crashy")?.restarts == round + 1
        }
        try await waitForHealth(health, Self.crashyService, .serving)
        #expect(try await raw(client, "Echo", [UInt8(round)]) == [UInt8(round)], "serves again after \(crash.method)")
      }
      stop.store(true, ordering: .releasing)
      let (calls, failures) = await neighbour.value
      #expect(failures.isEmpty, "\(failures.prefix(3))")
      #expect(calls > 10)

      try await waitUntil("9 Watch transitions (seen: \(seen.withLock { $0 }))") { seen.withLock { $0.count } >= 9 }
      watched.cancel()
      let statuses = seen.withLock { $0 }
      #expect(statuses == [.serving] + Array(repeating: [.notServing, .serving], count: 4).flatMap { $0 })

      let info = try await Carbon_Host_V1_Host.Client(wrapping: client).getModule(.with { $0.name = "crashy" })
      #expect(info.isolation == .isolated && info.restarts == 4 && info.state == .serving)
      let units = try await Carbon_Host_V1_Host.Client(wrapping: client).getModule(.with { $0.name = "units" })
      #expect(units.isolation == .inProcess && units.restarts == 0)
      #expect(kill(firstWorker, 0) != 0, "the first worker is gone")
    }

    let metrics = try await scrape(host)
    #expect(metrics.contains("carbonhub_worker_restarts_total{module=\"crashy\",version=\"0.0.1\"} 4"), "\(metrics)")
    #expect(metrics.contains("carbonhub_worker_restarts_total{module=\"units\",version=\"1.0.0\"} 0"))
    #expect(metrics.contains("carbonhub_loader_events_total{event=\"worker_restart\"} 4"))
    #expect(metrics.contains("carbonhub_calls_total{code=\"UNAVAILABLE\",method=\"/carbon.test.v1.Crashy/Segfault\",module=\"crashy\",version=\"0.0.1\"} 1"))
    #expect(metrics.contains("carbonhub_module_up{module=\"crashy\",version=\"0.0.1\",state=\"serving\"} 1"))

    let worker = try #require(host.server.registry.module(named: "crashy")?.isolated?.workerProcessID)
    try await host.stop()
    #expect(kill(worker, 0) != 0 && errno == ESRCH, "the host's drain stops its workers")
  }

  /// `[workers]`: the deployment's restart delay and cancellation grace reach each worker's
  /// supervisor (docs/deployment.md: "delay before the first restart of a worker that died";
  /// "time a worker has to finish a call after its deadline … beyond it the worker is presumed
  /// hung, killed and restarted").
  @Test func theDeploymentsWorkerTimingsGovernRestartsAndHungCalls() async throws {
    let host = try await RunningHost.start(modules: [("crashy", try TestEnvironment.plugin("libcrashy.so", in: TestEnvironment.fixtureDirectory))]) { config in
      config.workerExecutable = try TestEnvironment.plugin("carbonhub")
      config.modules[0].isolation = .isolated
      config.modules[0].callTimeoutMilliseconds = 200
      config.workers = try DeploymentConfig.parse(
        toml: "[workers]\nrestart_delay_ms = 2000\ncancel_grace_ms = 300", defaults: config
      ).workers
    }
    defer { Task { try? await host.stop() } }
    try await host.withClient { client in
      let health = Grpc_Health_V1_Health.Client(wrapping: client)
      try await waitForHealth(health, Self.crashyService, .serving)
      // Timed from before the call: the worker dies after it was sent and comes back no sooner
      // than the delay after its death, however late this task sees either.
      let sent = ContinuousClock.now
      _ = try? await raw(client, "Segfault", [])
      try await waitForHealth(health, Self.crashyService, .serving)
      let down = ContinuousClock.now - sent
      // The default (100 ms) restarts in well under a second; 2 s were asked for.
      #expect(down >= .milliseconds(1900), "back after \(down)")

      // Spin never returns: 200 ms deadline, then 300 ms of grace, then the kill (the default
      // grace, 2 s, would not have killed it yet when the restart is counted below).
      let spun = ContinuousClock.now
      _ = try? await raw(client, "Spin", [])
      try await waitUntil("the hung worker is killed") { host.server.registry.module(named: "crashy")?.restarts == 2 }
      #expect(ContinuousClock.now - spun < .milliseconds(2000), "killed after \(ContinuousClock.now - spun)")
    }
  }

  @Test func streamsFromAWorkerReachTheCallerAndACrashMidStreamEndsItWithUnavailable() async throws {
    let host = try await RunningHost.start(modules: [("crashy", try TestEnvironment.plugin("libcrashy.so", in: TestEnvironment.fixtureDirectory))]) { config in
      config.workerExecutable = try TestEnvironment.plugin("carbonhub")
      config.modules[0].isolation = .isolated
    }
    defer { Task { try? await host.stop() } }
    try await host.withClient { client in
      try await waitForHealth(Grpc_Health_V1_Health.Client(wrapping: client), Self.crashyService, .serving)
      // 200 messages: more than the window of 64 that may travel ahead of the client.
      let counted = try await stream(client, "Count", [200])
      #expect(counted.messages == (0..<200).map { [UInt8($0)] } && counted.error == nil)

      let crashed = try await stream(client, "CountThenSegfault", [])
      #expect(crashed.messages.count <= 2)
      let error = try #require(crashed.error)
      #expect(error.code == .unavailable && error.message.contains("SIGSEGV"), "\(error)")
      try await waitForHealth(Grpc_Health_V1_Health.Client(wrapping: client), Self.crashyService, .serving)
      #expect(try await stream(client, "Count", [3]).messages == [[0], [1], [2]])
    }
    #expect(host.server.registry.module(named: "crashy")?.restarts == 1)
  }

  /// A host serving the sleepy fixture (1.0.0) in a worker, the fixtures as its plugin directory
  /// (so that a reload may load libsleepy-v2.so).
  static func startIsolatedSleepy() async throws -> RunningHost {
    let fixtures = TestEnvironment.fixtureDirectory
    let host = try await RunningHost.start(modules: [("sleepy", try TestEnvironment.plugin("libsleepy.so", in: fixtures))]) { config in
      config.workerExecutable = try TestEnvironment.plugin("carbonhub")
      config.modules[0].isolation = .isolated
      config.pluginDirectory = fixtures
    }
    try await host.withClient { client in
      try await waitForHealth(Grpc_Health_V1_Health.Client(wrapping: client), "carbon.test.v1.Sleepy", .serving)
    }
    return host
  }

  /// Starts a call of `milliseconds` to the isolated sleepy module; returns once its worker holds it.
  static func sleepInFlight(
    _ client: GRPCClient<HostClientTransport>, _ registry: ModuleRegistry, milliseconds: Int
  ) async throws -> Task<String, any Error> {
    let call = Task { try await sleep(client, milliseconds: milliseconds) }
    try await waitUntil { registry.module(named: "sleepy")?.isolated?.callsInFlight == 1 }
    return call
  }

  @Test func reloadSwitchesWorkersAndDisableStopsTheWorker() async throws {
    let v2 = try TestEnvironment.plugin("libsleepy-v2.so", in: TestEnvironment.fixtureDirectory)
    let host = try await Self.startIsolatedSleepy()
    defer { Task { try? await host.stop() } }
    let registry = host.server.registry
    try await host.withClient { client in
      #expect(try await sleep(client, milliseconds: 1) == "sleepy 1.0.0")
      let v1Worker = try #require(registry.module(named: "sleepy")?.isolated?.workerProcessID)

      // A call in flight during the reload finishes on the old worker.
      let inFlight = Task { try await sleep(client, milliseconds: 400) }
      try await Task.sleep(for: .milliseconds(100))
      let reloaded = try await registry.reload("sleepy", path: v2, sha256: nil, by: .anonymous)
      #expect(reloaded.metadata?.version == "2.0.0" && reloaded.isolated != nil)
      #expect(try await sleep(client, milliseconds: 1) == "sleepy 2.0.0")
      #expect(try await inFlight.value == "sleepy 1.0.0")
      try await waitUntil { kill(v1Worker, 0) != 0 }

      // A bad binary leaves the current worker serving.
      let bad = try TestEnvironment.plugin("libwrong_abi.so", in: TestEnvironment.fixtureDirectory)
      await #expect(throws: ModuleRegistry.ActionError.self) {
        try await registry.reload("sleepy", path: bad, sha256: nil, by: .anonymous)
      }
      #expect(try await sleep(client, milliseconds: 1) == "sleepy 2.0.0")

      let v2Worker = try #require(registry.module(named: "sleepy")?.isolated?.workerProcessID)
      _ = try await registry.disable("sleepy", by: .anonymous)
      try await waitUntil { kill(v2Worker, 0) != 0 }
      do {
        _ = try await sleep(client, milliseconds: 1)
        Issue.record("a disabled module answered")
      } catch let error as RPCError {
        #expect(error.code == .unavailable && error.message.contains("disabled"), "\(error)")
      }
      _ = try await registry.enable("sleepy", by: .anonymous)
      #expect(try await sleep(client, milliseconds: 1) == "sleepy 2.0.0")
    }
  }

  /// A worker retired by a reload while it still answers a call is the registry's until it has
  /// stopped: `shutdown` lets the call finish within its grace and returns only once that
  /// worker is gone too (before, it stopped the current workers only, and the retired one
  /// outlived it).
  @Test func shutdownWaitsForAWorkerRetiredByAReload() async throws {
    let v2 = try TestEnvironment.plugin("libsleepy-v2.so", in: TestEnvironment.fixtureDirectory)
    let host = try await Self.startIsolatedSleepy()
    defer { Task { try? await host.stop() } }
    let registry = host.server.registry
    try await host.withClient { client in
      let v1Worker = try #require(registry.module(named: "sleepy")?.isolated?.workerProcessID)
      let inFlight = try await Self.sleepInFlight(client, registry, milliseconds: 1500)
      _ = try await registry.reload("sleepy", path: v2, sha256: nil, by: .anonymous)
      let v2Worker = try #require(registry.module(named: "sleepy")?.isolated?.workerProcessID)
      await registry.shutdown(grace: .seconds(10))
      #expect(kill(v1Worker, 0) != 0, "the retired worker outlived the registry's shutdown")
      #expect(kill(v2Worker, 0) != 0)
      #expect(try await inFlight.value == "sleepy 1.0.0", "the call in flight finished within the grace")
    }
  }

  /// The grace is a bound: a call longer than it gets UNAVAILABLE when the grace runs out, and
  /// shutdown returns then, not when the plugin would have answered.
  @Test func shutdownEndsCallsThatOutlastTheGrace() async throws {
    let host = try await Self.startIsolatedSleepy()
    defer { Task { try? await host.stop() } }
    let registry = host.server.registry
    try await host.withClient { client in
      let worker = try #require(registry.module(named: "sleepy")?.isolated?.workerProcessID)
      let inFlight = try await Self.sleepInFlight(client, registry, milliseconds: 8000)
      let started = ContinuousClock.now
      await registry.shutdown(grace: .milliseconds(300))
      let took = started.duration(to: .now)
      #expect(took >= .milliseconds(300) && took < .seconds(5), "shutdown took \(took)")
      #expect(kill(worker, 0) != 0)
      do {
        _ = try await inFlight.value
        Issue.record("the call outlived the grace")
      } catch let error as RPCError {
        #expect(error.code == .unavailable, "\(error)")
      }
    }
  }

  @Test func theHostAppliesTheTrustPolicyBeforeAnyWorkerLoadsThePlugin() async throws {
    let workspace = try await MarkerWorkspace("isolated")
    // The worker learns where to write the marker from a wrapper script, not from this
    // process's environment: a `setenv` here reached every child the parallel suite started
    // meanwhile, and another suite's `carbonhub plugin manifest` of the same fixture once wrote
    // this marker.
    let worker = workspace.keys + "/worker.sh"
    try "#!/bin/sh\nCARBONHUB_MARKER_FILE='\(workspace.marker)' exec '\(try TestEnvironment.plugin("carbonhub"))' \"$@\"\n"
      .write(toFile: worker, atomically: true, encoding: .utf8)
    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: worker)
    let start = { () async throws -> RunningHost in
      try await RunningHost.start(modules: [("constructor-marker", workspace.library)]) { config in
        config.workerExecutable = worker
        config.modules[0].isolation = .isolated
        // The marker is written outside the module's data directory, which a confined worker
        // cannot do (WorkerConfinementTests): this test is about the host's checks before load.
        config.modules[0].confinement.mode = .off
        config.trust = PluginTrustPolicy(
          requireSignature: true,
          trustedPublishers: ["acme": try PublisherKey(base64: String(contentsOfFile: workspace.keys + "/acme.pub", encoding: .utf8))])
      }
    }
    // Unsigned: refused by the host's check; no worker ever loaded the library.
    let unsigned = try await start()
    try await waitUntil { unsigned.server.registry.module(named: "constructor-marker")?.state != .loading }
    let refused = try #require(unsigned.server.registry.module(named: "constructor-marker"))
    guard case .failed(let reason) = refused.state else {
      Issue.record("expected failed, got \(refused.state)")
      return
    }
    #expect(reason.contains("require_signature"), "\(reason)")
    #expect(!workspace.markerExists, "no plugin code ran")
    try await unsigned.stop()

    // Signed by a trusted publisher: the worker loads it (its constructor runs there).
    try await workspace.sign(with: "acme")
    let signed = try await start()
    defer { Task { try? await signed.stop() } }
    try await waitUntil { signed.server.registry.module(named: "constructor-marker")?.state == .serving }
    let module = try #require(signed.server.registry.module(named: "constructor-marker"))
    #expect(module.metadata?.manifest == "manifest signed by 'acme'")
    #expect(workspace.markerExists)
  }
}

// MARK: Helpers

/// Call options with a deadline, so that a test's call cannot wait forever.
private func deadline(_ timeout: Duration) -> CallOptions {
  var options = CallOptions.defaults
  options.timeout = timeout
  return options
}

/// A raw call to the crash fixture (its requests and answers are bare bytes).
private func raw(
  _ client: GRPCClient<HostClientTransport>, _ method: String, _ request: [UInt8], timeout: Duration? = nil
) async throws -> [UInt8] {
  var options = CallOptions.defaults
  options.timeout = timeout
  return try await client.unary(
    request: ClientRequest(message: request),
    descriptor: MethodDescriptor(fullyQualifiedService: IsolatedDeploymentTests.crashyService, method: method),
    serializer: RawBytesCoder(), deserializer: RawBytesCoder(), options: options
  ) { try $0.message }
}

/// A raw server-streaming call to the crash fixture: the messages received and how it ended.
private func stream(
  _ client: GRPCClient<HostClientTransport>, _ method: String, _ request: [UInt8]
) async throws -> (messages: [[UInt8]], error: RPCError?) {
  try await client.serverStreaming(
    request: ClientRequest(message: request),
    descriptor: MethodDescriptor(fullyQualifiedService: IsolatedDeploymentTests.crashyService, method: method),
    serializer: RawBytesCoder(), deserializer: RawBytesCoder(), options: .defaults
  ) { response in
    var messages: [[UInt8]] = []
    do {
      for try await message in response.messages { messages.append(message) }
      return (messages, nil)
    } catch let error as RPCError {
      return (messages, error)
    }
  }
}

private func sleep(_ client: GRPCClient<HostClientTransport>, milliseconds: Int) async throws -> String {
  try await client.unary(
    request: ClientRequest(message: Array("\(milliseconds)".utf8)),
    descriptor: MethodDescriptor(fullyQualifiedService: "carbon.test.v1.Sleepy", method: "Sleep"),
    serializer: RawBytesCoder(), deserializer: RawBytesCoder(), options: .defaults
  ) { String(decoding: try $0.message, as: UTF8.self) }
}

/// Polls the health service until `service` has `status` (20 s at most).
private func waitForHealth(
  _ health: Grpc_Health_V1_Health.Client<HostClientTransport>, _ service: String,
  _ status: Grpc_Health_V1_HealthCheckResponse.ServingStatus
) async throws {
  try await waitUntil("health of \(service) is \(status)") {
    (try? await health.check(.with { $0.service = service }, options: deadline(.seconds(5))))?.status == status
  }
}


private func scrape(_ host: RunningHost) async throws -> String {
  let address = try #require(host.server.metricsListeningAddress)
  let (data, _) = try await URLSession.shared.data(from: URL(string: "http://\(address)/metrics")!)
  return String(decoding: data, as: UTF8.self)
}
