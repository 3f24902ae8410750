import CarbonPluginLoader
import Foundation
import Logging
import Synchronization

/// A module in isolated mode: the same plugin library, loaded by a worker process
/// (`carbonhub worker`) that the host starts and talks to over a Unix socket, instead of
/// `dlopen`ed into the host.
///
/// Why: a plugin runs native code. In process, a crash (segfault, abort, Swift trap) or an
/// exhausted memory kills the host with every other module, and a call stuck in plugin code
/// cannot be stopped — a thread cannot be killed, only abandoned, and it keeps its CPU and locks.
/// In a worker, the host survives: the worker's in-flight calls get UNAVAILABLE naming the
/// module and the cause, the module is reported restarting, and the host starts a new worker
/// with exponential backoff. A call past its deadline gets DEADLINE_EXCEEDED at once; if the
/// worker has not finished it `cancelGrace` later, the worker is presumed hung and killed.
///
/// Calls made while the module is not serving (starting, restarting, failed, stopped) get
/// UNAVAILABLE immediately: nothing is queued.
public final class WorkerSupervisor: Sendable {
  /// Where the module is in its life.
  public enum State: Sendable, Equatable {
    /// The first worker is loading the plugin.
    case starting
    /// A worker has loaded the plugin and answers calls.
    case serving
    /// The worker died (`reason`); restart `attempt` is scheduled or running.
    case restarting(attempt: Int, reason: String)
    /// The module cannot run: the plugin was refused or its init failed (not retried: an admin
    /// must fix the deployment or the file and reload).
    case failed(reason: String)
    /// `stop()` was called.
    case stopped
  }

  /// Delays between restarts: `initial`, doubling up to `maximum`; a worker that served for
  /// `resetAfter` before dying restarts after `initial` again.
  public struct Backoff: Sendable, Equatable {
    /// The first delay.
    public var initial: Duration
    /// The longest delay.
    public var maximum: Duration
    /// Serving this long resets the sequence.
    public var resetAfter: Duration

    /// Creates a backoff.
    public init(initial: Duration, maximum: Duration, resetAfter: Duration) {
      self.initial = initial
      self.maximum = maximum
      self.resetAfter = resetAfter
    }

    /// 100 ms doubling to 10 s, reset after 30 s of service.
    public static let `default` = Backoff(initial: .milliseconds(100), maximum: .seconds(10), resetAfter: .seconds(30))

    /// The delay before restart `attempt` (1-based).
    public func delay(attempt: Int) -> Duration {
      var delay = initial
      for _ in 1..<max(attempt, 1) {
        delay *= 2
        if delay >= maximum { return maximum }
      }
      return min(delay, maximum)
    }
  }

  /// The module's name (the deployment key).
  public let name: String
  private let libraryPath: String
  private let expectedSHA256: String?
  private let configJSON: String
  private let dataDirectory: String
  /// What the worker may reach (applied by the worker before the plugin loads).
  private let confinement: WorkerConfinement
  private let workerExecutable: String
  private let memoryLimitMB: Int?
  private let workerUser: WorkerUser?
  private let backoff: Backoff
  private let cancelGrace: Duration
  private let startTimeout: Duration
  private let liveness: Liveness
  private let logger: Logger
  private let onStateChange: @Sendable (State) -> Void
  private let shared = Mutex(Shared())

  private struct Shared {
    var state: State = .stopped
    var connection: WorkerConnection?
    var hello: WorkerHello?
    var restartCount = 0
    var attempt = 0
    var servingSince: ContinuousClock.Instant?
    var stopping = false
    /// The restart in progress after a death: `stop()` cancels it and waits for it, so no
    /// restart outlives the module.
    var restart: (id: Int, task: Task<Void, Never>)?
  }

  /// How often a serving worker is pinged, and how long it has to answer before it is presumed
  /// stopped or hung and killed (then restarted, as after a crash).
  public struct Liveness: Sendable, Equatable {
    /// Between two pings.
    public var interval: Duration
    /// The longest wait for an answer.
    public var timeout: Duration

    /// Creates a liveness setting.
    public init(interval: Duration, timeout: Duration) {
      self.interval = interval
      self.timeout = timeout
    }

    /// A ping a second, 3 s to answer: a stopped worker is NOT_SERVING within about 4 s.
    public static let `default` = Liveness(interval: .seconds(1), timeout: .seconds(3))
  }

  /// How long a new worker has by default to load its plugin and say hello.
  public static let defaultStartTimeout: Duration = .seconds(30)
  /// How long a worker has by default to finish a call after its deadline.
  public static let defaultCancelGrace: Duration = .seconds(2)

