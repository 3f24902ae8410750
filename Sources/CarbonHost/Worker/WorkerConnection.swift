import CarbonPluginLoader
import Foundation
import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// The host's side of one worker process: spawns it, speaks the frame protocol on its socket,
/// matches answers to waiting calls, enforces deadlines, and notices its death. A restart makes
/// a new connection; `WorkerSupervisor` owns the current one.
///
/// Threads: one dedicated reader thread blocks in `recv` and then `waitid`; writes go through a
/// serial dispatch queue (a large request may block on a full socket buffer, which must not
/// happen on Swift's cooperative pool); deadline timers run on a dispatch queue. Async callers
/// only ever suspend on continuations.
final class WorkerConnection: Sendable {
  let module: String
  let processID: pid_t
  private let socket: WorkerSocket
  private let writer: DispatchQueue
  private let closed = Atomic<Bool>(false)
  /// Held while the descriptor is shut down (`close(grace:)`, from any thread) or closed (the
  /// writer queue, once the worker is gone). A shutdown after the close would hit whatever the
  /// number belongs to by then: another worker's socket, a client's TCP connection.
  private let descriptorLock = Mutex(())
  private let state = Mutex(ConnectionState())
  private let cancelGrace: Duration
  private let memoryLimitMB: Int?
  private let output: WorkerOutput
  private let onDeath: @Sendable (WorkerConnection, String) -> Void

  private struct ConnectionState {
    var nextID: UInt64 = 1
    var pending: [UInt64: Pending] = [:]
    /// Calls whose deadline passed: cancel was sent, the worker has not finished them yet.
    var overdue: Set<UInt64> = []
    var hello: Result<WorkerHello, PluginLoadError>?
    var helloWaiter: CheckedContinuation<Result<WorkerHello, PluginLoadError>, Never>?
    /// The request feeders of bidirectional calls in flight.
    var feeders: [UInt64: RequestFeeder] = [:]
    /// Set once the worker is known to be gone: why.
    var death: String?
    var deathWaiters: [CheckedContinuation<Void, Never>] = []
    /// Set when the host kills the worker: the cause to report instead of "killed by SIGKILL".
    var killReason: String?
    /// Set (before reaping) once the process has exited: its pid must not be signalled again.
    var exited = false
    /// The last liveness ping sent and the last one answered.
    var lastPing: UInt64 = 0
    var lastPong: UInt64 = 0
    /// The deadlines of calls in flight, cancelled when a call ends first.
    var deadlines: [UInt64: DeadlineSweeper.Registration] = [:]
    /// Waiting in `idle()` for the calls in flight to end, by waiter number.
    var idleWaiters: [Int: CheckedContinuation<Void, Never>] = [:]
    var nextIdleWaiter = 0

    /// True when no call is in flight, or none ever will be again.
    var isIdle: Bool { (pending.isEmpty && overdue.isEmpty) || death != nil }

    /// Forgets the deadline of call `id`, which has ended.
    mutating func endDeadline(_ id: UInt64) {
      deadlines.removeValue(forKey: id)?.cancel()
    }

    /// The idle waiters to resume, once the connection is idle (then removed): taken under the
    /// same lock as the change that ended the last call, so a call's end costs one lock.
    mutating func takeIdleWaiters() -> [CheckedContinuation<Void, Never>] {
      guard isIdle, !idleWaiters.isEmpty else { return [] }
      defer { idleWaiters = [:] }
      return Array(idleWaiters.values)
    }
  }

  private enum Pending {
    case unary(CheckedContinuation<Result<[UInt8], PluginCallError>, Never>)
    case stream(StreamInbox)
  }

