import CarbonPluginABI
import SwiftProtobuf
import Synchronization

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Builds the C descriptor (`carbon_plugin.h`) for a Swift module. A plugin's only C-facing
/// code is its entry point:
///
/// ```swift
/// @_cdecl("carbon_plugin_entry")
/// public func carbonPluginEntry() -> UnsafeRawPointer { PluginExport.descriptor(for: Units.self) }
/// ```
public enum PluginExport {
  /// The descriptor of `module`, built on the first call and returned unchanged afterwards
  /// (the ABI requires the same pointer every time). It lives until the library is unloaded.
  public static func descriptor<Module: CarbonModule>(for module: Module.Type) -> UnsafeRawPointer {
    descriptors.withLock { cache in
      let key = ObjectIdentifier(module)
      if let existing = cache[key] { return UnsafeRawPointer(existing.value) }
      let built = makeDescriptor(ModuleDriver<Module>())
      cache[key] = UnsafeSendable(built)
      return UnsafeRawPointer(built)
    }
  }

  /// Creates an instance directly, without going through C, for in-process tests.
  public static func makeInstance<Module: CarbonModule>(
    _ module: Module.Type, context: ModuleContext
  ) throws(ModuleError) -> ModuleInstance {
    try ModuleDriver<Module>().makeInstance(context)
  }

  private static let descriptors = Mutex<[ObjectIdentifier: UnsafeSendable<UnsafeMutablePointer<carbon_plugin_descriptor>>]>([:])

  private static func makeDescriptor(_ driver: any ModuleDriving) -> UnsafeMutablePointer<carbon_plugin_descriptor> {
    let methods = UnsafeMutablePointer<carbon_method>.allocate(capacity: max(driver.methodTable.count, 1))
    for (index, method) in driver.methodTable.enumerated() {
      methods[index] = carbon_method(path: driver.cPaths[index].value, kind: method.kind.cValue.rawValue)
    }
    let descriptorSet = UnsafeMutablePointer<UInt8>.allocate(capacity: max(driver.descriptorSet.count, 1))
    descriptorSet.initialize(from: driver.descriptorSet, count: driver.descriptorSet.count)

    let descriptor = UnsafeMutablePointer<carbon_plugin_descriptor>.allocate(capacity: 1)
    descriptor.initialize(
      to: carbon_plugin_descriptor(
        abi_version: CARBON_PLUGIN_ABI_VERSION,
        struct_size: UInt32(MemoryLayout<carbon_plugin_descriptor>.size),
        name: UnsafePointer(strdup(driver.name)),
        version: UnsafePointer(strdup(driver.version)),
        description: UnsafePointer(strdup(driver.summary)),
        methods: UnsafePointer(methods),
        method_count: driver.methodTable.count,
        descriptor_set: UnsafePointer(descriptorSet),
        descriptor_set_length: driver.descriptorSet.count,
        module_data: Unmanaged.passRetained(driver as AnyObject).toOpaque(),
        initialize: initTrampoline,
        call: callTrampoline,
        free_buffer: { buffer in free(buffer) },
        shutdown: { instance in
          guard let instance else { return }
          Unmanaged<ModuleInstance>.fromOpaque(instance).release()
        },
        call_bidi: driver.methodTable.contains { $0.kind == .bidiStreaming } ? bidiTrampoline : nil,
        // The kit reads and writes both (SwiftProtobuf's JSON).
        encodings: UInt32(CARBON_ENCODINGS_PROTOBUF | CARBON_ENCODINGS_JSON),
        // Methods ask through `ModuleCall.isCancelled`.
        call_cancellable: cancellableCallTrampoline))
    return descriptor
  }
}

extension MethodKind {
  var cValue: carbon_method_kind {
    switch self {
    case .unary: return CARBON_METHOD_UNARY
    case .serverStreaming: return CARBON_METHOD_SERVER_STREAMING
    case .bidiStreaming: return CARBON_METHOD_BIDI_STREAMING
    }
  }
}

/// A created module, type-erased: what the C trampolines and in-process tests call.
public final class ModuleInstance: Sendable {
  /// One method bound to this instance, with its path as Swift and C strings.
  struct Entry: @unchecked Sendable {  // `cPath` is immutable and lives as long as the library
    let path: String
    let cPath: UnsafePointer<CChar>
    let kind: MethodKind
    let run: BoundMethod
  }
  private let moduleName: String
  private let entries: [Entry]

