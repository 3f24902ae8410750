import CarbonDomain
import CarbonHost
import CarbonHostProtocol
import CarbonPluginLoader
import Foundation
import GRPCCore
import Synchronization
import Testing

/// Bidirectional-streaming methods (`CARBON_METHOD_BIDI_STREAMING`): the ABI's `call_bidi` with
/// a C module and with the Swift plugin kit, in process and in a worker, over real TLS gRPC.
@Suite("Bidirectional streaming: call_bidi through the ABI, the host and a worker", .timeLimit(.minutes(2)))
struct BidiStreamingTests {
  static let echo = "/carbon.test.v1.Sum/Echo"

  static func fixture(_ file: String) throws -> String {
    try TestEnvironment.plugin(file, in: TestEnvironment.fixtureDirectory)
  }

  // MARK: The ABI, in process

  @Test func cModuleReversesEachRequestThenCountsThem() throws {
    let library = try PluginLibrary(path: try Self.fixture("libbidi_sum.so"))
    #expect(library.methods == [PluginMethod(path: Self.echo, isServerStreaming: true, isClientStreaming: true)])
    let instance = try library.makeInstance(configJSON: "{}", dataDirectory: NSTemporaryDirectory())
    let (responses, outcome) = Self.run(instance, [Array("abc".utf8), [], Array("xy".utf8)])
    #expect(outcome == nil)
    #expect(responses == ["cba", "", "yx", "n=3"])
    // No request at all: only the count.
    #expect(Self.run(instance, []).responses == ["n=0"])
    // Served through call_bidi only: call() is the module's own UNIMPLEMENTED.
    #expect(throws: PluginCallError.self) { try instance.call(Self.echo, request: []) }
  }

  @Test func cModuleErrorNamesTheRequestByItsPosition() throws {
    let instance = try PluginLibrary(path: try Self.fixture("libbidi_sum.so"))
      .makeInstance(configJSON: "{}", dataDirectory: NSTemporaryDirectory())
    let (responses, outcome) = Self.run(instance, [Array("ok".utf8), Array("fail".utf8), Array("never".utf8)])
    #expect(responses == ["ko"])
    #expect(outcome?.status == .invalidArgument && outcome?.field == "requests[1]")
  }

  @Test func cancellationReachesTheModuleFromEitherSide() throws {
    let instance = try PluginLibrary(path: try Self.fixture("libbidi_sum.so"))
      .makeInstance(configJSON: "{}", dataDirectory: NSTemporaryDirectory())
    // The host's receive says the call is over.
    var pulls = 0
    do {
      try instance.callBidi(Self.echo, receive: {
        pulls += 1
        return pulls == 1 ? .message([1]) : .cancelled
      }, onMessage: { _ in true })
      Issue.record("a cancelled receive ended OK")
    } catch {
      #expect(error.status == .cancelled)
    }
    // The host's emit refuses more responses.
    do {
      try instance.callBidi(Self.echo, receive: { .message([1]) }, onMessage: { _ in false })
      Issue.record("a refused emit ended OK")
    } catch {
      #expect(error.status == .cancelled)
    }
  }

  @Test func moduleBuiltBeforeCallBidiStillLoadsAndServes() throws {
    // Its struct_size ends before call_bidi, and the bytes after it are garbage: never read.
    let library = try PluginLibrary(path: try Self.fixture("libpre_bidi.so"))
    #expect(library.methods == [PluginMethod(path: "/carbon.test.v1.Old/Ping", isServerStreaming: false)])
    let instance = try library.makeInstance(configJSON: "{}", dataDirectory: NSTemporaryDirectory())
    #expect(try instance.call("/carbon.test.v1.Old/Ping", request: Array("ping".utf8)) == Array("ping".utf8))
  }

  @Test func bidiMethodWithoutCallBidiIsRefused() throws {
    let path = try Self.fixture("libbidi_without_entry.so")
    do {
      _ = try PluginLibrary(path: path)
      Issue.record("a bidirectional method without call_bidi was accepted")
    } catch {
      guard case .invalidDescriptor(_, let reason) = error else {
        Issue.record("\(error)")
        return
      }
      #expect(reason.contains("methods[0]") && reason.contains("call_bidi"))
    }
  }

