import CarbonDomain
@testable import CarbonHost
import CarbonHostProtocol
import CarbonPluginLoader
import CarbonTestSupport
import Crypto
import Foundation
import GRPCCore
import Testing

/// Issue 23, "Signed receipts": every successful module call carries a receipt an auditor can
/// verify offline — module and version, the plugin's sha256, the data-set versions from the
/// trace, sha256 of the request and response bytes, the time, the host's instance, signed with
/// the host's Ed25519 receipt key — in the `carbonhub-receipt-bin` trailer.
@Suite("Signed receipts of module calls", .timeLimit(.minutes(3)))
struct ReceiptTests {
  static let assess = "/carbon.esca.v1.Esca/AssessDossier"
  static let assessStream = "/carbon.esca.v1.Esca/AssessDossierStream"
  static let examples = TestEnvironment.repositoryRoot + "/Plugins/ESCA/examples"

  /// A host serving ESCA (in process or in a worker), and ESCA's library as the loader reads it.
  static func startESCA(
    isolated: Bool = false, configure: @escaping (inout DeploymentConfig) async throws -> Void = { _ in }
  ) async throws -> (host: RunningHost, library: PluginLibrary) {
    let path = try TestEnvironment.plugin("libESCA.so")
    let host = try await RunningHost.start(modules: [("esca", path)]) { config in
      if isolated {
        config.workerExecutable = try TestEnvironment.plugin("carbonhub")
        config.modules[0].isolation = .isolated
      }
      try await configure(&config)
    }
    try await waitUntil("esca serving") { host.server.registry.module(named: "esca")?.state.isServing == true }
    return (host, try PluginLibrary(path: path))
  }

  /// The protobuf bytes of one of ESCA's sample requests, encoded from its JSON with the
  /// module's own descriptors (as a generic client would).
  static func request(_ example: String, method: String, library: PluginLibrary) throws -> [UInt8] {
    let json = try Data(contentsOf: URL(fileURLWithPath: examples + "/" + example))
    return try JSONToProtobuf(descriptorSet: library.descriptorSet).encodeRequest(json: Array(json), method: method)
  }

  /// A unary call with raw bytes: the response bytes, its headers and its trailers.
  static func call(
    _ client: GRPCClient<HostClientTransport>, _ path: String, _ request: [UInt8]
  ) async throws -> (response: [UInt8], headers: Metadata, trailers: Metadata) {
    let slash = path.lastIndex(of: "/")!
    let method = MethodDescriptor(
      fullyQualifiedService: String(path[path.index(after: path.startIndex)..<slash]), method: String(path[path.index(after: slash)...]))
    return try await client.unary(
      request: ClientRequest(message: request), descriptor: method, serializer: RawBytesCoder(), deserializer: RawBytesCoder(),
      options: .defaults
    ) { (try $0.message, $0.metadata, $0.trailingMetadata) }
  }

  /// Every message of a streamed response, and its trailers.
  static func messagesAndTrailers(_ response: StreamingClientResponse<[UInt8]>) async throws -> ([[UInt8]], Metadata) {
    var messages: [[UInt8]] = []
    var trailers: Metadata = [:]
    for try await part in response.bodyParts {
      switch part {
      case .message(let message): messages.append(message)
      case .trailingMetadata(let metadata): trailers = metadata
      }
    }
    return (messages, trailers)
  }

  /// The receipt in `trailers`; fails the test when there is none.
  static func receipt(in trailers: Metadata) throws -> Carbon_Host_V1_Receipt {
    let bytes = try #require(trailers[binaryValues: "carbonhub-receipt-bin"].first(where: { _ in true }), "no receipt trailer")
    return try ReceiptVerification.decode(Data(bytes))
  }