  /// Spawns `carbonhub worker` on a fresh socket pair and starts reading. The worker receives
  /// the config in the first frame; `hello()` then tells whether it loaded.
  ///   - memoryLimitMB: the limit the worker runs under, named in the cause of a death that
  ///     may come from it.
  ///   - onOutput: each line the worker writes to its standard error (the host logs them).
  init(
    module: String, executable: String, arguments: [String], configJSON: String, cancelGrace: Duration,
    memoryLimitMB: Int? = nil, onOutput: @escaping @Sendable (String) -> Void = { _ in },
    onDeath: @escaping @Sendable (WorkerConnection, String) -> Void
  ) throws(PluginLoadError) {
    let pair: (host: WorkerSocket, worker: WorkerSocket)
    do { pair = try WorkerSocket.pair() } catch { throw .workerFailed(module: module, reason: error.reason) }
    defer { pair.worker.close() }
    var errorPipe: [Int32] = [-1, -1]
    // pipe2 is not imported from Glibc: close-on-exec is set right after (workers get only
    // what `spawn` hands them; descriptors close from 4 up in the child).
    guard pipe(&errorPipe) == 0, fcntl(errorPipe[0], F_SETFD, FD_CLOEXEC) == 0, fcntl(errorPipe[1], F_SETFD, FD_CLOEXEC) == 0 else {
      pair.host.close()
      throw .workerFailed(module: module, reason: "pipe failed: \(String(cString: strerror(errno)))")
    }
    let pid: pid_t
    do {
      pid = try Self.spawn(executable: executable, arguments: arguments, socket: pair.worker, standardError: errorPipe[1])
    } catch {
      pair.host.close()
      Glibc.close(errorPipe[0])
      Glibc.close(errorPipe[1])
      throw .workerFailed(module: module, reason: "cannot start \(executable): \(error.reason)")
    }
    Glibc.close(errorPipe[1])
    self.module = module
    processID = pid
    socket = pair.host
    writer = DispatchQueue(label: "carbonhub.worker-writer.\(module)")
    self.cancelGrace = cancelGrace
    self.memoryLimitMB = memoryLimitMB
    self.onDeath = onDeath
    output = WorkerOutput(descriptor: errorPipe[0], onLine: onOutput)
    let thread = Thread { [self] in readUntilDeath() }
    thread.name = "carbonhub-worker-reader"
    thread.start()
    send(.start(configJSON: configJSON))
  }

  // MARK: Lifecycle

  /// Waits for the worker's hello, or for the reason it did not come: its load error, its death,
  /// or `timeout` (the worker is then killed).
  func hello(timeout: Duration) async -> Result<WorkerHello, PluginLoadError> {
    after(timeout) { [self] in
      if state.withLock({ $0.hello == nil }) { kill(reason: "it did not report ready within \(timeout)") }
    }
    return await withCheckedContinuation { continuation in
      let ready = state.withLock { state -> Result<WorkerHello, PluginLoadError>? in
        if let hello = state.hello { return hello }
        state.helloWaiter = continuation
        return nil
      }
      if let ready { continuation.resume(returning: ready) }
    }
  }

  /// Why the worker died, once it has.
  var death: String? { state.withLock { $0.death } }