  /// Runs the echo method with these requests; the responses as text and the error, if any.
  static func run(_ instance: PluginInstance, _ requests: [[UInt8]]) -> (responses: [String], error: PluginCallError?) {
    var responses: [String] = []
    do {
      try instance.callBidi(echo, receive: RequestPull.sequence(requests)) {
        responses.append(String(decoding: $0, as: UTF8.self))
        return true
      }
      return (responses, nil)
    } catch {
      return (responses, error)
    }
  }

  // MARK: Over TLS gRPC

  /// Answers come back while the client is still sending: each request is sent only after
  /// the answer to the previous one arrived. A host that waited for the whole input would hang.
  @Test(arguments: [false, true])
  func answersArriveBeforeTheClientFinishesSending(isolated: Bool) async throws {
    let host = try await Self.startSum(isolated: isolated)
    defer { Task { try? await host.stop() } }
    try await host.withClient { client in
      let words = ["one", "two", "three", "four", "five"]
      let (answers, answered) = AsyncStream<String>.makeStream()
      let received = try await client.bidirectionalStreaming(
        request: StreamingClientRequest(of: [UInt8].self) { writer in
          var iterator = answers.makeAsyncIterator()
          for word in words {
            try await writer.write(Array(word.utf8))
            guard let answer = await iterator.next() else { return }
            #expect(answer == String(word.reversed()))
          }
        },
        descriptor: Self.descriptor(Self.echo), serializer: RawBytesCoder(), deserializer: RawBytesCoder(),
        options: .defaults
      ) { response in
        var all: [String] = []
        for try await message in response.messages {
          all.append(String(decoding: message, as: UTF8.self))
          answered.yield(all.last!)
        }
        answered.finish()
        return all
      }
      #expect(received == words.map { String($0.reversed()) } + ["n=5"])

      // A failing request: the answers before it, then INVALID_ARGUMENT naming it.
      do {
        _ = try await Self.bidi(client, Self.echo, [Array("ab".utf8), Array("fail".utf8)])
        Issue.record("expected INVALID_ARGUMENT")
      } catch let error as RPCError {
        #expect(error.code == .invalidArgument)
        #expect(Array(error.metadata[stringValues: "carbon-error-field"]) == ["requests[1]"])
      }
      // Every call released its concurrency slot.
      try await waitUntil { await callsInFlight(client, "bidi-sum") == 0 }
    }
  }

  /// A message above the module's limit in the middle of a stream, after the host has answered
  /// earlier ones (its response headers are out): the answers so far, then RESOURCE_EXHAUSTED
  /// naming the limit, refused from the message's prefix (`OversizedRequestGuard`); the
  /// connection serves the next call.
  @Test func aMessageAboveTheLimitMidStreamEndsTheCallWithTheLimitNamed() async throws {
    let host = try await Self.startSum(isolated: false) { $0.maxMessageBytes = 1024 }
    defer { Task { try? await host.stop() } }
    try await host.withClient { client in
      let (answers, answered) = AsyncStream<String>.makeStream()
      let received = Mutex<[String]>([])
      do {
        try await client.bidirectionalStreaming(
          request: StreamingClientRequest(of: [UInt8].self) { writer in
            var iterator = answers.makeAsyncIterator()
            try await writer.write(Array("one".utf8))
            _ = await iterator.next()  // answered: the response headers went out
            try await writer.write(Array(repeating: UInt8(ascii: "x"), count: 64 * 1024))
          },
          descriptor: Self.descriptor(Self.echo), serializer: RawBytesCoder(), deserializer: RawBytesCoder(),
          options: .defaults
        ) { response in
          for try await message in response.messages {
            received.withLock { $0.append(String(decoding: message, as: UTF8.self)) }
            answered.yield("")
          }
        }
        Issue.record("the oversized message was accepted")
      } catch let error as RPCError {
        #expect(error.code == .resourceExhausted, "\(error)")
        #expect(error.message.contains("the request is 65536 bytes, above the limit of 1024 bytes (max_message_bytes of module 'bidi-sum')"), "\(error)")
      }
      #expect(received.withLock { $0 } == ["eno"])
      #expect(try await Self.bidi(client, Self.echo, [Array("ab".utf8)]).map { String(decoding: $0, as: UTF8.self) } == ["ba", "n=1"])
    }
  }

