import CarbonHostProtocol
import CarbonPluginLoader
import GRPCCore

/// `carbon.host.v1.Host`: who the caller is, the modules, and any method called with JSON.
struct HostAPIService: Carbon_Host_V1_Host.ServiceProtocol {
  let calls: ModuleCalls
  let access: AccessPolicy
  var registry: ModuleRegistry { calls.registry }

  func whoAmI(request: ServerRequest<Carbon_Host_V1_WhoAmIRequest>, context: ServerContext) async throws
    -> ServerResponse<Carbon_Host_V1_WhoAmIResponse>
  {
    let identity = calls.peers.identity(of: context.remotePeer)
    var response = Carbon_Host_V1_WhoAmIResponse()
    response.authenticated = identity.isAuthenticated
    response.identities = identity.names.map(\.description)
    response.roles = access.roles(of: identity)
    response.callableModules = registry.all.filter { $0.admits(identity) }.map(\.name)
    return ServerResponse(message: response)
  }

  func listModules(request: ServerRequest<Carbon_Host_V1_ListModulesRequest>, context: ServerContext) async throws
    -> ServerResponse<Carbon_Host_V1_ListModulesResponse>
  {
    var response = Carbon_Host_V1_ListModulesResponse()
    let detailed = isAdmin(context)
    response.modules = registry.all.map { Self.info($0, in: registry, detailed: detailed, limits: calls.limits) }
    return ServerResponse(message: response)
  }

  func getModule(request: ServerRequest<Carbon_Host_V1_GetModuleRequest>, context: ServerContext) async throws
    -> ServerResponse<Carbon_Host_V1_ModuleInfo>
  {
    ServerResponse(
      message: Self.info(
        try calls.module(named: request.message.name, field: "name", metadata: request.metadata).module, in: registry,
        detailed: isAdmin(context), limits: calls.limits))
  }

  /// The method paths of the host API that call a module (JSON `Invoke` and `InvokeStream`):
  /// drained as module calls when the host stops (`ModuleCallDrain`).
  static let moduleCallPaths: Set<String> = [
    "/" + Carbon_Host_V1_Host.Method.Invoke.descriptor.fullyQualifiedMethod,
    "/" + Carbon_Host_V1_Host.Method.InvokeStream.descriptor.fullyQualifiedMethod,
  ]

  func invoke(request: ServerRequest<Carbon_Host_V1_InvokeRequest>, context: ServerContext) async throws
    -> ServerResponse<Carbon_Host_V1_InvokeResponse>
  {
    let call = try admit(request.message, streaming: false, metadata: request.metadata, context: context)
    let requestJSON = Array(request.message.requestJson.utf8)
    let receipt = calls.receipt(for: call, .json)
    switch await calls.unary(call, requestJSON, .json) {
    case .success(let bytes):
      var response = Carbon_Host_V1_InvokeResponse()
      response.responseJson = String(decoding: bytes, as: UTF8.self)
      return ServerResponse(
        message: response, metadata: call.responseMetadata,
        trailingMetadata: await receipt?.trailer(request: requestJSON, response: bytes) ?? [:])
    case .failure(let error):
      throw RPCError(error)
    }
  }

  func invokeStream(request: ServerRequest<Carbon_Host_V1_InvokeRequest>, context: ServerContext) async throws
    -> StreamingServerResponse<Carbon_Host_V1_InvokeResponse>
  {
    let call = try admit(request.message, streaming: true, metadata: request.metadata, context: context)
    let receipt = calls.receipt(for: call, .json)
    return StreamingServerResponse(metadata: call.responseMetadata) { [calls] writer in
      let write: @Sendable ([UInt8]) async throws -> Void = { bytes in
        var message = Carbon_Host_V1_InvokeResponse()
        message.responseJson = String(decoding: bytes, as: UTF8.self)
        try await writer.write(message)
        receipt?.response(bytes)
      }
      let requestJSON = Array(request.message.requestJson.utf8)
      receipt?.request(requestJSON)
      if call.method.isClientStreaming {
        let (single, continuation) = AsyncStream<[UInt8]>.makeStream()
        continuation.yield(requestJSON)
        continuation.finish()
        try await calls.relayBidi(call, requests: single, .json, to: write)
      } else {
        try await calls.relay(call, requestJSON, .json, to: write)
      }
      return await receipt?.trailer() ?? [:]
    }
  }

  func getReceiptKey(request: ServerRequest<Carbon_Host_V1_GetReceiptKeyRequest>, context: ServerContext) async throws
    -> ServerResponse<Carbon_Host_V1_ReceiptKey>
  {
    ServerResponse(message: calls.receipts?.signer.keyMessage ?? Carbon_Host_V1_ReceiptKey())
  }

