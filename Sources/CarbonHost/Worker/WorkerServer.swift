import CarbonPluginLoader
import Foundation
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// The worker side of isolated mode: what `carbonhub worker` runs. It loads one plugin with the
/// same loader (and the same checks) as the host, then serves the host's calls on a Unix socket
/// until the host closes it, and exits. See `WorkerSupervisor` for the host side and
/// `WorkerFrame` for the protocol.
public enum WorkerServer {
  /// How the host started this worker.
  public struct Options: Sendable {
    /// The connected socket inherited from the host.
    public var socketDescriptor: Int32
    /// The plugin library.
    public var pluginPath: String
    /// The SHA-256 the deployment pins for it, if any.
    public var expectedSHA256: String?
    /// The module's private data directory.
    public var dataDirectory: String
    /// Address-space limit in MiB (RLIMIT_AS), if any.
    public var memoryLimitMB: Int?
    /// The user and group to switch to before the plugin loads (`worker_user`), if any.
    public var user: (uid: uid_t, gid: gid_t)?
    /// What the worker may reach once confined (before the plugin loads).
    public var confinement: WorkerConfinement

    /// Creates options.
    public init(
      socketDescriptor: Int32, pluginPath: String, expectedSHA256: String?, dataDirectory: String, memoryLimitMB: Int?,
      user: (uid: uid_t, gid: gid_t)? = nil, confinement: WorkerConfinement = .init()
    ) {
      self.socketDescriptor = socketDescriptor
      self.pluginPath = pluginPath
      self.expectedSHA256 = expectedSHA256
      self.dataDirectory = dataDirectory
      self.memoryLimitMB = memoryLimitMB
      self.user = user
      self.confinement = confinement
    }
  }

  /// Exit status when the memory limit cannot be set.
  public static let exitRlimitFailed: Int32 = 71
  /// Exit status after a `loadFailed` frame.
  public static let exitLoadFailed: Int32 = 3

  /// `prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)`. Swift does not import the variadic `prctl`, hence
  /// the lookup (as for `posix_spawn_file_actions_addclosefrom_np`); its integer arguments pass
  /// the same way through a fixed signature on Linux's ABIs.
  static func setNoNewPrivileges() -> Int32 {
    guard let symbol = dlsym(nil, "prctl") else {
      errno = ENOSYS
      return -1
    }
    typealias Prctl = @convention(c) (Int32, UInt, UInt, UInt, UInt) -> Int32
    let prSetNoNewPrivs: Int32 = 38  // <linux/prctl.h>
    return unsafeBitCast(symbol, to: Prctl.self)(prSetNoNewPrivs, 1, 0, 0, 0)
  }