  /// A client that goes away mid-stream: the module is told (its receive returns -1), the call
  /// ends and frees its slot, and the host keeps serving.
  @Test(arguments: [false, true])
  func clientGoingAwayEndsTheCall(isolated: Bool) async throws {
    let host = try await Self.startSum(isolated: isolated)
    defer { Task { try? await host.stop() } }
    try await host.withClient { client in
      struct Enough: Error {}
      do {
        // The module waits in receive when the client goes away.
        try await Self.sendThenHold(client, "abc") { if $0 == "cba" { throw Enough() } }
      } catch is Enough {}
      try await waitUntil { await callsInFlight(client, "bidi-sum") == 0 }
      #expect(try await Self.bidi(client, Self.echo, [Array("xy".utf8)]) == ["yx", "n=1"].map { Array($0.utf8) })
    }
  }

  /// A module that fails while the client keeps its request stream open (sending nothing):
  /// the caller hears the error at once, not when it closes its stream.
  @Test(arguments: [false, true])
  func errorReachesAClientThatKeepsSending(isolated: Bool) async throws {
    let host = try await Self.startSum(isolated: isolated)
    defer { Task { try? await host.stop() } }
    try await host.withClient { client in
      let started = ContinuousClock.now
      do {
        try await Self.sendThenHold(client, "fail")
        Issue.record("expected INVALID_ARGUMENT")
      } catch let error as RPCError {
        #expect(error.code == .invalidArgument)
      }
      #expect(started.duration(to: .now) < .seconds(10))
      try await waitUntil { await callsInFlight(client, "bidi-sum") == 0 }
    }
  }

  /// The module's server-side deadline ends a stream whose client stops sending: the caller
  /// gets DEADLINE_EXCEEDED, the module is told (its receive returns -1) and frees its slot.
  @Test(arguments: [false, true])
  func deadlineEndsAStreamThatStopsSending(isolated: Bool) async throws {
    let host = try await Self.startSum(isolated: isolated) { $0.callTimeoutMilliseconds = 500 }
    defer { Task { try? await host.stop() } }
    try await host.withClient { client in
      let started = ContinuousClock.now
      do {
        try await Self.sendThenHold(client, "abc")
        Issue.record("expected DEADLINE_EXCEEDED")
      } catch let error as RPCError {
        #expect(error.code == .deadlineExceeded, "\(error)")
      }
      #expect(started.duration(to: .now) < .seconds(10))
      try await waitUntil { await callsInFlight(client, "bidi-sum") == 0 }
      // The module still serves.
      #expect(try await Self.bidi(client, Self.echo, [Array("ok".utf8)]) == ["ko", "n=1"].map { Array($0.utf8) })
    }
  }

  /// ESCA's ComputeBatchStream: 2 040 farms sent as 20 requests give, byte for byte, the results
  /// of ComputeBatch with the same farms in one request; JSON InvokeStream sends one request;
  /// the host lists the method as bidirectional.
  @Test func escaBatchInPiecesMatchesTheOneRequestBatch() async throws {
    let esca = try TestEnvironment.plugin("libESCA.so")
    let transcoder = try JSONToProtobuf(descriptorSet: try PluginLibrary(path: esca).descriptorSet)
    let json = try String(contentsOfFile: TestEnvironment.repositoryRoot + "/Plugins/ESCA/examples/ComputeBatch.json", encoding: .utf8)
    // The example's three farms, one of them invalid; its error stays in its result.
    let piece = try transcoder.encodeRequest(json: Array(json.utf8), method: "/carbon.esca.v1.Esca/ComputeBatch")
    // Protobuf concatenation appends repeated fields: 34 copies make one request of 102 farms.
    let hundred = Array((0..<33).map { _ in piece }.joined()) + piece
    let host = try await RunningHost.start(modules: [("esca", esca)])
    defer { Task { try? await host.stop() } }
    try await host.withClient { client in
      let whole = Array(Array(repeating: hundred, count: 20).joined())
      let expected = try await Self.serverStream(client, "/carbon.esca.v1.Esca/ComputeBatch", whole)
      let streamed = try await Self.bidi(client, "/carbon.esca.v1.Esca/ComputeBatchStream", Array(repeating: hundred, count: 20))
      #expect(expected.count == 20 * 102)
      #expect(streamed.count == expected.count)
      // Valid farms: identical bytes. Invalid ones: the same error with the field path of the
      // request it came in, which makes them a few bytes longer.
      let differing = zip(streamed, expected).enumerated().filter { $0.element.0 != $0.element.1 }.map(\.offset)
      #expect(differing == Array(stride(from: 1, to: expected.count, by: 3)))

      let hostAPI = Carbon_Host_V1_Host.Client(wrapping: client)
      let lines = try await hostAPI.invokeStream(.with {
        $0.module = "esca"
        $0.method = "ComputeBatchStream"
        $0.requestJson = json
      }) { response in
        var lines: [String] = []
        for try await message in response.messages { lines.append(message.responseJson) }
        return lines
      }
      #expect(lines.count == 3)
      #expect(lines[1].contains("requests[0].farms[1].bonus.yield_kg_dry_per_ha_per_yr"))
      let info = try await hostAPI.getModule(.with { $0.name = "esca" })
      #expect(info.methods.first { $0.path.hasSuffix("/ComputeBatchStream") }?.kind == .bidiStreaming)
      #expect(info.methods.first { $0.path.hasSuffix("/ComputeBatch") }?.kind == .serverStreaming)
    }
  }

