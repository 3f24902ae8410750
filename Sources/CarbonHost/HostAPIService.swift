import CarbonHostProtocol
import CarbonPluginLoader
import GRPCCore

/// `carbon.host.v1.Host`: lists the modules and calls any method with JSON.
struct HostAPIService: Carbon_Host_V1_Host.SimpleServiceProtocol {
  let registry: ModuleRegistry

  func listModules(request: Carbon_Host_V1_ListModulesRequest, context: ServerContext) async throws
    -> Carbon_Host_V1_ListModulesResponse
  {
    var response = Carbon_Host_V1_ListModulesResponse()
    response.modules = registry.all.map(Self.info)
    return response
  }

  func getModule(request: Carbon_Host_V1_GetModuleRequest, context: ServerContext) async throws
    -> Carbon_Host_V1_ModuleInfo
  {
    guard !request.name.isEmpty else { throw RPCError(code: .invalidArgument, message: "name: is required") }
    guard let module = registry.module(named: request.name) else {
      throw RPCError(code: .notFound, message: "name: no module named '\(request.name)' in this deployment")
    }
    return Self.info(module)
  }

  func invoke(request: Carbon_Host_V1_InvokeRequest, context: ServerContext) async throws
    -> Carbon_Host_V1_InvokeResponse
  {
    let (instance, method) = try resolve(request, streaming: false)
    switch await PluginDispatch.unary(instance, method.path, Array(request.requestJson.utf8), .json) {
    case .success(let bytes):
      var response = Carbon_Host_V1_InvokeResponse()
      response.responseJson = String(decoding: bytes, as: UTF8.self)
      return response
    case .failure(let error):
      throw RPCError(error)
    }
  }

  func invokeStream(
    request: Carbon_Host_V1_InvokeRequest, response: RPCWriter<Carbon_Host_V1_InvokeResponse>,
    context: ServerContext
  ) async throws {
    let (instance, method) = try resolve(request, streaming: true)
    let call = PluginDispatch.streaming(instance, method.path, Array(request.requestJson.utf8), .json)
    defer { call.cancel() }
    do {
      for try await bytes in call.messages {
        var message = Carbon_Host_V1_InvokeResponse()
        message.responseJson = String(decoding: bytes, as: UTF8.self)
        try await response.write(message)
        call.consumed()
      }
    } catch let error as PluginCallError {
      throw RPCError(error)
    }
  }

  private func resolve(_ request: Carbon_Host_V1_InvokeRequest, streaming: Bool) throws -> (PluginInstance, PluginMethod) {
    guard !request.module.isEmpty else { throw RPCError(code: .invalidArgument, message: "module: is required") }
    guard !request.method.isEmpty else { throw RPCError(code: .invalidArgument, message: "method: is required") }
    guard let module = registry.module(named: request.module) else {
      throw RPCError(code: .notFound, message: "module: no module named '\(request.module)' in this deployment")
    }
    guard let instance = module.instance, let library = module.library else {
      throw RPCError(code: .unavailable, message: "module: '\(request.module)' is not serving (\(Self.stateText(module.state)))")
    }
    guard let method = library.methods.first(where: { $0.path == request.method || $0.name == request.method }) else {
      let known = library.methods.map(\.name).joined(separator: ", ")
      throw RPCError(code: .notFound, message: "method: module '\(request.module)' has no method '\(request.method)' (it has: \(known))")
    }
    if method.isServerStreaming != streaming {
      let use = method.isServerStreaming ? "InvokeStream" : "Invoke"
      throw RPCError(code: .failedPrecondition, message: "method: \(method.path) is \(method.isServerStreaming ? "server-streaming" : "unary"): call it with \(use)")
    }
    return (instance, method)
  }

  static func stateText(_ state: ModuleRegistry.State) -> String {
    switch state {
    case .serving: return "serving"
    case .disabled: return "disabled"
    case .failed(let reason): return "failed: \(reason)"
    }
  }

  static func info(_ module: ModuleRegistry.Module) -> Carbon_Host_V1_ModuleInfo {
    var info = Carbon_Host_V1_ModuleInfo()
    info.name = module.name
    info.path = module.path
    if let library = module.library {
      info.version = library.version
      info.description_p = library.summary
      info.abiVersion = library.abiVersion
      info.sha256 = library.sha256
      info.methods = library.methods.map { method in
        var m = Carbon_Host_V1_ModuleMethod()
        m.path = method.path
        m.kind = method.isServerStreaming ? .serverStreaming : .unary
        return m
      }
      var services: [String] = []
      for method in library.methods where !services.contains(method.service) { services.append(method.service) }
      info.services = services
    }
    switch module.state {
    case .serving: info.state = .serving
    case .disabled: info.state = .disabled
    case .failed(let reason):
      info.state = .failed
      info.failureReason = reason
    }
    return info
  }
}
