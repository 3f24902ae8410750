import CarbonHost
import CarbonHostProtocol
import Foundation
import GRPCCore
import Synchronization
import Testing

#if canImport(FoundationNetworking)
  import FoundationNetworking
#endif

/// Issue 25: what one client, or all of them, may cost the host. Each test starts a host with
/// the `flood` fixture (Tests/Fixtures/broken-plugins/flood.c: a server-streaming method that
/// emits "COUNT,BYTES" and a unary one that answers BYTES bytes) and small limits, and checks
/// the limit holds from outside: over TLS gRPC, from Python grpcio, or from raw sockets.
@Suite("Overload protection: sizes, memory budget, flow control, deadlines, connections", .serialized, .timeLimit(.minutes(3)))
struct OverloadTests {
  static let flood = "carbon.test.v1.Flood"

  static func startFlood(
    _ configure: @escaping (inout DeploymentConfig) -> Void = { _ in }, module: (inout DeploymentConfig.ModuleEntry) -> Void = { _ in }
  ) async throws -> RunningHost {
    let path = try TestEnvironment.plugin("libflood.so", in: TestEnvironment.fixtureDirectory)
    return try await RunningHost.start(modules: [("flood", path), ("gwp", try TestEnvironment.plugin("libgwp.so"))]) { config in
      config.metricsListen = "127.0.0.1:0"
      module(&config.modules[0])
      configure(&config)
    }
  }

  // MARK: 1. Sizes

  /// "a smaller default request limit (4 MiB, as gRPC's default; larger per module by
  /// configuration) … RESOURCE_EXHAUSTED with the limit in the message in both directions."
  @Test func requestsAboveTheModuleLimitAreRefusedWithTheLimitNamed() async throws {
    #expect(DeploymentConfig(pluginDirectory: "", stateDirectory: "").maxMessageBytes == 4 * 1024 * 1024)
    let host = try await Self.startFlood { $0.maxMessageBytes = 8 * 1024 * 1024 } module: { $0.maxMessageBytes = 2048 }
    defer { Task { try? await host.stop() } }
    try await host.withClient { client in
      // A 3 000-byte request to a module limited to 2 048 bytes: refused before the plugin.
      let refused = await capture { try await unary(client, Self.flood, "Answer", Array(repeating: UInt8(ascii: "1"), count: 3000)) }
      #expect(refused?.code == .resourceExhausted)
      #expect(refused?.message.contains("the request is 3000 bytes, above the limit of 2048 bytes (max_message_bytes of module 'flood')") == true, "\(String(describing: refused))")
      // gwp keeps the deployment's 8 MiB: a 5 MiB request reaches the plugin, which finds it malformed.
      let reached = await capture { try await unary(client, "carbon.examples.v1.Gwp", "ToCo2e", Array(repeating: 0xFF, count: 5 << 20)) }
      #expect(reached?.code == .invalidArgument, "\(String(describing: reached))")
      // Above every module's limit: still RESOURCE_EXHAUSTED naming the limit…
      let tooLarge = await capture { try await unary(client, "carbon.examples.v1.Gwp", "ToCo2e", Array(repeating: 0xFF, count: 9 << 20)) }
      #expect(tooLarge?.code == .resourceExhausted, "\(String(describing: tooLarge))")
      #expect(tooLarge?.message.contains("above the limit of \(8 * 1024 * 1024) bytes") == true, "\(String(describing: tooLarge))")
      // …and far above it too: refused from the message's 5-byte prefix, before the transport
      // reads the message (before, beyond four times the largest limit, grpc-swift's transport
      // reset the stream without a status and the client saw UNAVAILABLE).
      let huge = await capture { try await unary(client, "carbon.examples.v1.Gwp", "ToCo2e", Array(repeating: 0xFF, count: 33 << 20)) }
      #expect(huge?.code == .resourceExhausted, "\(String(describing: huge))")
      #expect(huge?.message.contains("the request is \(33 << 20) bytes, above the limit of \(8 * 1024 * 1024) bytes (max_message_bytes of module 'gwp')") == true, "\(String(describing: huge))")
      // The connection is unharmed: the next call on it is answered.
      let after = await capture { try await unary(client, "carbon.examples.v1.Gwp", "ToCo2e", Array(repeating: 0xFF, count: 16)) }
      #expect(after?.code == .invalidArgument, "\(String(describing: after))")
    }
    let metrics = try await host.metricsText()
    #expect(metrics.contains("carbonhub_overload_refusals_total{reason=\"request_too_large\"} 3"), "\(metrics)")
  }

