import CWorkerSandbox
import CarbonPluginLoader
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// What an isolated module's worker may reach, applied by the worker to itself before the
/// plugin loads (`carbonhub worker`), with Landlock and a seccomp filter (`CWorkerSandbox`):
///
/// - **files**: read (and execute) only the system's libraries and the few files a process
///   needs (`systemReadPaths`), the directories of the libraries already loaded (the Swift
///   runtime wherever the toolchain is), the plugin and its manifest, the SwiftPM resource
///   bundles beside the executable and the plugin (ALDO's territory tables), and `readPaths`; read and
///   write only the module's data directory (also its `TMPDIR`) and `/dev/null`. The host's
///   state directory, TLS key, deployment file and other modules' data are out of reach.
/// - **network**: no TCP connection or listening socket, except connections to `connectPorts`;
///   without such ports, no socket other than a Unix one at all (seccomp), so no UDP either.
/// - **other processes**: no signals to, ptrace of, or abstract Unix sockets of processes outside
///   the worker (Landlock scoping; ptrace also by seccomp); no io_uring (it bypasses seccomp).
///
/// Landlock appeared in Linux 5.13 (TCP rules in 6.7, scoping in 6.12); `mode` says what to do
/// on a kernel that lacks it.
public struct WorkerConfinement: Sendable, Equatable {
  /// What to do when the kernel cannot confine the worker.
  public enum Mode: String, Sendable, Equatable, CaseIterable {
    /// Refuse to start the worker (the module fails, naming what is missing).
    case required
    /// Confine as far as the kernel allows; the host logs what is applied (default).
    case bestEffort = "best-effort"
    /// No confinement (a module that needs what the rules forbid, while you write its rules).
    case off
  }

  /// The deployment's choice (`confinement`).
  public var mode: Mode
  /// TCP ports the worker may connect to (`connect_ports`), e.g. PostgreSQL's 5432.
  public var connectPorts: [UInt16]
  /// More files or directories the worker may read (`read_paths`).
  public var readPaths: [String]

  /// A confinement setting.
  public init(mode: Mode = .bestEffort, connectPorts: [UInt16] = [], readPaths: [String] = []) {
    self.mode = mode
    self.connectPorts = connectPorts
    self.readPaths = readPaths
  }

  /// Read-only paths every worker gets: libraries, time zones, name resolution and user
  /// database files, random devices, and `/proc` and `/sys` (another process's `/proc`
  /// entries stay protected by the ptrace checks Landlock adds).
  public static let systemReadPaths = [
    "/usr", "/lib", "/lib64", "/lib32", "/etc/ld.so.cache", "/etc/localtime", "/etc/passwd", "/etc/group",
    "/etc/nsswitch.conf", "/etc/hosts", "/etc/host.conf", "/etc/resolv.conf", "/etc/gai.conf", "/etc/services",
    "/etc/ssl/certs", "/etc/ssl/openssl.cnf", "/dev/urandom", "/dev/random", "/proc", "/sys",
  ]

  /// The worker's command-line arguments for this setting.
  var arguments: [String] {
    ["--confinement", mode.rawValue] + connectPorts.flatMap { ["--connect-port", String($0)] }
      + readPaths.flatMap { ["--read-path", $0] }
  }

  /// What was applied, for the host's log and `carbonhub modules` ("landlock 7: files, tcp,
  /// scope; seccomp").
  public struct Report: Sendable, Equatable, CustomStringConvertible {
    /// The kernel's Landlock ABI version (0: none).
    public var landlockABI: Int
    /// Files limited to the rules.
    public var files: Bool
    /// TCP limited to `connectPorts`.
    public var tcp: Bool
    /// Signals and abstract sockets limited to the worker.
    public var scope: Bool
    /// The seccomp filter is installed.
    public var seccomp: Bool

    /// "off" when nothing is applied.
    public var description: String {
      var parts: [String] = []
      if landlockABI > 0 {
        let what = [files ? "files" : nil, tcp ? "tcp" : nil, scope ? "scope" : nil].compactMap { $0 }
        parts.append("landlock \(landlockABI): \(what.joined(separator: ", "))")
      } else {
        parts.append("no landlock")
      }
      if seccomp { parts.append("seccomp") }
      return files || seccomp ? parts.joined(separator: "; ") : "off"
    }

