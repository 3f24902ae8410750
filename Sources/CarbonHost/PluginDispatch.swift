import CarbonPluginLoader
import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// Where a module's calls run.
public enum ModuleBackend: Sendable {
  /// The plugin is dlopen'd into the host.
  case inProcess(PluginInstance)
  /// The plugin runs in a `carbonhub worker` process that the host supervises.
  case isolated(WorkerSupervisor)

  /// Runs a unary call. Returns DEADLINE_EXCEEDED when `deadline` passes and CANCELLED when
  /// `cancellation` fires, at once, whatever the plugin is doing; `onFinish` runs when the
  /// call no longer occupies the module (in process: when the plugin has really returned, as
  /// a thread in plugin code cannot be interrupted; isolated: when the worker answered, or the
  /// call was abandoned — a worker that does not stop an overdue call is killed).
  func unary(
    _ path: String, _ request: [UInt8], _ encoding: WireEncoding, deadline: ContinuousClock.Instant?,
    cancellation: CallCancellation, threads: PluginThreads, onFinish: @escaping @Sendable () -> Void
  ) async -> Result<[UInt8], PluginCallError> {
    switch self {
    case .inProcess(let instance):
      return await PluginDispatch.unary(
        instance, path, request, encoding, deadline: deadline, cancellation: cancellation, threads: threads,
        onFinish: onFinish)
    case .isolated(let module):
      let result = await module.unary(path, request, encoding: encoding, deadline: deadline, cancellation: cancellation)
      onFinish()
      return result
    }
  }

  /// Starts a server-streaming call; see `StreamingCall`. `buffer` bounds the responses
  /// produced ahead of the consumer.
  func streaming(
    _ path: String, _ request: [UInt8], _ encoding: WireEncoding, deadline: ContinuousClock.Instant?,
    buffer: StreamBuffer = StreamBuffer(), onFinish: @escaping @Sendable () -> Void
  ) -> StreamingCall {
    switch self {
    case .inProcess(let instance):
      return PluginDispatch.streaming(instance, path, request, encoding, deadline: deadline, buffer: buffer, onFinish: onFinish)
    case .isolated(let module):
      // The worker paces itself by the credit its consumer grants (see `WorkerConnection`):
      // nothing to signal per message here.
      let stream = module.streamingCall(path, request, encoding: encoding, deadline: deadline, buffer: buffer)
      return StreamingCall.relaying(stream.messages, cancel: stream.cancel, onFinish: onFinish)
    }
  }
}

extension StreamingCall {
  /// The consumer side of a worker's stream: `onFinish` runs once, when the stream ends, fails
  /// or is cancelled.
  static func relaying(
    _ stream: AsyncThrowingStream<[UInt8], any Error>, cancel: @escaping @Sendable () -> Void,
    onFinish: @escaping @Sendable () -> Void
  ) -> StreamingCall {
    let once = RunOnce(onFinish)
    let relay = StreamRelay(stream)
    let messages = AsyncThrowingStream<[UInt8], any Error> {
      do {
        let message = try await relay.next()
        if message == nil { once.run() }
        return message
      } catch {
        once.run()
        throw error
      }
    }
    return StreamingCall(messages: messages, consumed: { _ in }, cancel: { cancel(); once.run() })
  }
}

extension ModuleBackend {
  /// Starts a bidirectional-streaming call: the plugin pulls its requests from `requests`
  /// (which the caller feeds from the client) and its responses come out as a `StreamingCall`.
  func bidi(
    _ path: String, requests: RequestPipe, _ encoding: WireEncoding, deadline: ContinuousClock.Instant?,
    buffer: StreamBuffer = StreamBuffer(), onFinish: @escaping @Sendable () -> Void
  ) -> StreamingCall {
    switch self {
    case .inProcess(let instance):
      return PluginDispatch.bidi(
        instance, path, requests: requests, encoding, deadline: deadline, buffer: buffer, onFinish: onFinish)
    case .isolated(let module):
      let stream = module.bidiCall(path, requests: requests, encoding: encoding, deadline: deadline, buffer: buffer)
      return StreamingCall.relaying(stream.messages, cancel: stream.cancel, onFinish: onFinish)
    }
  }
}