  /// Creates the module; nothing runs until `start()`.
  /// - Parameters:
  ///   - expectedSHA256: the deployment's pin, checked by the worker's loader before `dlopen`.
  ///     After the first start the worker is pinned to the digest it reported, so that a
  ///     restart never silently loads a different file.
  ///   - workerExecutable: the `carbonhub` executable (the host's own).
  ///   - memoryLimitMB: the worker's address-space limit (RLIMIT_AS), set before the plugin
  ///     loads. Address space, not resident memory: leave room for the runtime's mappings.
  ///   - cancelGrace: how long a worker may take to finish a call after its deadline before it
  ///     is presumed hung and killed.
  ///   - workerUser: the unprivileged user the worker switches to before the plugin loads
  ///     (the host must run as root); nil: the host's user.
  ///   - liveness: how a serving worker is pinged when idle as well as busy.
  ///   - onStateChange: called on every state change, in order, outside any lock.
  public init(
    name: String, libraryPath: String, expectedSHA256: String?, configJSON: String, dataDirectory: String,
    workerExecutable: String, memoryLimitMB: Int?, workerUser: WorkerUser? = nil, confinement: WorkerConfinement = .init(),
    backoff: Backoff = .default,
    cancelGrace: Duration = defaultCancelGrace, startTimeout: Duration = defaultStartTimeout, liveness: Liveness = .default,
    logger: Logger,
    onStateChange: @escaping @Sendable (State) -> Void = { _ in }
  ) {
    self.liveness = liveness
    self.name = name
    self.libraryPath = libraryPath
    self.expectedSHA256 = expectedSHA256
    self.configJSON = configJSON
    self.dataDirectory = dataDirectory
    self.workerExecutable = workerExecutable
    self.memoryLimitMB = memoryLimitMB
    self.workerUser = workerUser
    self.confinement = confinement
    self.backoff = backoff
    self.cancelGrace = cancelGrace
    self.startTimeout = startTimeout
    self.logger = logger
    self.onStateChange = onStateChange
  }

  /// The current state.
  public var state: State { shared.withLock { $0.state } }

  /// What the worker reported when the plugin loaded (name, version, methods, descriptor set);
  /// nil before the first successful start.
  public var hello: WorkerHello? { shared.withLock { $0.hello } }

  /// The plugin's methods, from the worker's hello (empty before the first start).
  public var methods: [PluginMethod] { hello?.methods ?? [] }

  /// How many times a worker died and was replaced.
  public var restartCount: Int { shared.withLock { $0.restartCount } }

  /// The serving worker's process id (nil when not serving).
  public var workerProcessID: Int32? {
    shared.withLock { $0.state == .serving ? $0.connection?.processID : nil }
  }

  /// Starts the first worker and returns once it has loaded the plugin, or throws the
  /// loader's error exactly as the worker's loader raised it (or `.workerFailed` when the
  /// worker could not start or died first). The state is then `.serving` or `.failed`.
  public func start() async throws(PluginLoadError) {
    setState(.starting)
    do {
      try await launch()
    } catch {
      setState(.failed(reason: error.description))
      throw error
    }
  }

  /// Runs a unary call in the worker. UNAVAILABLE at once when not serving or when the worker
  /// dies during the call, DEADLINE_EXCEEDED at once when `deadline` passes.
  public func unary(_ path: String, _ request: [UInt8], encoding: WireEncoding, deadline: ContinuousClock.Instant?) async
    -> Result<[UInt8], PluginCallError>
  {
    await unary(path, request, encoding: encoding, deadline: deadline, cancellation: nil)
  }

  /// `unary`, also ended (CANCELLED) when `cancellation` fires: the host's calls, whose caller
  /// may leave without the handling task being cancelled.
  func unary(
    _ path: String, _ request: [UInt8], encoding: WireEncoding, deadline: ContinuousClock.Instant?,
    cancellation: CallCancellation?
  ) async -> Result<[UInt8], PluginCallError> {
    switch servingConnection() {
    case .success(let connection):
      return await connection.unary(path, request, encoding: encoding, deadline: deadline, cancellation: cancellation)
    case .failure(let error): return .failure(error)
    }
  }

  /// Runs a server-streaming call in the worker. The stream's errors are `PluginCallError`s
  /// (same rules as `unary`). At most `buffer`'s messages and bytes travel ahead of the
  /// consumer (charged to its memory budget while they wait in the host); when the consumer
  /// stops iterating, the worker is told to stop the call.
  public func streaming(
    _ path: String, _ request: [UInt8], encoding: WireEncoding, deadline: ContinuousClock.Instant?,
    buffer: StreamBuffer = StreamBuffer()
  ) -> AsyncThrowingStream<[UInt8], any Error> {
    streamingCall(path, request, encoding: encoding, deadline: deadline, buffer: buffer).messages
  }