  /// Serves until the host closes the socket; never returns.
  public static func run(_ options: Options) -> Never {
    // No plugin code may gain privileges through exec (setuid binaries, file capabilities):
    // set before dlopen and inherited by anything the plugin starts. Cannot be undone.
    if setNoNewPrivileges() != 0 {
      FileHandle.standardError.write(Data("carbonhub worker: prctl(PR_SET_NO_NEW_PRIVS) failed: \(String(cString: strerror(errno)))\n".utf8))
      exit(exitRlimitFailed)
    }
    // The limit is set before any plugin code runs (dlopen runs its constructors), so that the
    // plugin never sees more address space than the admin granted.
    if let megabytes = options.memoryLimitMB {
      var limit = rlimit(rlim_cur: rlim_t(megabytes) << 20, rlim_max: rlim_t(megabytes) << 20)
      if setrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &limit) != 0 {
        FileHandle.standardError.write(Data("carbonhub worker: setrlimit(RLIMIT_AS, \(megabytes) MiB) failed: \(String(cString: strerror(errno)))\n".utf8))
        exit(exitRlimitFailed)
      }
    }
    // The deployment's `worker_user`: drop every privilege of the host's root before any plugin
    // code runs (supplementary groups first, then the group, then the user, as setuid(2) asks).
    if let user = options.user {
      guard setgroups(0, nil) == 0, setgid(user.gid) == 0, setuid(user.uid) == 0, getuid() == user.uid, geteuid() == user.uid
      else {
        FileHandle.standardError.write(Data("carbonhub worker: cannot switch to uid \(user.uid) gid \(user.gid): \(String(cString: strerror(errno)))\n".utf8))
        exit(exitRlimitFailed)
      }
    }
    // Confined last (Landlock needs the final user; the data directory must exist), before any
    // plugin code runs. A failure is reported to the host in answer to its start frame.
    let confinement: Result<WorkerConfinement.Report, WorkerConfinement.Failure>
    do {
      try FileManager.default.createDirectory(atPath: options.dataDirectory, withIntermediateDirectories: true)
      confinement = .success(try options.confinement.apply(pluginPath: options.pluginPath, dataDirectory: options.dataDirectory))
    } catch let failure as WorkerConfinement.Failure {
      confinement = .failure(failure)
    } catch {
      confinement = .failure(.init(description: "cannot create the data directory \(options.dataDirectory): \(error)"))
    }
    let connection = WorkerConnectionServer(
      socket: WorkerSocket(descriptor: options.socketDescriptor), options: options, confinement: confinement)
    let stopped = connection.socket.readFrames(connection.handle)
    if let stopped { FileHandle.standardError.write(Data("carbonhub worker: \(stopped)\n".utf8)) }
    // The host is gone (or closed the socket to stop this worker): in-flight calls have no one
    // to answer to. _exit skips atexit handlers and static destructors, which could run while
    // plugin calls are still executing on other threads.
    _exit(0)
  }
}

/// The worker's state for one connection: the plugin instance and its running streams.
private final class WorkerConnectionServer: @unchecked Sendable {
  let socket: WorkerSocket
  let options: WorkerServer.Options
  // Written once by the reader thread (on `start`) before any call is dispatched.
  private var instance: PluginInstance?
  private let sendLock = Mutex(())
  private let streams = Mutex<[UInt64: WorkerStream]>([:])
  /// The unary calls running, so that the host's `cancel` reaches them (`call_cancellable`).
  private let unaryCalls = Mutex<[UInt64: CancellationFlag]>([:])
  private let threads = CallThreads.shared
  private let confinement: Result<WorkerConfinement.Report, WorkerConfinement.Failure>

  init(socket: WorkerSocket, options: WorkerServer.Options, confinement: Result<WorkerConfinement.Report, WorkerConfinement.Failure>) {
    self.socket = socket
    self.options = options
    self.confinement = confinement
  }

  /// Sends a frame; exits if the host is gone.
  func send(_ frame: WorkerFrame) {
    let bytes = frame.encoded()
    let sent = sendLock.withLock { _ in socket.send(bytes) }
    if !sent { _exit(0) }
  }

  func handle(_ frame: WorkerFrame) {
    switch frame {
    case .start(let configJSON): load(configJSON: configJSON)
    case .call(let call): dispatch(call)
    case .cancel(let id):
      streams.withLock { $0[id] }?.cancel()
      unaryCalls.withLock { $0[id] }?.cancel()
    case .credit(let id, let count, let bytes): streams.withLock { $0[id] }?.grant(count, bytes: bytes)
    case .requestItem(let id, let bytes): streams.withLock { $0[id] }?.requests?.deliver(bytes)
    case .requestEnd(let id): streams.withLock { $0[id] }?.requests?.finish()
    case .ping(let id): send(.pong(id: id))
    case .hello, .loadFailed, .response, .streamItem, .streamEnd, .requestCredit, .pong:
      FileHandle.standardError.write(Data("carbonhub worker: unexpected frame from the host\n".utf8))
      _exit(WorkerServer.exitLoadFailed)
    }
  }

