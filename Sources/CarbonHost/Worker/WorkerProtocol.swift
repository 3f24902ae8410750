import CarbonDomain
import CarbonPluginLoader

/// The frames exchanged between the host and an isolated module's worker process
/// (`carbonhub worker`) over their Unix socket.
///
/// Every frame is `u32 little-endian length` + `u8 kind` + fields, where the length counts the
/// kind byte and the fields. Fields are little-endian integers, and strings or byte strings as
/// `u32 length` + bytes. Request and response bytes are exactly those of the in-process ABI
/// (protobuf or JSON, per the call's encoding): the worker passes them to the plugin untouched.
///
/// A session: host → `start`; worker → `hello` (or `loadFailed`, then it exits); then any number
/// of concurrent calls, each identified by an id the host picks: host → `call`; worker →
/// `response` (unary) or `streamItem`* + `streamEnd` (server streaming). The host may send
/// `cancel` for a call it no longer waits for and `credit` to let a stream run further ahead.
/// A bidirectional call's requests follow its `call` frame as `requestItem`* + `requestEnd`; the
/// host sends at most the call's window of them ahead of the plugin, which grants more with
/// `requestCredit` as it pulls them.
/// The worker exits when the host closes the socket.
public enum WorkerFrame: Sendable, Equatable {
  /// Host → worker, first frame: the module's JSON config. It travels on the socket rather than
  /// on the command line, which every local user can read in `/proc/<pid>/cmdline`.
  case start(configJSON: String)
  /// Worker → host: the plugin loaded and its instance was created.
  case hello(WorkerHello)
  /// Worker → host: the plugin was refused or its init failed; the worker exits next.
  case loadFailed(PluginLoadError)
  /// Host → worker: run a method.
  case call(WorkerCall)
  /// Worker → host: the outcome of a unary call.
  case response(id: UInt64, outcome: Result<[UInt8], PluginCallError>)
  /// Worker → host: one message of a server-streaming call.
  case streamItem(id: UInt64, bytes: [UInt8])
  /// Worker → host: a server-streaming call ended (nil: OK).
  case streamEnd(id: UInt64, error: PluginCallError?)
  /// Host → worker: the host no longer waits for this call (deadline passed, caller gone).
  case cancel(id: UInt64)
  /// Host → worker: the consumer of a stream took `count` more messages; the worker may send
  /// that many more (streaming back-pressure, as `PluginDispatch` does in process).
  case credit(id: UInt64, count: UInt32, bytes: UInt32)
  /// Host → worker: the next request of a bidirectional call.
  case requestItem(id: UInt64, bytes: [UInt8])
  /// Host → worker: the client of a bidirectional call sent its last request.
  case requestEnd(id: UInt64)
  /// Worker → host: the plugin pulled `count` more requests; the host may send that many more.
  case requestCredit(id: UInt64, count: UInt32)
  /// Host → worker: are you alive? Sent every second or so, also when no call is in flight.
  case ping(id: UInt64)
  /// Worker → host: the answer to `ping`, from the worker's reader thread (so a plugin call
  /// that runs long does not delay it; a stopped or wedged process does).
  case pong(id: UInt64)

  /// Largest frame either side accepts (the host's own message size limits are smaller); a
  /// larger length means a corrupted stream, and the connection is dropped.
  public static let maximumLength = 1 << 30

  enum Kind: UInt8 {
    case start = 1, hello, loadFailed, call, response, streamItem, streamEnd, cancel, credit
    case requestItem, requestEnd, requestCredit, ping, pong
  }
}

/// What a worker reports once its plugin is loaded: what the host would otherwise read from the
/// library itself (the host never opens an isolated module's library).
public struct WorkerHello: Sendable, Equatable {
  /// The plugin's declared module name.
  public var name: String
  /// The plugin's version.
  public var version: String
  /// The plugin's one-line summary.
  public var summary: String
  /// The plugin's ABI version.
  public var abiVersion: UInt32
  /// SHA-256 of the library file the worker loaded, lowercase hex.
  public var sha256: String
  /// The methods the plugin serves.
  public var methods: [PluginMethod]
  /// The serialized FileDescriptorSet the plugin embeds (for reflection).
  public var descriptorSet: [UInt8]
  /// The worker's process id.
  public var processID: Int32
  /// What confines the worker (`WorkerConfinement.Report`'s description, "off" when nothing).
  public var confinement: String

  /// Creates a hello.
  public init(
    name: String, version: String, summary: String, abiVersion: UInt32, sha256: String, methods: [PluginMethod],
    descriptorSet: [UInt8], processID: Int32, confinement: String = "off"
  ) {
    self.name = name
    self.version = version
    self.summary = summary
    self.abiVersion = abiVersion
    self.sha256 = sha256
    self.methods = methods
    self.descriptorSet = descriptorSet
    self.processID = processID
    self.confinement = confinement
  }
}