  private func admit(
    _ request: Carbon_Host_V1_InvokeRequest, streaming: Bool, metadata: Metadata, context: ServerContext
  ) throws(RPCError) -> ModuleCalls.Admitted {
    let (method, selector) = try calls.method(named: request.method, ofModule: request.module, metadata: metadata)
    if method.isServerStreaming != streaming {
      let use = method.isServerStreaming ? "InvokeStream" : "Invoke"
      throw RPCError(code: .failedPrecondition, message: "method: \(method.path) is \(method.kindName): call it with \(use)")
    }
    // Routed as the method's own path would be: the same version, or the same refusal.
    return try calls.admit(path: method.path, version: selector, request: metadata, context: context)
  }

  /// True when the caller holds the admin role.
  private func isAdmin(_ context: ServerContext) -> Bool {
    access.adminGrant(of: calls.peers.identity(of: context.remotePeer)) != nil
  }

  /// A module as `ListModules`, `GetModule` and the admin RPCs describe it. Only admins see
  /// where its file lies and who may call it (`detailed`): a file path tells an attacker where
  /// to aim, and an allow-list which identity to impersonate.
  static func info(
    _ module: ModuleRegistry.ModuleSnapshot, in registry: ModuleRegistry, detailed: Bool = true, limits: CallLimits
  ) -> Carbon_Host_V1_ModuleInfo {
    var info = Carbon_Host_V1_ModuleInfo()
    info.name = module.name
    info.module = module.moduleName
    info.defaultVersion = registry.isDefaultVersion(module)
    if let version = module.version { info.version = version.text }
    if detailed { info.path = module.path }
    if let metadata = module.metadata {
      info.version = metadata.version
      info.description_p = metadata.summary
      info.abiVersion = metadata.abiVersion
      info.sha256 = metadata.sha256
      info.methods = metadata.methods.map { method in
        var m = Carbon_Host_V1_ModuleMethod()
        m.path = method.path
        m.kind = method.isClientStreaming ? .bidiStreaming : method.isServerStreaming ? .serverStreaming : .unary
        return m
      }
      info.services = metadata.services
    }
    if detailed {
      info.allow = module.allow ?? []
      info.allowAny = module.allow == nil
    }
    info.isolation = module.settings.isolation == .isolated ? .isolated : .inProcess
    info.restarts = UInt32(module.restarts)
    info.callsInFlight = UInt32(max(0, module.gate.current))
    info.maxMessageBytes = UInt64(limits.maxMessageBytes(of: module))
    info.unaryTimeoutMs = UInt32(clamping: limits.timeout(of: module, streaming: false).milliseconds)
    info.streamingTimeoutMs = UInt32(clamping: limits.timeout(of: module, streaming: true).milliseconds)
    switch module.state {
    case .serving: info.state = .serving
    case .disabled: info.state = .disabled
    case .retired: info.state = .retired
    case .loading: info.state = .loading
    case .restarting(let reason):
      info.state = .restarting
      info.failureReason = detailed ? reason : withoutPaths(reason)
    case .failed(let reason):
      info.state = .failed
      info.failureReason = detailed ? reason : withoutPaths(reason)
    }
    return info
  }

  /// A failure reason as a caller without the admin role reads it: every absolute file path
  /// replaced by `(path)`, for the reason `info` hides `path` from them. The loader's reasons
  /// name files ("/opt/plugins/libx.so: ABI 42, host 1"); the rest of the reason stays.
  static func withoutPaths(_ reason: String) -> String {
    var result = ""
    var characters = reason[...]
    var previous: Character? = nil
    let opensPath: Set<Character?> = [nil, " ", "\"", "'", "(", "=", "`", "«", "\n"]
    let endsPath: Set<Character> = [" ", "\"", "'", ")", ",", ";", "`", "»", "\n"]
    while let character = characters.first {
      if character == "/", opensPath.contains(previous) {
        var path = characters.prefix { !endsPath.contains($0) }
        characters = characters.dropFirst(path.count)
        // A sentence's colon or full stop after the path is not part of it.
        var trailing = ""
        while let last = path.last, last == ":" || last == "." {
          trailing = String(last) + trailing
          path = path.dropLast()
        }
        result += "(path)" + trailing
        previous = trailing.last ?? ")"
        continue
      }
      result.append(character)
      previous = character
      characters = characters.dropFirst()
    }
    return result
  }
}

/// `carbon.host.v1.HostAdmin`: run-time changes by an admin. The `AccessInterceptor` has
/// already checked the caller holds the admin role. Every action, whatever its outcome, is
/// written to the audit log before its answer leaves.
struct HostAdminService: Carbon_Host_V1_HostAdmin.SimpleServiceProtocol {
  let registry: ModuleRegistry
  let peers: PeerDirectory
  let access: AccessPolicy
  let audit: AuditLog?
  /// The limits shown with each module an action returns.
  let limits: CallLimits