  init(moduleName: String, entries: [Entry]) {
    self.moduleName = moduleName
    self.entries = entries
  }

  /// Calls a method by its gRPC path. Returns the encoded response of a unary method, or nil
  /// for a streaming method after passing each response to `emit` (which returns false to
  /// stop). A bidirectional-streaming method ignores `request` and pulls its requests from
  /// `receive` instead.
  public func call(
    _ path: String, request: [UInt8], encoding: MessageEncoding = .protobuf,
    emit: (@Sendable ([UInt8]) -> Bool)? = nil, receive: (() -> ReceivedRequest)? = nil
  ) throws(ModuleError) -> [UInt8]? {
    guard let entry = entries.first(where: { $0.path == path }) else { throw unknownMethod(path) }
    return try run(entry, request, encoding, emit, receive)?.takeArray()
  }

  /// The same, with the path as the C string the ABI passes: found by comparing bytes with
  /// each method's path (a module has a handful), without building a Swift string.
  func call(
    cPath: UnsafePointer<CChar>, request: [UInt8], encoding: MessageEncoding,
    emit: (@Sendable ([UInt8]) -> Bool)?, receive: (() -> ReceivedRequest)?
  ) throws(ModuleError) -> EncodedResponse? {
    guard let entry = entries.first(where: { strcmp($0.cPath, cPath) == 0 }) else {
      throw unknownMethod(String(cString: cPath))
    }
    return try run(entry, request, encoding, emit, receive)
  }

  private func run(
    _ entry: Entry, _ request: [UInt8], _ encoding: MessageEncoding,
    _ emit: (@Sendable ([UInt8]) -> Bool)?, _ receive: (() -> ReceivedRequest)?
  ) throws(ModuleError) -> EncodedResponse? {
    // Each C entry serves its own kinds: a streaming method reached through call() has no
    // request stream, a unary one reached through call_bidi() would drop its requests.
    guard (entry.kind == .bidiStreaming) == (receive != nil) else {
      throw ModuleError(
        .unimplemented,
        "\(entry.path) is \(entry.kind.name): call it through \(entry.kind == .bidiStreaming ? "call_bidi()" : "call()")")
    }
    return try entry.run(request, encoding, emit, receive)
  }

  private func unknownMethod(_ path: String) -> ModuleError {
    ModuleError(.unimplemented, "module \(moduleName) has no method \(path)")
  }
}

/// What the descriptor needs of a module type, without its generic parameter.
protocol ModuleDriving: AnyObject, Sendable {
  var name: String { get }
  var version: String { get }
  var summary: String { get }
  var descriptorSet: [UInt8] { get }
  var methodTable: [(path: String, kind: MethodKind)] { get }
  var cPaths: [UnsafeSendable<UnsafePointer<CChar>>] { get }
  func makeInstance(_ context: ModuleContext) throws(ModuleError) -> ModuleInstance
}

final class ModuleDriver<Module: CarbonModule>: ModuleDriving {
  /// The module's methods; a path declared twice keeps its first handler.
  let methods: [ModuleMethod<Module>]
  let methodTable: [(path: String, kind: MethodKind)]
  /// Each method's path as a C string, made once and kept for the library's lifetime: the
  /// descriptor's method table points at them and calls are routed by comparing with them.
  let cPaths: [UnsafeSendable<UnsafePointer<CChar>>]
  var name: String { Module.name }
  var version: String { Module.version }
  var summary: String { Module.summary }
  var descriptorSet: [UInt8] { Module.descriptorSet }

  init() {
    var seen = Set<String>()
    methods = Module.methods.filter { seen.insert($0.path).inserted }
    methodTable = methods.map { ($0.path, $0.kind) }
    cPaths = methods.map { UnsafeSendable(UnsafePointer(strdup($0.path)!)) }
  }

