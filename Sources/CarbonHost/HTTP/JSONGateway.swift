import CarbonDomain
import CarbonPluginLoader
import Foundation
import GRPCCore
import Synchronization

/// Every method of every module over HTTP with JSON bodies (`POST /v1/{module}/{Method}`), the
/// OpenAPI description of them (`GET /openapi.json`) and a web console (`GET /`,
/// `ConsolePage`): what `HTTPGatewayListener` serves on
/// the deployment's `http_listen` address. Calls take the same path into the module as gRPC
/// calls (`ModuleCalls`): the same version routing, allow-lists, method rules, limits,
/// deadlines, metrics, logs, request ids and receipts. See docs/http-json.md.
///
/// The gateway reads the request as proto3 JSON and writes the response as proto3 JSON with
/// the descriptors of the module version that answers; it calls the module with protobuf, so
/// every module answers alike whatever its own JSON writer does.
struct JSONGateway: Sendable {
  let calls: ModuleCalls
  let access: AccessPolicy
  let openAPI: OpenAPIDocument

  /// One HTTP request, its body read whole.
  struct Request: Sendable {
    var method: String
    /// The request target ("/v1/esca/ComputeSoilStock?names=proto").
    var uri: String
    /// Header names lowercased.
    var headers: [(name: String, value: String)]
    var body: [UInt8]
    /// The connection's peer, as `PeerDirectory` knows it ("ipv4:127.0.0.1:50122").
    var remotePeer: String

    func header(_ name: String) -> String? { headers.first { $0.name == name }?.value }
  }

  /// Where a response goes: a head, then body parts, then the end.
  protocol ResponseWriter: Sendable {
    /// Starts the response. A body of known length gives it (`contentLength`); nil streams.
    func head(status: Int, headers: [(String, String)], contentLength: Int?) async throws
    func body(_ bytes: [UInt8]) async throws
    func end() async throws
  }

  /// The module-call headers a request may send, as gRPC metadata (the calls read them there).
  static let forwardedHeaders = ["x-request-id", "grpc-timeout", VersionSelector.header]

  /// Answers `request`. `cancellation` is the call's, cancelled when the client leaves (the
  /// module call stops as a gRPC call's does); the module call runs with it as the task's
  /// RPC cancellation handle (`withServerContextRPCCancellationHandle`).
  func handle(
    _ request: Request, _ writer: some ResponseWriter,
    cancellation: ServerContext.RPCCancellationHandle = .init()
  ) async throws {
    let (path, query) = Self.split(request.uri)
    if path == "/" || path == "/index.html" {
      let body = Array(ConsolePage.html.utf8)
      try await writer.head(
        status: 200,
        headers: [
          ("content-type", "text/html; charset=utf-8"),
          // The page's own script and styles only: nothing from elsewhere, no plugin's markup run.
          ("content-security-policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data: blob:"),
        ], contentLength: body.count)
      if request.method != "HEAD" { try await writer.body(body) }
      return try await writer.end()
    }
    if path == "/openapi.json" {
      guard request.method == "GET" || request.method == "HEAD" else {
        return try await fail(GatewayError(code: .unimplemented, message: "\(path): only GET"), status: 405, requestID: nil, writer)
      }
      let body = openAPI.json()
      try await writer.head(status: 200, headers: [("content-type", "application/json")], contentLength: body.count)
      if request.method == "GET" { try await writer.body(body) }
      return try await writer.end()
    }
    let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map { String($0).removingPercentEncoding ?? String($0) }
    guard segments.count == 3, segments[0] == "v1", !segments[1].isEmpty, !segments[2].isEmpty else {
      return try await fail(
        GatewayError(code: .notFound, message: "\(path): no such resource; module methods are at POST /v1/{module}/{Method}, their description at GET /openapi.json"),
        requestID: nil, writer)
    }
    guard request.method == "POST" else {
      return try await fail(GatewayError(code: .unimplemented, message: "\(path): call a module method with POST"), status: 405, requestID: nil, writer)
    }
    let options: ProtobufToJSON.Options
    do {
      options = try Self.options(query)
    } catch {
      return try await fail(error, requestID: nil, writer)
    }
    try await call(module: segments[1], method: segments[2], request, options: options, cancellation: cancellation, writer)
  }

  /// The answer to a request whose body is larger than the gateway reads.
  func refuseTooLarge(limit: Int, requestID: String?, _ writer: some ResponseWriter) async throws {
    calls.limits.metrics?.record(.requestTooLarge)
    try await fail(
      GatewayError(code: .resourceExhausted, message: "the request body is larger than \(limit) bytes, the most this gateway reads"),
      status: 413, requestID: requestID, writer)
  }

  // MARK: A module call