  /// The host's public receipt key, asked of the host API.
  static func receiptKey(_ client: GRPCClient<HostClientTransport>) async throws -> PublisherKey {
    let key = try await Carbon_Host_V1_Host.Client(wrapping: client).getReceiptKey(Carbon_Host_V1_GetReceiptKeyRequest())
    #expect(key.enabled && key.algorithm == "Ed25519")
    #expect(key.publicKeyBase64 == key.publicKey.base64EncodedString())
    return try PublisherKey(base64: key.publicKeyBase64)
  }

  static func sha256(_ bytes: some DataProtocol) -> Data { Data(SHA256.hash(data: Data(bytes))) }

  /// The (name, version) of each data set, and the method and version, of the traces a JSON
  /// response holds — read independently of the host's trace finder, from the JSON a client sees.
  static func traceStatements(json: [UInt8]) throws -> (dataSets: [String], methods: [String]) {
    var dataSets: [String] = []
    var methods: [String] = []
    func visit(_ value: JSONValue) {
      if let members = value.members {
        for member in members {
          if member.key == "trace", let trace = member.value.members {
            let fields = Dictionary(trace.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
            if case .string(let method)? = fields["method"], case .string(let version)? = fields["method_version"] {
              if !methods.contains("\(method)|\(version)") { methods.append("\(method)|\(version)") }
            }
            for dataSet in fields["data_sets"]?.elements ?? [] {
              if case .string(let name)? = dataSet["name"], case .string(let version)? = dataSet["version"],
                !dataSets.contains("\(name)|\(version)")
              {
                dataSets.append("\(name)|\(version)")
              }
            }
          } else {
            visit(member.value)
          }
        }
      } else if let elements = value.elements {
        elements.forEach(visit)
      }
    }
    visit(try JSONValue(parsing: json))
    return (dataSets, methods)
  }

  // MARK: What a receipt states

  @Test(arguments: [false, true])
  func unaryReceiptStatesTheModuleItsDataAndTheHashesAndVerifies(isolated: Bool) async throws {
    let (host, library) = try await Self.startESCA(isolated: isolated)
    defer { Task { try? await host.stop() } }
    let request = try Self.request("AssessDossier.json", method: Self.assess, library: library)
    let before = Int64(Date().timeIntervalSince1970 * 1000)
    let (response, headers, trailers, key) = try await host.withClient { client in
      let (response, headers, trailers) = try await Self.call(client, Self.assess, request)
      return (response, headers, trailers, try await Self.receiptKey(client))
    }
    let after = Int64(Date().timeIntervalSince1970 * 1000)
    let receipt = try Self.receipt(in: trailers)

    // The key the host serves is the one it wrote beside its private key on first start.
    let written = try String(contentsOfFile: host.server.config.stateDirectory + "/receipts/receipt.pub", encoding: .utf8)
    #expect(try PublisherKey(base64: written) == key)
    #expect(receipt.keyID == ReceiptSigner.keyID(of: key) && receipt.keyID.count == 16)

    let verified = try ReceiptVerification.verify(receipt, publicKey: key, requests: [Data(request)], responses: [Data(response)])
    #expect(verified.checked == ["request 1 of 1 matches", "response 1 of 1 matches"])
    let content = verified.content
    #expect(content.format == 1)
    #expect(content.module == "esca" && content.moduleVersion == library.version && !library.version.isEmpty)
    #expect(content.pluginSha256 == library.sha256 && content.pluginSha256.count == 64)
    #expect(content.method == Self.assess && content.encoding == "protobuf")
    #expect(content.requestSha256 == [Self.sha256(request)] && content.responseSha256 == [Self.sha256(response)])
    #expect(content.hostInstance == host.server.instanceName)
    let requestID = headers[stringValues: "x-request-id"].first(where: { _ in true }).map { String($0) }
    #expect(content.requestID == requestID)
    #expect(content.caller == "anonymous")
    #expect(content.issuedAtUnixMs >= before - 1 && content.issuedAtUnixMs <= after + 1)

    // The data sets and methodology are the ones the response's own trace names, read here
    // from the response as JSON, not through the host's trace finder.
    let json = try ProtobufToJSON(descriptorSet: library.descriptorSet).encodeResponse(protobuf: response, method: Self.assess)
    let expected = try Self.traceStatements(json: json)
    #expect(expected.dataSets.contains { $0.hasPrefix("ipcc-2019-soc-ref|") }, "the ESCA trace names the IPCC table: \(expected)")
    #expect(content.dataSets.map { "\($0.name)|\($0.version)" } == expected.dataSets)
    #expect(content.methodologies.map { "\($0.name)|\($0.version)" } == expected.methods)
  }

  @Test func aChangedRequestResponseOrReceiptIsRefused() async throws {
    let (host, library) = try await Self.startESCA()
    defer { Task { try? await host.stop() } }
    let request = try Self.request("AssessDossier.json", method: Self.assess, library: library)
    let other = try Self.request("AssessDossier.minimal.json", method: Self.assess, library: library)
    let (first, second, key) = try await host.withClient { client in
      (try await Self.call(client, Self.assess, request), try await Self.call(client, Self.assess, other), try await Self.receiptKey(client))
    }
    let receipt = try Self.receipt(in: first.trailers)
    func refusal(_ receipt: Carbon_Host_V1_Receipt, key: PublisherKey, requests: [[UInt8]], responses: [[UInt8]]) -> String {
      do {
        _ = try ReceiptVerification.verify(receipt, publicKey: key, requests: requests.map { Data($0) }, responses: responses.map { Data($0) })
        return "verified"
      } catch {
        return error.reason
      }
    }
    #expect(refusal(receipt, key: key, requests: [request], responses: [first.response]) == "verified")

    var changedRequest = request
    changedRequest[changedRequest.count / 2] ^= 0x01
    #expect(refusal(receipt, key: key, requests: [changedRequest], responses: []).hasPrefix("request 1 of 1 does not match the receipt"))
    var changedResponse = first.response
    changedResponse[changedResponse.count - 1] ^= 0x01
    #expect(refusal(receipt, key: key, requests: [], responses: [changedResponse]).hasPrefix("response 1 of 1 does not match the receipt"))
    // Another call's genuine response does not pass for this one's.
    #expect(refusal(receipt, key: key, requests: [other], responses: [second.response]).hasPrefix("request 1 of 1 does not match"))

    // The receipt itself changed: a statement edited after signing (the module version).
    var content = try Carbon_Host_V1_ReceiptContent(serializedBytes: receipt.content)
    content.moduleVersion = "9.9.9"
    var edited = receipt
    edited.content = try content.serializedData()
    #expect(refusal(edited, key: key, requests: [request], responses: [first.response]).hasPrefix("bad signature"))
    // Signed by someone else under the host's key id, or checked with another key.
    let forger = PublisherSigningKey()
    var forged = edited
    forged.signature = try forger.curve25519.signature(for: edited.content)
    #expect(refusal(forged, key: key, requests: [], responses: []).hasPrefix("bad signature"))
    #expect(refusal(receipt, key: forger.publicKey, requests: [], responses: []).contains("not by the key given"))
    // Not a receipt at all.
    #expect(throws: ReceiptVerification.Failure.self) { try ReceiptVerification.decode(Data("hello".utf8)) }
  }

  @Test func eachStreamedResultIsCoveredByTheStreamsReceipt() async throws {
    let (host, library) = try await Self.startESCA()
    defer { Task { try? await host.stop() } }
    let request = try Self.request("AssessDossierStream.json", method: Self.assessStream, library: library)
    let (messages, trailers, key) = try await host.withClient { client in
      let method = MethodDescriptor(fullyQualifiedService: "carbon.esca.v1.Esca", method: "AssessDossierStream")
      let (messages, trailers) = try await client.serverStreaming(
        request: ClientRequest(message: request), descriptor: method, serializer: RawBytesCoder(), deserializer: RawBytesCoder(),
        options: .defaults
      ) { try await Self.messagesAndTrailers($0) }
      return (messages, trailers, try await Self.receiptKey(client))
    }
    #expect(messages.count >= 2, "the sample stream has several results")
    let receipt = try Self.receipt(in: trailers)
    let verified = try ReceiptVerification.verify(
      receipt, publicKey: key, requests: [Data(request)], responses: messages.map { Data($0) })
    #expect(verified.content.responseSha256 == messages.map(Self.sha256))
    #expect(verified.content.responseCount == UInt64(messages.count) && verified.content.requestCount == 1)
    #expect(verified.content.responseStreamSha256 == MessageHashes.of(messages.map { Data($0) }).streamHash)
    #expect(verified.content.method == Self.assessStream)
    // An auditor holding one result of the batch checks it alone.
    let single = try ReceiptVerification.verify(receipt, publicKey: key, requests: [], responses: [Data(messages[1])])
    #expect(single.checked == ["response matches message 2 of \(messages.count)"])
    // Results out of order are not the stream that was answered.
    #expect(throws: ReceiptVerification.Failure.self) {
      try ReceiptVerification.verify(receipt, publicKey: key, requests: [], responses: messages.reversed().map { Data($0) })
    }
    // The data sets of every result's trace are stated once each.
    let json = try ProtobufToJSON(descriptorSet: library.descriptorSet)
    var expected: [String] = []
    for message in messages {
      for dataSet in try Self.traceStatements(json: try json.encodeResponse(protobuf: message, method: Self.assessStream)).dataSets
      where !expected.contains(dataSet) {
        expected.append(dataSet)
      }
    }
    #expect(!expected.isEmpty)
    #expect(verified.content.dataSets.map { "\($0.name)|\($0.version)" } == expected)
  }