/// Runs a closure at most once, from any thread.
final class RunOnce: Sendable {
  private let body: Mutex<(@Sendable () -> Void)?>

  init(_ body: @escaping @Sendable () -> Void) { self.body = Mutex(body) }

  func run() {
    body.withLock { body in
      defer { body = nil }
      return body
    }?()
  }
}

/// The iterator of a stream, kept in a class so a `@Sendable` closure can advance it. Only
/// one consumer iterates (the relay of one call), one message at a time.
private final class StreamRelay: @unchecked Sendable {
  private var iterator: AsyncThrowingStream<[UInt8], any Error>.AsyncIterator

  init(_ stream: AsyncThrowingStream<[UInt8], any Error>) { iterator = stream.makeAsyncIterator() }

  func next() async throws -> [UInt8]? { try await iterator.next() }
}

/// Fired when the caller goes away or gRPC cancels the call; a waiting call then returns.
final class CallCancellation: Sendable {
  private let state = Mutex<(fired: Bool, handlers: [@Sendable () -> Void])>((false, []))

  /// Runs `handler` when the call is cancelled (at once if it already was).
  func onCancel(_ handler: @escaping @Sendable () -> Void) {
    let fired = state.withLock { state -> Bool in
      if !state.fired { state.handlers.append(handler) }
      return state.fired
    }
    if fired { handler() }
  }

  func cancel() {
    let handlers = state.withLock { state -> [@Sendable () -> Void] in
      if state.fired { return [] }
      state.fired = true
      defer { state.handlers = [] }
      return state.handlers
    }
    handlers.forEach { $0() }
  }
}

/// Runs plugin calls off Swift's cooperative thread pool: a plugin call is synchronous C code
/// that may run for seconds (a batch) and must not starve the gRPC event handling.
///
/// Unary calls run on the host's `PluginThreads`, a fixed set of threads; deadlines are
/// checked by the `DeadlineSweeper` on one of NIO's event loops. Neither is a Dispatch queue:
/// on Linux, Swift's concurrency runtime runs its tasks on Dispatch's global pool, which
/// blocking plugin code would exhaust (100 calls of a slow plugin froze every other call of the
/// host until they returned).
enum PluginDispatch {
  /// Runs a unary call on one of `threads`; the first of (plugin answer, deadline,
  /// cancellation) decides the result. A call still waiting for a thread when its deadline
  /// passes or its caller leaves is never started. A call of a method that answers in
  /// microseconds runs on the calling task instead (`FastCalls`): too short for a deadline or a
  /// cancellation to matter.
  static func unary(
    _ instance: PluginInstance, _ path: String, _ request: [UInt8], _ encoding: WireEncoding,
    deadline: ContinuousClock.Instant? = nil, cancellation: CallCancellation = CallCancellation(),
    threads: PluginThreads = .standalone, onFinish: @escaping @Sendable () -> Void = {}
  ) async -> Result<[UInt8], PluginCallError> {
    let fastCalls = threads.fastCalls
    if let fastCalls, fastCalls.begin(path, bytes: request.count) {
      defer {
        fastCalls.finish()
        onFinish()
      }
      if let deadline, ContinuousClock.now >= deadline { return .failure(.deadlineExceeded(path)) }
      let started = ContinuousClock.now
      let result = Result { () throws(PluginCallError) in try instance.call(path, request: request, encoding: encoding) }
      fastCalls.record(path, started.duration(to: .now))
      return result
    }
    return await withCheckedContinuation { continuation in
      let outcome = FirstOutcome(continuation)
      // Raised once the caller has its answer (the deadline's or the cancellation's): a module
      // with call_cancellable sees it and can stop early, freeing this thread.
      let moduleCancellation = CancellationFlag()
      outcome.onDecided { moduleCancellation.cancel() }
      threads.submit {
        if !outcome.isDecided {
          let started = ContinuousClock.now
          outcome.offer(
            Result { () throws(PluginCallError) in
              try instance.call(path, request: request, encoding: encoding, cancellation: moduleCancellation)
            })
          fastCalls?.record(path, started.duration(to: .now))
        }
        onFinish()
      }
      if let deadline {
        let timer = Self.schedule(at: deadline) { outcome.offer(.failure(.deadlineExceeded(path))) }
        outcome.onDecided { timer.cancel() }
      }
      cancellation.onCancel { outcome.offer(.failure(.cancelled(path))) }
    }
  }

