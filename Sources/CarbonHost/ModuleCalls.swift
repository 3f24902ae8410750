import CarbonDomain
import CarbonPluginLoader
import Foundation
import GRPCCore
import Logging
import Synchronization

/// Everything that happens to a module call between gRPC and the plugin, shared by the raw
/// module routes and the host's JSON `Invoke`: find the module, check the caller is allowed,
/// take a concurrency slot, apply the deadline, dispatch, count and log.
struct ModuleCalls: Sendable {
  let registry: ModuleRegistry
  let metrics: HostMetrics
  let peers: PeerDirectory
  let logger: Logger
  /// This host's name, sent back in the `carbonhub-instance` response header.
  let instanceName: String
  /// Where refused calls are recorded.
  var audit: AuditLog? = nil
  /// Signs each successful call's receipt; nil when `[receipts] enabled = false`.
  var receipts: ReceiptBatcher? = nil
  /// Sizes, deadlines, stream buffers and the memory budget every call is held to.
  var limits = CallLimits(deployment: DeploymentConfig(pluginDirectory: "", stateDirectory: ""), budget: nil, metrics: nil)

  /// A call admitted to a module: the caller may call it and holds one of its slots until
  /// `finish` runs.
  struct Admitted: Sendable {
    let module: ModuleRegistry.ModuleSnapshot
    let backend: ModuleBackend
    let method: PluginMethod
    let identity: CallerIdentity
    let requestID: String
    let deadline: ContinuousClock.Instant?
    let started: ContinuousClock.Instant
    /// The host's logger, without the call's metadata (see `logger`).
    let hostLogger: Logger
    let instanceName: String
    /// The module's largest request or response message, bytes.
    let maxMessageBytes: Int
    /// Where the call's deadline comes from, for its DEADLINE_EXCEEDED message.
    let deadlineSource: String

    /// The call's logger: request id, module, method and caller as metadata. Built when a
    /// message is actually logged — setting four metadata values on every call cost 4 % of the
    /// server's CPU in a profile of small calls, for messages that are mostly below the level.
    var logger: Logger { hostLogger.forCall(requestID: requestID, module: module.name, path: method.path, identity: identity) }

    /// `request` with the fields the module asks the host to fill in (`HostFilledFields`): the
    /// identity the caller acts under, never what the client wrote there.
    func filling(_ request: [UInt8], _ encoding: WireEncoding) -> [UInt8] {
      guard let filled = module.metadata?.hostFilled, !filled.isEmpty else { return request }
      return filled.filling(request, path: method.path, encoding: encoding, identity: identity.principal?.description ?? "")
    }

    /// Whether a message at `level` would be logged.
    func logs(_ level: Logger.Level) -> Bool { hostLogger.logLevel <= level }

    /// Response headers every module call carries.
    var responseMetadata: Metadata {
      var metadata: Metadata = [:]
      metadata.addString(requestID, forKey: "x-request-id")
      metadata.addString(instanceName, forKey: "carbonhub-instance")
      if let version = module.metadata?.version { metadata.addString(version, forKey: VersionSelector.answeredHeader) }
      return metadata
    }
  }

  /// The version a call's `carbonhub-module-version` header asks for; nil without one.
  static func versionSelector(in metadata: Metadata) -> VersionSelector? {
    metadata[stringValues: VersionSelector.header].first(where: { _ in true }).flatMap { VersionSelector(String($0)) }
  }

  /// Finds the module version that serves `path` for this caller (the one its
  /// `carbonhub-module-version` header asks for, else the default) and admits the caller.
  func admit(path: String, request metadata: Metadata, context: ServerContext) throws(RPCError) -> Admitted {
    try admit(path: path, version: Self.versionSelector(in: metadata), request: metadata, context: context)
  }