  private func call(
    module moduleName: String, method methodName: String, _ request: Request, options: ProtobufToJSON.Options,
    cancellation: ServerContext.RPCCancellationHandle, _ writer: some ResponseWriter
  ) async throws {
    var metadata: Metadata = [:]
    for name in Self.forwardedHeaders { if let value = request.header(name) { metadata.addString(value, forKey: name) } }
    let context = ServerContext(
      descriptor: MethodDescriptor(fullyQualifiedService: "carbon.host.v1.HTTP", method: methodName),
      remotePeer: request.remotePeer, localPeer: "", cancellation: cancellation)
    let call: ModuleCalls.Admitted
    do throws(RPCError) {
      if let refusal = access.authenticationRefusal(calls.peers.identity(of: request.remotePeer), peer: request.remotePeer,
        action: "POST /v1/\(moduleName)/\(methodName)", audit: calls.audit)
      {
        throw refusal
      }
      let (method, selector) = try calls.method(named: methodName, ofModule: moduleName, metadata: metadata)
      call = try calls.admit(path: method.path, version: selector, request: metadata, context: context)
    } catch {
      return try await fail(GatewayError(error), requestID: request.header("x-request-id"), writer)
    }
    guard let schema = call.module.metadata?.jsonRequests else {
      call.module.gate.leave()
      calls.finish(call, status: .internal)
      return try await fail(GatewayError(code: .internalError, message: "module '\(call.module.name)': its descriptor set cannot be read"), call: call, writer)
    }
    var responses = ProtobufToJSON(schema: schema)
    responses.options = options
    let path = call.method.path
    // The requests in protobuf: one JSON object, or (bidirectional methods) one per line.
    let requests: [[UInt8]]
    do {
      requests = try Self.requests(request.body, streamed: call.method.isClientStreaming, schema: schema, path: path)
    } catch {
      call.module.gate.leave()
      calls.finish(call, status: .invalidArgument)
      return try await fail(error, call: call, writer)
    }
    let receipt = calls.receipt(for: call, .json)
    receipt?.request(request.body)
    if !call.method.isServerStreaming && !call.method.isClientStreaming {
      switch await calls.unary(call, requests[0], .protobuf) {
      case .failure(let error):
        return try await fail(GatewayError(RPCError(error)), call: call, writer)
      case .success(let response):
        let body: [UInt8]
        do {
          body = try responses.encodeResponse(protobuf: response, method: path)
        } catch {
          return try await fail(GatewayError(code: .internalError, message: "the module's response is not a valid \(path) response: \(error)"), call: call, writer)
        }
        receipt?.response(body)
        var headers = Self.headers(call, contentType: "application/json")
        if let receipt { headers.append((ReceiptRecorder.httpHeaderKey, try await receipt.receipt().serializedData().base64EncodedString())) }
        try await writer.head(status: 200, headers: headers, contentLength: body.count)
        try await writer.body(body)
        return try await writer.end()
      }
    }
    try await stream(call, requests, responses: responses, receipt: receipt, writer)
  }