  /// Runs `action` once `deadline` has passed (at most the sweeper's resolution late), unless
  /// cancelled first.
  static func schedule(at deadline: ContinuousClock.Instant, _ action: @escaping @Sendable () -> Void) -> DeadlineSweeper.Registration {
    DeadlineSweeper.shared.register(deadline, action)
  }

  /// Runs a server-streaming call on a thread of `CallThreads` (held for the whole call) and
  /// returns its responses as an async sequence. At most `buffer`'s responses and bytes are
  /// produced ahead of the consumer (the plugin's emit blocks beyond that), so memory stays flat
  /// however large the batch and however slow the client; when the consumer stops or the
  /// deadline passes, the plugin is told to stop at its next emit.
  static func streaming(
    _ instance: PluginInstance, _ path: String, _ request: [UInt8], _ encoding: WireEncoding,
    deadline: ContinuousClock.Instant? = nil, buffer: StreamBuffer = StreamBuffer(),
    onFinish: @escaping @Sendable () -> Void = {}
  ) -> StreamingCall {
    let call = InProcessStream(buffer: buffer)
    return run(call, path, deadline: deadline, onFinish: onFinish) { emit throws(PluginCallError) in
      try instance.callStreaming(path, request: request, encoding: encoding, onMessage: emit)
    }
  }

  /// Runs a bidirectional-streaming call on a thread of `CallThreads`, like `streaming`: the
  /// plugin pulls requests from `requests` (blocking its thread while the pipe is empty) and at
  /// most `buffer`'s responses and bytes wait for the consumer. When the consumer stops or the
  /// deadline passes, both the plugin's next pull and its next emit tell it to stop.
  static func bidi(
    _ instance: PluginInstance, _ path: String, requests: RequestPipe, _ encoding: WireEncoding,
    deadline: ContinuousClock.Instant? = nil, buffer: StreamBuffer = StreamBuffer(),
    onFinish: @escaping @Sendable () -> Void = {}
  ) -> StreamingCall {
    let call = InProcessStream(buffer: buffer, onCancel: { requests.cancel() })
    return run(call, path, deadline: deadline, onFinish: onFinish) { emit throws(PluginCallError) in
      defer {
        // The plugin stopped pulling: a client still sending must not wait for room.
        requests.cancel()
      }
      try instance.callBidi(path, encoding: encoding, receive: { requests.pull() }, onMessage: emit)
    }
  }

  /// Runs a streaming plugin call on a thread of `CallThreads` (an idle one, or a new one), its
  /// responses paced by `call`'s window, and ends it with DEADLINE_EXCEEDED when `deadline`
  /// passes.
  private static func run(
    _ call: InProcessStream, _ path: String, deadline: ContinuousClock.Instant?,
    onFinish: @escaping @Sendable () -> Void,
    _ body: @escaping @Sendable (_ emit: @escaping ([UInt8]) -> Bool) throws(PluginCallError) -> Void
  ) -> StreamingCall {
    CallThreads.shared.run {
      do {
        try body { message in
          guard call.window.acquire(message.count) else { return false }
          call.continuation.yield(message)
          return true
        }
        call.continuation.finish()
      } catch {
        call.continuation.finish(throwing: error)
      }
      onFinish()
    }
    if let deadline {
      let timer = schedule(at: deadline) {
        call.continuation.finish(throwing: PluginCallError.deadlineExceeded(path))
        call.cancel()
      }
      call.continuation.onTermination = { [previous = call.continuation.onTermination] termination in
        timer.cancel()
        previous?(termination)
      }
    }
    return call.consumerSide
  }
}