  /// Closes the socket: the worker exits at end of stream. Waits until it has been reaped;
  /// kills it if it has not exited after `grace`.
  func close(grace: Duration = .seconds(2)) async {
    // Not on the writer queue: a send blocked on a full socket is what the shutdown unblocks.
    descriptorLock.withLock { _ in
      if !closed.load(ordering: .acquiring) { socket.shutdownBoth() }
    }
    after(grace) { [self] in kill(reason: "it did not exit within \(grace) after the host closed its socket") }
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
      let gone = state.withLock { state in
        if state.death != nil { return true }
        state.deathWaiters.append(continuation)
        return false
      }
      if gone { continuation.resume() }
    }
  }

  /// Pings the worker every `interval`, with or without calls in flight, and kills it when a
  /// ping is not answered within `timeout`: a stopped (SIGSTOP) or wedged worker is then reported
  /// NOT_SERVING and restarted within seconds instead of when a call next times out. The worker
  /// answers from its reader thread, so a long plugin call does not count as a hang.
  func keepAlive(interval: Duration, timeout: Duration) {
    after(interval) { [self] in
      let ping = state.withLock { state -> UInt64? in
        guard state.death == nil, !state.exited else { return nil }
        state.lastPing += 1
        return state.lastPing
      }
      guard let ping else { return }
      let bytes = WorkerFrame.ping(id: ping).encoded()
      writer.async { [self] in
        guard !closed.load(ordering: .acquiring) else { return }
        _ = socket.send(bytes)
        // Timed from the write, so a ping queued behind a large request is not counted late.
        after(timeout) { [self] in
          let unanswered = state.withLock { $0.death == nil && $0.lastPong < ping }
          if unanswered { kill(reason: "it did not answer a liveness ping within \(timeout) (stopped or hung)") }
        }
        keepAlive(interval: interval, timeout: timeout)
      }
    }
  }

  /// Kills the worker (SIGKILL) unless it has already exited; `reason` becomes the cause its
  /// in-flight calls and the logs report.
  func kill(reason: String) {
    state.withLock { state in
      guard !state.exited else { return }
      if state.killReason == nil { state.killReason = "killed by the host: \(reason)" }
      _ = Glibc.kill(processID, SIGKILL)
    }
  }

  // MARK: Calls

  /// Runs a unary call in the worker. The call is abandoned with CANCELLED (and the worker sent
  /// `cancel`) when the calling task is cancelled or `cancellation` fires, whichever is first.
  func unary(
    _ path: String, _ request: [UInt8], encoding: WireEncoding, deadline: ContinuousClock.Instant?,
    cancellation: CallCancellation? = nil
  ) async -> Result<[UInt8], PluginCallError> {
    let id = state.withLock { state in
      defer { state.nextID += 1 }
      return state.nextID
    }
    // The calling task cancelled, or `cancellation` fired: the same end.
    let abandonCancelled: @Sendable () -> Void = { [self] in abandon(id, Self.callerCancelled(path), overdue: false) }
    return await withTaskCancellationHandler {
      await withCheckedContinuation { continuation in
        let refused: PluginCallError? = state.withLock { state in
          if let death = state.death { return unavailable(death) }
          // Checked under the lock that the cancellation handler also takes: either it finds
          // the call registered, or the call sees the cancellation here.
          if Task.isCancelled { return WorkerConnection.callerCancelled(path) }
          state.pending[id] = .unary(continuation)
          return nil
        }
        if let refused { return continuation.resume(returning: .failure(refused)) }
        send(.call(WorkerCall(id: id, path: path, isStreaming: false, encoding: encoding, deadlineMilliseconds: Self.milliseconds(until: deadline), window: 0, request: request)))
        if let deadline { watch(id, path, deadline) }
        // Fired already, it abandons the call at once; after the answer, abandoning is a no-op.
        cancellation?.onCancel(abandonCancelled)
      }
    } onCancel: {
      abandonCancelled()
    }
  }

  /// The error of a call its caller cancelled or left.
  static func callerCancelled(_ path: String) -> PluginCallError {
    PluginCallError(status: .cancelled, message: "\(path): the caller cancelled", field: nil)
  }

  /// Starts a server-streaming call in the worker. At most `buffer`'s messages and bytes travel
  /// ahead of the consumer; when the consumer stops early (or its task is cancelled) the worker
  /// is told to stop.
  func streaming(
    _ path: String, _ request: [UInt8], encoding: WireEncoding, deadline: ContinuousClock.Instant?, buffer: StreamBuffer
  ) -> IsolatedStreamingCall {
    let inbox = StreamInbox(buffer)
    let refused: PluginCallError? = state.withLock { state in
      if let death = state.death { return unavailable(death) }
      let id = state.nextID
      state.nextID += 1
      state.pending[id] = .stream(inbox)
      inbox.id = id
      return nil
    }
    if let refused { return .refused(refused) }
    let id = inbox.id
    send(.call(WorkerCall(
      id: id, path: path, isStreaming: true, encoding: encoding, deadlineMilliseconds: Self.milliseconds(until: deadline),
      window: UInt32(buffer.messages), windowBytes: UInt32(clamping: buffer.bytes), request: request)))
    if let deadline { watch(id, path, deadline) }
    let consumer = StreamConsumer(connection: self, inbox: inbox, path: path)
    return IsolatedStreamingCall(messages: AsyncThrowingStream { try await consumer.next() }) { [self] in
      abandon(id, PluginCallError(status: .cancelled, message: "\(path): the consumer stopped", field: nil), overdue: false)
    }
  }

  /// Starts a bidirectional call in the worker: like `streaming`, and a thread sends the
  /// requests it pulls from `requests`, at most `buffer.messages` ahead of the plugin's own pulls.
  func bidi(
    _ path: String, requests: RequestPipe, encoding: WireEncoding, deadline: ContinuousClock.Instant?, buffer: StreamBuffer
  ) -> IsolatedStreamingCall {
    let inbox = StreamInbox(buffer)
    let feeder = RequestFeeder(requests: requests, window: min(buffer.messages, RequestPipe.defaultCapacity))
    let refused: PluginCallError? = state.withLock { state in
      if let death = state.death { return unavailable(death) }
      let id = state.nextID
      state.nextID += 1
      state.pending[id] = .stream(inbox)
      state.feeders[id] = feeder
      inbox.id = id
      return nil
    }
    if let refused {
      requests.cancel()
      return .refused(refused)
    }
    let id = inbox.id
    send(.call(WorkerCall(
      id: id, path: path, isStreaming: true, isBidi: true, encoding: encoding, deadlineMilliseconds: Self.milliseconds(until: deadline),
      window: UInt32(buffer.messages), windowBytes: UInt32(clamping: buffer.bytes), request: [])))
    CallThreads.shared.run { [self] in
      feeder.run(
        send: { send(.requestItem(id: id, bytes: $0)) },
        end: { send(.requestEnd(id: id)) },
        // The client went away or its stream failed while the plugin waits for a request:
        // only the worker can end the call now, so tell it (a consumer waiting for responses
        // would otherwise wait for ever).
        cancelled: { abandon(id, WorkerConnection.callerCancelled(path), overdue: false) })
    }
    if let deadline { watch(id, path, deadline) }
    let consumer = StreamConsumer(connection: self, inbox: inbox, path: path)
    return IsolatedStreamingCall(messages: AsyncThrowingStream { try await consumer.next() }) { [self] in
      abandon(id, PluginCallError(status: .cancelled, message: "\(path): the consumer stopped", field: nil), overdue: false)
    }
  }

  /// Calls the worker holds (sent and not yet answered or abandoned).
  var callsInFlight: Int { state.withLock { $0.pending.count + $0.overdue.count } }

  /// Returns once no call is in flight (at once when none is), the worker is gone, or the
  /// waiting task is cancelled.
  func idle() async {
    let waiter = state.withLock { state -> Int in
      defer { state.nextIdleWaiter += 1 }
      return state.nextIdleWaiter
    }
    await withTaskCancellationHandler {
      await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        let now = state.withLock { state -> Bool in
          if state.isIdle || Task.isCancelled { return true }
          state.idleWaiters[waiter] = continuation
          return false
        }
        if now { continuation.resume() }
      }
    } onCancel: {
      state.withLock { $0.idleWaiters.removeValue(forKey: waiter) }?.resume()
    }
  }

  /// Grants the worker `credit.messages` more messages, `credit.bytes` more bytes, of stream `id`.
  fileprivate func grant(_ id: UInt64, _ credit: StreamInbox.Credit) {
    send(.credit(id: id, count: UInt32(credit.messages), bytes: UInt32(clamping: credit.bytes)))
  }

  /// Ends a call on the host side with `error` (if it is still waiting) and tells the worker to
  /// stop it. An overdue call must then finish within the grace period or the worker is
  /// presumed hung and killed: a thread stuck in plugin code cannot be stopped any other way.
  fileprivate func abandon(_ id: UInt64, _ error: PluginCallError, overdue: Bool) {
    let (waiting, feeder, idle) = state.withLock { state -> (Pending?, RequestFeeder?, [CheckedContinuation<Void, Never>]) in
      let feeder = state.feeders.removeValue(forKey: id)
      guard let pending = state.pending.removeValue(forKey: id) else { return (nil, feeder, []) }
      state.endDeadline(id)
      if overdue { state.overdue.insert(id) }
      return (pending, feeder, state.takeIdleWaiters())
    }
    feeder?.stop()
    guard let waiting else { return }
    resolve(waiting, .failure(error))
    for waiter in idle { waiter.resume() }
    send(.cancel(id: id))
    if overdue {
      after(cancelGrace) { [self] in
        let stillRunning = state.withLock { $0.overdue.contains(id) }
        if stillRunning { kill(reason: "a call ran \(cancelGrace) past its deadline and ignored its cancellation (presumed hung)") }
      }
    }
  }

  /// Abandons call `id` at `deadline` unless it ends first. On the host's one `DeadlineSweeper`,
  /// as in-process calls: a timer per call would stay armed long after most calls have ended.
  private func watch(_ id: UInt64, _ path: String, _ deadline: ContinuousClock.Instant) {
    let registration = DeadlineSweeper.shared.register(deadline) { [weak self] in
      guard let self else { return }
      abandon(id, PluginCallError(status: .deadlineExceeded, message: "module \(module): \(path) exceeded its deadline", field: nil), overdue: true)
    }
    let ended = state.withLock { state in
      guard state.pending[id] != nil else { return true }
      state.deadlines[id] = registration
      return false
    }
    // The call ended before its deadline was recorded.
    if ended { registration.cancel() }
  }

  private func unavailable(_ cause: String) -> PluginCallError {
    PluginCallError(status: .unavailable, message: "module \(module): worker process \(cause); the host restarts it, retry", field: nil)
  }

  private func resolve(_ pending: Pending, _ outcome: Result<[UInt8], PluginCallError>) {
    switch pending {
    case .unary(let continuation): continuation.resume(returning: outcome)
    case .stream(let inbox):
      if case .failure(let error) = outcome { inbox.finish(error, discardBuffered: true) }
    }
  }

  // MARK: Socket

  private func send(_ frame: WorkerFrame) {
    let bytes = frame.encoded()
    writer.async { [self] in
      // The descriptor is closed on this queue once the worker is gone, so a frame queued
      // after that is dropped instead of written to a reused descriptor number.
      guard !closed.load(ordering: .acquiring) else { return }
      _ = socket.send(bytes)
    }
  }

  private func readUntilDeath() {
    let stopped = socket.readFrames(receive)
    if let stopped { kill(reason: stopped) }
    let cause = describe(death: reap())
    let (waiting, helloWaiter, deathWaiters, idle) = state.withLock { state in
      state.death = cause
      state.overdue.removeAll()
      for deadline in state.deadlines.values { deadline.cancel() }
      state.deadlines.removeAll()
      for feeder in state.feeders.values { feeder.stop() }
      state.feeders.removeAll()
      defer { state.pending.removeAll() }
      if state.hello == nil { state.hello = .failure(.workerFailed(module: module, reason: "the worker process \(cause) before it was ready")) }
      defer { state.helloWaiter = nil; state.deathWaiters = [] }
      // Idle now: no call will ever be in flight again.
      return (Array(state.pending.values), state.helloWaiter, state.deathWaiters, state.takeIdleWaiters())
    }
    // The module is reported restarting before its callers hear UNAVAILABLE: a caller that
    // then asks the host's health sees the truth, not a stale SERVING.
    onDeath(self, cause)
    for pending in waiting { resolve(pending, .failure(unavailable(cause))) }
    if let helloWaiter { helloWaiter.resume(returning: state.withLock { $0.hello! }) }
    writer.async { [self] in
      descriptorLock.withLock { _ in
        closed.store(true, ordering: .releasing)
        socket.close()
      }
    }
    for waiter in deathWaiters + idle { waiter.resume() }
  }

  /// The cause of death, completed with what helps an admin tell why: the memory limit when the
  /// death may come from it, and the worker's last words on its standard error.
  private func describe(death: String) -> String {
    var cause = death
    let lastLines = output.finish(waitingUpTo: .milliseconds(500))
    // memory_limit_mb is an address-space limit: an allocation past it fails and the code then
    // aborts or faults; it never sends SIGKILL. A SIGKILL the host did not send came from
    // outside (an operator's kill -9, the kernel's OOM killer).
    let mayBeMemory = ["SIGABRT", "SIGSEGV", "SIGBUS"].contains { death.contains($0) }
      || lastLines.contains { $0.localizedCaseInsensitiveContains("memory") || $0.contains("alloc") }
    if let memoryLimitMB, mayBeMemory, !death.hasPrefix("killed by the host") {
      cause += " (it runs under memory_limit_mb = \(memoryLimitMB): an allocation past the limit fails, and most code then aborts)"
    } else if death.contains("SIGKILL"), !death.hasPrefix("killed by the host") {
      cause += " from outside the host (an operator's kill -9 or the kernel's OOM killer)"
    }
    if let last = lastLines.last { cause += "; its last output: \"\(last)\"" }
    return cause
  }

  private func receive(_ frame: WorkerFrame) {
    switch frame {
    case .hello(let hello): settleHello(.success(hello))
    case .loadFailed(let error): settleHello(.failure(error))
    case .response(let id, let outcome):
      let (waiting, idle) = state.withLock { state in
        state.overdue.remove(id)
        state.endDeadline(id)
        let waiting = state.pending.removeValue(forKey: id)
        return (waiting, state.takeIdleWaiters())
      }
      if let waiting { resolve(waiting, outcome) }
      for waiter in idle { waiter.resume() }
    case .streamItem(let id, let bytes):
      if case .stream(let inbox) = state.withLock({ $0.pending[id] }) { inbox.append(bytes) }
    case .streamEnd(let id, let error):
      let (waiting, feeder, idle) = state.withLock { state in
        state.overdue.remove(id)
        state.endDeadline(id)
        let ended = (state.pending.removeValue(forKey: id), state.feeders.removeValue(forKey: id))
        return (ended.0, ended.1, state.takeIdleWaiters())
      }
      feeder?.stop()
      if case .stream(let inbox) = waiting { inbox.finish(error, discardBuffered: false) }
      for waiter in idle { waiter.resume() }
    case .requestCredit(let id, let count):
      state.withLock { $0.feeders[id] }?.grant(count)
    case .pong(let id):
      state.withLock { $0.lastPong = max($0.lastPong, id) }
    case .start, .call, .cancel, .credit, .requestItem, .requestEnd, .ping:
      kill(reason: "it sent a host-only frame")
    }
  }

  private func settleHello(_ outcome: Result<WorkerHello, PluginLoadError>) {
    let waiter = state.withLock { state in
      state.hello = outcome
      defer { state.helloWaiter = nil }
      return state.helloWaiter
    }
    waiter?.resume(returning: outcome)
  }

  /// Waits for the process to exit and describes how. The exit is observed first without
  /// reaping it (`WNOWAIT`), so that no `kill` can reach a recycled pid.
  private func reap() -> String {
    var info = siginfo_t()
    while waitid(P_PID, id_t(processID), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR {}
    state.withLock { $0.exited = true }
    var status: Int32 = 0
    while waitpid(processID, &status, 0) < 0 && errno == EINTR {}
    if let reason = state.withLock({ $0.killReason }) { return reason }
    let signal = status & 0x7f
    if signal == 0 { return "exited with status \((status >> 8) & 0xff)" }
    return "was killed by \(Self.signalName(signal)) (signal \(signal))"
  }

  // MARK: Helpers

  /// SIGSEGV for 11, and so on (the names an admin greps for).
  static func signalName(_ signal: Int32) -> String {
    let names: [Int32: String] = [
      SIGSEGV: "SIGSEGV", SIGABRT: "SIGABRT", SIGKILL: "SIGKILL", SIGBUS: "SIGBUS", SIGILL: "SIGILL",
      SIGFPE: "SIGFPE", SIGTERM: "SIGTERM", SIGINT: "SIGINT", SIGTRAP: "SIGTRAP", SIGXCPU: "SIGXCPU", SIGHUP: "SIGHUP",
      SIGPIPE: "SIGPIPE", SIGQUIT: "SIGQUIT", SIGSYS: "SIGSYS",
    ]
    return names[signal] ?? "signal \(signal)"
  }

  static func milliseconds(until deadline: ContinuousClock.Instant?) -> UInt32 {
    guard let deadline else { return 0 }
    let left = deadline - .now
    let milliseconds = left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000
    return UInt32(clamping: max(milliseconds, 1))
  }

  /// Runs `body` after `delay` on one of NIO's event loops (the worker's rare timers: its start,
  /// its pings, a grace before a kill; calls' deadlines go to the `DeadlineSweeper`).
  private func after(_ delay: Duration, _ body: @escaping @Sendable () -> Void) {
    MultiThreadedEventLoopGroup.singleton.any().scheduleTask(in: .nanoseconds(max(0, delay.nanoseconds))) { body() }
  }

  /// posix_spawn rather than Foundation's Process: the worker gets the socket as fd 3, no other
  /// descriptor of the host, default signal dispositions, and a process group of its own (a
  /// Ctrl-C meant for the host must not kill its workers while the host drains).
  private static func spawn(
    executable: String, arguments: [String], socket: WorkerSocket, standardError: Int32
  ) throws(WorkerProtocolError) -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, socket.descriptor, 3)
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    // Standard output too: a plugin's printf must not reach the host's own output, where it
    // could pass for the host's lines; both go through the pipe, tagged and escaped.
    posix_spawn_file_actions_adddup2(&actions, standardError, 1)
    posix_spawn_file_actions_adddup2(&actions, standardError, 2)
    // glibc ≥ 2.34 closes every other descriptor in the child; Swift does not import this GNU
    // extension, hence the lookup. Descriptors the host opens itself are close-on-exec anyway.
    if let closeFrom = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") {
      typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
      _ = unsafeBitCast(closeFrom, to: CloseFrom.self)(&actions, 4)
    }
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var mask = sigset_t()
    sigemptyset(&mask)
    posix_spawnattr_setsigmask(&attributes, &mask)
    var defaults = sigset_t()
    sigemptyset(&defaults)
    for signal in [SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD] { sigaddset(&defaults, signal) }
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    posix_spawnattr_setpgroup(&attributes, 0)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))
    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    defer { for argument in argv { free(argument) } }
    // The Swift runtime's crash backtracer is off in workers: it suspends every thread of the
    // crashing process and can hang there (under RLIMIT_AS it may not start its helper), and a
    // worker that hangs instead of dying is never restarted. The host reports the signal.
    var environment = ProcessInfo.processInfo.environment
    environment["SWIFT_BACKTRACE"] = "enable=no"
    let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { for entry in envp { free(entry) } }
    var pid: pid_t = 0
    let status = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
    guard status == 0 else { throw WorkerProtocolError(String(cString: strerror(status))) }
    return pid
  }
}