  func makeInstance(_ context: ModuleContext) throws(ModuleError) -> ModuleInstance {
    let module = try Module(context: context)
    let entries = zip(methods, cPaths).map { method, cPath in
      ModuleInstance.Entry(path: method.path, cPath: cPath.value, kind: method.kind, run: method.bind(module))
    }
    return ModuleInstance(moduleName: Module.name, entries: entries)
  }
}

/// Wraps a value the compiler cannot prove Sendable where sharing it is safe: pointers owned
/// by the descriptor or passed for one call (the ABI's thread-safety rules), and a method
/// bound to a module, which captures only the Sendable module.
struct UnsafeSendable<Value>: @unchecked Sendable {
  let value: Value
  init(_ value: Value) { self.value = value }
}

private func duplicate(_ text: String) -> UnsafeMutablePointer<CChar>? { strdup(text) }

private let initTrampoline:
  @convention(c) (
    UnsafeMutableRawPointer?, UnsafePointer<CChar>?, Int, UnsafePointer<CChar>?,
    UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
    UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
  ) -> carbon_status = { moduleData, config, configLength, dataDir, instanceOut, errorOut in
    guard let moduleData, let instanceOut else { return CARBON_STATUS_INTERNAL }
    let driver = Unmanaged<AnyObject>.fromOpaque(moduleData).takeUnretainedValue()
    guard let driver = driver as? any ModuleDriving else { return CARBON_STATUS_INTERNAL }
    let configText: String
    if let config, configLength > 0 {
      configText = String(
        decoding: UnsafeRawBufferPointer(start: config, count: configLength), as: UTF8.self)
    } else {
      configText = "{}"
    }
    let context = ModuleContext(
      configJSON: configText, dataDirectory: dataDir.map { String(cString: $0) } ?? "")
    do {
      let instance = try driver.makeInstance(context)
      instanceOut.pointee = Unmanaged.passRetained(instance).toOpaque()
      return CARBON_STATUS_OK
    } catch let error as ModuleError {
      errorOut?.pointee = duplicate(error.message)
      return error.status.cValue
    } catch {
      errorOut?.pointee = duplicate("\(error)")
      return CARBON_STATUS_INTERNAL
    }
  }

private let callTrampoline:
  @convention(c) (
    UnsafeMutableRawPointer?, UnsafePointer<CChar>?, carbon_encoding, UnsafePointer<UInt8>?, Int,
    carbon_emit_fn?, UnsafeMutableRawPointer?, UnsafeMutablePointer<carbon_call_result>?
  ) -> Void = { instancePointer, methodPath, encoding, request, requestLength, emit, emitContext, result in
    runCall(instancePointer, methodPath, encoding, request, requestLength, emit, emitContext, result)
  }

/// call_cancellable(): call() with the host's probe bound to `ModuleCall` for the call.
private let cancellableCallTrampoline: carbon_call_cancellable_fn = {
  instancePointer, methodPath, encoding, request, requestLength, emit, emitContext, cancelled, cancelContext, result in
  let probe = cancelled.map { CancellationProbe(cancelled: $0, context: cancelContext) }
  ModuleCall.$probe.withValue(probe) {
    runCall(instancePointer, methodPath, encoding, request, requestLength, emit, emitContext, result)
  }
}

private func runCall(
  _ instancePointer: UnsafeMutableRawPointer?, _ methodPath: UnsafePointer<CChar>?, _ encoding: carbon_encoding,
  _ request: UnsafePointer<UInt8>?, _ requestLength: Int, _ emit: carbon_emit_fn?, _ emitContext: UnsafeMutableRawPointer?,
  _ result: UnsafeMutablePointer<carbon_call_result>?
) {
  guard let result else { return }
  guard let instancePointer, let methodPath else {
    result.pointee.status = CARBON_STATUS_INTERNAL.rawValue
    result.pointee.error_message = duplicate("call() without an instance or a method path")
    return
  }
  let instance = Unmanaged<ModuleInstance>.fromOpaque(instancePointer).takeUnretainedValue()
  let bytes =
    request.map { Array(UnsafeBufferPointer(start: $0, count: requestLength)) } ?? []
  let coding: MessageEncoding = encoding == CARBON_ENCODING_JSON ? .json : .protobuf
  var emitter: (@Sendable ([UInt8]) -> Bool)? = nil
  if let emit {
    let context = UnsafeSendable(emitContext)
    emitter = { message in
      message.withUnsafeBufferPointer { emit(context.value, $0.baseAddress, $0.count) == CARBON_EMIT_CONTINUE }
    }
  }
  fill(result) { () throws(ModuleError) in
    try instance.call(cPath: methodPath, request: bytes, encoding: coding, emit: emitter, receive: nil)
  }
}

