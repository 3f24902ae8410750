import Foundation
import CarbonHostProtocol
import GRPCCore
import Synchronization
import GRPCProtobuf
import SwiftProtobuf

/// gRPC server reflection (`grpc.reflection.v1`, and the wire-identical `v1alpha` path older
/// tools use), over the host's own protos and every serving plugin's embedded descriptor set,
/// so that tools like grpcurl can call plugin services the host never compiled.
///
/// A module served in several versions is described by one of them: the version the stream's
/// `carbonhub-module-version` header selects (`grpcurl -reflect-header
/// 'carbonhub-module-version: 1.1.0'`), else its default version — the one a call naming no
/// version reaches. Two versions may define the same files differently.
final class ReflectionService: RegistrableRPCService, Sendable {
  typealias Request = Grpc_Reflection_V1_ServerReflectionRequest
  typealias Response = Grpc_Reflection_V1_ServerReflectionResponse

  let registry: ModuleRegistry
  /// The indexes of the registry generation they were built from, by version selector ("":
  /// none); rebuilt when modules change.
  private let cache = Mutex<(generation: Int, indexes: [String: DescriptorIndex])>((-1, [:]))

  init(registry: ModuleRegistry) {
    self.registry = registry
  }

  /// The descriptor index of the modules serving now, each in the version `selector` selects
  /// (or its default version).
  func index(for selector: VersionSelector? = nil) -> DescriptorIndex {
    let generation = registry.generation
    let key = selector?.text ?? ""
    if let cached = cache.withLock({ $0.generation == generation ? $0.indexes[key] : nil }) { return cached }
    var sets = [HostDescriptors.fileDescriptorSet]
    var services = HealthService.hostServices.filter { !$0.isEmpty }
    for module in registry.servingVersions(selectedBy: selector) {
      guard let metadata = module.metadata else { continue }
      sets.append(metadata.descriptorSet)
      for service in metadata.services where !services.contains(service) { services.append(service) }
    }
    let index = DescriptorIndex(sets: sets, services: services)
    cache.withLock { cache in
      // A caller chooses the selector's text: a few are kept, not one per text sent.
      if cache.generation != generation || cache.indexes.count >= 16 { cache = (generation, [:]) }
      cache.indexes[key] = index
    }
    return index
  }

  func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
    for service in ["grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"] {
      router.registerHandler(
        forMethod: MethodDescriptor(fullyQualifiedService: service, method: "ServerReflectionInfo"),
        deserializer: ProtobufDeserializer<Request>(), serializer: ProtobufSerializer<Response>()
      ) { request, context in
        StreamingServerResponse { writer in
          let index = self.index(for: ModuleCalls.versionSelector(in: request.metadata))
          for try await message in request.messages {
            try await writer.write(index.answer(message))
          }
          return [:]
        }
      }
    }
  }
}

/// File descriptors by file name and by the symbols they define.
struct DescriptorIndex: Sendable {
  private var files: [String: Google_Protobuf_FileDescriptorProto] = [:]
  private var symbols: [String: String] = [:]
  let services: [String]

  init(sets: [[UInt8]], services: [String]) {
    self.services = services
    for bytes in sets {
      guard let set = try? Google_Protobuf_FileDescriptorSet(serializedBytes: bytes) else { continue }
      var fileList = set.file
      // The v1alpha service the host lists is served by the same handler: describe it too, so
      // that every listed service resolves (tools that speak v1alpha ask for its symbols).
      if let v1 = fileList.first(where: { $0.package == "grpc.reflection.v1" }) {
        fileList.append(Self.renamedPackage(v1, from: "grpc.reflection.v1", to: "grpc.reflection.v1alpha"))
      }
      for file in fileList where files[file.name] == nil {
        files[file.name] = file
        let prefix = file.package.isEmpty ? "" : file.package + "."
        for message in file.messageType { addMessage(message, prefix: prefix, file: file.name) }
        for enumType in file.enumType { symbols[prefix + enumType.name] = file.name }
        for service in file.service {
          symbols[prefix + service.name] = file.name
          for method in service.method { symbols[prefix + service.name + "." + method.name] = file.name }
        }
      }
    }
  }

