import CarbonDomain
import CarbonPluginABI
import Foundation
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// The outcome of a failed call: the plugin's status, message and field path.
public struct PluginCallError: Error, Sendable, Equatable, CustomStringConvertible {
  /// The call's status (never `ok`).
  public let status: CarbonStatus
  public let message: String
  /// The offending field or rule, when the plugin named one.
  public let field: String?

  public init(status: CarbonStatus, message: String, field: String?) {
    self.status = status
    self.message = message
    self.field = field
  }

  public var description: String { "\(status.name): \(message)" }
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
  /// For a module that reads and writes protobuf only: converts JSON callers' requests and
  /// the module's responses (nil when the module handles JSON itself).
  private let jsonAdapter: JSONAdapter?

  init(library: PluginLibrary, instance: UnsafeMutableRawPointer) {
    self.library = library
    self.instance = instance
    self.descriptor = library.descriptor
    jsonAdapter = PluginLibrary.acceptsJSON(library.descriptor) ? nil : JSONAdapter(descriptorSet: library.descriptorSet)
  }

  /// Proto3 JSON ↔ protobuf with the module's descriptor set (`encodings` without JSON).
  private struct JSONAdapter {
    let requests: JSONToProtobuf?
    let responses: ProtobufToJSON?
    let failure: String?

    init(descriptorSet: [UInt8]) {
      do {
        let schema = try JSONToProtobuf(descriptorSet: descriptorSet)
        (requests, responses) = (schema, ProtobufToJSON(schema: schema))
        failure = nil
      } catch {
        (requests, responses) = (nil, nil)
        failure = "the module's descriptor set does not parse: \(error)"
      }
    }

    func request(_ json: [UInt8], method: String) throws(PluginCallError) -> [UInt8] {
      guard let requests else { throw PluginCallError(status: .internal, message: failure ?? "", field: nil) }
      do {
        return try requests.encodeRequest(json: json, method: method)
      } catch let error as JSONToProtobuf.EncodingError {
        throw PluginCallError(status: .invalidArgument, message: error.description, field: error.path.isEmpty ? nil : error.path)
      } catch {
        throw PluginCallError(status: .invalidArgument, message: "\(error)", field: nil)
      }
    }

    func response(_ protobuf: [UInt8], method: String) throws(PluginCallError) -> [UInt8] {
      guard let responses else { throw PluginCallError(status: .internal, message: failure ?? "", field: nil) }
      do {
        return try responses.encodeResponse(protobuf: protobuf, method: method)
      } catch {
        throw PluginCallError(status: .internal, message: "the module's response cannot be written as JSON: \(error)", field: nil)
      }
    }
  }

  deinit { descriptor.shutdown(instance) }

  /// Calls a unary method and returns the encoded response. A module with `call_cancellable`
  /// can ask `cancellation` whether the answer is still wanted, and stop early when not.
  public func call(
    _ path: String, request: [UInt8], encoding: WireEncoding = .protobuf, cancellation: CancellationFlag? = nil
  ) throws(PluginCallError) -> [UInt8] {
    if encoding == .json, let jsonAdapter {
      let response = try invoke(
        path, request: try jsonAdapter.request(request, method: path), encoding: .protobuf, emit: nil, emitContext: nil,
        cancellation: cancellation)
      return try jsonAdapter.response(response, method: path)
    }
    return try invoke(path, request: request, encoding: encoding, emit: nil, emitContext: nil, cancellation: cancellation)
  }

  /// Calls a server-streaming method; `onMessage` gets each encoded response in order, on the
  /// calling thread, and returns false to stop the stream (the plugin then returns CANCELLED).
  public func callStreaming(
    _ path: String, request: [UInt8], encoding: WireEncoding = .protobuf,
    onMessage: ([UInt8]) -> Bool
  ) throws(PluginCallError) {
    if encoding == .json, let jsonAdapter {
      let converted = try jsonAdapter.request(request, method: path)
      var conversionError: PluginCallError?
      do throws(PluginCallError) {
        try callStreaming(path, request: converted, encoding: .protobuf) { message in
          do throws(PluginCallError) {
            return onMessage(try jsonAdapter.response(message, method: path))
          } catch {
            conversionError = error
            return false
          }
        }
      } catch {
        throw conversionError ?? error
      }
      if let conversionError { throw conversionError }
      return
    }
    try withoutActuallyEscaping(onMessage) { onMessage throws(PluginCallError) in
      let sink = MessageSink(onMessage)
      let context = Unmanaged.passUnretained(sink).toOpaque()
      _ = try invoke(path, request: request, encoding: encoding, emit: emitTrampoline, emitContext: context)
    }
  }

