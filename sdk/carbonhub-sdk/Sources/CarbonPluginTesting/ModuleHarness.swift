import CarbonPluginKit
import Foundation
import SwiftProtobuf

/// Runs a module in process the way the host does — through encoded bytes — for tests.
///
/// ```swift
/// let units = try ModuleHarness<UnitsModule>()
/// let response = try units.call("/carbon.examples.v1.Units/Convert", request, as: ConvertResponse.self)
/// let json = try units.callJSON("/carbon.examples.v1.Units/Convert", #"{"quantity": ...}"#)
/// ```
public struct ModuleHarness<Module: CarbonModule>: Sendable {
  public let instance: ModuleInstance
  /// The data directory given to the module (a fresh temporary directory by default).
  public let dataDirectory: String

  /// Creates the module with a JSON config and a data directory.
  public init(configJSON: String = "{}", dataDirectory: String? = nil) throws(ModuleError) {
    let directory =
      dataDirectory
      ?? FileManager.default.temporaryDirectory
      .appendingPathComponent("carbonhub-test-\(Module.name)-\(UUID().uuidString)").path
    try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    self.dataDirectory = directory
    instance = try PluginExport.makeInstance(
      Module.self, context: ModuleContext(configJSON: configJSON, dataDirectory: directory))
  }

  /// Calls a unary method with a typed request.
  public func call<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
    _ path: String, _ request: Request, as type: Response.Type = Response.self
  ) throws(ModuleError) -> Response {
    let bytes = try MessageCoding.encode(request, .protobuf)
    let response = try instance.call(path, request: bytes, encoding: .protobuf) ?? []
    return try decodeResponse(Response.self, response)
  }

  /// Calls a unary method with a JSON request; returns the JSON response.
  public func callJSON(_ path: String, _ json: String) throws(ModuleError) -> String {
    let response = try instance.call(path, request: Array(json.utf8), encoding: .json) ?? []
    return String(decoding: response, as: UTF8.self)
  }

  /// Calls a server-streaming method; returns every response in order.
  public func stream<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
    _ path: String, _ request: Request, as type: Response.Type = Response.self
  ) throws(ModuleError) -> [Response] {
    let collected = Collected()
    _ = try instance.call(path, request: try MessageCoding.encode(request, .protobuf), encoding: .protobuf) {
      collected.append($0)
      return true
    }
    var responses: [Response] = []
    for bytes in collected.items { responses.append(try decodeResponse(Response.self, bytes)) }
    return responses
  }

  /// Calls a server-streaming method with JSON; returns each JSON response.
  public func streamJSON(_ path: String, _ json: String) throws(ModuleError) -> [String] {
    let collected = Collected()
    _ = try instance.call(path, request: Array(json.utf8), encoding: .json) {
      collected.append($0)
      return true
    }
    return collected.items.map { String(decoding: $0, as: UTF8.self) }
  }
}

extension ModuleHarness {
  /// Calls a bidirectional-streaming method with a sequence of typed requests; returns every
  /// response in order.
  public func bidi<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
    _ path: String, _ requests: [Request], as type: Response.Type = Response.self
  ) throws(ModuleError) -> [Response] {
    var encoded: [[UInt8]] = []
    for request in requests { encoded.append(try MessageCoding.encode(request, .protobuf)) }
    var responses: [Response] = []
    for bytes in try bidiBytes(path, encoded, encoding: .protobuf) {
      responses.append(try decodeResponse(Response.self, bytes))
    }
    return responses
  }

  /// Calls a bidirectional-streaming method with already encoded requests (protobuf or JSON);
  /// returns each encoded response.
  public func bidiBytes(_ path: String, _ requests: [[UInt8]], encoding: MessageEncoding) throws(ModuleError) -> [[UInt8]] {
    let collected = Collected()
    var pending = requests[...]
    _ = try instance.call(
      path, request: [], encoding: encoding,
      emit: {
        collected.append($0)
        return true
      },
      receive: {
        guard let next = pending.popFirst() else { return .end }
        return .message(next)
      })
    return collected.items
  }
}

extension ModuleHarness {
  /// Decodes a response and checks that the kit wrote it byte for byte as SwiftProtobuf would
  /// (`onePassSerializedBytes()`), so every typed call of every module's tests also tests the
  /// kit's encoder.
  func decodeResponse<Response: SwiftProtobuf.Message>(_ type: Response.Type, _ bytes: [UInt8]) throws(ModuleError)
    -> Response
  {
    let response = try MessageCoding.decode(Response.self, bytes, .protobuf)
    let reference: [UInt8]
    do { reference = try response.serializedBytes() } catch {
      throw .internal("SwiftProtobuf could not re-encode \(Response.protoMessageName): \(error)")
    }
    guard reference == bytes else {
      throw .internal(
        "the plugin kit encoded a \(Response.protoMessageName) in \(bytes.count) bytes that differ from "
          + "SwiftProtobuf's \(reference.count) bytes")
    }
    return response
  }
}

private final class Collected: @unchecked Sendable {
  private let lock = NSLock()
  private var storage: [[UInt8]] = []
  func append(_ bytes: [UInt8]) { lock.withLock { storage.append(bytes) } }
  var items: [[UInt8]] { lock.withLock { storage } }
}