  /// The same, with the version already read (`Invoke` may name it in its request).
  func admit(
    path: String, version selector: VersionSelector?, request metadata: Metadata, context: ServerContext
  ) throws(RPCError) -> Admitted {
    switch registry.route(path, version: selector) {
    case .success(let module)?:
      return try admit(module: module, path: path, metadata: metadata, context: context)
    case .failure(let refusal)?:
      throw RPCError(refusal)
    case nil:
      if let owner = registry.owner(of: path) {
        let code: RPCError.Code = owner.state == .retired ? .failedPrecondition : .unavailable
        throw RPCError(code: code, message: "\(path): module '\(owner.name)' is \(owner.state.text)")
      }
      throw RPCError(code: .unimplemented, message: "\(path): no module of this host serves this method")
    }
  }

  /// The module version a request names: "esca@1.0.0" (or "esca@1.0"), or "esca" and the
  /// version the `carbonhub-module-version` header asks for (none: the default version); and
  /// the selector a call is then routed with. `field` names the request's field in errors.
  func module(
    named name: String, field: String, metadata: Metadata
  ) throws(RPCError) -> (module: ModuleRegistry.ModuleSnapshot, selector: VersionSelector?) {
    guard !name.isEmpty else { throw RPCError(code: .invalidArgument, message: "\(field): is required") }
    let moduleName = DeploymentConfig.ModuleEntry.moduleName(ofKey: name)
    let pinned = DeploymentConfig.ModuleEntry.pinnedVersion(ofKey: name)
    let selector = pinned != nil ? pinned.flatMap(VersionSelector.init) : Self.versionSelector(in: metadata)
    guard let module = registry.module(named: moduleName, version: selector) ?? registry.module(named: name) else {
      if let selector, registry.module(named: moduleName, version: nil) != nil {
        throw RPCError(code: .notFound, message: "\(field): module '\(moduleName)' has no version '\(selector)' in this deployment")
      }
      throw RPCError(code: .notFound, message: "\(field): no module named '\(name)' in this deployment")
    }
    return (module, selector)
  }

  /// A method named by module and method name ("esca", "ComputeSoilStock"; or its full path),
  /// as the JSON doors (`Host/Invoke`, the HTTP gateway) name it; and the version selector to
  /// admit the call with (`admit(path:version:request:context:)`), which routes it as the
  /// method's own path would be.
  func method(
    named methodName: String, ofModule moduleName: String, metadata: Metadata
  ) throws(RPCError) -> (method: PluginMethod, selector: VersionSelector?) {
    let (module, selector) = try module(named: moduleName, field: "module", metadata: metadata)
    guard !methodName.isEmpty else { throw RPCError(code: .invalidArgument, message: "method: is required") }
    // A version that does not serve is refused by the routing, as on the method's own path
    // (a retired one with FAILED_PRECONDITION): its methods are those it, or another version
    // of its module, last declared.
    let declared = module.metadata ?? registry.all.first { $0.moduleName == module.moduleName && $0.metadata != nil }?.metadata
    guard let methods = declared?.methods else {
      throw RPCError(code: .unavailable, message: "module: '\(module.name)' is \(module.state.text)")
    }
    guard let method = methods.first(where: { $0.path == methodName || $0.name == methodName }) else {
      let known = methods.map(\.name).joined(separator: ", ")
      throw RPCError(code: .notFound, message: "method: module '\(moduleName)' has no method '\(methodName)' (it has: \(known))")
    }
    return (method, selector)
  }

