import CarbonPluginLoader
import GRPCCore

/// Registers every method of every serving module on the gRPC server as a raw-bytes handler:
/// the request bytes go to the plugin untouched and its response bytes come back untouched.
/// The host never compiles (or decodes) a plugin's message types.
struct PluginRoutes: RegistrableRPCService {
  let registry: ModuleRegistry
  let metrics: CallMetrics

  func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
    for module in registry.serving {
      guard let library = module.library else { continue }
      for method in library.methods {
        let descriptor = MethodDescriptor(fullyQualifiedService: method.service, method: method.name)
        let path = method.path
        let registry = self.registry
        let metrics = self.metrics
        router.registerHandler(
          forMethod: descriptor, deserializer: RawBytesCoder(), serializer: RawBytesCoder()
        ) { request, context in
          guard let instance = registry.route(path)?.instance else {
            return StreamingServerResponse(error: RPCError(code: .unavailable, message: "module for \(path) is not serving"))
          }
          let bytes: [UInt8]
          do {
            bytes = try await request.messages.single(path)
          } catch let error as RPCError {
            return StreamingServerResponse(error: error)
          }
          let started = ContinuousClock.now
          if method.isServerStreaming {
            let call = PluginDispatch.streaming(instance, path, bytes, .protobuf)
            return StreamingServerResponse { writer in
              defer { call.cancel() }
              do {
                for try await message in call.messages {
                  try await writer.write(message)
                  call.consumed()
                }
                metrics.record(path, status: 0, since: started)
                return [:]
              } catch let error as PluginCallError {
                metrics.record(path, status: error.status, since: started)
                throw RPCError(error)
              }
            }
          }
          switch await PluginDispatch.unary(instance, path, bytes, .protobuf) {
          case .success(let response):
            metrics.record(path, status: 0, since: started)
            return StreamingServerResponse(single: ServerResponse(message: response))
          case .failure(let error):
            metrics.record(path, status: error.status, since: started)
            return StreamingServerResponse(error: RPCError(error))
          }
        }
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
  /// the `carbon-error-field` trailing metadata.
  init(_ error: PluginCallError) {
    let code = Status.Code(rawValue: Int(error.status)).flatMap(RPCError.Code.init) ?? .unknown
    var metadata: Metadata = [:]
    if let field = error.field, !field.isEmpty { metadata.addString(field, forKey: "carbon-error-field") }
    self.init(code: code, message: error.message, metadata: metadata)
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
