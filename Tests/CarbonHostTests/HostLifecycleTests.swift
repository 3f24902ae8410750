import CarbonHost
import CarbonHostProtocol
import CarbonPluginLoader
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import Logging
import ServiceLifecycle
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// The host's life as one `ServiceGroup` (issue 21, "structured task ownership with
/// swift-service-lifecycle's ServiceGroup for the host, its listeners, its workers and
/// signals"): its parts stop in order — the gRPC listener drains, then the metrics listener,
/// then the modules' workers — and nothing it started outlives it, even when it fails to start.
@Suite("Host lifecycle: one service group, parts stopped in order, nothing left behind", .timeLimit(.minutes(3)))
struct HostLifecycleTests {
  static let patientWork = MethodDescriptor(fullyQualifiedService: "carbon.test.v1.Patient", method: "Work")

  /// A host, not yet running, serving the `patient` fixture in a worker, returned once the
  /// worker serves: the host, its state directory (the development CA is `tls/ca.pem`), the worker.
  private func patientHost(
    _ label: String, configure: (inout DeploymentConfig) -> Void = { _ in }
  ) async throws -> (server: HostServer, state: String, worker: WorkerSupervisor) {
    let state = try TestEnvironment.temporaryDirectory(label)
    var config = DeploymentConfig(pluginDirectory: TestEnvironment.pluginDirectory, stateDirectory: state)
    config.listen = "127.0.0.1:0"
    let library = try TestEnvironment.plugin("libpatient.so", in: TestEnvironment.fixtureDirectory)
    // A test fixture has no manifest: the deployment pins its digest instead.
    config.modules = [.init(name: "patient", path: library, sha256: PluginLibrary.sha256(ofFileAt: library))]
    config.modules[0].isolation = .isolated
    config.workerExecutable = try TestEnvironment.plugin("carbonhub")
    configure(&config)
    let server = try await HostServer(config: config, logger: TestEnvironment.logger)
    try await waitUntil("the patient module serves") { server.registry.module(named: "patient")?.state.isServing == true }
    return (server, state, try #require(server.registry.module(named: "patient")?.isolated))
  }

  /// As `carbonhub serve` runs it: a graceful shutdown of the outer group (SIGTERM) reaches the
  /// host's own group. A call in flight in an isolated module's worker finishes — the workers
  /// stop after the listener has drained, not before — then the worker and the metrics
  /// listener are gone when the group returns.
  @Test func aGracefulShutdownDrainsTheListenerBeforeTheWorkersStop() async throws {
    let (server, state, worker) = try await patientHost("lifecycle") { $0.metricsListen = "127.0.0.1:0" }
    let group = ServiceGroup(services: [server], logger: TestEnvironment.logger)
    let serving = Task { try await group.run() }
    let address = try await server.listeningAddress
    let metricsPort = try #require(server.metricsListeningAddress?.split(separator: ":").last.flatMap { Int($0) })
    let transport = try ClientTransportFactory.make(server: address, caFile: state + "/tls/ca.pem", clientCertificate: nil)
    let answer = try await withGRPCClient(transport: transport) { client in
      async let call = client.unary(
        request: ClientRequest(message: Array("800".utf8)), descriptor: Self.patientWork,
        serializer: RawBytesCoder(), deserializer: RawBytesCoder(), options: .defaults
      ) { try $0.message }
      // The call is in the worker: now the shutdown (what SIGTERM does in `serve`).
      try await waitUntil("the call reaches the worker") { worker.callsInFlight == 1 }
      await group.triggerGracefulShutdown()
      return try await call
    }
    #expect(String(decoding: answer, as: UTF8.self) == "done", "the call in flight finished on its worker")
    try await serving.value
    #expect(worker.state == .stopped, "the worker stopped with the host")
    #expect(worker.workerProcessID == nil)
    #expect(!Self.acceptsConnections(port: metricsPort), "the metrics listener closed with the host")
  }

  /// The same drain in process: a plugin that checks `call_cancellable` is not told to stop
  /// when the host begins to drain (before, it returned CANCELLED "stopped after … ms").
  @Test func anInProcessCallInFlightFinishesWhenTheHostStops() async throws {
    let library = try TestEnvironment.plugin("libpatient.so", in: TestEnvironment.fixtureDirectory)
    let host = try await RunningHost.start(modules: [("patient", library)]) { config in
      config.modules[0].sha256 = PluginLibrary.sha256(ofFileAt: library)
    }
    let answer = try await host.withClient { client in
      async let call = client.unary(
        request: ClientRequest(message: Array("800".utf8)), descriptor: Self.patientWork,
        serializer: RawBytesCoder(), deserializer: RawBytesCoder(), options: .defaults
      ) { try $0.message }
      try await waitUntil("the call reaches the plugin") { host.callsInFlight("patient") == 1 }
      async let stopped: Void = host.stop()
      let answer = try await call
      try await stopped
      return answer
    }
    #expect(String(decoding: answer, as: UTF8.self) == "done")
  }

  /// `[limits] drain_timeout_ms`: a module call that outlasts the drain is cancelled when it
  /// runs out (its caller gets CANCELLED), and the host stops then, not at the call's end.
  /// A health `Watch` open meanwhile ends at the start of the drain, not at its end.
  @Test func aCallThatOutlastsTheDrainIsCancelledWhenTheDrainRunsOut() async throws {
    let (server, state, worker) = try await patientHost("lifecycle-drain") { $0.limits.drainTimeoutMilliseconds = 3000 }
    let serving = Task { try await server.run { _ in } }
    let transport = try ClientTransportFactory.make(
      server: try await server.listeningAddress, caFile: state + "/tls/ca.pem", clientCertificate: nil)
    let (outcome, watchEnded, stopped) = try await withGRPCClient(transport: transport) { client in
      let watch = Task {
        try await Grpc_Health_V1_Health.Client(wrapping: client).watch(.with { $0.service = "" }) { response in
          for try await _ in response.messages {}
        }
        return ContinuousClock.now
      }
      async let call: Result<[UInt8], any Error> = {
        do {
          return .success(
            try await client.unary(
              request: ClientRequest(message: Array("20000".utf8)), descriptor: Self.patientWork,
              serializer: RawBytesCoder(), deserializer: RawBytesCoder(), options: .defaults
            ) { try $0.message })
        } catch {
          return .failure(error)
        }
      }()
      try await waitUntil("the call reaches the worker") { worker.callsInFlight == 1 }
      let drainStarted = ContinuousClock.now
      await server.shutdown()
      let outcome = await call
      let watchEnded = (try? await watch.value).map { $0 - drainStarted }
      _ = try? await serving.value
      return (outcome, watchEnded, ContinuousClock.now - drainStarted)
    }
    guard case .failure(let error as RPCError) = outcome else {
      Issue.record("expected CANCELLED when the drain ran out, got \(outcome)")
      return
    }
    #expect(
      error.code == .cancelled && error.message.contains("the host is stopping") && error.message.contains("drain_timeout_ms = 3000"),
      "\(error)")
    #expect(stopped >= .seconds(3) && stopped < .seconds(15), "stopped \(stopped) after the drain began: at its timeout, not the call's 20 s")
    let watched = try #require(watchEnded, "the Watch stream failed instead of ending")
    #expect(watched < .seconds(3), "the health Watch ended \(watched) into the drain, not with it")
    #expect(worker.state == .stopped)
  }

