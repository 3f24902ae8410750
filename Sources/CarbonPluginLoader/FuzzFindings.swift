import CarbonDomain
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Saves the fuzz inputs worth keeping, in the regression corpus layout
/// `<directory>/<module>/<Method>/<kind>-<digest>.<bin|json>`: inputs answered with an
/// undocumented status (`status-<NAME>-`), inputs slower than the slow limit (`slow-`), an input
/// still running after the hang limit (`hang-`: the process then exits with status 3, a hung
/// call cannot be interrupted), and the input of a crash (`crash-`: written from the signal
/// handler before the signal is re-raised).
///
/// One recorder per process: the crash path uses process-wide state.
public final class FuzzFindings: @unchecked Sendable {
  public let directory: String
  public let slowSeconds: Double
  public let hangSeconds: Double
  private let module: String
  private let lock = NSLock()
  private var current: (started: Double, method: String, input: [UInt8], encoding: WireEncoding)?
  private var watchdog: Thread?
  /// Paths of every input saved so far.
  public private(set) var saved: [String] = []

  /// Prepares `directory` and starts the hang watchdog.
  public init(directory: String, module: String, slowSeconds: Double = 1, hangSeconds: Double = 20) {
    self.directory = directory
    self.module = module
    self.slowSeconds = slowSeconds
    self.hangSeconds = hangSeconds
    installCrashHandlers()
    let thread = Thread { [weak self] in
      while let self {
        self.checkForHang()
        Thread.sleep(forTimeInterval: 0.1)
      }
    }
    thread.name = "carbonhub-fuzz-watchdog"
    watchdog = thread
    thread.start()
  }

  /// Marks the start of one call: the input the crash handler and the watchdog will save.
  public func begin(method: PluginMethod, input: [UInt8], encoding: WireEncoding) {
    let path = fileStem(method: method, kind: "crash") + (encoding == .json ? ".json" : ".bin")
    CrashSlot.prepare(path: path, input: input)
    lock.withLock { current = (Self.now(), method.path, input, encoding) }
  }

  /// Marks the end of the call begun last, with its status; keeps the input when the status
  /// is not documented or the call was slow.
  public func end(method: PluginMethod, status: CarbonStatus, acceptable: Set<CarbonStatus>) {
    CrashSlot.clear()
    guard let call = lock.withLock({ () -> (started: Double, method: String, input: [UInt8], encoding: WireEncoding)? in
      defer { current = nil }
      return current
    }) else { return }
    if !acceptable.contains(status) {
      save(method: method, kind: "status-\(status.name)", input: call.input, encoding: call.encoding)
    } else if Self.now() - call.started > slowSeconds {
      save(method: method, kind: "slow", input: call.input, encoding: call.encoding)
    }
  }

  /// Writes one input; same input, same file name (the digest), so reruns do not pile up.
  @discardableResult
  public func save(method: PluginMethod, kind: String, input: [UInt8], encoding: WireEncoding) -> String {
    let path = fileStem(method: method, kind: kind) + "-" + Self.digest(input) + (encoding == .json ? ".json" : ".bin")
    try? FileManager.default.createDirectory(
      atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path, withIntermediateDirectories: true)
    _ = FileManager.default.createFile(atPath: path, contents: Data(input))
    lock.withLock { saved.append(path) }
    return path
  }

  private func fileStem(method: PluginMethod, kind: String) -> String {
    "\(directory)/\(module)/\(method.name)/\(kind)"
  }

  private func checkForHang() {
    guard let call = lock.withLock({ current }), Self.now() - call.started > hangSeconds else { return }
    let method = PluginMethod(path: call.method, isServerStreaming: false)
    let path = save(method: method, kind: "hang", input: call.input, encoding: call.encoding)
    FileHandle.standardError.write(Data("fuzz: \(call.method) still running after \(hangSeconds) s; input saved to \(path)\n".utf8))
    exit(3)
  }

  private static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

  /// A stable short name for an input.
  static func digest(_ bytes: [UInt8]) -> String { String(fnv1a(bytes), radix: 16) }

  private func installCrashHandlers() {
    for signal in [SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGABRT, SIGFPE] {
      var action = sigaction()
      action.__sigaction_handler.sa_handler = crashHandler
      sigaction(signal, &action, nil)
    }
  }
}

/// FNV-1a, 64 bits: stable across processes and runs.
func fnv1a(_ bytes: some Sequence<UInt8>) -> UInt64 {
  var hash: UInt64 = 0xcbf2_9ce4_8422_2325
  for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
  return hash
}

/// The input of the call in progress, in memory the signal handler can write without
/// allocating (write(2) is async-signal-safe; Swift strings and arrays are not).
private enum CrashSlot {
  nonisolated(unsafe) static var path = UnsafeMutablePointer<CChar>.allocate(capacity: 4096)
  nonisolated(unsafe) static var buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: 1 << 16)
  nonisolated(unsafe) static var capacity = 1 << 16
  nonisolated(unsafe) static var length = 0
  nonisolated(unsafe) static var armed = false

  static func prepare(path text: String, input: [UInt8]) {
    armed = false
    try? FileManager.default.createDirectory(
      atPath: URL(fileURLWithPath: text).deletingLastPathComponent().path, withIntermediateDirectories: true)
    let utf8 = Array(text.utf8.prefix(4095))
    utf8.withUnsafeBufferPointer { source in
      source.withMemoryRebound(to: CChar.self) { path.update(from: $0.baseAddress!, count: $0.count) }
    }
    path[utf8.count] = 0
    if input.count > capacity {
      buffer.deallocate()
      capacity = input.count
      buffer = .allocate(capacity: capacity)
    }
    input.withUnsafeBufferPointer { if let base = $0.baseAddress { buffer.update(from: base, count: input.count) } }
    length = input.count
    armed = true
  }

  static func clear() { armed = false }
}

private let crashHandler: @convention(c) (Int32) -> Void = { signal in
  if CrashSlot.armed {
    let fd = open(CrashSlot.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    if fd >= 0 {
      _ = write(fd, CrashSlot.buffer, CrashSlot.length)
      close(fd)
    }
    let note = "fuzz: crashed; the input is saved as crash-*.bin/json in the findings directory\n"
    _ = note.withCString { write(2, $0, strlen($0)) }
  }
  // The default action (core dump, exit status 128 + signal) as if we had never been here.
  var action = sigaction()
  action.__sigaction_handler.sa_handler = SIG_DFL
  sigaction(signal, &action, nil)
  raise(signal)
}