/// One call as the host sends it to a worker.
public struct WorkerCall: Sendable, Equatable {
  /// Chosen by the host, unique on the connection.
  public var id: UInt64
  /// The gRPC method path.
  public var path: String
  /// True for a server-streaming or bidirectional call.
  public var isStreaming: Bool
  /// True for a bidirectional call: its requests follow as `requestItem` frames and `request`
  /// is empty.
  public var isBidi: Bool
  /// Encoding of the request and of every response.
  public var encoding: WireEncoding
  /// Milliseconds left until the call's deadline when it was sent (0: no deadline). Relative,
  /// so that the two processes need not agree on a clock; the worker stops a stream at its
  /// first message after the deadline, the host enforces the deadline on its own side.
  public var deadlineMilliseconds: UInt32
  /// Streaming: how many messages the worker may send before it needs credit.
  public var window: UInt32
  /// Streaming: how many bytes of messages the worker may send before it needs credit (one
  /// message always goes, whatever its size).
  public var windowBytes: UInt32
  /// The request bytes.
  public var request: [UInt8]

  /// Creates a call.
  public init(
    id: UInt64, path: String, isStreaming: Bool, isBidi: Bool = false, encoding: WireEncoding,
    deadlineMilliseconds: UInt32, window: UInt32, windowBytes: UInt32 = 1 << 20, request: [UInt8]
  ) {
    self.id = id
    self.path = path
    self.isStreaming = isStreaming || isBidi
    self.isBidi = isBidi
    self.encoding = encoding
    self.deadlineMilliseconds = deadlineMilliseconds
    self.window = window
    self.windowBytes = windowBytes
    self.request = request
  }
}

/// A frame that cannot be decoded: the peer is not a carbonhub worker of this version, or the
/// stream is corrupted. The connection is dropped.
public struct WorkerProtocolError: Error, Sendable, Equatable, CustomStringConvertible {
  /// What was wrong.
  public let reason: String
  /// Creates an error.
  public init(_ reason: String) { self.reason = reason }
  public var description: String { "worker protocol error: \(reason)" }
}

// MARK: - Encoding

extension WorkerFrame {
  /// The frame with its length prefix, ready to write.
  public func encoded() -> [UInt8] {
    var writer = FrameWriter()
    switch self {
    case .start(let config):
      writer.byte(Kind.start.rawValue)
      writer.string(config)
    case .hello(let hello):
      writer.byte(Kind.hello.rawValue)
      writer.string(hello.name)
      writer.string(hello.version)
      writer.string(hello.summary)
      writer.u32(hello.abiVersion)
      writer.string(hello.sha256)
      writer.u32(UInt32(hello.methods.count))
      for method in hello.methods {
        writer.string(method.path)
        writer.byte(method.isClientStreaming ? 2 : method.isServerStreaming ? 1 : 0)
      }
      writer.bytes(hello.descriptorSet)
      writer.u32(UInt32(bitPattern: hello.processID))
      writer.string(hello.confinement)
    case .loadFailed(let error):
      writer.byte(Kind.loadFailed.rawValue)
      writer.loadError(error)
    case .call(let call):
      writer.byte(Kind.call.rawValue)
      writer.u64(call.id)
      writer.string(call.path)
      writer.byte(call.isBidi ? 2 : call.isStreaming ? 1 : 0)
      writer.byte(call.encoding == .json ? 1 : 0)
      writer.u32(call.deadlineMilliseconds)
      writer.u32(call.window)
      writer.u32(call.windowBytes)
      writer.bytes(call.request)
    case .response(let id, let outcome):
      writer.byte(Kind.response.rawValue)
      writer.u64(id)
      switch outcome {
      case .success(let bytes):
        writer.callError(nil)
        writer.bytes(bytes)
      case .failure(let error):
        writer.callError(error)
        writer.bytes([])
      }
    case .streamItem(let id, let bytes):
      writer.byte(Kind.streamItem.rawValue)
      writer.u64(id)
      writer.bytes(bytes)
    case .streamEnd(let id, let error):
      writer.byte(Kind.streamEnd.rawValue)
      writer.u64(id)
      writer.callError(error)
    case .cancel(let id):
      writer.byte(Kind.cancel.rawValue)
      writer.u64(id)
    case .credit(let id, let count, let bytes):
      writer.byte(Kind.credit.rawValue)
      writer.u64(id)
      writer.u32(count)
      writer.u32(bytes)
    case .requestItem(let id, let bytes):
      writer.byte(Kind.requestItem.rawValue)
      writer.u64(id)
      writer.bytes(bytes)
    case .requestEnd(let id):
      writer.byte(Kind.requestEnd.rawValue)
      writer.u64(id)
    case .requestCredit(let id, let count):
      writer.byte(Kind.requestCredit.rawValue)
      writer.u64(id)
      writer.u32(count)
    case .ping(let id):
      writer.byte(Kind.ping.rawValue)
      writer.u64(id)
    case .pong(let id):
      writer.byte(Kind.pong.rawValue)
      writer.u64(id)
    }
    return writer.finish()
  }