  /// `streaming`, with a handle to stop the call before its messages are released.
  public func streamingCall(
    _ path: String, _ request: [UInt8], encoding: WireEncoding, deadline: ContinuousClock.Instant?,
    buffer: StreamBuffer = StreamBuffer()
  ) -> IsolatedStreamingCall {
    switch servingConnection() {
    case .success(let connection):
      return connection.streaming(path, request, encoding: encoding, deadline: deadline, buffer: buffer)
    case .failure(let error): return .refused(error)
    }
  }

  /// Starts a bidirectional call in the worker: its requests come from `requests`, its
  /// responses are the returned call's messages (same rules as `streamingCall`).
  func bidiCall(
    _ path: String, requests: RequestPipe, encoding: WireEncoding, deadline: ContinuousClock.Instant?,
    buffer: StreamBuffer = StreamBuffer()
  ) -> IsolatedStreamingCall {
    switch servingConnection() {
    case .success(let connection):
      return connection.bidi(path, requests: requests, encoding: encoding, deadline: deadline, buffer: buffer)
    case .failure(let error):
      requests.cancel()
      return .refused(error)
    }
  }

  /// Calls the current worker holds.
  public var callsInFlight: Int { shared.withLock { $0.connection }?.callsInFlight ?? 0 }

  /// Stops once the worker's calls have finished, or after `grace` (the rest then get
  /// UNAVAILABLE). Used when a reload or a disable retires this module: its calls in flight
  /// finish on it, as they would in process.
  public func stop(draining grace: Duration) async {
    if let connection = shared.withLock({ $0.connection }) {
      // The first of: the last call ends, the grace runs out.
      await withTaskGroup(of: Void.self) { group in
        group.addTask { await connection.idle() }
        group.addTask { try? await Task.sleep(for: grace) }
        await group.next()
        group.cancelAll()
      }
    }
    await stop()
  }

  /// Stops the worker (in-flight calls get UNAVAILABLE) and any pending restart, and waits
  /// until the worker process has exited.
  public func stop() async {
    let (connection, restart) = shared.withLock { shared in
      shared.stopping = true
      defer { (shared.connection, shared.restart) = (nil, nil) }
      return (shared.connection, shared.restart?.task)
    }
    setState(.stopped)
    // Cancelled, a restart's backoff sleep ends at once and it sees `stopping`; a worker it
    // is starting is closed below or refused by `launch`.
    restart?.cancel()
    await connection?.close()
    await restart?.value
  }

  // MARK: - Internals

  private func servingConnection() -> Result<WorkerConnection, PluginCallError> {
    shared.withLock { shared in
      if case .serving = shared.state, let connection = shared.connection { return .success(connection) }
      let why: String
      switch shared.state {
      case .serving, .starting: why = "is starting"
      case .restarting(_, let reason): why = "is restarting (its worker process \(reason))"
      case .failed(let reason): why = "failed: \(reason)"
      case .stopped: why = "is stopped"
      }
      return .failure(PluginCallError(status: .unavailable, message: "module \(name) \(why); retry later", field: nil))
    }
  }

  private func setState(_ state: State) {
    shared.withLock { $0.state = state }
    onStateChange(state)
  }