/// The requests of a bidirectional call on their way from the gRPC reader (async, `push`) to
/// the plugin's thread (blocking, `pull`). It holds at most `capacity` requests: beyond that
/// `push` waits, so the host reads from the client only as fast as the plugin consumes and
/// memory stays flat however long the client's stream.
final class RequestPipe: Sendable {
  private struct State {
    var queue: [[UInt8]] = []
    var head = 0
    var ended = false
    var cancelled = false
    var waitingWriter: CheckedContinuation<Void, Never>? = nil
    var count: Int { queue.count - head }
  }
  private let state = Mutex(State())
  private let available = DispatchSemaphore(value: 0)
  /// Requests held at most.
  let capacity: Int
  /// Requests a pipe holds by default: enough to keep the plugin busy while the next ones
  /// arrive, few enough that memory does not depend on the client's stream.
  static let defaultCapacity = 8

  init(capacity: Int = RequestPipe.defaultCapacity) { self.capacity = max(1, capacity) }

  /// Adds a request, waiting while the pipe is full. Returns false when the plugin no longer
  /// takes requests (it finished, failed or the call was cancelled): stop reading the client.
  func push(_ message: [UInt8]) async -> Bool {
    while true {
      enum Step { case added, stopped, wait }
      let step = state.withLock { state -> Step in
        if state.cancelled || state.ended { return .stopped }
        if state.count < capacity {
          state.queue.append(message)
          return .added
        }
        return .wait
      }
      switch step {
      case .added:
        available.signal()
        return true
      case .stopped:
        return false
      case .wait:
        await withCheckedContinuation { continuation in
          let resumeNow = state.withLock { state -> Bool in
            if state.cancelled || state.count < capacity { return true }
            state.waitingWriter = continuation
            return false
          }
          if resumeNow { continuation.resume() }
        }
      }
    }
  }

  /// Adds a request without waiting, whatever the pipe holds: for a producer that paces itself
  /// (a worker's pipe, fed by a host that sends at most a window ahead of the plugin's pulls).
  func deliver(_ message: [UInt8]) {
    let added = state.withLock { state -> Bool in
      if state.cancelled || state.ended { return false }
      state.queue.append(message)
      return true
    }
    if added { available.signal() }
  }

  /// The client sent its last request.
  func finish() {
    let changed = state.withLock { state -> Bool in
      defer { state.ended = true }
      return !state.ended && !state.cancelled
    }
    if changed { available.signal() }
  }

  /// The call is over (client gone or its stream failed, deadline, plugin done): the plugin's
  /// next pull says so, a waiting `push` returns false.
  func cancel() {
    let (changed, writer) = state.withLock { state -> (Bool, CheckedContinuation<Void, Never>?) in
      defer {
        state.cancelled = true
        state.waitingWriter = nil
        state.queue = []
        state.head = 0
      }
      return (!state.cancelled, state.waitingWriter)
    }
    writer?.resume()
    if changed { available.signal() }
  }