  /// The same with a stock grpcio client (the assessment's tool): a 40 MiB request to a module
  /// limited to 4 MiB — ten times the limit, above the transport's own ceiling — gets
  /// RESOURCE_EXHAUSTED naming the limit, and the channel serves the next call.
  @Test func aGrpcioClientSendingFarAboveTheLimitReadsTheLimit() async throws {
    let host = try await Self.startFlood()
    defer { Task { try? await host.stop() } }
    let script = """
      import grpc
      credentials = grpc.ssl_channel_credentials(root_certificates=open("\(host.caFile)", "rb").read())
      options = [("grpc.max_send_message_length", -1)]
      with grpc.secure_channel("localhost:\(host.port)", credentials, options) as channel:
          to_co2e = channel.unary_unary("/carbon.examples.v1.Gwp/ToCo2e")
          for size in (40 << 20, 16):
              try:
                  to_co2e(b"\\xff" * size, timeout=60)
                  print(size, "OK")
              except grpc.RpcError as error:
                  print(size, error.code().name, error.details())
      """
    let run = try await runProcess("/usr/bin/env", ["python3", "-c", script], timeout: 120)
    #expect(run.status == 0, "\(run.output)")
    #expect(
      run.output.contains("\(40 << 20) RESOURCE_EXHAUSTED /carbon.examples.v1.Gwp/ToCo2e: the request is \(40 << 20) bytes, above the limit of \(4 << 20) bytes"),
      "\(run.output)")
    #expect(run.output.contains("16 INVALID_ARGUMENT"), "the channel still serves: \(run.output)")
  }

  /// "a response limit enforced on what a plugin returns (an oversized response is an error,
  /// never sent)", for unary answers and for each message of a stream.
  @Test func responsesAboveTheModuleLimitAreNeverSent() async throws {
    let host = try await Self.startFlood(module: { $0.maxMessageBytes = 4096 })
    defer { Task { try? await host.stop() } }
    try await host.withClient { client in
      let fits = try await unary(client, Self.flood, "Answer", Array("0,4096".utf8))
      #expect(fits.count == 4096)
      let unaryError = await capture { try await unary(client, Self.flood, "Answer", Array("0,4097".utf8)) }
      #expect(unaryError?.code == .resourceExhausted)
      #expect(unaryError?.message.contains("the module's response is 4097 bytes, above the limit of 4096 bytes") == true, "\(String(describing: unaryError))")
      #expect(unaryError?.message.contains("not sent") == true)
      let (messages, streamError) = try await stream(client, Array("3,5000".utf8), readAll: true)
      #expect(messages.isEmpty, "no oversized message reaches the client")
      #expect(streamError?.code == .resourceExhausted, "\(String(describing: streamError))")
    }
    let metrics = try await host.metricsText()
    #expect(metrics.contains("carbonhub_overload_refusals_total{reason=\"response_too_large\"} 2"), "\(metrics)")
  }

  // MARK: 2. The memory budget

  /// "A global memory budget for request and response bytes in flight across all calls … new
  /// calls refused RESOURCE_EXHAUSTED while it is exceeded, and a metric for it."
  @Test func aRequestBeyondTheMemoryBudgetIsRefusedAndCounted() async throws {
    let host = try await Self.startFlood { $0.limits.memoryBudgetBytes = 1 << 20 }
    defer { Task { try? await host.stop() } }
    try await host.withClient { client in
      // 2 MiB: under the 4 MiB message limit, above the 1 MiB budget.
      let refused = await capture { try await unary(client, "carbon.examples.v1.Gwp", "ToCo2e", Array(repeating: 0xFF, count: 2 << 20)) }
      #expect(refused?.code == .resourceExhausted)
      #expect(refused?.message.contains("above its memory budget of 1.0 MiB ([limits] memory_budget_mb)") == true, "\(String(describing: refused))")
      // Within the budget, calls go on; what they held is given back.
      let answer = try await unary(client, Self.flood, "Answer", Array("0,1000".utf8))
      #expect(answer.count == 1000)
    }
    let metrics = try await host.metricsText()
    #expect(metrics.contains("carbonhub_overload_refusals_total{reason=\"memory_budget\"} 1"), "\(metrics)")
    #expect(metrics.contains("carbonhub_memory_budget_bytes 1048576"))
    #expect(metrics.contains("carbonhub_bytes_in_flight 0"), "every byte taken was given back: \(metrics)")
  }

  /// `max_resident_mb`: what the budget cannot count (a plugin's decoded request — the
  /// assessment saw a 37 MiB `gwp.ToCo2e` request take 631 MiB — and its working memory) the
  /// kernel does. Above the limit, new calls of every kind are refused and counted.
  @Test func newCallsAreRefusedWhileResidentMemoryIsAboveItsLimit() async throws {
    // 1 MiB: the host's own resident set is always above it.
    let tight = try await Self.startFlood { $0.limits.maxResidentBytes = 1 << 20 }
    try await tight.withClient { client in
      let refused = await capture { try await unary(client, Self.flood, "Answer", Array("0,10".utf8)) }
      #expect(refused?.code == .resourceExhausted, "\(String(describing: refused))")
      #expect(refused?.message.contains("above its limit of 1.0 MiB ([limits] max_resident_mb)") == true, "\(String(describing: refused))")
      let streamed = try await stream(client, Array("3,10".utf8), readAll: true)
      #expect(streamed.error?.code == .resourceExhausted && streamed.messages.isEmpty, "\(String(describing: streamed.error))")
    }
    let metrics = try await tight.metricsText()
    #expect(metrics.contains("carbonhub_overload_refusals_total{reason=\"resident_memory\"} 2"), "\(metrics)")
    #expect(metrics.contains("carbonhub_resident_memory_limit_bytes 1048576"), "\(metrics)")
    let resident = try await tight.metricValue("carbonhub_resident_memory_bytes")
    #expect(resident > 1_048_576, "\(resident)")
    try await tight.stop()

    // 64 GiB: calls go on.
    let roomy = try await Self.startFlood { $0.limits.maxResidentBytes = 64 << 30 }
    defer { Task { try? await roomy.stop() } }
    let answer = try await roomy.withClient { client in try await unary(client, Self.flood, "Answer", Array("0,10".utf8)) }
    #expect(answer.count == 10)
  }

  // MARK: 3. Flow control, slots and deadlines for a client that stops reading

  /// "a plugin's `emit` blocks when the client does not read (bounded per-call buffer) … server-side
  /// deadlines and concurrency slots cover a call until its last byte is sent or it is cancelled;
  /// `calls_in_flight` counts it." Before: the slot was given back when the plugin finished, so
  /// `max_concurrent_calls = 4` let 8 such streams live, `calls_in_flight` read 0 and
  /// `call_timeout_ms` did not end them.
  @Test func aClientThatStopsReadingHoldsBoundedBytesItsSlotAndMeetsItsDeadline() async throws {
    let host = try await Self.startFlood {
      $0.limits.streamBufferBytes = 64 * 1024
      $0.limits.streamingTimeoutMilliseconds = 30_000
    } module: {
      $0.maxConcurrentCalls = 2
    }
    defer { Task { try? await host.stop() } }
    // Two calls of 200 000 × 1 000 bytes (200 MB each) whose client reads one message, then stops.
    let started = ContinuousClock.now
    let ended = EarlyEnds()
    let stalled = (0..<2).map { _ in
      Task {
        do {
          let result = try await host.withClient { client in try await stream(client, Array("200000,1000".utf8), readAll: false) }
          ended.record("\(result.messages.count) messages, \(String(describing: result.error))")
        } catch {
          ended.record("\(error)")
        }
      }
    }
    try await waitUntil(
      "both stalled calls started (\(host.callsInFlight("flood")) in flight; ended early: \(ended.list))", within: .seconds(25)
    ) { host.callsInFlight("flood") == 2 }
    // As a client sees it.
    #expect(try await host.module("flood").callsInFlight == 2)
    try await Task.sleep(for: .milliseconds(500))
    // Both still hold their slot: a third call is refused.
    let third = try await host.withClient { client in
      await capture { try await unary(client, Self.flood, "Answer", Array("0,10".utf8)) }
    }
    #expect(third?.code == .resourceExhausted, "\(String(describing: third))")
    // What waits for the stalled clients is bounded: the two calls' buffers (64 KiB each) and
    // the messages in hand — not the 400 MB the plugin would produce.
    let held = try await host.metricValue("carbonhub_bytes_in_flight")
    #expect(held <= 2 * (64 * 1024 + 1000), "bytes held for two stalled streams: \(held)")
    // The streaming deadline (30 s: time for both calls to start and the third to be refused
    // while the whole suite runs at once on two cores, beside child processes that took a host
    // 6 s to start) ends them although their clients never read again.
    try await waitUntil("the stalled calls ended", within: .seconds(90)) { host.callsInFlight("flood") == 0 }
    let elapsed = started.duration(to: .now)
    #expect(elapsed < .seconds(75), "the stalled calls ended after \(elapsed)")
    for task in stalled { task.cancel() }
    let metrics = try await host.metricsText()
    #expect(metrics.contains("carbonhub_overload_refusals_total{reason=\"deadline\"} 2"), "\(metrics)")
    #expect(metrics.contains("carbonhub_bytes_in_flight 0"), "\(metrics)")
  }

  /// The same for an isolated module: the worker's window counts bytes as well as messages
  /// (before: 64 messages whatever their size, uncounted in the host — 64 × 60 kB here), and
  /// what waits in the host for the client is charged to the memory budget.
  @Test func anIsolatedStreamHoldsBoundedBytesForAClientThatStopsReading() async throws {
    let host = try await Self.startFlood {
      $0.limits.streamBufferBytes = 64 * 1024
      // Long enough for the stream to start and be measured while the suite runs in parallel.
      $0.limits.streamingTimeoutMilliseconds = 30_000
      $0.workerExecutable = try? TestEnvironment.plugin("carbonhub")
    } module: {
      $0.isolation = .isolated
    }
    defer { Task { try? await host.stop() } }
    try await waitUntil { host.server.registry.module(named: "flood")?.state.isServing == true }
    // 1 000 messages of 60 000 bytes (60 MB) whose client reads one, then stops.
    let stalled = Task { try await host.withClient { client in try await stream(client, Array("1000,60000".utf8), readAll: false) } }
    try await waitUntil { host.callsInFlight("flood") == 1 }
    try await waitUntil { ((try? await host.metricValue("carbonhub_bytes_in_flight")) ?? 0) >= 60_000 }
    try await Task.sleep(for: .milliseconds(500))
    // The window lets one message through whatever its size, then waits for 64 KiB of room:
    // the host holds a message or two, not 64 of them (3.8 MB).
    let held = try await host.metricValue("carbonhub_bytes_in_flight")
    #expect(held >= 60_000 && held <= 2 * 64 * 1024 + 60_000, "bytes held for an isolated stalled stream: \(held)")
    try await waitUntil("the stalled call ended", within: .seconds(60)) { host.callsInFlight("flood") == 0 }
    stalled.cancel()
    let metrics = try await host.metricsText()
    #expect(metrics.contains("carbonhub_bytes_in_flight 0"), "every byte charged was given back: \(metrics)")
  }

  // MARK: 4. Default deadlines

  /// "A default server-side deadline per module (configurable, e.g. 5 minutes for batches, 30 s
  /// for unary), visible in `carbonhub modules`."
  @Test func everyCallHasAServerDeadlineShownWithItsModule() async throws {
    let defaults = DeploymentConfig.Limits()
    #expect(defaults.unaryTimeoutMilliseconds == 30_000 && defaults.streamingTimeoutMilliseconds == 300_000)
    let sleepy = try TestEnvironment.plugin("libsleepy.so", in: TestEnvironment.fixtureDirectory)
    let host = try await RunningHost.start(modules: [("sleepy", sleepy)]) { $0.limits.unaryTimeoutMilliseconds = 300 }
    defer { Task { try? await host.stop() } }
    let info = try await host.module("sleepy")
    #expect(info.unaryTimeoutMs == 300 && info.streamingTimeoutMs == 300_000 && info.maxMessageBytes == 4 << 20)
    try await host.withClient { client in
      let cut = await capture { try await unary(client, "carbon.test.v1.Sleepy", "Sleep", Array("2000".utf8)) }
      #expect(cut?.code == .deadlineExceeded)
      #expect(cut?.message.contains("[limits] unary_timeout_ms = 300") == true, "\(String(describing: cut))")
    }
    let listing = try await runProcess(CommandLineTests.executable, ["modules", "--server", host.address, "--ca", host.caFile])
    #expect(listing.output.contains("limits: messages up to 4194304 bytes, deadline 300 ms unary, 5 min streaming"), "\(listing.output)")
  }

  // MARK: 5. Connections

  /// "TLS handshake timeout (… a connection that sends no ClientHello is closed well within
  /// 30 s) … a maximum number of connections (and per client address)": raw TCP connections
  /// that never speak TLS are closed after the handshake timeout, and those beyond the
  /// per-address limit at once.
  @Test func silentConnectionsAreClosedAndTheExcessRefused() async throws {
    let host = try await Self.startFlood {
      $0.limits.handshakeTimeoutMilliseconds = 1000
      $0.limits.maxConnectionsPerAddress = 3
    }
    defer { Task { try? await host.stop() } }
    let (lines, output) = try await silentConnections(5, to: host.port)
    for line in lines { #expect(line[1] == "closed", "\(output)") }
    let seconds = lines.map { Double($0[2]) ?? 99 }
    // The first three wait for the 1 s handshake timeout; the 4th and 5th were closed on accept.
    #expect(seconds[0] >= 0.9 && seconds[0] < 5, "\(output)")
    let metrics = try await host.metricsText()
    #expect(metrics.contains("carbonhub_overload_refusals_total{reason=\"connections_per_address\"} 2"), "\(metrics)")
    #expect(metrics.contains("carbonhub_overload_refusals_total{reason=\"handshake_timeout\"} 3"), "\(metrics)")
    // The host still serves.
    let answer = try await host.withClient { client in try await unary(client, Self.flood, "Answer", Array("0,3".utf8)) }
    #expect(answer == Array("xxx".utf8))
  }

  /// "idle timeout": a connection with no call open for `idle_timeout_ms` is closed by the host
  /// (the client is still there, it just has nothing to ask). Seen from a grpcio channel, which
  /// goes back to IDLE when the host closes its connection and does not reconnect until its next
  /// call (grpc-swift's client reconnects at once, so the host's connection count alone cannot
  /// show the close).
  @Test func anIdleConnectionIsClosed() async throws {
    let host = try await Self.startFlood { $0.limits.idleTimeoutMilliseconds = 1000 }
    defer { Task { try? await host.stop() } }
    let script = """
      import grpc, threading, time
      credentials = grpc.ssl_channel_credentials(root_certificates=open("\(host.caFile)", "rb").read())
      states = []
      with grpc.secure_channel("localhost:\(host.port)", credentials) as channel:
          channel.subscribe(lambda state: states.append(state.name))
          answer = channel.unary_unary("/carbon.test.v1.Flood/Answer")(b"0,2", timeout=30)
          called = time.time()
          while time.time() - called < 15 and states[-1:] != ["IDLE"]:
              time.sleep(0.05)
          print("answer", answer.decode(), "states", ",".join(states), "after", round(time.time() - called, 1))
      """
    let run = try await runProcess("/usr/bin/env", ["python3", "-c", script], timeout: 60)
    #expect(run.status == 0, "\(run.output)")
    #expect(run.output.contains("answer xx states") && run.output.contains("READY,IDLE after"), "\(run.output)")
    let seconds = run.output.split(separator: " ").last.flatMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 99
    #expect(seconds >= 0.9 && seconds < 15, "closed \(seconds) s after the call: \(run.output)")
    try await waitUntil { (try? await host.metricValue("carbonhub_connections_open")) == 0 }
  }

  /// "advertise `maxConcurrentStreams` so clients queue instead of failing; keepalive enforcement
  /// that accepts the common client settings": a stock grpcio channel with 120 concurrent calls,
  /// pinging every 10 s without calls, gets 120 answers (before: 119 UNAVAILABLE).
  @Test func aGrpcioChannelWithMoreCallsThanStreamsQueuesInsteadOfFailing() async throws {
    let sleepy = try TestEnvironment.plugin("libsleepy.so", in: TestEnvironment.fixtureDirectory)
    let host = try await RunningHost.start(modules: [("sleepy", sleepy)])
    defer { Task { try? await host.stop() } }
    let script = """
      import grpc
      credentials = grpc.ssl_channel_credentials(root_certificates=open("\(host.caFile)", "rb").read())
      options = [("grpc.keepalive_time_ms", 10000), ("grpc.keepalive_permit_without_calls", 1)]
      with grpc.secure_channel("localhost:\(host.port)", credentials, options) as channel:
          sleep = channel.unary_unary("/carbon.test.v1.Sleepy/Sleep")
          futures = [sleep.future(b"100", timeout=60) for _ in range(120)]
          outcomes = {}
          for future in futures:
              try:
                  future.result()
                  outcomes["OK"] = outcomes.get("OK", 0) + 1
              except grpc.RpcError as error:
                  outcomes[error.code().name] = outcomes.get(error.code().name, 0) + 1
          print(sorted(outcomes.items()))
      """
    let run = try await runProcess("/usr/bin/env", ["python3", "-c", script], timeout: 120)
    #expect(run.status == 0, "\(run.output)")
    #expect(run.output.contains("[('OK', 120)]"), "\(run.output)")
  }

  /// "a maximum number of connections": beyond `max_connections` in all (from any address),
  /// a new connection is closed on accept, before TLS; the ones already open keep working.
  @Test func connectionsBeyondTheTotalLimitAreClosedOnAccept() async throws {
    let host = try await Self.startFlood {
      $0.limits.handshakeTimeoutMilliseconds = 3000
      $0.limits.maxConnections = 3
      $0.limits.maxConnectionsPerAddress = 100
    }
    defer { Task { try? await host.stop() } }
    let (lines, output) = try await silentConnections(5, to: host.port)
    let seconds = lines.map { Double($0[2]) ?? 99 }
    // The first three wait for the 3 s handshake timeout; the 4th and 5th were closed at once
    // (their recv returns as soon as the first three are done, about 3 s in).
    #expect(seconds[0] >= 2.9, "\(output)")
    let metrics = try await host.metricsText()
    #expect(metrics.contains("carbonhub_overload_refusals_total{reason=\"connections\"} 2"), "\(metrics)")
    let perAddress = "carbonhub_overload_refusals_total{reason=\"connections_per_address\"}"
    #expect(!metrics.contains(perAddress) || metrics.contains(perAddress + " 0\n"), "\(metrics)")
    // Once they are gone, the host accepts and serves again.
    try await waitUntil("connections closed") { (try? await host.metricValue("carbonhub_connections_open")) == 0 }
    let answer = try await host.withClient { client in try await unary(client, Self.flood, "Answer", Array("0,3".utf8)) }
    #expect(answer == Array("xxx".utf8))
  }

  /// "keepalive enforcement that accepts the common client settings (today clients pinging
  /// every 10–30 s are cut with `too_many_pings` and an open health Watch was cut after 95 s …)":
  /// a grpcio channel pinging at the host's `keepalive_min_ping_interval_ms` keeps its health
  /// Watch open through many pings, with no call in between, and an idle timeout shorter than
  /// the test (a connection with a Watch open is not idle). The same client against a host that
  /// wants 5 times fewer pings is cut with `too_many_pings`: the test sees the difference. The
  /// interval is 1 s here instead of the default 10 s so the test takes seconds, not minutes.
  @Test func keepalivePingsAtTheAcceptedIntervalKeepAWatchOpen() async throws {
    func watchFor(seconds: Int, minPingMilliseconds: Int) async throws -> String {
      let host = try await Self.startFlood {
        $0.limits.keepaliveMinPingIntervalMilliseconds = minPingMilliseconds
        $0.limits.idleTimeoutMilliseconds = 2000
      }
      defer { Task { try? await host.stop() } }
      let script = """
        import grpc, time
        credentials = grpc.ssl_channel_credentials(root_certificates=open("\(host.caFile)", "rb").read())
        options = [("grpc.keepalive_time_ms", 1000), ("grpc.keepalive_timeout_ms", 5000),
                   ("grpc.keepalive_permit_without_calls", 1), ("grpc.http2.max_pings_without_data", 0)]
        with grpc.secure_channel("localhost:\(host.port)", credentials, options) as channel:
            # Health/Watch of the whole server (an empty request); each answer is its raw bytes.
            watch = channel.unary_stream("/grpc.health.v1.Health/Watch")(b"", timeout=\(seconds))
            start = time.time()
            statuses = []
            try:
                for response in watch:
                    statuses.append(response.hex())
                print("ended", round(time.time() - start, 1), statuses)
            except grpc.RpcError as error:
                print(error.code().name, round(time.time() - start, 1), statuses, error.details())
        """
      let run = try await runProcess("/usr/bin/env", ["python3", "-c", script], timeout: 60)
      #expect(run.status == 0, "\(run.output)")
      // grpcio logs the GOAWAY on stderr; the script's verdict is its last line.
      return run.output.split(separator: "\n").last.map(String.init) ?? ""
    }
    // Accepted: the Watch lasts until the client's own 6 s deadline.
    let accepted = try await watchFor(seconds: 6, minPingMilliseconds: 1000)
    #expect(accepted.hasPrefix("DEADLINE_EXCEEDED 6.") || accepted.hasPrefix("DEADLINE_EXCEEDED 5.9"), "\(accepted)")
    #expect(accepted.contains("['0801']"), "one SERVING (field 1 = 1), no other status: \(accepted)")
    // Too frequent for this host: cut before the deadline.
    let refused = try await watchFor(seconds: 10, minPingMilliseconds: 5000)
    #expect(refused.hasPrefix("UNAVAILABLE") && refused.contains("too_many_pings"), "\(refused)")
    let refusedAfter = refused.split(separator: " ").dropFirst().first.flatMap { Double($0) } ?? 99
    #expect(refusedAfter < 9.5, "\(refused)")
  }

  /// The deployment file's `[limits]`: every key read, bad values named.
  @Test func limitsAreReadFromTheDeploymentFile() throws {
    let defaults = DeploymentConfig(pluginDirectory: "/p", stateDirectory: "/s")
    let config = try DeploymentConfig.parse(
      toml: """
        max_message_bytes = 1048576
        [limits]
        memory_budget_mb = 256
        max_resident_mb = 4096
        stream_buffer_bytes = 65536
        unary_timeout_ms = 1000
        streaming_timeout_ms = 60000
        handshake_timeout_ms = 5000
        idle_timeout_ms = 120000
        drain_timeout_ms = 10000
        max_connections = 50
        max_connections_per_address = 5
        max_concurrent_streams = 32
        keepalive_min_ping_interval_ms = 20000
        keepalive_permit_without_calls = false
        plugin_threads = 8
        inline_fast_calls = false
        [modules.esca]
        path = "libESCA.so"
        max_message_bytes = 33554432
        """, defaults: defaults)
    var expected = DeploymentConfig.Limits()
    expected.memoryBudgetBytes = 256 << 20
    expected.maxResidentBytes = 4096 << 20
    expected.streamBufferBytes = 65536
    expected.unaryTimeoutMilliseconds = 1000
    expected.streamingTimeoutMilliseconds = 60000
    expected.handshakeTimeoutMilliseconds = 5000
    expected.idleTimeoutMilliseconds = 120_000
    expected.drainTimeoutMilliseconds = 10_000
    expected.maxConnections = 50
    expected.maxConnectionsPerAddress = 5
    expected.maxConcurrentStreams = 32
    expected.keepaliveMinPingIntervalMilliseconds = 20000
    expected.keepalivePermitWithoutCalls = false
    expected.pluginThreads = 8
    expected.inlineFastCalls = false
    #expect(config.limits == expected)
    #expect(config.maxMessageBytes == 1 << 20 && config.modules[0].maxMessageBytes == 32 << 20)
    for (text, key) in [
      ("[limits]\nmax_connections = 0", "limits.max_connections"),
      ("[limits]\ndrain_timeout_ms = 0", "limits.drain_timeout_ms"),
      ("[limits]\nmemory_budget = 1", "limits.memory_budget"),
      ("[limits]\nstream_buffer_bytes = 10", "limits.stream_buffer_bytes"),
      ("[modules.x]\npath = \"x.so\"\nmax_message_bytes = 10", "modules.x.max_message_bytes"),
    ] {
      do {
        _ = try DeploymentConfig.parse(toml: text, defaults: defaults)
        Issue.record("\(text): accepted")
      } catch {
        #expect(error.key == key, "\(text): \(error)")
      }
    }
  }
}