  /// Decodes one frame's body (kind and fields, without the length prefix).
  public static func decode(_ body: ArraySlice<UInt8>) throws(WorkerProtocolError) -> WorkerFrame {
    var reader = FrameReader(body)
    let rawKind = try reader.byte()
    guard let kind = Kind(rawValue: rawKind) else { throw WorkerProtocolError("unknown frame kind \(rawKind)") }
    let frame: WorkerFrame
    switch kind {
    case .start:
      frame = .start(configJSON: try reader.string())
    case .hello:
      let name = try reader.string(), version = try reader.string(), summary = try reader.string()
      let abi = try reader.u32()
      let sha256 = try reader.string()
      let count = try reader.u32()
      var methods: [PluginMethod] = []
      for _ in 0..<count {
        let path = try reader.string()
        let kind = try reader.byte()
        methods.append(PluginMethod(path: path, isServerStreaming: kind == 1, isClientStreaming: kind == 2))
      }
      frame = .hello(
        WorkerHello(
          name: name, version: version, summary: summary, abiVersion: abi, sha256: sha256, methods: methods,
          descriptorSet: try reader.bytes(), processID: Int32(bitPattern: try reader.u32()),
          confinement: try reader.string()))
    case .loadFailed:
      frame = .loadFailed(try reader.loadError())
    case .call:
      let id = try reader.u64(), path = try reader.string(), kind = try reader.byte()
      frame = .call(
        WorkerCall(
          id: id, path: path, isStreaming: kind == 1, isBidi: kind == 2,
          encoding: try reader.byte() == 1 ? .json : .protobuf, deadlineMilliseconds: try reader.u32(),
          window: try reader.u32(), windowBytes: try reader.u32(), request: try reader.bytes()))
    case .response:
      let id = try reader.u64()
      let error = try reader.callError()
      let bytes = try reader.bytes()
      frame = .response(id: id, outcome: error.map { .failure($0) } ?? .success(bytes))
    case .streamItem:
      frame = .streamItem(id: try reader.u64(), bytes: try reader.bytes())
    case .streamEnd:
      frame = .streamEnd(id: try reader.u64(), error: try reader.callError())
    case .cancel:
      frame = .cancel(id: try reader.u64())
    case .credit:
      frame = .credit(id: try reader.u64(), count: try reader.u32(), bytes: try reader.u32())
    case .requestItem:
      frame = .requestItem(id: try reader.u64(), bytes: try reader.bytes())
    case .requestEnd:
      frame = .requestEnd(id: try reader.u64())
    case .requestCredit:
      frame = .requestCredit(id: try reader.u64(), count: try reader.u32())
    case .ping:
      frame = .ping(id: try reader.u64())
    case .pong:
      frame = .pong(id: try reader.u64())
    }
    guard reader.isAtEnd else { throw WorkerProtocolError("\(kind) frame has \(reader.remaining) trailing bytes") }
    return frame
  }
}

/// Splits a byte stream into frames: feed it what `recv` returned, take the complete frames.
public struct FrameAssembler: Sendable {
  private var buffer: [UInt8] = []
  private var start = 0

  /// Creates an empty assembler.
  public init() {}

  /// Appends received bytes.
  public mutating func append(_ bytes: UnsafeRawBufferPointer) {
    if start > 0 && start == buffer.count {
      buffer.removeAll(keepingCapacity: true)
      start = 0
    }
    buffer.append(contentsOf: bytes)
  }

  /// The next complete frame, or nil until more bytes arrive.
  public mutating func next() throws(WorkerProtocolError) -> WorkerFrame? {
    guard buffer.count - start >= 4 else { return nil }
    let length =
      Int(buffer[start]) | Int(buffer[start + 1]) << 8 | Int(buffer[start + 2]) << 16 | Int(buffer[start + 3]) << 24
    guard length > 0, length <= WorkerFrame.maximumLength else {
      throw WorkerProtocolError("frame length \(length) is out of range")
    }
    guard buffer.count - start - 4 >= length else { return nil }
    let body = buffer[(start + 4)..<(start + 4 + length)]
    start += 4 + length
    let frame = try WorkerFrame.decode(body)
    // Compact once the consumed prefix dominates, so a long session does not grow the buffer.
    if start > 65_536 && start * 2 > buffer.count {
      buffer.removeFirst(start)
      start = 0
    }
    return frame
  }
}

private struct FrameWriter {
  var out: [UInt8] = [0, 0, 0, 0]