  /// The plugin's side: blocks until a request, the end or a cancellation.
  func pull() -> RequestPull {
    while true {
      available.wait()
      let (pulled, writer) = state.withLock { state -> (RequestPull?, CheckedContinuation<Void, Never>?) in
        if state.cancelled {
          return (.cancelled, nil)
        }
        if state.count > 0 {
          let message = state.queue[state.head]
          state.queue[state.head] = []
          state.head += 1
          if state.head == state.queue.count || state.head > 64 {
            state.queue.removeFirst(state.head)
            state.head = 0
          }
          defer { state.waitingWriter = nil }
          return (.message(message), state.waitingWriter)
        }
        if state.ended { return (.end, nil) }
        return (nil, nil)
      }
      writer?.resume()
      if let pulled {
        // End and cancellation stay signalled for any later pull.
        if case .message = pulled {} else { available.signal() }
        return pulled
      }
    }
  }
}

/// Resumes a continuation with the first result offered; later offers are dropped.
private final class FirstOutcome<Value: Sendable>: Sendable {
  private struct State {
    var continuation: CheckedContinuation<Value, Never>?
    var onDecided: [@Sendable () -> Void] = []
  }
  private let state: Mutex<State>

  init(_ continuation: CheckedContinuation<Value, Never>) {
    state = Mutex(State(continuation: continuation))
  }

  /// Whether a result was offered already.
  var isDecided: Bool { state.withLock { $0.continuation == nil } }

  func offer(_ value: Value) {
    let (taken, handlers) = state.withLock { state -> (CheckedContinuation<Value, Never>?, [@Sendable () -> Void]) in
      let taken = state.continuation
      state.continuation = nil
      defer { state.onDecided = [] }
      return (taken, taken == nil ? [] : state.onDecided)
    }
    taken?.resume(returning: value)
    handlers.forEach { $0() }
  }

  /// Runs `handler` once a result is offered (at once if one was).
  func onDecided(_ handler: @escaping @Sendable () -> Void) {
    let decided = state.withLock { state -> Bool in
      if state.continuation == nil { return true }
      state.onDecided.append(handler)
      return false
    }
    if decided { handler() }
  }
}

extension PluginCallError {
  /// The call's deadline passed before the module answered.
  static func deadlineExceeded(_ path: String) -> PluginCallError {
    PluginCallError(status: .deadlineExceeded, message: "\(path): deadline exceeded before the module answered", field: nil)
  }

  /// The caller cancelled the call or went away.
  static func cancelled(_ path: String) -> PluginCallError {
    PluginCallError(status: .cancelled, message: "\(path): cancelled by the caller", field: nil)
  }
}

extension Duration {
  /// Seconds as a `DispatchTimeInterval`-compatible double; negative durations are zero.
  var timeInterval: Double {
    let (seconds, attoseconds) = components
    return max(0, Double(seconds) + Double(attoseconds) / 1e18)
  }
}

/// The consumer side of a streaming plugin call: its messages, and how to tell the producer
/// that one was written (it may then produce more) or that the consumer stopped.
final class StreamingCall: Sendable {
  let messages: AsyncThrowingStream<[UInt8], any Error>
  private let onConsumed: @Sendable (Int) -> Void
  private let onCancel: @Sendable () -> Void

  init(
    messages: AsyncThrowingStream<[UInt8], any Error>, consumed: @escaping @Sendable (_ bytes: Int) -> Void,
    cancel: @escaping @Sendable () -> Void
  ) {
    self.messages = messages
    onConsumed = consumed
    onCancel = cancel
  }

  /// Called by the consumer after it has written one message of `bytes` bytes.
  func consumed(_ bytes: Int) { onConsumed(bytes) }

  /// Called by the consumer when it stops early (client gone).
  func cancel() { onCancel() }
}

/// How much of a streaming call's output may wait for its consumer (a client that reads
/// slowly, or not at all), and the host-wide budget those bytes count against. The same
/// window paces an in-process plugin's `emit` and an isolated worker's (by credit).
public struct StreamBuffer: Sendable {
  /// Responses held at most.
  public var messages: Int
  /// Bytes held at most (`[limits] stream_buffer_bytes`); one message is always let through,
  /// whatever its size.
  public var bytes: Int
  /// The host's memory budget, charged while responses wait; nil: not counted.
  public var budget: MemoryBudget?