/// A line of a worker's output made safe for the application log: control characters
/// (carriage return, escape sequences, NUL…) and backslashes are written as escapes, so that
/// plugin output can neither pass for a log line of the host's, nor rewrite the terminal.
enum WorkerOutputLine {
  static func escape(_ line: String) -> String {
    var escaped = ""
    for scalar in line.unicodeScalars {
      switch scalar {
      case "\\": escaped += "\\\\"
      case "\t": escaped += "\\t"
      case "\r": escaped += "\\r"
      case _ where scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029:
        escaped += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
      default: escaped.unicodeScalars.append(scalar)
      }
    }
    return escaped
  }
}

/// The worker's standard output and error: read line by line on a thread of its own, each line handed to
/// the host (which logs it), the last few kept to explain a death.
private final class WorkerOutput: Sendable {
  private let lines = Mutex<[String]>([])
  private let done = DispatchSemaphore(value: 0)
  private static let kept = 4

  init(descriptor: Int32, onLine: @escaping @Sendable (String) -> Void) {
    let thread = Thread { [self] in
      var pending: [UInt8] = []
      var buffer = [UInt8](repeating: 0, count: 4096)
      func emit(_ bytes: some Collection<UInt8>) {
        let line = WorkerOutputLine.escape(String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespaces))
        guard !line.isEmpty else { return }
        // Bounded: a worker may print much; only the last lines explain its end.
        let clipped = line.count > 500 ? String(line.prefix(500)) + "…" : line
        lines.withLock { lines in
          lines.append(clipped)
          if lines.count > WorkerOutput.kept { lines.removeFirst(lines.count - WorkerOutput.kept) }
        }
        onLine(clipped)
      }
      while true {
        let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        if count < 0 && errno == EINTR { continue }
        if count <= 0 { break }
        pending += buffer[0..<count]
        while let newline = pending.firstIndex(of: 10) {
          emit(pending[..<newline])
          pending.removeSubrange(...newline)
        }
        if pending.count > 64 * 1024 {
          emit(pending)
          pending = []
        }
      }
      emit(pending)
      Glibc.close(descriptor)
      done.signal()
    }
    thread.name = "carbonhub-worker-stderr"
    thread.start()
  }

  /// The last lines, once the worker's end of the pipe is closed (it exited) or `limit` passed.
  func finish(waitingUpTo limit: Duration) -> [String] {
    if done.wait(timeout: .now() + .nanoseconds(Int(limit.nanoseconds))) == .success { done.signal() }
    return lines.withLock { $0 }
  }
}

