import CarbonHost
import CarbonPluginLoader
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Worker confinement (issue 26, point 7): "a seccomp filter or Landlock rules limiting it to
/// what a calculation needs (its data directory; no network unless the module's config allows,
/// as the COP module's PostgreSQL needs)".
///
/// The fixture Tests/Fixtures/broken-plugins/escape.c tries, inside the worker, to read a secret
/// outside its data directory, write elsewhere, open TCP and UDP sockets, signal the host, open
/// the host's memory and set up io_uring; each attempt's errno comes back as the answer.
@Suite("Worker confinement: Landlock and seccomp keep a worker to its data directory", .serialized, .timeLimit(.minutes(2)))
struct WorkerConfinementTests {
  static let probe = "/carbon.test.v1.Escape/Probe"

  private func escapePath() throws -> String { try TestEnvironment.plugin("libescape.so", in: TestEnvironment.fixtureDirectory) }

  private func ask(_ module: IsolatedHarness, _ request: String) async throws -> String {
    let answer = try await module.isolated.unary(Self.probe, Array(request.utf8), encoding: .protobuf, deadline: .now + .seconds(10)).get()
    return String(decoding: answer, as: UTF8.self)
  }

  /// A loopback TCP listener (accepting nothing): the port a probe connects to.
  private final class Listener {
    let descriptor: Int32
    let port: UInt16
    init() throws {
      let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
      self.descriptor = descriptor
      var address = sockaddr_in()
      address.sin_family = sa_family_t(AF_INET)
      address.sin_addr.s_addr = in_addr_t(0x7f00_0001).bigEndian
      var length = socklen_t(MemoryLayout<sockaddr_in>.size)
      let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
          bind(descriptor, pointer, length) == 0 && listen(descriptor, 8) == 0 && getsockname(descriptor, pointer, &length) == 0
        }
      }
      guard bound else {
        close(descriptor)
        throw POSIXError(.EADDRNOTAVAIL)
      }
      port = UInt16(bigEndian: address.sin_port)
    }
    deinit { close(descriptor) }
  }

  /// A secret outside every data directory, as the host's TLS key or another module's data is.
  private func secret() throws -> (directory: String, file: String) {
    let directory = try TestEnvironment.temporaryDirectory("secret")
    let file = directory + "/server-key.pem"
    try "-----BEGIN PRIVATE KEY-----\n".write(toFile: file, atomically: true, encoding: .utf8)
    return (directory, file)
  }

  @Test func aConfinedWorkerReachesOnlyItsDataDirectoryAndNoNetwork() async throws {
    let (secretDirectory, secretFile) = try secret()
    let listener = try Listener()
    let module = try IsolatedHarness(name: "escape", library: try escapePath())
    try await module.start()
    defer { Task { await module.isolated.stop() } }
    let confinement = try #require(module.isolated.hello?.confinement)
    guard confinement.contains("landlock") && !confinement.contains("no landlock") else {
      print("skipped: this kernel has no Landlock (worker confinement reported \"\(confinement)\")")
      return
    }
    #expect(confinement.contains("files") && confinement.contains("seccomp"), "\(confinement)")

    // Files: its data directory, yes; a secret elsewhere, no, even though the host's user can.
    #expect(FileManager.default.isReadableFile(atPath: secretFile), "the host's user can read it")
    #expect(try await ask(module, "read \(secretFile)") == "denied: Permission denied")
    #expect(try await ask(module, "write \(secretDirectory)/planted.so") == "denied: Permission denied")
    #expect(!FileManager.default.fileExists(atPath: secretDirectory + "/planted.so"))
    #expect(try await ask(module, "write \(module.dataDirectory)/results.db") == "ok")
    #expect(try await ask(module, "read \(module.dataDirectory)/results.db") == "ok")
    #expect(try await ask(module, "read /etc/passwd") == "ok", "what a process needs stays readable")
    #expect(try await ask(module, "read /etc/hostname") == "denied: Permission denied", "the rest of /etc does not")

    // Network: no socket but a Unix one, so no TCP and no UDP (DNS exfiltration) either.
    #expect(try await ask(module, "tcp \(listener.port)") == "denied: Permission denied")
    #expect(try await ask(module, "udp -") == "denied: Permission denied")
    #expect(try await ask(module, "uring -") == "denied: Function not implemented", "io_uring would bypass the filter")

    // The host process: its memory (a ptrace access, refused across Landlock domains) and,
    // where the kernel scopes them, signals.
    let host = getpid()
    #expect(try await ask(module, "memory \(host)") == "denied: Permission denied")
    if confinement.contains("scope") {
      #expect(try await ask(module, "signal \(host)") == "denied: Operation not permitted")
    }
    #expect(module.isolated.restartCount == 0)
  }

  @Test func connectPortsOpenTCPToThoseOnly() async throws {
    let allowed = try Listener()
    let other = try Listener()
    let module = try IsolatedHarness(
      name: "escape", library: try escapePath(), confinement: .init(connectPorts: [allowed.port]))
    try await module.start()
    defer { Task { await module.isolated.stop() } }
    let confinement = try #require(module.isolated.hello?.confinement)
    guard confinement.contains("tcp") else {
      print("skipped: this kernel has no Landlock TCP rules (ABI 4; worker confinement reported \"\(confinement)\")")
      return
    }
    #expect(try await ask(module, "tcp \(allowed.port)") == "ok", "as the COP pool reaches PostgreSQL on 5432")
    #expect(try await ask(module, "tcp \(other.port)") == "denied: Permission denied")
  }

  @Test func confinementOffLeavesTheWorkerUnconfined() async throws {
    // The control experiment: the same probes succeed without confinement, so the denials
    // above come from the confinement and not from the probe or the machine.
    let (_, secretFile) = try secret()
    let listener = try Listener()
    let module = try IsolatedHarness(name: "escape", library: try escapePath(), confinement: .init(mode: .off))
    try await module.start()
    defer { Task { await module.isolated.stop() } }
    #expect(module.isolated.hello?.confinement == "off")
    #expect(try await ask(module, "read \(secretFile)") == "ok")
    #expect(try await ask(module, "tcp \(listener.port)") == "ok")
    #expect(try await ask(module, "udp -") == "ok")
    #expect(try await ask(module, "memory \(getpid())") == "ok", "same user, no confinement: the host's memory is open")
  }

  /// What a calculation needs stays reachable: each product module, confined, answers every
  /// one of its examples (unary and server-streaming) exactly as it does in process; the COP
  /// pool, whose answers carry times and ids, keeps its SQLite store in its data directory and
  /// answers each example with the same status as in process.
  @Test(arguments: [
    ("esca", "libESCA.so", "ESCA"), ("sobac", "libSOBAC.so", "SOBAC"), ("aldo", "libALDO.so", "ALDO"),
    ("snbc", "libSNBC.so", "SNBC"), ("cop-vivier", "libCOPVivier.so", "COPVivier"),
  ])
  func everyProductModuleAnswersItsExamplesWhenConfined(module name: String, library file: String, folder: String) async throws {
    let path = try TestEnvironment.plugin(file)
    let library = try PluginLibrary(path: path)
    let inProcess = try library.makeInstance(configJSON: "{}", dataDirectory: try TestEnvironment.temporaryDirectory("in-process-\(name)"))
    let module = try IsolatedHarness(name: name, library: path, confinement: .init(mode: .required))
    do {
      try await module.start()
    } catch {
      // `required` fails on a kernel without Landlock's full set: nothing to compare then.
      #expect("\(error)".contains("this kernel lacks"), "\(error)")
      print("skipped: \(error)")
      return
    }
    defer { Task { await module.isolated.stop() } }
    let kinds = Dictionary(uniqueKeysWithValues: library.methods.map { ($0.path, $0) })
    let service = try #require(library.methods.first?.path.split(separator: "/").first)
    let examples = TestEnvironment.repositoryRoot + "/Plugins/\(folder)/examples/"
    let files = try FileManager.default.contentsOfDirectory(atPath: examples).filter { $0.hasSuffix(".json") && !$0.hasSuffix(".expect.json") }
    var compared = 0
    for file in files.sorted() {
      let method = "/\(service)/\(file.split(separator: ".")[0])"
      guard let kind = kinds[method], !kind.isClientStreaming else { continue }
      let request = Array(try Data(contentsOf: URL(fileURLWithPath: examples + file)))
      let expected: Result<[[UInt8]], PluginCallError>
      let answered: Result<[[UInt8]], PluginCallError>
      if kind.isServerStreaming {
        var items: [[UInt8]] = []
        expected = Result { () throws(PluginCallError) in
          try inProcess.callStreaming(method, request: request, encoding: .json) {
            items.append($0)
            return true
          }
          return items
        }
        var received: [[UInt8]] = []
        do {
          for try await item in module.isolated.streaming(method, request, encoding: .json, deadline: .now + .seconds(60)) {
            received.append(item)
          }
          answered = .success(received)
        } catch let error as PluginCallError {
          answered = .failure(error)
        }
      } else {
        expected = Result { () throws(PluginCallError) in [try inProcess.call(method, request: request, encoding: .json)] }
        answered = await module.isolated.unary(method, request, encoding: .json, deadline: .now + .seconds(60)).map { [$0] }
      }
      if name == "cop-vivier" {
        switch (expected, answered) {
        case (.success, .success): break
        case (.failure(let a), .failure(let b)): #expect(a.status == b.status, "\(file): \(a) / \(b)")
        default: Issue.record("\(file): in process \(expected), confined \(answered)")
        }
      } else {
        #expect(answered == expected, "\(file)")
      }
      compared += 1
    }
    #expect(compared >= 5, "\(name): \(compared) examples")
    #expect(module.isolated.restartCount == 0)
  }

  @Test func theDeploymentFileNamesTheConfinementKeys() throws {
    let defaults = DeploymentConfig(pluginDirectory: "/p", stateDirectory: "/s")
    let config = try DeploymentConfig.parse(
      toml: """
        [modules.cop]
        path = "cop.so"
        isolation = "isolated"
        confinement = "required"
        connect_ports = [5432]
        read_paths = ["/srv/reference"]
        """, defaults: defaults)
    #expect(config.modules[0].confinement == WorkerConfinement(mode: .required, connectPorts: [5432], readPaths: ["/srv/reference"]))
    #expect(try DeploymentConfig.parse(toml: "[modules.u]\npath = \"u.so\"\nisolation = \"isolated\"", defaults: defaults)
      .modules[0].confinement == WorkerConfinement(mode: .bestEffort))
    for (toml, key, message) in [
      ("[modules.u]\npath = \"u.so\"\nconnect_ports = [5432]", "modules.u.connect_ports", "only applies"),
      ("[modules.u]\npath = \"u.so\"\nisolation = \"isolated\"\nconfinement = \"strict\"", "modules.u.confinement", "must be one of"),
      ("[modules.u]\npath = \"u.so\"\nisolation = \"isolated\"\nconnect_ports = [5432, 70000]", "modules.u.connect_ports[1]", "TCP port"),
      ("[modules.u]\npath = \"u.so\"\nisolation = \"isolated\"\nread_paths = [\"data\"]", "modules.u.read_paths[0]", "absolute"),
    ] {
      do {
        _ = try DeploymentConfig.parse(toml: toml, defaults: defaults)
        Issue.record("expected an error for \(toml)")
      } catch {
        #expect(error.key == key && error.message.contains(message), "\(error)")
      }
    }
  }
}