    /// What a fully confined worker lacks here, empty when nothing.
    public var missing: [String] {
      [
        files ? nil : "file rules (Landlock, Linux 5.13)", tcp ? nil : "TCP rules (Landlock ABI 4, Linux 6.7)",
        scope ? nil : "signal and socket scoping (Landlock ABI 6, Linux 6.12)", seccomp ? nil : "seccomp filter",
      ].compactMap { $0 }
    }

    static let none = Report(landlockABI: 0, files: false, tcp: false, scope: false, seccomp: false)
  }

  /// Why the worker could not be confined as required.
  public struct Failure: Error, CustomStringConvertible {
    public let description: String
  }

  /// Confines the calling process (the worker, before it loads `pluginPath`). Irreversible.
  func apply(pluginPath: String, dataDirectory: String) throws(Failure) -> Report {
    guard mode != .off else { return .none }
    let temporary = dataDirectory + "/tmp"
    try? FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: true)
    // Libraries open their temporary files here (SQLite, Foundation): inside the data directory.
    setenv("TMPDIR", temporary, 1)
    let pluginFiles = [pluginPath, PluginManifest.manifestPath(forLibrary: pluginPath), PluginManifest.signaturePath(forLibrary: pluginPath)]
    let reads = Self.systemReadPaths + Self.loadedLibraryDirectories() + pluginFiles + Self.resourceBundles(beside: pluginPath)
      + readPaths
    let writes = [dataDirectory, "/dev/null"]
    var report = carbon_sandbox_report()
    var message = [CChar](repeating: 0, count: 512)
    let status = Self.withCStrings(reads) { readPointers in
      Self.withCStrings(writes) { writePointers in
        carbon_sandbox_apply(
          readPointers, reads.count, writePointers, writes.count, connectPorts, connectPorts.count,
          connectPorts.isEmpty ? 0 : 1, &report, &message, message.count)
      }
    }
    guard status == 0 else { throw Failure(description: String(cString: message)) }
    let applied = Report(
      landlockABI: Int(report.landlock_abi), files: report.files_confined != 0, tcp: report.tcp_confined != 0,
      scope: report.scope_confined != 0, seccomp: report.seccomp_installed != 0)
    if mode == .required, !applied.missing.isEmpty {
      throw Failure(description: "confinement = \"required\" but this kernel lacks: \(applied.missing.joined(separator: ", "))")
    }
    return applied
  }

  /// Directories of the shared objects mapped now (the Swift runtime and Foundation, wherever
  /// the toolchain put them), so that the plugin's own dependencies resolve the same way.
  static func loadedLibraryDirectories() -> [String] {
    guard let maps = try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8) else { return [] }
    var directories = Set<String>()
    for line in maps.split(separator: "\n") {
      guard let slash = line.firstIndex(of: "/") else { continue }
      let path = String(line[slash...])
      guard path.contains(".so"), !path.hasPrefix("/memfd:"), !path.hasSuffix("(deleted)") else { continue }
      directories.insert((path as NSString).deletingLastPathComponent)
    }
    return directories.sorted()
  }

  /// SwiftPM resource bundles (`<package>_<target>.resources`) a plugin's `Bundle.module`
  /// reads: beside the executable (where Foundation looks for them) and beside the plugin.
  static func resourceBundles(beside pluginPath: String) -> [String] {
    let directories = Set([(ModuleRegistry.ownExecutable as NSString).deletingLastPathComponent, (pluginPath as NSString).deletingLastPathComponent])
    return directories.filter { !$0.isEmpty }.sorted().flatMap { directory in
      ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".resources") }.sorted()
        .map { directory + "/" + $0 }
    }
  }

  private static func withCStrings<Result>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> Result) -> Result {
    let duplicates = strings.map { strdup($0) }
    defer { duplicates.forEach { free($0) } }
    let pointers = duplicates.map { UnsafePointer($0) }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
  }
}