/// Sends a bidirectional call's requests to the worker from a thread of its own: it blocks on
/// the request pipe and on the worker's credit, never on the host's async threads.
private final class RequestFeeder: Sendable {
  private let requests: RequestPipe
  // Starts at 0 and is signalled up to the window: libdispatch aborts when a semaphore is
  // released below its initial value.
  private let credits = DispatchSemaphore(value: 0)
  private let stopped = Atomic<Bool>(false)

  init(requests: RequestPipe, window: Int) {
    self.requests = requests
    for _ in 0..<max(window, 1) { credits.signal() }
  }

  /// Sends each request as credit allows, then the end; returns when the call is over. When
  /// the requests are cancelled on the host's side (not by `stop`), `cancelled` runs.
  func run(send: ([UInt8]) -> Void, end: () -> Void, cancelled: () -> Void) {
    while true {
      switch requests.pull() {
      case .message(let bytes):
        credits.wait()
        guard !stopped.load(ordering: .acquiring) else { return }
        send(bytes)
      case .end:
        if !stopped.load(ordering: .acquiring) { end() }
        return
      case .cancelled:
        if !stopped.load(ordering: .acquiring) { cancelled() }
        return
      }
    }
  }

  func grant(_ count: UInt32) { for _ in 0..<count { credits.signal() } }