  /// Calls a bidirectional-streaming method. The plugin pulls each request through `receive`
  /// (on the calling thread, which it blocks until a request, the end of the requests or a
  /// cancellation is available) and hands each encoded response to `onMessage`, which returns
  /// false to stop the call (the plugin then returns CANCELLED).
  public func callBidi(
    _ path: String, encoding: WireEncoding = .protobuf, receive: @escaping () -> RequestPull,
    onMessage: @escaping ([UInt8]) -> Bool
  ) throws(PluginCallError) {
    guard let entry = PluginLibrary.bidiEntry(of: descriptor) else {
      throw PluginCallError(
        status: .unimplemented, message: "\(path): module '\(library.name)' has no call_bidi entry", field: nil)
    }
    if encoding == .json, let jsonAdapter {
      // Each request converted as the module pulls it, each response as it emits it; the
      // first failure ends the call with its status (the request's position in the field).
      let failure = FirstFailure()
      var position = 0
      do throws(PluginCallError) {
        try callBidi(
          path, encoding: .protobuf,
          receive: {
            switch receive() {
            case .message(let json):
              defer { position += 1 }
              do throws(PluginCallError) {
                return .message(try jsonAdapter.request(json, method: path))
              } catch {
                failure.record(
                  PluginCallError(status: error.status, message: "requests[\(position)]: \(error.message)", field: error.field.map { "requests[\(position)].\($0)" }))
                return .cancelled
              }
            case let other: return other
            }
          },
          onMessage: { message in
            do throws(PluginCallError) {
              return onMessage(try jsonAdapter.response(message, method: path))
            } catch {
              failure.record(error)
              return false
            }
          })
      } catch {
        throw failure.error ?? error
      }
      if let error = failure.error { throw error }
      return
    }
    let source = RequestSource(receive)
    let sink = MessageSink(onMessage)
    var result = carbon_call_result()
    withExtendedLifetime((source, sink)) {
      path.withCString { cPath in
        entry(
          instance, cPath, encoding.cValue, receiveTrampoline, Unmanaged.passUnretained(source).toOpaque(),
          emitTrampoline, Unmanaged.passUnretained(sink).toOpaque(), &result)
      }
    }
    try finish(result)
  }

  /// Calls a method of any kind with one request and returns every response: the one of a
  /// unary method, each of a server-streaming one; a bidirectional method gets `request` as
  /// its only request (as the host's JSON InvokeStream sends it). For tools that treat every
  /// method alike: conformance checks, fuzzing, benchmarks.
  public func callCollecting(_ method: PluginMethod, request: [UInt8], encoding: WireEncoding = .protobuf)
    throws(PluginCallError) -> [[UInt8]]
  {
    var responses: [[UInt8]] = []
    if method.isClientStreaming {
      try callBidi(
        method.path, encoding: encoding, receive: RequestPull.sequence([request]),
        onMessage: {
          responses.append($0)
          return true
        })
    } else if method.isServerStreaming {
      try callStreaming(method.path, request: request, encoding: encoding) {
        responses.append($0)
        return true
      }
    } else {
      responses.append(try call(method.path, request: request, encoding: encoding))
    }
    return responses
  }

  private func invoke(
    _ path: String, request: [UInt8], encoding: WireEncoding, emit: carbon_emit_fn?,
    emitContext: UnsafeMutableRawPointer?, cancellation: CancellationFlag? = nil
  ) throws(PluginCallError) -> [UInt8] {
    var result = carbon_call_result()
    path.withCString { cPath in
      request.withUnsafeBufferPointer { buffer in
        if let cancellation, let cancellable = PluginLibrary.cancellableEntry(of: descriptor) {
          withExtendedLifetime(cancellation) {
            cancellable(
              instance, cPath, encoding.cValue, buffer.baseAddress, buffer.count, emit, emitContext,
              cancelledTrampoline, Unmanaged.passUnretained(cancellation).toOpaque(), &result)
          }
        } else {
          descriptor.call(
            instance, cPath, encoding.cValue, buffer.baseAddress, buffer.count, emit, emitContext,
            &result)
        }
      }
    }
    return try finish(result)
  }