  /// A stream of more than 64 results: the receipt states their count and the digest of them
  /// all (listing each would make a trailer common clients refuse), and stays small.
  @Test func aLongStreamIsStatedByItsDigest() async throws {
    let host = try await RunningHost.startExamples()
    defer { Task { try? await host.stop() } }
    var batch = Carbon_Examples_V1_ConvertBatchRequest()
    for index in 0..<300 {
      batch.items.append(.with {
        $0.quantity = Quantity(Double(index), .t)
        $0.targetUnit = .kg
      })
    }
    let request: [UInt8] = try batch.serializedBytes()
    let (messages, trailers, key) = try await host.withClient { client in
      let method = MethodDescriptor(fullyQualifiedService: "carbon.examples.v1.Units", method: "ConvertBatch")
      let (messages, trailers) = try await client.serverStreaming(
        request: ClientRequest(message: request), descriptor: method, serializer: RawBytesCoder(), deserializer: RawBytesCoder(),
        options: .defaults
      ) { try await Self.messagesAndTrailers($0) }
      return (messages, trailers, try await Self.receiptKey(client))
    }
    #expect(messages.count == 300)
    let trailer = try #require(trailers[binaryValues: "carbonhub-receipt-bin"].first(where: { _ in true }))
    #expect(trailer.count < 2048, "a receipt of \(trailer.count) bytes")
    let receipt = try Self.receipt(in: trailers)
    let verified = try ReceiptVerification.verify(receipt, publicKey: key, requests: [Data(request)], responses: messages.map { Data($0) })
    #expect(verified.content.responseSha256.isEmpty && verified.content.responseCount == 300)
    #expect(verified.checked.contains("all 300 response messages match"), "\(verified.checked)")
    // One result alone cannot be checked against a digest of all; one changed result fails.
    do {
      _ = try ReceiptVerification.verify(receipt, publicKey: key, requests: [], responses: [Data(messages[7])])
      Issue.record("one message passed for a stream of 300")
    } catch {
      #expect(error.reason.contains("give every one, in order"), "\(error)")
    }
    var changed = messages.map { Data($0) }
    changed[150][0] ^= 0x01
    #expect(throws: ReceiptVerification.Failure.self) {
      try ReceiptVerification.verify(receipt, publicKey: key, requests: [], responses: changed)
    }
  }

  @Test func bidirectionalReceiptCoversEveryRequestAndResponse() async throws {
    let host = try await RunningHost.start(modules: [
      ("bidi-sum", try TestEnvironment.plugin("libbidi_sum.so", in: TestEnvironment.fixtureDirectory))
    ])
    defer { Task { try? await host.stop() } }
    try await waitUntil("bidi-sum serving") { host.server.registry.module(named: "bidi-sum")?.state.isServing == true }
    let requests = ["one", "two", "three"].map { Array($0.utf8) }
    let (responses, trailers, key) = try await host.withClient { client in
      let method = MethodDescriptor(fullyQualifiedService: "carbon.test.v1.Sum", method: "Echo")
      let (responses, trailers) = try await client.bidirectionalStreaming(
        request: StreamingClientRequest(of: [UInt8].self) { writer in
          for request in requests { try await writer.write(request) }
        },
        descriptor: method, serializer: RawBytesCoder(), deserializer: RawBytesCoder(), options: .defaults
      ) { try await Self.messagesAndTrailers($0) }
      return (responses, trailers, try await Self.receiptKey(client))
    }
    // The fixture answers each request reversed, then the count.
    #expect(responses.map { String(decoding: $0, as: UTF8.self) }.prefix(3) == ["eno", "owt", "eerht"])
    let verified = try ReceiptVerification.verify(
      try Self.receipt(in: trailers), publicKey: key, requests: requests.map { Data($0) }, responses: responses.map { Data($0) })
    #expect(verified.content.requestSha256.count == 3 && verified.content.responseSha256.count == responses.count)
    // A module without a trace: the receipt still proves the bytes, and names no data set.
    #expect(verified.content.dataSets.isEmpty && verified.content.methodologies.isEmpty)
  }

  @Test func jsonInvokeReceiptHashesTheJSONTextsExchanged() async throws {
    let (host, _) = try await Self.startESCA()
    defer { Task { try? await host.stop() } }
    let requestJSON = try String(contentsOfFile: Self.examples + "/AssessDossier.json", encoding: .utf8)
    let (responseJSON, trailers, key) = try await host.withClient { client in
      let hostAPI = Carbon_Host_V1_Host.Client(wrapping: client)
      let (json, trailers) = try await hostAPI.invoke(
        .with {
          $0.module = "esca"
          $0.method = "AssessDossier"
          $0.requestJson = requestJSON
        }
      ) { (try $0.message.responseJson, $0.trailingMetadata) }
      return (json, trailers, try await Self.receiptKey(client))
    }
    let verified = try ReceiptVerification.verify(
      try Self.receipt(in: trailers), publicKey: key, requests: [Data(requestJSON.utf8)], responses: [Data(responseJSON.utf8)])
    #expect(verified.content.encoding == "json" && verified.content.method == Self.assess)
    // The host found the trace in the JSON response too.
    let expected = try Self.traceStatements(json: Array(responseJSON.utf8))
    #expect(!expected.dataSets.isEmpty && verified.content.dataSets.map { "\($0.name)|\($0.version)" } == expected.dataSets)
  }

  @Test func aRefusedCallCarriesNoReceipt() async throws {
    let (host, _) = try await Self.startESCA()
    defer { Task { try? await host.stop() } }
    try await host.withClient { client in
      do {
        _ = try await Self.call(client, Self.assess, [0xff, 0xff, 0xff])
        Issue.record("a malformed request was answered")
      } catch let error as RPCError {
        #expect(error.code == .invalidArgument)
        #expect(error.metadata[binaryValues: "carbonhub-receipt-bin"].first(where: { _ in true }) == nil)
      }
    }
  }

  // MARK: Batches

  /// The Merkle tree is RFC 9162's: every leaf's path leads to the root computed the textbook
  /// way (MTH of section 2.1.1, written out here), and no path passes for another leaf's.
  @Test(.cpuBound) func everyLeafsPathLeadsToTheRFC9162Root() throws {
    func mth(_ leaves: ArraySlice<Data>) -> Data {
      if leaves.count == 1 { return leaves.first! }
      var k = 1
      while k * 2 < leaves.count { k *= 2 }
      return Self.sha256(Data([0x01]) + mth(leaves.prefix(k)) + mth(leaves.dropFirst(k)))
    }
    for size in 1...13 {
      let contents = try (0..<size).map { index in
        try Carbon_Host_V1_ReceiptContent.with {
          $0.format = 1
          $0.module = "module \(index)"
        }.serializedData()
      }
      let leaves = contents.map { Self.sha256(Data([0x00]) + $0) }
      #expect(leaves == contents.map(ReceiptTree.leafHash))
      let signer = ReceiptSigner(key: PublisherSigningKey(), instanceName: "test")
      let receipts = signer.signBatch(contents)
      #expect(Set(receipts.map(\.signature)).count == 1, "one signature for the batch")
      for (index, receipt) in receipts.enumerated() {
        #expect(receipt.leafIndex == UInt64(index) && receipt.batchSize == UInt64(size))
        let root = ReceiptTree.root(leaf: leaves[index], index: receipt.leafIndex, size: receipt.batchSize, path: receipt.inclusionPath)
        #expect(root == mth(leaves[...]), "size \(size), leaf \(index)")
        #expect(signer.publicKey.isValidSignature(receipt.signature, for: ReceiptTree.signaturePrefix + mth(leaves[...])))
        _ = try ReceiptVerification.verify(receipt, publicKey: signer.publicKey, requests: [], responses: [])
        if size > 1 {
          // Another leaf's content, or another index, with this path: refused.
          var moved = receipt
          moved.leafIndex = UInt64((index + 1) % size)
          #expect(throws: ReceiptVerification.Failure.self) { try ReceiptVerification.verify(moved, publicKey: signer.publicKey, requests: [], responses: []) }
          var swapped = receipt
          swapped.content = contents[(index + 1) % size]
          #expect(throws: ReceiptVerification.Failure.self) { try ReceiptVerification.verify(swapped, publicKey: signer.publicKey, requests: [], responses: []) }
        }
      }
    }
  }

  /// A receipt asked for long after the previous signature is signed at once, not at the end of
  /// a window: here a 60 s window, and the first receipt of a fresh batcher comes back at once.
  @Test(.timeLimit(.minutes(1))) func aReceiptWithNoRecentSignatureIsSignedAtOnce() async throws {
    let signer = ReceiptSigner(key: PublisherSigningKey(), instanceName: "test")
    let batcher = ReceiptBatcher(signer: signer, window: .seconds(60))
    let content = try Carbon_Host_V1_ReceiptContent.with { $0.format = 1 }.serializedData()
    let started = ContinuousClock.now
    let receipt = await batcher.receipt(for: content)
    #expect(ContinuousClock.now - started < .seconds(30), "waited for the window")
    #expect(receipt.batchSize == 1)
    _ = try ReceiptVerification.verify(receipt, publicKey: signer.publicKey, requests: [], responses: [])
  }

  /// Calls answered close together share one signature; each receipt verifies on its own
  /// against its own request and response only.
  @Test func callsEndingTogetherShareASignatureAndEachReceiptStandsAlone() async throws {
    let (host, library) = try await Self.startESCA { $0.receipts.batchWindow = .milliseconds(200) }
    defer { Task { try? await host.stop() } }
    let requests = try ["AssessDossier.json", "AssessDossier.minimal.json"].map {
      try Self.request($0, method: Self.assess, library: library)
    }
    let (alone, together, key) = try await host.withClient { client in
      let alone = try await Self.call(client, Self.assess, requests[0])
      let together = try await withThrowingTaskGroup(of: (Int, [UInt8], Metadata).self) { group in
        for index in 0..<8 {
          group.addTask {
            let answer = try await Self.call(client, Self.assess, requests[index % 2])
            return (index, answer.response, answer.trailers)
          }
        }
        return try await group.reduce(into: []) { $0.append($1) }
      }
      return (alone, together, try await Self.receiptKey(client))
    }
    #expect(try Self.receipt(in: alone.trailers).batchSize == 1)
    var batches: [Data: Int] = [:]
    for (index, response, trailers) in together {
      let receipt = try Self.receipt(in: trailers)
      batches[receipt.signature, default: 0] += 1
      let verified = try ReceiptVerification.verify(
        receipt, publicKey: key, requests: [Data(requests[index % 2])], responses: [Data(response)])
      #expect(verified.content.requestSha256 == [Self.sha256(requests[index % 2])])
      // The other request's bytes do not pass for this call's.
      #expect(throws: ReceiptVerification.Failure.self) {
        try ReceiptVerification.verify(receipt, publicKey: key, requests: [Data(requests[(index + 1) % 2])], responses: [])
      }
    }
    #expect(batches.values.contains { $0 > 1 }, "8 calls in flight together were signed one by one: \(batches.values.sorted())")
  }

  // MARK: The deployment's key

  @Test func receiptsOffMeanNoTrailerAndNoKey() async throws {
    let (host, library) = try await Self.startESCA { $0.receipts.enabled = false }
    defer { Task { try? await host.stop() } }
    let request = try Self.request("AssessDossier.json", method: Self.assess, library: library)
    try await host.withClient { client in
      let (_, _, trailers) = try await Self.call(client, Self.assess, request)
      #expect(trailers[binaryValues: "carbonhub-receipt-bin"].first(where: { _ in true }) == nil)
      let key = try await Carbon_Host_V1_Host.Client(wrapping: client).getReceiptKey(Carbon_Host_V1_GetReceiptKeyRequest())
      #expect(!key.enabled && key.publicKey.isEmpty)
    }
    #expect(!FileManager.default.fileExists(atPath: host.server.config.stateDirectory + "/receipts/receipt.key"))
  }

  @Test func theDeploymentsKeyFileSignsAndABadOneStopsTheHost() async throws {
    let directory = try TestEnvironment.temporaryDirectory("receipt-key")
    let key = PublisherSigningKey()
    try Data((key.base64 + "\n").utf8).write(to: URL(fileURLWithPath: directory + "/host.key"))
    let (host, library) = try await Self.startESCA { $0.receipts.keyFile = directory + "/host.key" }
    let request = try Self.request("AssessDossier.json", method: Self.assess, library: library)
    let trailers = try await host.withClient { client in
      #expect(try await Self.receiptKey(client) == key.publicKey)
      return try await Self.call(client, Self.assess, request).trailers
    }
    try await host.stop()
    let receipt = try Self.receipt(in: trailers)
    #expect(receipt.keyID == ReceiptSigner.keyID(of: key.publicKey))
    _ = try ReceiptVerification.verify(receipt, publicKey: key.publicKey, requests: [Data(request)], responses: [])
    #expect(!FileManager.default.fileExists(atPath: host.server.config.stateDirectory + "/receipts/receipt.key"), "no default key made")

    // A file that is not a key stops the host before any module loads, naming the key.
    try Data("not a key\n".utf8).write(to: URL(fileURLWithPath: directory + "/bad.key"))
    var config = DeploymentConfig(pluginDirectory: TestEnvironment.pluginDirectory, stateDirectory: directory + "/state")
    config.listen = "127.0.0.1:0"
    config.receipts.keyFile = directory + "/bad.key"
    do {
      _ = try await HostServer(config: config, logger: TestEnvironment.logger)
      Issue.record("a host started with a bad receipt key")
    } catch let error as DeploymentConfig.Error {
      #expect(error.key == "receipts.key_file" && error.message.contains("bad.key") && error.message.contains("is not base64"), "\(error)")
    }
    config.receipts.keyFile = directory + "/missing.key"
    do {
      _ = try await HostServer(config: config, logger: TestEnvironment.logger)
      Issue.record("a host started with a missing receipt key")
    } catch let error as DeploymentConfig.Error {
      #expect(error.description == "receipts.key_file: cannot read \(directory)/missing.key")
    }
  }

  // MARK: The command line, and keys from openssl

  /// `carbonhub call --receipt-dir` saves the receipt with the exact messages; `carbonhub
  /// receipt verify` checks them offline with the key `carbonhub receipt key` fetched, or with
  /// the same key as a PEM file written by openssl; a changed response is refused (exit 1).
  @Test func theCommandLineSavesAndVerifiesAReceipt() async throws {
    let carbonhub = try TestEnvironment.plugin("carbonhub")
    let directory = try TestEnvironment.temporaryDirectory("receipt-cli")
    // A deployment key, so that openssl can derive its PEM public key independently.
    let key = PublisherSigningKey()
    try Data((key.base64 + "\n").utf8).write(to: URL(fileURLWithPath: directory + "/host.key"))
    let (host, _) = try await Self.startESCA { $0.receipts.keyFile = directory + "/host.key" }
    defer { Task { try? await host.stop() } }
    let client = ["--server", host.address, "--ca", host.caFile]

    let call = try await runProcess(
      carbonhub, ["call", "esca.AssessDossier", "--json", Self.examples + "/AssessDossier.json", "--receipt-dir", directory + "/r"] + client)
    #expect(call.status == 0, "\(call.output)")
    let fetched = try await runProcess(carbonhub, ["receipt", "key", "--out", directory + "/host.pub"] + client)
    #expect(fetched.status == 0 && fetched.output.contains("Ed25519 key \(ReceiptSigner.keyID(of: key.publicKey))"), "\(fetched.output)")

    let files = ["--receipt", directory + "/r/receipt.bin", "--request", directory + "/r/request.json"]
    let verified = try await runProcess(carbonhub, ["receipt", "verify", "--key", directory + "/host.pub", "--response", directory + "/r/response.json"] + files)
    #expect(verified.status == 0, "\(verified.output)")
    #expect(verified.output.contains("receipt verified") && verified.output.contains("request 1 of 1 matches"), "\(verified.output)")
    #expect(verified.output.contains("module:          esca ") && verified.output.contains("data set:        ipcc-2019-soc-ref"), "\(verified.output)")

    // The same public key as openssl derives it from the private key (PKCS#8 PEM of the seed).
    let pkcs8 = Data([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20])
      + Data(base64Encoded: key.base64)!
    try Data("-----BEGIN PRIVATE KEY-----\n\(pkcs8.base64EncodedString())\n-----END PRIVATE KEY-----\n".utf8)
      .write(to: URL(fileURLWithPath: directory + "/host-private.pem"))
    let derive = try await runProcess("/usr/bin/env", ["openssl", "pkey", "-in", directory + "/host-private.pem", "-pubout", "-out", directory + "/host-public.pem"])
    try #require(derive.status == 0, "\(derive.output)")
    let withPEM = try await runProcess(carbonhub, ["receipt", "verify", "--key", directory + "/host-public.pem", "--response", directory + "/r/response.json"] + files)
    #expect(withPEM.status == 0, "\(withPEM.output)")

    // A changed response: refused, exit 1, the reason on standard error.
    var response = try Data(contentsOf: URL(fileURLWithPath: directory + "/r/response.json"))
    response.append(contentsOf: Array(" ".utf8))
    try response.write(to: URL(fileURLWithPath: directory + "/changed.json"))
    let refused = try await runProcess(carbonhub, ["receipt", "verify", "--key", directory + "/host.pub", "--response", directory + "/changed.json"] + files)
    #expect(refused.status == 1 && refused.output.contains("receipt NOT verified: response 1 of 1 does not match the receipt"), "\(refused.output)")

    let shown = try await runProcess(carbonhub, ["receipt", "show", "--receipt", directory + "/r/receipt.bin"])
    #expect(shown.status == 0 && shown.output.contains("NOT verified") && shown.output.contains("method:          /carbon.esca.v1.Esca/AssessDossier (json)"), "\(shown.output)")
  }
}