  /// The call ended: stop reading the client and stop sending.
  func stop() {
    stopped.store(true, ordering: .releasing)
    requests.cancel()
    credits.signal()
  }
}

/// A streaming call in a worker: its messages, and how to stop it early (the worker is told to
/// stop; the messages then end). Dropping the messages stops it too.
public struct IsolatedStreamingCall: Sendable {
  /// The call's messages; errors are `PluginCallError`s.
  public let messages: AsyncThrowingStream<[UInt8], any Error>
  /// Stops the call (idempotent).
  public let cancel: @Sendable () -> Void

  static func refused(_ error: PluginCallError) -> IsolatedStreamingCall {
    IsolatedStreamingCall(messages: AsyncThrowingStream { throw error }, cancel: {})
  }
}

/// The messages of one stream that arrived from the worker and were not yet taken by the
/// consumer, and how it ended. The worker sends at most the window (`StreamBuffer`: messages
/// and bytes) ahead of what was taken; what waits here is charged to the host's memory budget.
private final class StreamInbox: @unchecked Sendable {
  /// Room given back to the worker: messages taken since the last grant, and their bytes.
  struct Credit {
    var messages = 0
    var bytes = 0
  }

  private struct State {
    var items: [[UInt8]] = []
    var head = 0
    /// Bytes of `items[head...]`, charged to the budget.
    var heldBytes = 0
    var end: PluginCallError?? = nil
    var waiter: CheckedContinuation<[UInt8]?, any Error>?
    var taken = Credit()
  }
  private let state = Mutex(State())
  let buffer: StreamBuffer
  // Set once, under the connection's lock, before the inbox is shared.
  var id: UInt64 = 0