  /// Admits the caller to `module`'s method `path`.
  func admit(
    module: ModuleRegistry.ModuleSnapshot, path: String, metadata: Metadata, context: ServerContext
  ) throws(RPCError) -> Admitted {
    let connection = peers.identity(of: context.remotePeer)
    // Logged under the name that the allow-list granted, when there is one.
    var identity = connection.acting(as: module.allowGrant(for: connection))
    // A caller's own id, when it sends one (an empty one gets an id of the host's).
    let requestID = metadata[stringValues: "x-request-id"].first(where: { !$0.isEmpty }).map { String($0.prefix(64)) }
      ?? Self.newRequestID()
    guard let backend = module.backend, let method = module.metadata?.methods.first(where: { $0.path == path }) else {
      throw RPCError(code: .unavailable, message: "\(path): module '\(module.name)' is \(module.state.text)")
    }
    guard module.admits(identity) else {
      metrics.recordCall(module, path: path, status: .permissionDenied, seconds: 0)
      logger.forCall(requestID: requestID, module: module.name, path: path, identity: identity)
        .notice("call refused: caller not on the module's allow-list")
      audit?.record(
        .init(
          kind: "refusal", who: "\(identity)", peer: context.remotePeer, action: String(path.dropFirst()), module: module.name,
          outcome: "PERMISSION_DENIED", detail: "not on the module's allow-list"))
      throw RPCError(
        code: .permissionDenied,
        message: "caller '\(identity)' is not allowed to call module '\(module.name)' (see its `allow` list)")
    }
    if let index = MethodRule.deciding(module.settings.methodRules, for: method.name) {
      let rule = module.settings.methodRules[index]
      guard let granted = connection.match(in: rule.allow) else {
        metrics.recordCall(module, path: path, status: .permissionDenied, seconds: 0)
        logger.forCall(requestID: requestID, module: module.name, path: path, identity: identity)
          .notice("call refused: caller not allowed by the method's rule", metadata: ["rule": "\(index)"])
        audit?.record(
          .init(
            kind: "refusal", who: "\(identity)", peer: context.remotePeer, action: String(path.dropFirst()), module: module.name,
            outcome: "PERMISSION_DENIED", detail: "not allowed by rules[\(index)] of the module"))
        throw RPCError(
          code: .permissionDenied,
          message: "caller '\(identity)' may not call \(method.name) of module '\(module.name)' (see its rules[\(index)])")
      }
      identity = connection.acting(as: granted)
    }
    if let refusal = limits.admitByResidentMemory() {
      metrics.recordCall(module, path: path, status: .resourceExhausted, seconds: 0)
      throw RPCError(refusal)
    }
    guard module.gate.enter() else {
      metrics.recordCall(module, path: path, status: .resourceExhausted, seconds: 0)
      throw RPCError(
        code: .resourceExhausted,
        message: "module '\(module.name)' is answering \(module.gate.limit ?? 0) calls already (max_concurrent_calls): retry later")
    }
    // The server's own deadline always applies; the caller's when it is sooner.
    let (timeout, source) = limits.timeout(of: module, streaming: method.isServerStreaming || method.isClientStreaming)
    var deadline = ContinuousClock.now.advanced(by: .milliseconds(timeout))
    var deadlineSource = source
    if let callers = CallDeadline.parse(metadata[stringValues: "grpc-timeout"].first(where: { _ in true })), callers < deadline {
      deadline = callers
      deadlineSource = "the caller's grpc-timeout"
    }
    let call = Admitted(
      module: module, backend: backend, method: method, identity: identity, requestID: requestID,
      deadline: deadline, started: .now, hostLogger: logger, instanceName: instanceName,
      maxMessageBytes: limits.maxMessageBytes(of: module), deadlineSource: deadlineSource)
    if call.logs(.debug) { call.logger.debug("call admitted") }
    return call
  }

  /// Runs an admitted unary call. Its request must fit the module's message limit and the
  /// host's memory budget; its response must fit the message limit (a larger one is an error,
  /// never sent).
  func unary(_ call: Admitted, _ request: [UInt8], _ encoding: WireEncoding) async -> Result<[UInt8], PluginCallError> {
    let request = call.filling(request, encoding)
    let gate = call.module.gate
    if let refusal = limits.admitRequest(request.count, call) {
      gate.leave()
      finish(call, status: refusal.status)
      return .failure(refusal)
    }
    defer { limits.budget?.release(request.count) }
    let cancellation = CallCancellation()
    var result = await withRPCCancellationHandler {
      await call.backend.unary(
        call.method.path, request, encoding, deadline: call.deadline, cancellation: cancellation,
        threads: limits.threads, onFinish: { gate.leave() })
    } onCancelRPC: {
      cancellation.cancel()
    }
    if case .success(let response) = result, let refusal = limits.refusal(ofResponse: response.count, call) {
      result = .failure(refusal)
    }
    if case .failure(let error) = result { result = .failure(limits.namingDeadline(error, call)) }
    finish(call, status: result.status)
    if encoding == .json, case .failure(let error) = result { return .failure(explained(error, json: request, call: call)) }
    return result
  }

