import CarbonDomain
import CarbonPluginLoader
import GRPCCore

/// Serves every module method as raw bytes: the request bytes go to the plugin untouched and
/// its response bytes come back untouched. The host never compiles (or decodes) a plugin's
/// message types.
///
/// One handler is registered, under `ModuleRoutingTransport.moduleCall`; the method the caller
/// asked for is `context.descriptor`, looked up in the registry at call time so that modules
/// enabled, disabled or reloaded while the host runs are routed correctly.
struct PluginRoutes: RegistrableRPCService {
  let calls: ModuleCalls

  func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
    let calls = self.calls
    router.registerHandler(
      forMethod: ModuleRoutingTransport<Transport>.moduleCall, deserializer: RawBytesCoder(), serializer: RawBytesCoder()
    ) { request, context in
      let path = "/\(context.descriptor.service.fullyQualifiedService)/\(context.descriptor.method)"
      let call: ModuleCalls.Admitted
      do throws(RPCError) {
        call = try calls.admit(path: path, request: request.metadata, context: context)
      } catch {
        return StreamingServerResponse(error: error)
      }
      if call.method.isClientStreaming {
        let receipt = calls.receipt(for: call, .protobuf)
        return StreamingServerResponse(metadata: call.responseMetadata) { writer in
          let requests = request.messages.map { message in
            receipt?.request(message)
            return message
          }
          try await calls.relayBidi(call, requests: requests, .protobuf) { message in
            try await writer.write(message)
            receipt?.response(message)
          }
          return await receipt?.trailer() ?? [:]
        }
      }
      let bytes: [UInt8]
      do {
        bytes = try await request.messages.single(path)
      } catch {
        calls.finish(call, status: .invalidArgument)
        call.module.gate.leave()
        return StreamingServerResponse(error: error as? RPCError ?? RPCError(code: .invalidArgument, message: "\(error)"))
      }
      if call.method.isServerStreaming {
        let receipt = calls.receipt(for: call, .protobuf)
        receipt?.request(bytes)
        return StreamingServerResponse(metadata: call.responseMetadata) { writer in
          try await calls.relay(call, bytes, .protobuf) { message in
            try await writer.write(message)
            receipt?.response(message)
          }
          return await receipt?.trailer() ?? [:]
        }
      }
      let receipt = calls.receipt(for: call, .protobuf)
      switch await calls.unary(call, bytes, .protobuf) {
      case .success(let response):
        return StreamingServerResponse(
          single: ServerResponse(
            message: response, metadata: call.responseMetadata,
            trailingMetadata: await receipt?.trailer(request: bytes, response: response) ?? [:]))
      case .failure(let error):
        return StreamingServerResponse(error: RPCError(error))
      }
    }
  }
}

/// Passes message bytes through without decoding them: the host's plugin routes use it, and so
/// can clients that send bytes they built themselves (tests of malformed input, benchmarks).
public struct RawBytesCoder: MessageSerializer, MessageDeserializer {
  public init() {}
  public func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes { Bytes(message) }
  public func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> [UInt8] {
    serializedMessageBytes.withUnsafeBytes { Array($0) }
  }
}

extension RPCError {
  /// The gRPC form of a plugin's error: same code, its message, and the offending field in
  /// the `carbon-error-field` trailing metadata. Control characters in either are written as
  /// `\u001b` and the like: a plugin may echo client text it did not quote, and the message
  /// ends up in terminals and logs.
  init(_ error: PluginCallError) {
    let code = RPCError.Code(error.status)
    var metadata: Metadata = [:]
    if let field = error.field, !field.isEmpty { metadata.addString(field.controlCharactersEscaped, forKey: "carbon-error-field") }
    self.init(code: code, message: error.message.controlCharactersEscaped, metadata: metadata)
  }
}

extension RPCAsyncSequence where Element: Sendable {
  /// The one message of a unary or server-streaming request.
  func single(_ path: String) async throws -> Element {
    var iterator = makeAsyncIterator()
    guard let first = try await iterator.next() else {
      throw RPCError(code: .invalidArgument, message: "\(path): the request has no message")
    }
    return first
  }
}