// MARK: - Helpers

/// Opens `count` TCP connections to `port` 0.1 s apart that never speak TLS, then reports, per
/// connection, "index closed|data seconds-since-start" once the host closes it (or sends data).
private func silentConnections(_ count: Int, to port: Int) async throws -> (lines: [[String]], output: String) {
  let script = """
    import socket, time
    start = time.time()
    sockets = []
    for _ in range(\(count)):
        s = socket.create_connection(("127.0.0.1", \(port)))
        s.settimeout(20)
        sockets.append(s)
        time.sleep(0.1)
    for index, s in enumerate(sockets):
        try:
            data = s.recv(1)
            print(index, "closed" if data == b"" else "data", round(time.time() - start, 1))
        except ConnectionResetError:
            print(index, "closed", round(time.time() - start, 1))
    """
  let run = try await runProcess("/usr/bin/env", ["python3", "-c", script], timeout: 60)
  #expect(run.status == 0, "\(run.output)")
  let lines = run.output.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
  try #require(lines.count == count, "\(run.output)")
  return (lines, run.output)
}

/// A raw unary call; `timeout` is the client's own deadline.
private func unary(
  _ client: GRPCClient<HostClientTransport>, _ service: String, _ method: String, _ request: [UInt8]
) async throws -> [UInt8] {
  try await client.unary(
    request: ClientRequest(message: request), descriptor: MethodDescriptor(fullyQualifiedService: service, method: method),
    serializer: RawBytesCoder(), deserializer: RawBytesCoder(), options: .defaults
  ) { try $0.message }
}