  /// Starts a worker and waits for its hello; on success it becomes the serving connection.
  private func launch() async throws(PluginLoadError) {
    var arguments = ["worker", "--socket-fd", "3", "--plugin", libraryPath, "--data-dir", dataDirectory]
    if let memoryLimitMB { arguments += ["--memory-limit-mb", String(memoryLimitMB)] }
    arguments += confinement.arguments
    if let workerUser {
      // The worker switches itself (posix_spawn cannot); its data directory becomes its own.
      guard geteuid() == 0 else {
        throw .workerFailed(module: name, reason: "worker_user \"\(workerUser.name)\" needs the host to start as root, to switch users")
      }
      guard chown(dataDirectory, workerUser.uid, workerUser.gid) == 0 else {
        throw .workerFailed(module: name, reason: "cannot give its data directory \(dataDirectory) to \(workerUser.name): \(String(cString: strerror(errno)))")
      }
      arguments += ["--uid", String(workerUser.uid), "--gid", String(workerUser.gid)]
    }
    if let pin = shared.withLock({ $0.hello?.sha256 }) ?? expectedSHA256 { arguments += ["--sha256", pin] }
    let connection = try WorkerConnection(
      module: name, executable: workerExecutable, arguments: arguments, configJSON: configJSON,
      cancelGrace: cancelGrace, memoryLimitMB: memoryLimitMB,
      // Tagged (message "worker output", the module) and escaped (WorkerOutputLine): never a
      // line of its own in the host's log.
      onOutput: { [logger, name] line in logger.warning("worker output", metadata: ["module": "\(name)", "line": "\(line)"]) }
    ) { [weak self] connection, cause in self?.workerDied(connection, cause) }
    let registered = shared.withLock { shared in
      guard !shared.stopping else { return false }
      shared.connection = connection
      return true
    }
    guard registered else {
      await connection.close()
      throw .workerFailed(module: name, reason: "the module was stopped while its worker started")
    }
    let hello: WorkerHello
    switch await connection.hello(timeout: startTimeout) {
    case .success(let value): hello = value
    case .failure(let error):
      await connection.close()
      throw error
    }
    let moduleName = DeploymentConfig.ModuleEntry.moduleName(ofKey: name)
    guard hello.name == moduleName || hello.name.isEmpty else {
      await connection.close()
      throw .workerFailed(module: name, reason: "the deployment calls this module '\(moduleName)' but the plugin declares '\(hello.name)'")
    }
    let serving = shared.withLock { shared in
      guard !shared.stopping, shared.connection === connection, connection.death == nil else { return false }
      shared.hello = hello
      shared.servingSince = .now
      shared.state = .serving
      return true
    }
    guard serving else {
      // Stopped meanwhile, or the worker died right after its hello: the caller decides.
      let cause = connection.death ?? "was stopped"
      await connection.close()
      throw .workerFailed(module: name, reason: "the worker process \(cause) right after it was ready")
    }
    connection.keepAlive(interval: liveness.interval, timeout: liveness.timeout)
    onStateChange(.serving)
    logger.info(
      "isolated module serving",
      metadata: [
        "module": "\(name)", "pid": "\(connection.processID)", "version": "\(hello.version)", "sha256": "\(hello.sha256)",
        "confinement": "\(hello.confinement)",
      ])
    if confinement.mode == .bestEffort, !(hello.confinement.contains("files") && hello.confinement.contains("seccomp")) {
      logger.warning(
        "isolated module only partly confined: this kernel lacks Landlock or refused the seccomp filter (confinement = \"required\" would refuse it)",
        metadata: ["module": "\(name)", "confinement": "\(hello.confinement)"])
    }
  }

  /// Called on the connection's reader thread once its worker is gone and its calls failed.
  private func workerDied(_ connection: WorkerConnection, _ cause: String) {
    let attempt: Int? = shared.withLock { shared in
      guard shared.connection === connection, !shared.stopping, case .serving = shared.state else { return nil }
      if let since = shared.servingSince, ContinuousClock.now - since >= backoff.resetAfter { shared.attempt = 0 }
      shared.attempt += 1
      shared.restartCount += 1
      shared.state = .restarting(attempt: shared.attempt, reason: cause)
      return shared.attempt
    }
    guard let attempt else { return }
    logger.error("isolated module's worker died; restarting", metadata: ["module": "\(name)", "cause": "\(cause)", "attempt": "\(attempt)"])
    onStateChange(.restarting(attempt: attempt, reason: cause))
    shared.withLock { shared in
      // Under the lock `stop()` takes: a stop either comes first (no restart) or finds this
      // task to cancel and await. A death is seen only while serving, so none is running.
      guard !shared.stopping else { return }
      let id = shared.restartCount
      shared.restart = (id, Task { [weak self] in
        await self?.restart(attempt: attempt, reason: cause)
        // Unless a later death has already started the next restart.
        self?.shared.withLock { if $0.restart?.id == id { $0.restart = nil } }
      })
    }
  }

  /// Restarts with backoff until a worker serves, the module is stopped, or the plugin is
  /// refused for good (its load error does not go away by retrying).
  private func restart(attempt first: Int, reason: String) async {
    var attempt = first
    while true {
      try? await Task.sleep(for: backoff.delay(attempt: attempt))
      if Task.isCancelled || shared.withLock({ $0.stopping }) { return }
      do {
        try await launch()
        return
      } catch {
        if shared.withLock({ $0.stopping }) { return }
        switch error {
        case .workerFailed, .initFailed:
          attempt = shared.withLock { shared in
            shared.attempt += 1
            shared.state = .restarting(attempt: shared.attempt, reason: error.description)
            return shared.attempt
          }
          logger.error("isolated module's worker failed to restart", metadata: ["module": "\(name)", "error": "\(error)", "attempt": "\(attempt)"])
          onStateChange(.restarting(attempt: attempt, reason: error.description))
        default:
          logger.error("isolated module failed", metadata: ["module": "\(name)", "error": "\(error)"])
          setState(.failed(reason: error.description))
          return
        }
      }
    }
  }
}