  /// A module's refusal of a JSON request that names no field, explained from the module's
  /// descriptor set when the JSON itself is at fault: the field path, what it holds and what
  /// was expected (the valid names of an enum). Protobuf libraries' JSON parsers, which the
  /// modules use, report bare codes (`unrecognizedEnumValue`); the host holds every module's
  /// descriptors, so it explains them once for modules in any language. Costs nothing on
  /// calls that succeed.
  func explained(_ error: PluginCallError, json request: [UInt8], call: Admitted) -> PluginCallError {
    // The module's descriptors as the registry indexed them at load (not parsed again per error).
    guard error.status == .invalidArgument, error.field?.isEmpty ?? true, let encoder = call.module.metadata?.jsonRequests,
      let fault = encoder.diagnose(json: request, method: call.method.path)
    else { return error }
    return PluginCallError(
      status: .invalidArgument,
      message: "request is not a valid proto3 JSON \(encoder.requestTypeName(ofMethod: call.method.path)): \(fault.description)",
      field: fault.path.isEmpty ? nil : fault.path)
  }

  /// Runs an admitted streaming call and hands each response to `write`, pacing the plugin to
  /// the writer; counts the call's outcome and turns a module error into its gRPC form. The
  /// call holds its module's slot until the plugin has finished *and* the last response is
  /// written, and its deadline covers the writing.
  func relay(
    _ call: Admitted, _ request: [UInt8], _ encoding: WireEncoding, to write: @escaping @Sendable ([UInt8]) async throws -> Void
  ) async throws {
    let request = call.filling(request, encoding)
    let slot = SlotRelease(call.module.gate)
    if let refusal = limits.admitRequest(request.count, call) {
      slot.abandon()
      finish(call, status: refusal.status)
      throw RPCError(refusal)
    }
    defer { limits.budget?.release(request.count) }
    let stream = call.backend.streaming(
      call.method.path, request, encoding, deadline: call.deadline, buffer: limits.streamBuffer, onFinish: slot.arrive)
    try await relay(call, stream, slot: slot, json: encoding == .json ? request : nil, to: write)
  }

  /// Runs an admitted bidirectional call: `requests` yields the client's requests, which reach
  /// the plugin as it pulls them (reading the client no faster), and each response goes to
  /// `write` as in `relay`. A failure of the client's stream cancels the call.
  func relayBidi<Requests: AsyncSequence & Sendable>(
    _ call: Admitted, requests: Requests, _ encoding: WireEncoding, to write: @escaping @Sendable ([UInt8]) async throws -> Void
  ) async throws where Requests.Element == [UInt8] {
    let pipe = RequestPipe()
    let slot = SlotRelease(call.module.gate)
    let stream = call.backend.bidi(
      call.method.path, requests: pipe, encoding, deadline: call.deadline, buffer: limits.streamBuffer, onFinish: slot.arrive)
    let limit = call.maxMessageBytes
    // The reader's result: the refusal of a request above the module's limit, if one came.
    try await withThrowingTaskGroup(of: PluginCallError?.self) { group in
      group.addTask {
        do {
          for try await request in requests {
            // Each request of the stream is held to the module's limit, as a unary request is.
            if request.count > limit {
              stream.cancel()
              pipe.cancel()
              return CallLimits.requestTooLarge(request.count, call)
            }
            guard await pipe.push(call.filling(request, encoding)) else { return nil }
          }
          pipe.finish()
        } catch {
          pipe.cancel()
        }
        return nil
      }
      var relayError: (any Error)?
      do {
        try await relay(call, stream, slot: slot, to: write)
      } catch {
        relayError = error
      }
      group.cancelAll()
      if case let refusal?? = try? await group.next() {
        limits.metrics?.record(.requestTooLarge)
        throw RPCError(refusal)
      }
      if let relayError { throw relayError }
    }
  }