  private func load(configJSON: String) {
    let report: WorkerConfinement.Report
    switch confinement {
    case .success(let applied): report = applied
    case .failure(let failure):
      send(.loadFailed(.workerFailed(module: options.pluginPath, reason: "cannot confine the worker: \(failure)")))
      _exit(WorkerServer.exitLoadFailed)
    }
    do throws(PluginLoadError) {
      let library = try PluginLibrary(path: options.pluginPath, expectedSHA256: options.expectedSHA256)
      instance = try library.makeInstance(configJSON: configJSON, dataDirectory: options.dataDirectory)
      send(
        .hello(
          WorkerHello(
            name: library.name, version: library.version, summary: library.summary, abiVersion: library.abiVersion,
            sha256: library.sha256, methods: library.methods, descriptorSet: library.descriptorSet, processID: getpid(),
            confinement: report.description)))
    } catch {
      send(.loadFailed(error))
      _exit(WorkerServer.exitLoadFailed)
    }
  }

  private func dispatch(_ call: WorkerCall) {
    guard let instance else {
      return send(.response(id: call.id, outcome: .failure(PluginCallError(status: .unavailable, message: "worker not started", field: nil))))
    }
    guard call.isStreaming else {
      let cancellation = CancellationFlag()
      unaryCalls.withLock { $0[call.id] = cancellation }
      threads.run { [self] in
        let outcome = Result { () throws(PluginCallError) in
          try instance.call(call.path, request: call.request, encoding: call.encoding, cancellation: cancellation)
        }
        unaryCalls.withLock { $0[call.id] = nil }
        send(.response(id: call.id, outcome: outcome))
      }
      return
    }
    // A stream blocks its thread while it waits for credit: a thread of its own, as in process.
    let stream = WorkerStream(
      window: StreamBuffer(messages: Int(call.window), bytes: Int(call.windowBytes)), deadlineMilliseconds: call.deadlineMilliseconds,
      requests: call.isBidi ? RequestPipe(capacity: Int(max(call.window, 1))) : nil)
    streams.withLock { $0[call.id] = stream }
    threads.run { [self] in
      var failure: PluginCallError?
      let emit: ([UInt8]) -> Bool = { [self] message in
        guard stream.waitForCredit(message.count) else { return false }
        send(.streamItem(id: call.id, bytes: message))
        return true
      }
      do throws(PluginCallError) {
        if let requests = stream.requests {
          try instance.callBidi(
            call.path, encoding: call.encoding,
            receive: { [self] in
              let pulled = requests.pull()
              if case .message = pulled { send(.requestCredit(id: call.id, count: 1)) }
              return pulled
            }, onMessage: emit)
        } else {
          try instance.callStreaming(call.path, request: call.request, encoding: call.encoding, onMessage: emit)
        }
      } catch {
        failure = error
      }
      streams.withLock { $0[call.id] = nil }
      send(.streamEnd(id: call.id, error: failure))
    }
  }
}

/// Flow control of one stream in the worker: the window the host granted (messages and
/// bytes, the same `ResponseWindow` that paces an in-process stream), cancellation.
private final class WorkerStream: Sendable {
  private let window: ResponseWindow
  private let deadline: ContinuousClock.Instant?
  /// A bidirectional call's requests, as the host sends them (it never sends more than the
  /// window ahead of the plugin's pulls).
  let requests: RequestPipe?

  init(window: StreamBuffer, deadlineMilliseconds: UInt32, requests: RequestPipe? = nil) {
    deadline = deadlineMilliseconds == 0 ? nil : .now + .milliseconds(Int(deadlineMilliseconds))
    self.requests = requests
    self.window = ResponseWindow(window)
  }

  /// The host took `count` messages of `bytes` in all: their room is free again.
  func grant(_ count: UInt32, bytes: UInt32) { window.release(Int(bytes), messages: Int(count)) }

  func cancel() {
    window.cancel()
    requests?.cancel()
  }

  /// Blocks until the window has room for a message of `bytes`; false when the stream must
  /// stop (cancelled, or its deadline passed: the plugin then returns CANCELLED).
  func waitForCredit(_ bytes: Int) -> Bool {
    guard window.acquire(bytes) else { return false }
    if let deadline, ContinuousClock.now >= deadline { return false }
    return true
  }
}
