import ArgumentParser
import CarbonHost

extension CarbonHub {
  /// `carbonhub worker`: the process an isolated module runs in. The host starts it; it is not
  /// meant to be run by hand (hidden from `--help`).
  struct Worker: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Run one plugin in a worker process for a host (isolated mode; started by the host).",
      discussion: """
        Sets the memory limit, loads the plugin with the host's loader checks, reads the module's
        config from the socket, reports ready, then serves the host's calls until the host closes
        the socket. See docs/isolated-mode.md.
        """,
      shouldDisplay: false)

    @Option(name: .customLong("socket-fd"), help: "The connected Unix socket inherited from the host.")
    var socketFD: Int32

    @Option(name: .long, help: "Path of the plugin shared library (.so).")
    var plugin: String

    @Option(name: .customLong("data-dir"), help: "The module's private data directory.")
    var dataDirectory: String

    @Option(name: .customLong("memory-limit-mb"), help: "Address-space limit of this process in MiB (RLIMIT_AS).")
    var memoryLimitMB: Int?

    @Option(name: .long, help: "SHA-256 the library must have (checked before dlopen).")
    var sha256: String?

    @Option(name: .long, help: "User id to switch to before the plugin loads (with --gid; the host runs as root).")
    var uid: UInt32?

    @Option(name: .long, help: "Group id to switch to before the plugin loads.")
    var gid: UInt32?

    @Option(help: "required, best-effort or off: Landlock and seccomp before the plugin loads.")
    var confinement: String = "best-effort"

    @Option(name: .customLong("connect-port"), help: "A TCP port the worker may connect to (repeatable).")
    var connectPorts: [UInt16] = []

    @Option(name: .customLong("read-path"), help: "A further file or directory the worker may read (repeatable).")
    var readPaths: [String] = []

    func validate() throws {
      guard WorkerConfinement.Mode(rawValue: confinement) != nil else { throw ValidationError("--confinement: required, best-effort or off") }
      guard (uid == nil) == (gid == nil) else { throw ValidationError("--uid and --gid go together") }
    }

    func run() throws {
      WorkerServer.run(
        .init(
          socketDescriptor: socketFD, pluginPath: plugin, expectedSHA256: sha256, dataDirectory: dataDirectory,
          memoryLimitMB: memoryLimitMB, user: uid.flatMap { uid in gid.map { (uid: uid, gid: $0) } },
          confinement: WorkerConfinement(
            mode: WorkerConfinement.Mode(rawValue: confinement) ?? .required, connectPorts: connectPorts, readPaths: readPaths)))
    }
  }
}
