import CarbonHost
import CarbonHostProtocol
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Testing

private let postgresURL = ProcessInfo.processInfo.environment["CARBONHUB_TEST_POSTGRES_URL"]
private let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"].first { FileManager.default.isExecutableFile(atPath: $0) }

/// Two hosts behind nginx (`grpc_pass` over TLS), their COP module on one PostgreSQL database:
/// the README's scale-out deployment, run for real on loopback.
@Suite(
  "Scale-out: two hosts behind nginx sharing one COP pool", .serialized,
  .enabled(
    if: postgresURL != nil && nginx != nil,
    "needs nginx and CARBONHUB_TEST_POSTGRES_URL (scripts/test.sh sets it; .ci/run installs both)"))
struct ScaleOutTests {
  @Test func callsSpreadOverBothHostsAndSeeTheSamePool() async throws {
    let directory = try TestEnvironment.temporaryDirectory("scale-out")
    let tls = directory + "/tls"
    try DevelopmentCertificates(directory: tls).create()

    var hosts: [CommandLineTests.ServeProcess] = []
    defer { for host in hosts { host.stop() } }
    for name in ["host-a", "host-b"] {
      let file = "\(directory)/\(name).toml"
      try """
        plugin_dir = "\(TestEnvironment.pluginDirectory)"
        instance_name = "\(name)"
        [tls]
        certificate = "\(tls)/server.pem"
        key = "\(tls)/server-key.pem"
        [modules.cop-vivier]
        path = "libCOPVivier.so"
        [modules.cop-vivier.config]
        storage = "postgres"
        postgres_url = "\(postgresURL!)"
        """.write(toFile: file, atomically: true, encoding: .utf8)
      hosts.append(try await CommandLineTests.ServeProcess(arguments: ["--config", file], stateDirectory: directory + "/" + name))
    }

    let balancer = try await Nginx(directory: directory, tls: tls, upstreams: hosts.map(\.address))
    defer { balancer.stop() }

    let transport = try ClientTransportFactory.make(server: "127.0.0.1:\(balancer.port)", caFile: tls + "/ca.pem")
    let (created, read) = try await withGRPCClient(transport: transport) { client in
      let host = Carbon_Host_V1_Host.Client(wrapping: client)
      /// Calls a COP method through nginx; returns the answering host and the response JSON.
      @Sendable func call(_ method: String, _ json: String) async throws -> (instance: String, json: [String: Any]) {
        let request = Carbon_Host_V1_InvokeRequest.with {
          $0.module = "cop-vivier"
          $0.method = method
          $0.requestJson = json
        }
        let (instance, text) = try await host.invoke(request) { response in
          (response.metadata[stringValues: "carbonhub-instance"].first { _ in true } ?? "", try response.message.responseJson)
        }
        return (instance, try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] ?? [:])
      }
      let title = "Scale-out test \(UUID().uuidString)"
      var created: [(instance: String, id: String)] = []
      // An odd count, so that round robin sends each read to the other host than its write.
      for index in 0..<7 {
        let answer = try await call("CreateProject", """
          {"project": {"title": "\(title) #\(index)", "owner": "CA du Beauvaisis", "owner_type": "EPCI",
           "department": "60", "primary_lever": "Vélo", "maturity": "MATURITY_READY_WITHIN_YEAR", "round_year": 2024},
           "actor": "scale-out test"}
          """)
        let project = answer.json["project"] as? [String: Any]
        created.append((answer.instance, project?["id"] as? String ?? ""))
      }
      var read: [(instance: String, id: String, title: String)] = []
      for project in created {
        let answer = try await call("GetProject", #"{"project_id": "\#(project.id)"}"#)
        let found = answer.json["project"] as? [String: Any]
        read.append((answer.instance, found?["id"] as? String ?? "", found?["title"] as? String ?? ""))
      }
      return (created, read)
    }

    #expect(created.allSatisfy { !$0.id.isEmpty }, "\(created)")
    #expect(Set(created.map(\.instance)) == ["host-a", "host-b"], "creates spread over both hosts: \(created)")
    #expect(Set(read.map(\.instance)) == ["host-a", "host-b"], "reads spread over both hosts: \(read)")
    #expect(read.map(\.id) == created.map(\.id), "every project is found, whichever host answers")
    // The point: a project written through one host is read through the other.
    let crossed = zip(created, read).filter { $0.instance != $1.instance }
    #expect(!crossed.isEmpty, "\(created) / \(read)")
    #expect(read.allSatisfy { $0.title.hasPrefix("Scale-out test") })
    // nginx's own log agrees: both upstreams served.
    let log = (try? String(contentsOfFile: directory + "/nginx/access.log", encoding: .utf8)) ?? ""
    for address in hosts.map(\.address) { #expect(log.contains(address), "\(address) in \(log)") }
  }
}

/// nginx in the foreground with a generated configuration: TLS + HTTP/2 in front, `grpc_pass`
/// over TLS to the upstream hosts (verified against the same CA), round robin.
private final class Nginx: @unchecked Sendable {
  let port: Int
  private let process = Process()