  func enableModule(request: Carbon_Host_V1_ModuleRef, context: ServerContext) async throws -> Carbon_Host_V1_ModuleInfo {
    try await audited("EnableModule", module: request.name, detail: nil, context) { caller throws(RPCError) in
      try await Self.run { () throws(ModuleRegistry.ActionError) in try await registry.enable(request.name, by: caller) }
    }
  }

  func disableModule(request: Carbon_Host_V1_ModuleRef, context: ServerContext) async throws -> Carbon_Host_V1_ModuleInfo {
    try await audited("DisableModule", module: request.name, detail: nil, context) { caller throws(RPCError) in
      try await Self.run { () throws(ModuleRegistry.ActionError) in try await registry.disable(request.name, by: caller) }
    }
  }

  func reloadModule(request: Carbon_Host_V1_ReloadModuleRequest, context: ServerContext) async throws
    -> Carbon_Host_V1_ModuleInfo
  {
    let detail = "path=\(request.path.isEmpty ? "(current)" : request.path) sha256=\(request.sha256.isEmpty ? "(none)" : request.sha256)"
    return try await audited("ReloadModule", module: request.name, detail: detail, context) { caller throws(RPCError) in
      if !request.sha256.isEmpty, request.sha256.count != 64 || !request.sha256.allSatisfy(\.isHexDigit) {
        throw RPCError(code: .invalidArgument, message: "sha256: must be 64 hexadecimal characters")
      }
      return try await Self.run { () throws(ModuleRegistry.ActionError) in
        try await registry.reload(
          request.name, path: request.path.isEmpty ? nil : request.path,
          sha256: request.sha256.isEmpty ? nil : request.sha256.lowercased(), by: caller)
      }
    }
  }

  func retireModule(request: Carbon_Host_V1_ModuleRef, context: ServerContext) async throws -> Carbon_Host_V1_ModuleInfo {
    try await audited("RetireModule", module: request.name, detail: nil, context) { caller throws(RPCError) in
      try await Self.run { () throws(ModuleRegistry.ActionError) in try await registry.retire(request.name, by: caller) }
    }
  }

  func setModuleAccess(request: Carbon_Host_V1_SetModuleAccessRequest, context: ServerContext) async throws
    -> Carbon_Host_V1_ModuleInfo
  {
    let detail = request.allowAny ? "allow=*any*" : "allow=\(request.allow.joined(separator: ","))"
    return try await audited("SetModuleAccess", module: request.name, detail: detail, context) { caller throws(RPCError) in
      if request.allowAny && !request.allow.isEmpty {
        throw RPCError(code: .invalidArgument, message: "allow: must be empty when allow_any is true")
      }
      if !request.allowAny && request.allow.isEmpty {
        throw RPCError(code: .invalidArgument, message: "allow: give at least one identity, or set allow_any")
      }
      return try await Self.run { () throws(ModuleRegistry.ActionError) in
        try await registry.setAccess(request.name, allow: request.allowAny ? nil : request.allow, by: caller)
      }
    }
  }

  /// Runs an admin action as the calling identity, acting under the name that `access.admins`
  /// granted (the one logs and the audit log show), and audits its outcome.
  private func audited(
    _ method: String, module: String, detail: String?, _ context: ServerContext,
    _ action: (CallerIdentity) async throws(RPCError) -> ModuleRegistry.ModuleSnapshot
  ) async throws(RPCError) -> Carbon_Host_V1_ModuleInfo {
    let identity = peers.identity(of: context.remotePeer)
    let caller = identity.acting(as: access.adminGrant(of: identity))
    func record(_ outcome: String, _ reason: String?) {
      audit?.record(
        .init(
          kind: "admin", who: "\(caller)", peer: context.remotePeer, action: "carbon.host.v1.HostAdmin/\(method)",
          module: module, outcome: outcome, detail: [detail, reason].compactMap { $0 }.joined(separator: "; ")))
    }
    do {
      let changed = try await action(caller)
      record("OK", nil)
      return HostAPIService.info(changed, in: registry, limits: limits)
    } catch {
      record(error.code.name, error.message)
      throw error
    }
  }

  /// A registry action's failure as a gRPC status.
  private static func run(
    _ action: () async throws(ModuleRegistry.ActionError) -> ModuleRegistry.ModuleSnapshot
  ) async throws(RPCError) -> ModuleRegistry.ModuleSnapshot {
    do {
      return try await action()
    } catch {
      let code: RPCError.Code
      switch error.code {
      case .notFound: code = .notFound
      case .failedPrecondition: code = .failedPrecondition
      case .invalidArgument: code = .invalidArgument
      }
      throw RPCError(code: code, message: error.message)
    }
  }
}