  /// A host that cannot listen (its port is taken) fails with the reason — and stops the
  /// worker it had already started for an isolated module (before, the worker outlived the
  /// failed start).
  @Test func aHostThatCannotListenStopsTheWorkersItStarted() async throws {
    let other = try await RunningHost.startExamples()
    defer { Task { try? await other.stop() } }
    let (server, _, worker) = try await patientHost("lifecycle-taken") { $0.listen = other.address }
    #expect(worker.workerProcessID != nil)
    do {
      try await server.run { _ in Issue.record("listening on a taken port") }
      Issue.record("the host ran on a taken port")
    } catch let error as RPCError {
      #expect(error.message.contains("address already in use"), "\(error)")
    }
    #expect(worker.state == .stopped, "the worker did not outlive the failed start")
    #expect(worker.workerProcessID == nil)
  }

  /// `shutdown()` asked before `run()` (a supervisor stopping a host still loading its
  /// modules): `run` binds nothing, stops the worker already started, and returns.
  @Test func aShutdownAskedBeforeRunStopsTheHostAtOnce() async throws {
    let (server, _, worker) = try await patientHost("lifecycle-early")
    await server.shutdown()
    let started = ContinuousClock.now
    do {
      try await server.run { _ in }
    } catch {
      // Stopped before it listened: the listener says so; nothing else may fail.
      #expect(String(describing: error).contains("listen"), "\(error)")
    }
    #expect(ContinuousClock.now - started < .seconds(10))
    #expect(worker.state == .stopped)
  }

  /// Once the registry has shut down, a change asked of it is refused ("the host is stopping")
  /// and changes nothing: before, an `enable` after shutdown still loaded the module.
  @Test func aChangeAskedAfterShutdownIsRefusedAndChangesNothing() async throws {
    let state = try TestEnvironment.temporaryDirectory("lifecycle-after")
    var config = DeploymentConfig(pluginDirectory: TestEnvironment.pluginDirectory, stateDirectory: state)
    config.modules = [
      .init(name: "units", path: try TestEnvironment.plugin("libExampleUnits.so")),
      .init(name: "gwp", enabled: false, path: try TestEnvironment.plugin("libgwp.so")),
    ]
    let registry = await ModuleRegistry.load(config, logger: TestEnvironment.logger)
    #expect(registry.serving.map(\.name) == ["units"])
    await registry.shutdown()
    do {
      _ = try await registry.enable("gwp", by: .anonymous)
      Issue.record("a module was enabled after shutdown")
    } catch {
      #expect(error.code == .failedPrecondition && error.message == "the host is stopping", "\(error)")
    }
    #expect(registry.module(named: "gwp")?.state == .disabled)
    await registry.shutdown()  // a second shutdown returns
  }

  private static func acceptsConnections(port: Int) -> Bool {
    let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(socket) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
  }
}