  // MARK: Helpers

  /// A host serving the bidi-sum fixture, in process or in a worker, once it serves.
  static func startSum(
    isolated: Bool, configure: (inout DeploymentConfig.ModuleEntry) -> Void = { _ in }
  ) async throws -> RunningHost {
    let host = try await RunningHost.start(modules: [("bidi-sum", try fixture("libbidi_sum.so"))]) { config in
      configure(&config.modules[0])
      if isolated {
        config.workerExecutable = try TestEnvironment.plugin("carbonhub")
        config.modules[0].isolation = .isolated
      }
    }
    try await waitUntilServing(host, "bidi-sum")
    return host
  }

  static func descriptor(_ path: String) -> MethodDescriptor {
    let parts = path.split(separator: "/")
    return MethodDescriptor(fullyQualifiedService: String(parts[0]), method: String(parts[1]))
  }

  static func bidi(_ client: GRPCClient<HostClientTransport>, _ path: String, _ requests: [[UInt8]]) async throws
    -> [[UInt8]]
  {
    try await client.bidirectionalStreaming(
      request: StreamingClientRequest(of: [UInt8].self) { writer in
        for request in requests { try await writer.write(request) }
      },
      descriptor: descriptor(path), serializer: RawBytesCoder(), deserializer: RawBytesCoder(), options: .defaults
    ) { response in
      var all: [[UInt8]] = []
      for try await message in response.messages { all.append(message) }
      return all
    }
  }

  /// Calls the echo method with one request, then keeps the request stream open for 30 s
  /// without sending more; `onResponse` sees each response as text and may throw to end the call.
  static func sendThenHold(
    _ client: GRPCClient<HostClientTransport>, _ first: String,
    onResponse: @escaping @Sendable (String) throws -> Void = { _ in }
  ) async throws {
    try await client.bidirectionalStreaming(
      request: StreamingClientRequest(of: [UInt8].self) { writer in
        try await writer.write(Array(first.utf8))
        try await Task.sleep(for: .seconds(30))
      },
      descriptor: descriptor(echo), serializer: RawBytesCoder(), deserializer: RawBytesCoder(), options: .defaults
    ) { response in
      for try await message in response.messages { try onResponse(String(decoding: message, as: UTF8.self)) }
    }
  }

  static func serverStream(_ client: GRPCClient<HostClientTransport>, _ path: String, _ request: [UInt8])
    async throws -> [[UInt8]]
  {
    try await client.serverStreaming(
      request: ClientRequest(message: request), descriptor: descriptor(path), serializer: RawBytesCoder(),
      deserializer: RawBytesCoder(), options: .defaults
    ) { response in
      var all: [[UInt8]] = []
      for try await message in response.messages { all.append(message) }
      return all
    }
  }
}

/// Polls until `module` serves (an isolated module starts in the background).
private func waitUntilServing(_ host: RunningHost, _ module: String) async throws {
  try await waitUntil { host.server.registry.module(named: module)?.state.isServing == true }
}

/// The module's calls in flight, as the host API reports them (-1 when it cannot tell).
private func callsInFlight(_ client: GRPCClient<HostClientTransport>, _ module: String) async -> Int {
  guard let info = try? await Carbon_Host_V1_Host.Client(wrapping: client).getModule(.with { $0.name = module }) else {
    return -1
  }
  return Int(info.callsInFlight)
}