  /// `file` with its package, file name and every type reference moved from `old` to `new`
  /// (the two reflection packages are the same messages under two names).
  static func renamedPackage(
    _ file: Google_Protobuf_FileDescriptorProto, from old: String, to new: String
  ) -> Google_Protobuf_FileDescriptorProto {
    var file = file
    file.package = new
    file.name = file.name.replacingOccurrences(of: old.replacingOccurrences(of: ".", with: "/"), with: new.replacingOccurrences(of: ".", with: "/"))
    let oldPrefix = "." + old + ".", newPrefix = "." + new + "."
    func moved(_ type: String) -> String { type.hasPrefix(oldPrefix) ? newPrefix + type.dropFirst(oldPrefix.count) : type }
    func rename(_ message: inout Google_Protobuf_DescriptorProto) {
      for index in message.field.indices where message.field[index].hasTypeName {
        message.field[index].typeName = moved(message.field[index].typeName)
      }
      for index in message.nestedType.indices { rename(&message.nestedType[index]) }
    }
    for index in file.messageType.indices { rename(&file.messageType[index]) }
    for service in file.service.indices {
      for method in file.service[service].method.indices {
        file.service[service].method[method].inputType = moved(file.service[service].method[method].inputType)
        file.service[service].method[method].outputType = moved(file.service[service].method[method].outputType)
      }
    }
    return file
  }

  private mutating func addMessage(_ message: Google_Protobuf_DescriptorProto, prefix: String, file: String) {
    let name = prefix + message.name
    symbols[name] = file
    for nested in message.nestedType { addMessage(nested, prefix: name + ".", file: file) }
    for enumType in message.enumType { symbols[name + "." + enumType.name] = file }
  }

  /// The file and its transitive dependencies, the file first.
  func fileWithDependencies(_ name: String) -> [Google_Protobuf_FileDescriptorProto]? {
    guard files[name] != nil else { return nil }
    var ordered: [Google_Protobuf_FileDescriptorProto] = []
    var seen: Set<String> = []
    var pending = [name]
    while let next = pending.popLast() {
      guard !seen.contains(next), let file = files[next] else { continue }
      seen.insert(next)
      ordered.append(file)
      pending.append(contentsOf: file.dependency.reversed())
    }
    return ordered
  }

  func answer(_ request: Grpc_Reflection_V1_ServerReflectionRequest) -> Grpc_Reflection_V1_ServerReflectionResponse {
    var response = Grpc_Reflection_V1_ServerReflectionResponse()
    response.validHost = request.host
    response.originalRequest = request
    func error(_ code: Int32, _ message: String) {
      var error = Grpc_Reflection_V1_ErrorResponse()
      error.errorCode = code
      error.errorMessage = message
      response.errorResponse = error
    }
    func files(_ list: [Google_Protobuf_FileDescriptorProto]) {
      var files = Grpc_Reflection_V1_FileDescriptorResponse()
      files.fileDescriptorProto = list.compactMap { try? $0.serializedBytes() }
      response.fileDescriptorResponse = files
    }
    switch request.messageRequest {
    case .listServices:
      var list = Grpc_Reflection_V1_ListServiceResponse()
      list.service = services.map { name in
        var service = Grpc_Reflection_V1_ServiceResponse()
        service.name = name
        return service
      }
      response.listServicesResponse = list
    case .fileByFilename(let name):
      if let list = fileWithDependencies(name) { files(list) } else { error(5, "file not found: \(name)") }
    case .fileContainingSymbol(let symbol):
      if let file = symbols[symbol], let list = fileWithDependencies(file) { files(list) } else { error(5, "symbol not found: \(symbol)") }
    case .fileContainingExtension(let request):
      error(5, "no extension \(request.extensionNumber) of \(request.containingType)")
    case .allExtensionNumbersOfType(let type):
      if symbols[type] != nil {
        var numbers = Grpc_Reflection_V1_ExtensionNumberResponse()
        numbers.baseTypeName = type
        response.allExtensionNumbersResponse = numbers
      } else {
        error(5, "type not found: \(type)")
      }
    case nil:
      error(3, "the request names no query")
    }
    return response
  }
}