  /// Releases what the plugin returned, and turns an error status into `PluginCallError`.
  @discardableResult
  private func finish(_ result: carbon_call_result) throws(PluginCallError) -> [UInt8] {
    defer {
      descriptor.free_buffer(result.response)
      descriptor.free_buffer(result.error_message)
      descriptor.free_buffer(result.error_field)
    }
    guard result.status == CARBON_STATUS_OK.rawValue else {
      let status = CarbonStatus(code: result.status)
      let message = result.error_message.map { String(cString: $0) } ?? "no message from the plugin"
      throw PluginCallError(
        status: status,
        message: status.rawValue == result.status
          ? message : "status \(result.status) is not a carbon_status: \(message)",
        field: result.error_field.map { String(cString: $0) })
    }
    guard let response = result.response else { return [] }
    return Array(UnsafeBufferPointer(start: response, count: result.response_length))
  }
}

/// The first conversion failure of a bidirectional call (written on the calling thread only).
private final class FirstFailure {
  private(set) var error: PluginCallError?
  func record(_ error: PluginCallError) { if self.error == nil { self.error = error } }
}

/// What a bidirectional-streaming call's next request is.
public enum RequestPull: Sendable {
  /// The next encoded request.
  case message([UInt8])
  /// The client sent its last request.
  case end
  /// The call is over for the host (client gone, cancelled, deadline, failed request stream).
  case cancelled
}

extension RequestPull {
  /// A `receive` for `callBidi` that hands out `requests` in order, then the end.
  public static func sequence(_ requests: [[UInt8]]) -> () -> RequestPull {
    var pending = requests[...]
    return { pending.popFirst().map { .message($0) } ?? .end }
  }
}

/// The host side of `carbon_receive_fn`: owns the last request handed to the plugin until the
/// next pull or the end of the call, as the ABI promises.
private final class RequestSource {
  let receive: () -> RequestPull
  private var current = UnsafeMutableBufferPointer<UInt8>(start: nil, count: 0)
  var finished: Int32? = nil

  init(_ receive: @escaping () -> RequestPull) { self.receive = receive }

  deinit { current.deallocate() }

  /// Replaces the held request with a copy of `bytes` and returns it.
  func hold(_ bytes: [UInt8]) -> UnsafeBufferPointer<UInt8> {
    current.deallocate()
    current = .allocate(capacity: max(bytes.count, 1))
    _ = current.initialize(from: bytes)
    return UnsafeBufferPointer(start: current.baseAddress, count: bytes.count)
  }

  func release() {
    current.deallocate()
    current = UnsafeMutableBufferPointer(start: nil, count: 0)
  }
}

private let receiveTrampoline: carbon_receive_fn = { context, messageOut, lengthOut in
  messageOut?.pointee = nil
  lengthOut?.pointee = 0
  guard let context else { return Int32(CARBON_RECEIVE_CANCELLED) }
  let source = Unmanaged<RequestSource>.fromOpaque(context).takeUnretainedValue()
  if let finished = source.finished { return finished }
  switch source.receive() {
  case .message(let bytes):
    let held = source.hold(bytes)
    messageOut?.pointee = held.baseAddress
    lengthOut?.pointee = held.count
    return Int32(CARBON_RECEIVE_MESSAGE)
  case .end:
    source.release()
    source.finished = Int32(CARBON_RECEIVE_END)
    return Int32(CARBON_RECEIVE_END)
  case .cancelled:
    source.release()
    source.finished = Int32(CARBON_RECEIVE_CANCELLED)
    return Int32(CARBON_RECEIVE_CANCELLED)
  }
}

/// Whether the host still wants a call's answer: set once (caller gone, deadline passed), read
/// by the module through `carbon_cancelled_fn` as often as it likes.
public final class CancellationFlag: Sendable {
  private let cancelled = Atomic<Bool>(false)

  public init() {}

  /// The answer is no longer wanted.
  public func cancel() { cancelled.store(true, ordering: .releasing) }

  public var isCancelled: Bool { cancelled.load(ordering: .acquiring) }
}

private let cancelledTrampoline: carbon_cancelled_fn = { context in
  guard let context else { return 1 }
  return Unmanaged<CancellationFlag>.fromOpaque(context).takeUnretainedValue().isCancelled ? 1 : 0
}

private final class MessageSink {
  let onMessage: ([UInt8]) -> Bool
  init(_ onMessage: @escaping ([UInt8]) -> Bool) { self.onMessage = onMessage }
}

private let emitTrampoline: carbon_emit_fn = { context, message, length in
  guard let context else { return Int32(CARBON_EMIT_STOP) }
  let sink = Unmanaged<MessageSink>.fromOpaque(context).takeUnretainedValue()
  let bytes = message.map { Array(UnsafeBufferPointer(start: $0, count: length)) } ?? []
  return Int32(sink.onMessage(bytes) ? CARBON_EMIT_CONTINUE : CARBON_EMIT_STOP)
}