  init(_ buffer: StreamBuffer) { self.buffer = buffer }

  deinit {
    let held = state.withLock { $0.heldBytes }
    if held > 0 { buffer.budget?.release(held) }
  }

  func append(_ bytes: [UInt8]) {
    let waiter = state.withLock { state -> CheckedContinuation<[UInt8]?, any Error>? in
      guard state.end == nil else { return nil }
      if let waiter = state.waiter {
        state.waiter = nil
        state.taken.messages += 1
        state.taken.bytes += bytes.count
        return waiter
      }
      state.items.append(bytes)
      state.heldBytes += bytes.count
      buffer.budget?.charge(bytes.count)
      return nil
    }
    waiter?.resume(returning: bytes)
  }

  /// The stream ended: OK (nil) or with an error. On cancellation, deadline or death the
  /// buffered messages are dropped so that the error comes at once.
  func finish(_ error: PluginCallError?, discardBuffered: Bool) {
    let (waiter, dropped) = state.withLock { state -> (CheckedContinuation<[UInt8]?, any Error>?, Int) in
      guard state.end == nil else { return (nil, 0) }
      state.end = .some(error)
      var dropped = 0
      if discardBuffered {
        dropped = state.heldBytes
        state.items = []
        state.head = 0
        state.heldBytes = 0
      }
      defer { state.waiter = nil }
      return (state.waiter, dropped)
    }
    if dropped > 0 { buffer.budget?.release(dropped) }
    guard let waiter else { return }
    if let error { waiter.resume(throwing: error) } else { waiter.resume(returning: nil) }
  }

