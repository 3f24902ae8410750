import CarbonHost
import CarbonHostProtocol
import Foundation
import GRPCCore
import Logging
import Synchronization
import Testing

/// Where the tests find the built plugins. `scripts/test.sh` builds them and sets the
/// variables; the defaults match its layout.
enum TestEnvironment {
  static let repositoryRoot: String = {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().path
  }()

  /// The Swift build's bin directory: Swift plugins and the C example plugin.
  static var pluginDirectory: String {
    ProcessInfo.processInfo.environment["CARBONHUB_PLUGIN_DIR"] ?? repositoryRoot + "/.build/debug"
  }

  /// The deliberately broken test plugins.
  static var fixtureDirectory: String {
    ProcessInfo.processInfo.environment["CARBONHUB_FIXTURE_DIR"] ?? repositoryRoot + "/.build/test-fixtures"
  }

  /// Every plugin the repository builds, with the folder of its sample requests: the list
  /// `scripts/plugins.sh` prints from Package.swift's dynamic-library products and the C plugin
  /// script (the one the soak and the fuzz campaign read), which scripts/test.sh writes to
  /// `plugins.tsv` in the plugin directory after the build. (Not run from here: `swift package`
  /// would wait for the build-directory lock that `swift test` holds.) Empty when the file is
  /// missing, which the conformance test reports.
  static let repositoryPlugins: [(file: String, examples: String)] = {
    guard let text = try? String(contentsOfFile: pluginDirectory + "/plugins.tsv", encoding: .utf8) else { return [] }
    return text.split(separator: "\n").compactMap { line in
      let columns = line.split(separator: "\t").map(String.init)
      return columns.count == 3 ? (file: columns[1], examples: columns[2]) : nil
    }
  }()

  /// The path of a built plugin; fails the test with the command to run when it is missing.
  static func plugin(_ file: String, in directory: String = pluginDirectory) throws -> String {
    let path = directory + "/" + file
    try #require(
      FileManager.default.fileExists(atPath: path),
      "\(path) is missing: run the tests with scripts/test.sh, which builds every plugin")
    return path
  }

  /// Copies a built plugin and its manifest (a deployment requires one of every plugin it does
  /// not pin) into `directory`; returns the copy's path.
  @discardableResult
  static func copyPlugin(_ file: String, from source: String = pluginDirectory, to directory: String, as name: String? = nil) throws -> String {
    let target = directory + "/" + (name ?? file)
    try FileManager.default.copyItem(atPath: try plugin(file, in: source), toPath: target)
    let manifest = source + "/" + file + ".manifest.json"
    if FileManager.default.fileExists(atPath: manifest) {
      try FileManager.default.copyItem(atPath: manifest, toPath: target + ".manifest.json")
    }
    return target
  }

  /// A fresh private temporary directory (mode 0755, so plugins copied in it may load).
  static func temporaryDirectory(_ label: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("carbonhub-\(label)-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
    return path
  }

  /// Quiet unless `CARBONHUB_TEST_LOG=1` (then info: loads, calls, worker restarts).
  static let logger: Logger = {
    var logger = Logger(label: "carbonhub-tests")
    logger.logLevel = ProcessInfo.processInfo.environment["CARBONHUB_TEST_LOG"] == "1" ? .info : .critical
    return logger
  }()
}

/// A host serving on an ephemeral loopback port with TLS and a development CA, for one test.
final class RunningHost: Sendable {
  let server: HostServer
  let address: String
  let caFile: String
  private let task: Task<Void, any Error>

  /// Starts a host with these modules (name → library path) and waits until it listens.
  static func start(
    modules: [(String, String)], logger: Logger = TestEnvironment.logger, configure: (inout DeploymentConfig) async throws -> Void = { _ in }
  ) async throws -> RunningHost {
    let state = try TestEnvironment.temporaryDirectory("state")
    var config = DeploymentConfig(pluginDirectory: TestEnvironment.pluginDirectory, stateDirectory: state)
    config.listen = "127.0.0.1:0"
    config.modules = modules.map { DeploymentConfig.ModuleEntry(name: $0.0, path: $0.1) }
    try await configure(&config)
    let server = try await HostServer(config: config, logger: logger)
    let (addresses, continuation) = AsyncStream<String>.makeStream()
    let task = Task {
      try await server.run { continuation.yield($0) }
    }
    var iterator = addresses.makeAsyncIterator()
    guard let address = await iterator.next() else { throw CancellationError() }
    return RunningHost(server: server, address: address, caFile: state + "/tls/ca.pem", task: task)
  }

  /// The usual pair: the Swift example module and the C example module.
  static func startExamples(extra: [(String, String)] = []) async throws -> RunningHost {
    try await start(modules: [
      ("units", try TestEnvironment.plugin("libExampleUnits.so")),
      ("gwp", try TestEnvironment.plugin("libgwp.so")),
    ] + extra)
  }

  private init(server: HostServer, address: String, caFile: String, task: Task<Void, any Error>) {
    self.server = server
    self.address = address
    self.caFile = caFile
    self.task = task
  }

  var port: Int { Int(address.split(separator: ":").last ?? "0") ?? 0 }