  mutating func byte(_ value: UInt8) { out.append(value) }
  mutating func u32(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) } }
  mutating func u64(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) } }
  mutating func bytes(_ value: [UInt8]) {
    u32(UInt32(value.count))
    out.append(contentsOf: value)
  }
  mutating func string(_ value: String) { bytes(Array(value.utf8)) }

  /// status 0 (OK) for none; else status, message, field (with a presence byte).
  mutating func callError(_ error: PluginCallError?) {
    guard let error else { return u32(0) }
    u32(error.status.rawValue)
    string(error.message)
    byte(error.field == nil ? 0 : 1)
    string(error.field ?? "")
  }

  mutating func loadError(_ error: PluginLoadError) {
    switch error {
    case .fileNotFound(let path): byte(1); string(path)
    case .unsafePermissions(let path, let mode): byte(2); string(path); u32(mode)
    case .digestMismatch(let path, let expected, let actual): byte(3); string(path); string(expected); string(actual)
    case .dlopenFailed(let path, let reason): byte(4); string(path); string(reason)
    case .missingEntrySymbol(let path): byte(5); string(path)
    case .nullDescriptor(let path): byte(6); string(path)
    case .abiMismatch(let path, let plugin, let host): byte(7); string(path); u32(plugin); u32(host)
    case .invalidDescriptor(let path, let reason): byte(8); string(path); string(reason)
    case .initFailed(let module, let status, let message): byte(9); string(module); u32(status.rawValue); string(message)
    case .workerFailed(let module, let reason): byte(10); string(module); string(reason)
    case .manifestMissing(let path, _), .invalidManifest(let path, _, _), .binaryTampered(let path, _, _),
      .unsigned(let path), .invalidSignature(let path, _, _), .untrustedPublisher(let path, _, _),
      .manifestABIMismatch(let path, _, _), .manifestMismatch(let path, _, _, _), .unsafeOwner(let path, _, _),
      .symbolicLink(let path, _), .privateCopyFailed(let path, _):
      // Manifest and location refusals travel as their admin-readable text.
      byte(10); string(path); string(error.description)
    }
  }

  mutating func finish() -> [UInt8] {
    let length = UInt32(out.count - 4).littleEndian
    withUnsafeBytes(of: length) { for index in 0..<4 { out[index] = $0[index] } }
    return out
  }
}

private struct FrameReader {
  let body: ArraySlice<UInt8>
  var position: Int

  init(_ body: ArraySlice<UInt8>) {
    self.body = body
    position = body.startIndex
  }

  var isAtEnd: Bool { position == body.endIndex }
  var remaining: Int { body.endIndex - position }

  mutating func take(_ count: Int) throws(WorkerProtocolError) -> ArraySlice<UInt8> {
    guard count >= 0, remaining >= count else {
      throw WorkerProtocolError("frame truncated: needs \(count) more bytes, has \(remaining)")
    }
    defer { position += count }
    return body[position..<(position + count)]
  }
  mutating func byte() throws(WorkerProtocolError) -> UInt8 { try take(1).first! }
  mutating func u32() throws(WorkerProtocolError) -> UInt32 {
    try take(4).reversed().reduce(0) { $0 << 8 | UInt32($1) }
  }
  mutating func u64() throws(WorkerProtocolError) -> UInt64 {
    try take(8).reversed().reduce(0) { $0 << 8 | UInt64($1) }
  }
  mutating func bytes() throws(WorkerProtocolError) -> [UInt8] { Array(try take(Int(try u32()))) }
  mutating func string() throws(WorkerProtocolError) -> String { String(decoding: try take(Int(try u32())), as: UTF8.self) }

  mutating func callError() throws(WorkerProtocolError) -> PluginCallError? {
    let status = try u32()
    guard status != 0 else { return nil }
    let message = try string()
    let hasField = try byte() == 1
    let field = try string()
    return PluginCallError(status: CarbonStatus(code: status), message: message, field: hasField ? field : nil)
  }

  mutating func loadError() throws(WorkerProtocolError) -> PluginLoadError {
    switch try byte() {
    case 1: return .fileNotFound(path: try string())
    case 2: return .unsafePermissions(path: try string(), mode: try u32())
    case 3: return .digestMismatch(path: try string(), expected: try string(), actual: try string())
    case 4: return .dlopenFailed(path: try string(), reason: try string())
    case 5: return .missingEntrySymbol(path: try string())
    case 6: return .nullDescriptor(path: try string())
    case 7: return .abiMismatch(path: try string(), plugin: try u32(), host: try u32())
    case 8: return .invalidDescriptor(path: try string(), reason: try string())
    case 9: return .initFailed(module: try string(), status: CarbonStatus(code: try u32()), message: try string())
    case 10: return .workerFailed(module: try string(), reason: try string())
    case let tag: throw WorkerProtocolError("unknown load error kind \(tag)")
    }
  }
}