  /// A window of `messages` and `bytes` (defaults: 64 messages, 1 MiB).
  public init(messages: Int = 64, bytes: Int = 1 << 20, budget: MemoryBudget? = nil) {
    self.messages = max(messages, 1)
    self.bytes = max(bytes, 1)
    self.budget = budget
  }
}

/// The producer side of an in-process streaming call: the plugin's thread takes room in
/// `window` before it yields into `continuation`; the consumer gives it back per written
/// message.
private final class InProcessStream: Sendable {
  let messages: AsyncThrowingStream<[UInt8], any Error>
  let continuation: AsyncThrowingStream<[UInt8], any Error>.Continuation
  let window: ResponseWindow
  /// Also stops the call's request side (bidirectional calls).
  private let onCancel: @Sendable () -> Void

  init(buffer: StreamBuffer, onCancel: @escaping @Sendable () -> Void = {}) {
    (messages, continuation) = AsyncThrowingStream.makeStream(bufferingPolicy: .unbounded)
    self.onCancel = onCancel
    window = ResponseWindow(buffer)
    continuation.onTermination = { [window, onCancel] termination in
      if case .cancelled = termination {
        window.cancel()
        onCancel()
      }
    }
  }

  func cancel() {
    window.cancel()
    onCancel()
  }

  var consumerSide: StreamingCall {
    StreamingCall(messages: messages, consumed: { [window] in window.release($0) }, cancel: { [self] in cancel() })
  }
}

/// The responses of one streaming call produced and not yet written: the plugin's thread
/// (`acquire`, blocking) waits while the window is full; the consumer (`release`) makes room.
/// Bytes held are charged to the host's memory budget until written or dropped.
final class ResponseWindow: Sendable {
  private struct State {
    var messages = 0
    var bytes = 0
    var cancelled = false
    var producerWaiting = false
  }
  private let state = Mutex(State())
  private let wakeup = DispatchSemaphore(value: 0)
  private let limits: StreamBuffer

  init(_ limits: StreamBuffer) { self.limits = limits }

  /// Takes room for a message of `bytes`, waiting while the window is full; false once the
  /// call is cancelled (the plugin must stop).
  func acquire(_ bytes: Int) -> Bool {
    while true {
      enum Step { case taken, cancelled, wait }
      let step = state.withLock { state -> Step in
        if state.cancelled { return .cancelled }
        if state.messages == 0 || (state.messages < limits.messages && state.bytes + bytes <= limits.bytes) {
          state.messages += 1
          state.bytes += bytes
          return .taken
        }
        state.producerWaiting = true
        return .wait
      }
      switch step {
      case .taken:
        limits.budget?.charge(bytes)
        return true
      case .cancelled:
        return false
      case .wait:
        wakeup.wait()
      }
    }
  }

  /// `messages` messages of `bytes` in all were written (or, for a worker, taken by the
  /// host): their room is free again.
  func release(_ bytes: Int, messages: Int = 1) {
    let (wake, counted) = state.withLock { state -> (Bool, Bool) in
      guard !state.cancelled else { return (false, false) }
      state.messages -= messages
      state.bytes -= bytes
      defer { state.producerWaiting = false }
      return (state.producerWaiting, true)
    }
    if counted { limits.budget?.release(bytes) }
    if wake { wakeup.signal() }
  }

  /// The consumer stopped: the producer's next `acquire` returns false, and what is still held
  /// goes back to the budget.
  func cancel() {
    let (wake, held) = state.withLock { state -> (Bool, Int) in
      if state.cancelled { return (false, 0) }
      state.cancelled = true
      defer {
        state.bytes = 0
        state.producerWaiting = false
      }
      return (state.producerWaiting, state.bytes)
    }
    if held > 0 { limits.budget?.release(held) }
    if wake { wakeup.signal() }
  }
}