  /// `json` is the request of a JSON call, kept to explain a refusal (see `explained`).
  private func relay(
    _ call: Admitted, _ stream: StreamingCall, slot: SlotRelease, json request: [UInt8]? = nil,
    to write: @escaping @Sendable ([UInt8]) async throws -> Void
  ) async throws {
    defer {
      stream.cancel()
      slot.arrive()
    }
    let limits = self.limits
    // The caller left (its stream reset, its HTTP connection closed) or the host's drain ran
    // out: the plugin is told at once, not at its next response.
    let callerLeft = Atomic(false)
    do {
      try await withRPCCancellationHandler {
        try await CallLimits.within(call.deadline, path: call.method.path) {
          for try await message in stream.messages {
            if let refusal = limits.refusal(ofResponse: message.count, call) { throw refusal }
            try await write(message)
            stream.consumed(message.count)
          }
        }
      } onCancelRPC: {
        callerLeft.store(true, ordering: .releasing)
        stream.cancel()
      }
      // A stream the cancellation ended early is not a success, whatever the plugin returned.
      if callerLeft.load(ordering: .acquiring) { throw PluginCallError.cancelled(call.method.path) }
      finish(call, status: .ok)
    } catch let failure as PluginCallError {
      let error = limits.namingDeadline(failure, call)
      finish(call, status: error.status)
      throw RPCError(request.map { explained(error, json: $0, call: call) } ?? error)
    } catch {
      finish(call, status: .cancelled)
      throw error
    }
  }

  /// Counts and logs the end of a call.
  func finish(_ call: Admitted, status: CarbonStatus, message: String? = nil) {
    let elapsed = call.started.duration(to: .now).timeInterval
    metrics.recordCall(call.module, path: call.method.path, status: status, seconds: elapsed)
    if status == .ok {
      if call.logs(.debug) { call.logger.debug("call answered", metadata: ["seconds": "\(elapsed)"]) }
    } else if call.logs(.info) {
      call.logger.info(
        "call failed", metadata: ["status": "\(status.name)", "seconds": "\(elapsed)"])
    }
  }

  /// 16 hexadecimal digits, unique enough to find one call in the logs.
  static func newRequestID() -> String {
    var value = UInt64.random(in: .min ... .max)
    return String(unsafeUninitializedCapacity: 16) { digits in
      for index in (0..<16).reversed() {
        let digit = UInt8(truncatingIfNeeded: value & 0xF)
        digits[index] = digit < 10 ? UInt8(ascii: "0") + digit : UInt8(ascii: "a") + digit - 10
        value >>= 4
      }
      return 16
    }
  }
}

extension Result where Success == [UInt8], Failure == PluginCallError {
  /// The status of the outcome.
  var status: CarbonStatus {
    switch self {
    case .success: return .ok
    case .failure(let error): return error.status
    }
  }
}

extension Logger {
  /// This logger with a module call's metadata.
  fileprivate func forCall(requestID: String, module: String, path: String, identity: CallerIdentity) -> Logger {
    var logger = self
    logger[metadataKey: "request_id"] = "\(requestID)"
    logger[metadataKey: "module"] = "\(module)"
    logger[metadataKey: "method"] = "\(path)"
    logger[metadataKey: "caller"] = "\(identity)"
    return logger
  }
}

/// The `grpc-timeout` request header ("250m", "5S", "1H"…) as a deadline.
enum CallDeadline {
  static func parse(_ header: String?) -> ContinuousClock.Instant? {
    guard let header, header.count >= 2, header.count <= 9, let unit = header.last,
      let amount = Int64(header.dropLast()), amount >= 0
    else { return nil }
    let duration: Duration
    switch unit {
    case "H": duration = .seconds(amount * 3600)
    case "M": duration = .seconds(amount * 60)
    case "S": duration = .seconds(amount)
    case "m": duration = .milliseconds(amount)
    case "u": duration = .microseconds(amount)
    case "n": duration = .nanoseconds(amount)
    default: return nil
    }
    return ContinuousClock.now.advanced(by: duration)
  }
}

extension RPCError {
  /// Why no version of a module could take a call, as its gRPC status.
  init(_ refusal: ModuleRegistry.RouteRefusal) {
    let code: RPCError.Code
    switch refusal.code {
    case .notFound: code = .notFound
    case .failedPrecondition: code = .failedPrecondition
    case .unavailable: code = .unavailable
    case .unimplemented: code = .unimplemented
    }
    self.init(code: code, message: refusal.message)
  }
}