private let bidiTrampoline: carbon_call_bidi_fn = {
  instancePointer, methodPath, encoding, receive, receiveContext, emit, emitContext, result in
  guard let result else { return }
  guard let instancePointer, let methodPath, let receive, let emit else {
    result.pointee.status = CARBON_STATUS_INTERNAL.rawValue
    result.pointee.error_message = duplicate("call_bidi() without an instance, a method path, receive or emit")
    return
  }
  let instance = Unmanaged<ModuleInstance>.fromOpaque(instancePointer).takeUnretainedValue()
  let coding: MessageEncoding = encoding == CARBON_ENCODING_JSON ? .json : .protobuf
  let emitContext = UnsafeSendable(emitContext)
  let emitter: @Sendable ([UInt8]) -> Bool = { message in
    message.withUnsafeBufferPointer { emit(emitContext.value, $0.baseAddress, $0.count) == CARBON_EMIT_CONTINUE }
  }
  let receiver: () -> ReceivedRequest = {
    var message: UnsafePointer<UInt8>? = nil
    var length = 0
    switch receive(receiveContext, &message, &length) {
    case Int32(CARBON_RECEIVE_MESSAGE): return .message(message.map { Array(UnsafeBufferPointer(start: $0, count: length)) } ?? [])
    case Int32(CARBON_RECEIVE_END): return .end
    default: return .cancelled
    }
  }
  fill(result) { () throws(ModuleError) in
    try instance.call(cPath: methodPath, request: [], encoding: coding, emit: emitter, receive: receiver)
  }
}

/// A unary method's encoded response: protobuf in the one-pass encoder's `malloc` buffer,
/// which the C trampoline hands to the host without a copy; JSON in an array.
enum EncodedResponse {
  case malloced(UnsafeMutablePointer<UInt8>, count: Int)
  case array([UInt8])

  /// Encodes `message`; an encoding failure is a module defect (INTERNAL).
  init<M: SwiftProtobuf.Message>(_ message: M, _ encoding: MessageEncoding) throws(ModuleError) {
    guard encoding == .protobuf else {
      self = .array(try MessageCoding.encodeResponse(message, encoding))
      return
    }
    do {
      let (buffer, count) = try message.onePassSerializedBuffer(rejectingNonFinite: true)
      self = .malloced(buffer, count: count)
    } catch is NonFiniteNumber {
      throw MessageCoding.nonFiniteResult(message)
    } catch {
      throw .internal("could not encode \(M.protoMessageName): \(error)")
    }
  }

  /// The bytes as an array (a malloc'd buffer is copied and freed).
  func takeArray() -> [UInt8] {
    switch self {
    case .array(let bytes): return bytes
    case .malloced(let buffer, let count):
      defer { free(buffer) }
      return Array(UnsafeBufferPointer(start: buffer, count: count))
    }
  }

  /// The bytes in memory from `malloc`, owned by the caller (an array is copied).
  func takeMalloced() -> (UnsafeMutablePointer<UInt8>, count: Int) {
    switch self {
    case .malloced(let buffer, let count): return (buffer, count)
    case .array(let bytes): return mallocCopy(of: bytes)
    }
  }
}

/// Runs a call and reports its outcome in `result` (module-allocated buffers, as the ABI says:
/// the host releases them with free_buffer, which is `free`).
private func fill(_ result: UnsafeMutablePointer<carbon_call_result>, _ call: () throws(ModuleError) -> EncodedResponse?) {
  do {
    if let response = try call() {
      let (buffer, count) = response.takeMalloced()
      result.pointee.response = buffer
      result.pointee.response_length = count
    }
    result.pointee.status = CARBON_STATUS_OK.rawValue
  } catch {
    result.pointee.status = error.status.rawValue
    result.pointee.error_message = duplicate(error.message)
    if let field = error.field { result.pointee.error_field = duplicate(field) }
  }
}