  /// The next message (nil at a clean end), and the credit to grant the worker: what was taken
  /// since the last grant, once that reaches half the window in messages or in bytes.
  func next() async throws -> (message: [UInt8]?, credit: Credit?) {
    let immediate = try state.withLock { state -> (message: [UInt8]?, credit: Credit?)?? in
      if state.head < state.items.count {
        let message = state.items[state.head]
        state.head += 1
        if state.head == state.items.count {
          state.items.removeAll(keepingCapacity: true)
          state.head = 0
        }
        state.heldBytes -= message.count
        buffer.budget?.release(message.count)
        state.taken.messages += 1
        state.taken.bytes += message.count
        return (message, takeCredit(&state))
      }
      if let end = state.end {
        if let error = end { throw error }
        return .some((nil, nil))
      }
      return .none
    }
    if let immediate { return immediate! }
    let message = try await withCheckedThrowingContinuation { continuation in
      let ready: Result<[UInt8]?, any Error>? = state.withLock { state in
        // Re-checked: a message or the end may have arrived since the first look.
        if state.head < state.items.count || state.end != nil { return .success(nil) }
        state.waiter = continuation
        return nil
      }
      if ready != nil { continuation.resume(returning: nil) }
    }
    if message == nil {
      // Either the end, or a message raced in before the waiter was stored: look again.
      return try await next()
    }
    return (message, state.withLock { takeCredit(&$0) })
  }

  private func takeCredit(_ state: inout State) -> Credit? {
    guard state.taken.messages >= max(buffer.messages / 2, 1) || state.taken.bytes >= max(buffer.bytes / 2, 1) else { return nil }
    defer { state.taken = Credit() }
    return state.taken
  }
}

/// The consumer's handle on a stream: grants credit as messages are taken, and cancels the
/// call in the worker when the consumer stops early (this object is released with the stream).
private final class StreamConsumer: Sendable {
  let connection: WorkerConnection
  let inbox: StreamInbox
  let path: String

  init(connection: WorkerConnection, inbox: StreamInbox, path: String) {
    self.connection = connection
    self.inbox = inbox
    self.path = path
  }

  deinit {
    connection.abandon(inbox.id, PluginCallError(status: .cancelled, message: "\(path): the consumer stopped", field: nil), overdue: false)
  }

  func next() async throws -> [UInt8]? {
    let (message, credit) = try await withTaskCancellationHandler {
      try await inbox.next()
    } onCancel: { [connection, inbox, path] in
      connection.abandon(inbox.id, WorkerConnection.callerCancelled(path), overdue: false)
    }
    if let credit { connection.grant(inbox.id, credit) }
    return message
  }
}