  init(directory: String, tls: String, upstreams: [String]) async throws {
    let root = directory + "/nginx"
    try FileManager.default.createDirectory(atPath: root + "/tmp", withIntermediateDirectories: true)
    port = try freePort()
    let servers = upstreams.map { "    server \($0);" }.joined(separator: "\n")
    let configuration = """
      \(getuid() == 0 ? "user root;" : "")
      worker_processes 1;
      daemon off;
      pid \(root)/nginx.pid;
      error_log \(root)/error.log warn;
      events { worker_connections 256; }
      http {
        log_format upstreams '$request $status upstream=$upstream_addr';
        access_log \(root)/access.log upstreams;
        client_body_temp_path \(root)/tmp/body;
        proxy_temp_path \(root)/tmp/proxy;
        fastcgi_temp_path \(root)/tmp/fastcgi;
        uwsgi_temp_path \(root)/tmp/uwsgi;
        scgi_temp_path \(root)/tmp/scgi;
        upstream carbonhub {
      \(servers)
        }
        server {
          listen 127.0.0.1:\(port) ssl http2;
          ssl_certificate \(tls)/server.pem;
          ssl_certificate_key \(tls)/server-key.pem;
          location / {
            grpc_pass grpcs://carbonhub;
            grpc_ssl_trusted_certificate \(tls)/ca.pem;
            grpc_ssl_verify on;
            grpc_ssl_name localhost;
            grpc_ssl_server_name on;
          }
        }
      }
      """
    let file = root + "/nginx.conf"
    try configuration.write(toFile: file, atomically: true, encoding: .utf8)
    process.executableURL = URL(fileURLWithPath: nginx!)
    process.arguments = ["-c", file, "-p", root]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    // Ready when the port accepts connections.
    let deadline = ContinuousClock.now + .seconds(10)
    while ContinuousClock.now < deadline {
      if canConnect(port) { return }
      guard process.isRunning else { break }
      try await Task.sleep(for: .milliseconds(50))
    }
    let log = (try? String(contentsOfFile: root + "/error.log", encoding: .utf8)) ?? ""
    stop()
    throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: "nginx did not start: \(log)"])
  }

  /// Sends SIGTERM without waiting (for `defer`): nginx stops on its own.
  func stop() {
    if process.isRunning { process.terminate() }
  }
}

/// A TCP port free at the time of the call (bind to port 0, read it, close).
private func freePort() throws -> Int {
  let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
  defer { close(socketFD) }
  var address = sockaddr_in()
  address.sin_family = sa_family_t(AF_INET)
  address.sin_addr.s_addr = inet_addr("127.0.0.1")
  address.sin_port = 0
  var length = socklen_t(MemoryLayout<sockaddr_in>.size)
  let bound = withUnsafeMutablePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socketFD, $0, length) == 0 && getsockname(socketFD, $0, &length) == 0 }
  }
  guard bound else { throw CocoaError(.fileWriteUnknown) }
  return Int(UInt16(bigEndian: address.sin_port))
}

private func canConnect(_ port: Int) -> Bool {
  let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
  defer { close(socketFD) }
  var address = sockaddr_in()
  address.sin_family = sa_family_t(AF_INET)
  address.sin_addr.s_addr = inet_addr("127.0.0.1")
  address.sin_port = UInt16(port).bigEndian
  return withUnsafePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socketFD, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
  }
}