  /// Runs `body` with a gRPC client connected over TLS to `server` (default: this host by IP).
  func withClient<Result: Sendable>(
    server: String? = nil, certificate: ClientTransportFactory.ClientCertificate? = nil,
    _ body: @Sendable (GRPCClient<HostClientTransport>) async throws -> Result
  ) async throws -> Result {
    let transport = try ClientTransportFactory.make(server: server ?? address, caFile: caFile, clientCertificate: certificate)
    return try await withGRPCClient(transport: transport) { try await body($0) }
  }

  /// Stops the host and waits for it to finish draining.
  func stop() async throws {
    await server.shutdown()
    try await task.value
  }
}

/// Polls `condition` every 10 ms until it holds (`limit` at most, 20 s unless told); a failure
/// names `what`.
func waitUntil(
  _ what: @autoclosure () -> String = "condition", within limit: Duration = .seconds(20), _ condition: () async -> Bool
) async throws {
  let deadline = ContinuousClock.now + limit
  while !(await condition()) {
    try #require(ContinuousClock.now < deadline, "\(what()) still false after \(limit)")
    try await Task.sleep(for: .milliseconds(10))
  }
}

/// A child process's exit, awaited without holding a thread: a test's `async` code runs on
/// Swift's cooperative pool (two threads on a 2-core machine), which the hosts the suite starts
/// in process need; a blocking `waitUntilExit` there stalls every test running beside it.
final class ProcessExit: Sendable {
  private let state = Mutex<(status: Int32?, waiters: [CheckedContinuation<Int32, Never>])>((nil, []))

  /// Watches `process`: call before `process.run()` (it takes the termination handler).
  init(of process: Process, then onExit: (@Sendable () -> Void)? = nil) {
    process.terminationHandler = { [self] process in
      let waiters = state.withLock { state in
        state.status = process.terminationStatus
        defer { state.waiters = [] }
        return state.waiters
      }
      for waiter in waiters { waiter.resume(returning: process.terminationStatus) }
      onExit?()
    }
  }

  /// True once the process has exited.
  var hasExited: Bool { state.withLock { $0.status != nil } }

  /// The process's exit status, once it has exited.
  func status() async -> Int32 {
    await withCheckedContinuation { continuation in
      let status = state.withLock { state -> Int32? in
        if state.status == nil { state.waiters.append(continuation) }
        return state.status
      }
      if let status { continuation.resume(returning: status) }
    }
  }
}

/// Runs a command with a time limit and returns its exit status and combined output. For
/// synchronous code only; `async` tests use the `async` overload below.
@discardableResult
func runProcess(_ executable: String, _ arguments: [String], input: String? = nil, environment: [String: String]? = nil, timeout: Double = 60) throws -> (status: Int32, output: String) {
  let (process, _, collected, reader) = try startProcess(executable, arguments, input: input, environment: environment)
  let deadline = Date().addingTimeInterval(timeout)
  while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
  if process.isRunning { kill(process.processIdentifier, SIGKILL) }
  process.waitUntilExit()
  // A grandchild may hold the output pipe open after the child is gone: wait for it a little.
  let drained = Date().addingTimeInterval(5)
  while !reader.isFinished && Date() < drained { Thread.sleep(forTimeInterval: 0.01) }
  return (process.terminationStatus, String(decoding: collected.data, as: UTF8.self))
}

/// `runProcess` for async tests: waits for the process without holding a thread. The sync
/// version polls on its caller's thread; from an async test that is one of the few threads of
/// Swift's cooperative pool (two on a 2-core machine), which the hosts these tests start in
/// process need: two tests waiting on a Python client that waits on such a host stalled the
/// whole suite until the client's timeouts.
@discardableResult
func runProcess(
  _ executable: String, _ arguments: [String], input: String? = nil, environment: [String: String]? = nil, timeout: Double = 60
) async throws -> (status: Int32, output: String) {
  let (process, exit, collected, reader) = try startProcess(executable, arguments, input: input, environment: environment)
  let killer = Task {
    try await Task.sleep(for: .seconds(timeout))
    // SIGKILL, not SIGTERM: a child can inherit an ignored SIGTERM (a process that ran a host
    // with its signal handling ignores it), and a child that outlives its time limit is hung.
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
  }
  _ = await exit.status()
  killer.cancel()
  // A grandchild may hold the output pipe open after the child is gone: wait for it a little.
  let drained = ContinuousClock.now + .seconds(5)
  while !reader.isFinished && ContinuousClock.now < drained { try await Task.sleep(for: .milliseconds(5)) }
  return (process.terminationStatus, String(decoding: collected.data, as: UTF8.self))
}

/// Starts `executable` with its output (stdout and stderr together) collected by a thread of
/// its own (a blocking read, never on a cooperative thread) and `input` written to its stdin.
private func startProcess(
  _ executable: String, _ arguments: [String], input: String?, environment: [String: String]?
) throws -> (Process, ProcessExit, OutputBox, Thread) {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: executable)
  process.arguments = arguments
  if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
  let output = Pipe()
  process.standardOutput = output
  process.standardError = output
  let inputPipe = Pipe()
  process.standardInput = inputPipe
  let exit = ProcessExit(of: process)
  try process.run()
  let collected = OutputBox()
  let reader = Thread { collected.data = output.fileHandleForReading.readDataToEndOfFile() }
  reader.start()
  if let input { inputPipe.fileHandleForWriting.write(Data(input.utf8)) }
  try inputPipe.fileHandleForWriting.close()
  return (process, exit, collected, reader)
}

private final class OutputBox: @unchecked Sendable {
  var data = Data()
}