/// A raw call to Flood/Stream: every message (`readAll`) or only the first, after which the
/// client stops reading and waits until the call ends.
private func stream(
  _ client: GRPCClient<HostClientTransport>, _ request: [UInt8], readAll: Bool
) async throws -> (messages: [[UInt8]], error: RPCError?) {
  try await client.serverStreaming(
    request: ClientRequest(message: request),
    descriptor: MethodDescriptor(fullyQualifiedService: OverloadTests.flood, method: "Stream"),
    serializer: RawBytesCoder(), deserializer: RawBytesCoder(), options: .defaults
  ) { response in
    var messages: [[UInt8]] = []
    do {
      for try await message in response.messages {
        messages.append(message)
        if !readAll {
          // A client that stops reading: wait without consuming until the test cancels us.
          try await Task.sleep(for: .seconds(60))
        }
      }
      return (messages, nil)
    } catch let error as RPCError {
      return (messages, error)
    }
  }
}

/// How calls that should still be running ended, for a failure's message.
private final class EarlyEnds: Sendable {
  private let ends = Mutex<[String]>([])
  func record(_ end: String) { ends.withLock { $0.append(end) } }
  var list: [String] { ends.withLock { $0 } }
}

/// The RPCError `body` throws, nil when it succeeds.
private func capture(_ body: () async throws -> Void) async -> RPCError? {
  do {
    try await body()
    return nil
  } catch let error as RPCError {
    return error
  } catch {
    return RPCError(code: .unknown, message: "\(error)")
  }
}