  /// A streaming call as NDJSON: `{"result": …}` per response, as produced; a failure after
  /// the first response as a last `{"error": …}` line; the receipt of a stream that succeeded
  /// as a last `{"receipt": "<base64>"}` line. A failure before any response is an HTTP error.
  private func stream(
    _ call: ModuleCalls.Admitted, _ requests: [[UInt8]], responses: ProtobufToJSON, receipt: ReceiptRecorder?,
    _ writer: some ResponseWriter
  ) async throws {
    let started = StartedFlag()
    let path = call.method.path
    let write: @Sendable ([UInt8]) async throws -> Void = { message in
      let line = Array(#"{"result":"#.utf8) + (try responses.encodeResponse(protobuf: message, method: path)) + [UInt8(ascii: "}")]
      receipt?.response(line)
      if started.start() {
        try await writer.head(status: 200, headers: Self.headers(call, contentType: "application/x-ndjson"), contentLength: nil)
      }
      try await writer.body(line + [UInt8(ascii: "\n")])
    }
    do {
      if call.method.isClientStreaming {
        try await calls.relayBidi(call, requests: AsyncStream { continuation in
          for request in requests { continuation.yield(request) }
          continuation.finish()
        }, .protobuf, to: write)
      } else {
        try await calls.relay(call, requests[0], .protobuf, to: write)
      }
    } catch {
      let failure = (error as? RPCError).map(GatewayError.init) ?? GatewayError(code: .internalError, message: "\(error)")
      guard started.isStarted else { return try await fail(failure, call: call, writer) }
      try await writer.body(Array(#"{"error":"#.utf8) + failure.json(requestID: call.requestID) + Array("}\n".utf8))
      return try await writer.end()
    }
    if started.start() {
      try await writer.head(status: 200, headers: Self.headers(call, contentType: "application/x-ndjson"), contentLength: nil)
    }
    if let receipt {
      let signed = try await receipt.receipt().serializedData().base64EncodedString()
      try await writer.body(Array(#"{"receipt":"#.utf8) + JSONValue.string(signed).serialized + Array("}\n".utf8))
    }
    try await writer.end()
  }

  /// The request body as the module's protobuf requests: one JSON object, or for a
  /// bidirectional method a JSON array of them, one per line (NDJSON; blank lines skipped) or
  /// a single one,
  /// each named in errors by its place (`requests[2].farms[0]`).
  static func requests(_ body: [UInt8], streamed: Bool, schema: JSONToProtobuf, path: String) throws(GatewayError) -> [[UInt8]] {
    /// `json`: a request's text, or the request already parsed.
    func encode(_ json: RequestJSON, prefix: String) throws(GatewayError) -> [UInt8] {
      do {
        switch json {
        case .text(let text): return try schema.encodeRequest(json: Array(text), method: path)
        case .parsed(let value): return try schema.encodeRequest(value, method: path)
        }
      } catch let error as JSONToProtobuf.EncodingError {
        let field = prefix.isEmpty ? error.path : error.path.isEmpty ? String(prefix.dropLast()) : prefix + error.path
        throw GatewayError(
          code: .invalidArgument, message: "request is not a valid proto3 JSON \(schema.requestTypeName(ofMethod: path)): \(error.message)",
          field: field)
      } catch {
        throw GatewayError(code: .invalidArgument, message: "request is not valid JSON: \(error)")
      }
    }
    guard streamed else {
      let trimmed = body.drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\t") }
      // An empty body is the empty request message.
      return [try encode(.text(trimmed.isEmpty ? Array("{}".utf8)[...] : body[...]), prefix: "")]
    }
    var requests: [[UInt8]] = []
    // The body read once: an array of requests, or one request (even written over several
    // lines); anything else is NDJSON, a request a line.
    let whole = try? JSONValue(parsing: body)
    if body.first(where: { $0 > 0x20 }) == UInt8(ascii: "[") {
      guard case .array(let items)? = whole else {
        throw GatewayError(code: .invalidArgument, message: "request is not valid JSON: an array of requests was expected")
      }
      for item in items { requests.append(try encode(.parsed(item), prefix: "requests[\(requests.count)].")) }
      return requests
    }
    if let whole, case .object = whole { return [try encode(.parsed(whole), prefix: "requests[0].")] }
    for line in body.split(separator: UInt8(ascii: "\n")) where line.contains(where: { $0 > 0x20 }) {
      requests.append(try encode(.text(line), prefix: "requests[\(requests.count)]."))
    }
    return requests
  }

  /// A request of a body: its text, or its value once the body has been parsed whole.
  enum RequestJSON {
    case text(ArraySlice<UInt8>)
    case parsed(JSONValue)
  }

  /// `names=json|proto` (default json: proto3 JSON's lowerCamelCase names) and
  /// `defaults=true|false` (default false: fields at their default value left out).
  static func options(_ query: [(String, String)]) throws(GatewayError) -> ProtobufToJSON.Options {
    var options = ProtobufToJSON.Options(jsonNames: true)
    for (name, value) in query {
      switch (name, value) {
      case ("names", "json"): options.jsonNames = true
      case ("names", "proto"): options.jsonNames = false
      case ("defaults", "true"): options.emitDefaults = true
      case ("defaults", "false"): options.emitDefaults = false
      case ("names", _), ("defaults", _):
        throw GatewayError(
          code: .invalidArgument, message: "\(name): must be \(name == "names" ? "json or proto" : "true or false"), not '\(value)'",
          field: name)
      default:
        throw GatewayError(code: .invalidArgument, message: "\(name): unknown query parameter (the gateway takes names and defaults)", field: name)
      }
    }
    return options
  }

  /// The path and the query's parameters, percent-decoded.
  static func split(_ uri: String) -> (path: String, query: [(String, String)]) {
    guard let mark = uri.firstIndex(of: "?") else { return (uri, []) }
    let query = uri[uri.index(after: mark)...].split(separator: "&").map { pair -> (String, String) in
      let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
      func decoded(_ text: Substring) -> String { text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(text) }
      return (decoded(parts[0]), parts.count > 1 ? decoded(parts[1]) : "")
    }
    return (String(uri[..<mark]), query)
  }

  /// The response headers of a module call: as gRPC's, and the content type.
  static func headers(_ call: ModuleCalls.Admitted, contentType: String) -> [(String, String)] {
    var headers = [("content-type", contentType)]
    for (name, value) in call.responseMetadata {
      if case .string(let text) = value { headers.append((name, text)) }
    }
    return headers
  }

  private func fail(_ error: GatewayError, call: ModuleCalls.Admitted, _ writer: some ResponseWriter) async throws {
    try await fail(error, requestID: call.requestID, extraHeaders: Self.headers(call, contentType: "application/json").dropFirst(), writer)
  }

  private func fail(
    _ error: GatewayError, status: Int? = nil, requestID: String?, extraHeaders: ArraySlice<(String, String)> = [],
    _ writer: some ResponseWriter
  ) async throws {
    let body = error.json(requestID: requestID)
    try await writer.head(
      status: status ?? error.httpStatus, headers: [("content-type", "application/json")] + extraHeaders, contentLength: body.count)
    try await writer.body(body)
    try await writer.end()
  }
}

/// Set once, by whichever response of a stream comes first.
private final class StartedFlag: Sendable {
  private let started = Atomic<Bool>(false)
  /// True the first time only.
  func start() -> Bool { !started.exchange(true, ordering: .acquiringAndReleasing) }
  var isStarted: Bool { started.load(ordering: .acquiring) }
}
