import CarbonPluginABI
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// gRPC status codes as the ABI carries them.
public enum ModuleCallStatus {
  static let names = [
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
    "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
    "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
  ]
  /// 3 for "INVALID_ARGUMENT", and so on.
  public static func code(named name: String) -> UInt32? {
    names.firstIndex(of: name).map { UInt32($0) }
  }

  /// "INVALID_ARGUMENT" for 3, and so on.
  public static func name(of status: UInt32) -> String {
    status < names.count ? names[Int(status)] : "STATUS_\(status)"
  }
}

/// The outcome of a failed call: the plugin's status, message and field path.
public struct PluginCallError: Error, Sendable, Equatable, CustomStringConvertible {
  /// gRPC status code (never 0).
  public let status: UInt32
  public let message: String
  /// The offending field or rule, when the plugin named one.
  public let field: String?

  public init(status: UInt32, message: String, field: String?) {
    self.status = status
    self.message = message
    self.field = field
  }

  public var description: String { "\(ModuleCallStatus.name(of: status)): \(message)" }
}

/// Encoding of request and response bytes across the ABI.
public enum WireEncoding: Sendable {
  case protobuf
  case json

  var cValue: carbon_encoding { self == .json ? CARBON_ENCODING_JSON : CARBON_ENCODING_PROTOBUF }
}

/// A live instance of a plugin. Calls may run concurrently (the ABI requires it).
/// The instance is shut down when this object is released.
public final class PluginInstance: @unchecked Sendable {
  public let library: PluginLibrary
  private let instance: UnsafeMutableRawPointer
  private let descriptor: carbon_plugin_descriptor

  init(library: PluginLibrary, instance: UnsafeMutableRawPointer) {
    self.library = library
    self.instance = instance
    self.descriptor = library.descriptor.pointee
  }

  deinit { descriptor.shutdown(instance) }

  /// Calls a unary method and returns the encoded response.
  public func call(_ path: String, request: [UInt8], encoding: WireEncoding = .protobuf)
    throws(PluginCallError) -> [UInt8]
  {
    try invoke(path, request: request, encoding: encoding, emit: nil, emitContext: nil)
  }

  /// Calls a server-streaming method; `onMessage` gets each encoded response in order, on the
  /// calling thread, and returns false to stop the stream (the plugin then returns CANCELLED).
  public func callStreaming(
    _ path: String, request: [UInt8], encoding: WireEncoding = .protobuf,
    onMessage: ([UInt8]) -> Bool
  ) throws(PluginCallError) {
    try withoutActuallyEscaping(onMessage) { onMessage throws(PluginCallError) in
      let sink = MessageSink(onMessage)
      let context = Unmanaged.passUnretained(sink).toOpaque()
      _ = try invoke(path, request: request, encoding: encoding, emit: emitTrampoline, emitContext: context)
    }
  }

  private func invoke(
    _ path: String, request: [UInt8], encoding: WireEncoding, emit: carbon_emit_fn?,
    emitContext: UnsafeMutableRawPointer?
  ) throws(PluginCallError) -> [UInt8] {
    var result = carbon_call_result()
    path.withCString { cPath in
      request.withUnsafeBufferPointer { buffer in
        descriptor.call(
          instance, cPath, encoding.cValue, buffer.baseAddress, buffer.count, emit, emitContext,
          &result)
      }
    }
    defer {
      descriptor.free_buffer(result.response)
      descriptor.free_buffer(result.error_message)
      descriptor.free_buffer(result.error_field)
    }
    guard result.status == CARBON_STATUS_OK else {
      throw PluginCallError(
        status: result.status.rawValue,
        message: result.error_message.map { String(cString: $0) } ?? "no message from the plugin",
        field: result.error_field.map { String(cString: $0) })
    }
    guard let response = result.response else { return [] }
    return Array(UnsafeBufferPointer(start: response, count: result.response_length))
  }
}

private final class MessageSink {
  let onMessage: ([UInt8]) -> Bool
  init(_ onMessage: @escaping ([UInt8]) -> Bool) { self.onMessage = onMessage }
}

private let emitTrampoline: carbon_emit_fn = { context, message, length in
  guard let context else { return 1 }
  let sink = Unmanaged<MessageSink>.fromOpaque(context).takeUnretainedValue()
  let bytes = message.map { Array(UnsafeBufferPointer(start: $0, count: length)) } ?? []
  return sink.onMessage(bytes) ? 0 : 1
}