private func capture(_ body: () async throws -> [UInt8]) async -> RPCError? {
  await capture { () async throws -> Void in _ = try await body() }
}

extension RunningHost {
  /// The host's Prometheus metrics page.
  func metricsText() async throws -> String {
    let address = try #require(server.metricsListeningAddress)
    let (data, _) = try await URLSession.shared.data(from: URL(string: "http://\(address)/metrics")!)
    return String(decoding: data, as: UTF8.self)
  }

  /// The value of an unlabelled metric.
  func metricValue(_ name: String) async throws -> Double {
    let line = try #require(try await metricsText().split(separator: "\n").first { $0.hasPrefix(name + " ") })
    return try #require(Double(line.split(separator: " ").last ?? ""))
  }

  /// The calls in flight of a module, read from the registry: cheap enough to poll (`module(_:)`
  /// opens a TLS connection each time, which a saturated machine took seconds to do).
  func callsInFlight(_ name: String) -> Int {
    server.registry.module(named: name)?.callsInFlight ?? -1
  }

  /// The module as `carbon.host.v1.Host/GetModule` shows it.
  func module(_ name: String) async throws -> Carbon_Host_V1_ModuleInfo {
    try await withClient { client in
      try await Carbon_Host_V1_Host.Client(wrapping: client).getModule(.with { $0.name = name })
    }
  }
}
