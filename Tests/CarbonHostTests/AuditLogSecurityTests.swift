import CarbonDomain
import CarbonHost
import CarbonHostProtocol
import Foundation
import GRPCCore
import Synchronization
import Testing

/// The audit log (issue 26, point 6): every admin action and every refusal as a JSON line of its
/// own file, durable and append-only; worker output tagged and escaped in the application log.
@Suite("Audit log: admin actions and refusals as JSON lines; worker output cannot forge log lines", .serialized)
struct AuditLogSecurityTests {
  /// The audit file's lines, each parsed.
  func events(_ path: String) throws -> [[String: String]] {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    #expect(text.hasSuffix("\n"))
    return try text.split(separator: "\n").map { line in
      let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
      return object.compactMapValues { $0 as? String }
    }
  }

  @Test func everyAdminActionAndEveryRefusalIsAnAuditLine() async throws {
    let issued = Mutex<[String: ClientTransportFactory.ClientCertificate]>([:])
    let host = try await RunningHost.start(modules: [("units", try TestEnvironment.plugin("libExampleUnits.so"))]) { config in
      let dev = DevelopmentCertificates(directory: config.stateDirectory + "/tls")
      try dev.ensure()
      for name in ["ops", "coop-a", "auditor"] {
        let prefix = config.stateDirectory + "/clients/" + name
        try dev.issue(commonName: name, usage: .clientAuth, certificatePath: prefix + ".pem", keyPath: prefix + "-key.pem")
        issued.withLock { $0[name] = .init(certificate: prefix + ".pem", key: prefix + "-key.pem") }
      }
      config.access = .init(clientCA: dev.caCertificatePath, requireClientCertificate: true, admins: ["cn:ops"])
      config.modules[0].allow = ["cn:coop-a"]
    }
    defer { Task { try? await host.stop() } }
    let certificates = issued.withLock { $0 }
    let audit = (host.caFile as NSString).deletingLastPathComponent + "/../audit.log"
    func status(_ caller: String?, _ body: @escaping @Sendable (GRPCClient<HostClientTransport>) async throws -> Void) async -> RPCError.Code? {
      do {
        try await host.withClient(certificate: caller.flatMap { certificates[$0] }) { try await body($0) }
        return nil
      } catch let error as RPCError {
        return error.code
      } catch {
        Issue.record("\(error)")
        return nil
      }
    }
    let convert: @Sendable (GRPCClient<HostClientTransport>) async throws -> Void = { client in
      _ = try await Carbon_Examples_V1_Units.Client(wrapping: client).convert(.with {
        $0.quantity = Quantity(6, .tC)
        $0.targetUnit = .tCo2E
      })
    }
    #expect(await status(nil, convert) == .unauthenticated)
    #expect(await status("coop-a") { _ = try await Carbon_Host_V1_HostAdmin.Client(wrapping: $0).disableModule(.with { $0.name = "units" }) } == .permissionDenied)
    #expect(await status("auditor", convert) == .permissionDenied)
    #expect(await status("coop-a", convert) == nil, "an allowed call is not audited")
    #expect(await status("ops") { client in
      _ = try await Carbon_Host_V1_HostAdmin.Client(wrapping: client).setModuleAccess(.with {
        $0.name = "units"
        $0.allow = ["cn:auditor"]
      })
    } == nil)
    #expect(await status("ops") { client in
      _ = try await Carbon_Host_V1_HostAdmin.Client(wrapping: client).reloadModule(.with {
        $0.name = "units"
        $0.path = "/etc/passwd"
      })
    } == .failedPrecondition)
    #expect(await status("ops") { client in
      _ = try await Carbon_Host_V1_HostAdmin.Client(wrapping: client).reloadModule(.with {
        $0.name = "units"
        $0.sha256 = "not-hex"
      })
    } == .invalidArgument)

    let lines = try events(audit)
    let summary = lines.map { [$0["kind"] ?? "", $0["who"] ?? "", $0["action"] ?? "", $0["module"] ?? "-", $0["outcome"] ?? ""] }
    #expect(
      summary == [
        ["refusal", "anonymous", "carbon.examples.v1.Units/Convert", "-", "UNAUTHENTICATED"],
        ["refusal", "cn:coop-a", "carbon.host.v1.HostAdmin/DisableModule", "-", "PERMISSION_DENIED"],
        ["refusal", "cn:auditor", "carbon.examples.v1.Units/Convert", "units", "PERMISSION_DENIED"],
        ["admin", "cn:ops", "carbon.host.v1.HostAdmin/SetModuleAccess", "units", "OK"],
        ["admin", "cn:ops", "carbon.host.v1.HostAdmin/ReloadModule", "units", "FAILED_PRECONDITION"],
        ["admin", "cn:ops", "carbon.host.v1.HostAdmin/ReloadModule", "units", "INVALID_ARGUMENT"],
      ], "\(lines)")
    #expect(lines[3]["detail"] == "allow=cn:auditor", "\(lines[3])")
    #expect(lines[4]["detail"]?.contains("outside the deployment's plugin_dir") == true, "\(lines[4])")
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    for line in lines {
      let time = try #require(line["time"].flatMap(formatter.date(from:)), "\(line)")
      #expect(abs(time.timeIntervalSinceNow) < 300)
      #expect(line["peer"]?.hasPrefix("ipv4:127.0.0.1:") == true, "\(line)")
    }
    let mode = try #require(try FileManager.default.attributesOfItem(atPath: audit)[.posixPermissions] as? Int)
    #expect(mode == 0o600)
  }

  @Test func theAuditFileIsAppendedToNeverTruncatedAndNeverASymbolicLink() throws {
    let directory = try TestEnvironment.temporaryDirectory("audit-file")
    let path = directory + "/audit.log"
    let event = AuditLog.Event(kind: "admin", who: "cn:ops", peer: "ipv4:127.0.0.1:1", action: "a", outcome: "OK", detail: "line\nbreak \"quoted\"")
    #expect(try AuditLog(path: path).record(event))
    // A second host (a restart) appends after the first one's lines.
    #expect(try AuditLog(path: path).record(event))
    let lines = try events(path)
    #expect(lines.count == 2 && lines.allSatisfy { $0["detail"] == "line\nbreak \"quoted\"" }, "a newline in a field stays inside its line: \(lines)")
    try FileManager.default.createSymbolicLink(atPath: directory + "/link.log", withDestinationPath: path)
    #expect(throws: (any Error).self) { try AuditLog(path: directory + "/link.log") }
  }

  @Test func aWorkersOutputIsTaggedAndEscapedAndCannotPassForTheHostsLogLines() async throws {
    let directory = try TestEnvironment.temporaryDirectory("chatty")
    let file = directory + "/deployment.toml"
    try """
      plugin_dir = "\(TestEnvironment.fixtureDirectory)"
      [modules.chatty]
      path = "libchatty.so"
      isolation = "isolated"
      """.write(toFile: file, atomically: true, encoding: .utf8)
    let server = try await CommandLineTests.ServeProcess(arguments: ["--config", file])
    defer { server.stop() }
    let deadline = ContinuousClock.now + .seconds(30)
    while ContinuousClock.now < deadline && server.output.components(separatedBy: "forged").count < 4 { try await Task.sleep(for: .milliseconds(100)) }
    let output = server.output
    let forged = output.split(separator: "\n").filter { $0.contains("forged") }
    #expect(forged.count == 3, "the worker's three lines (stdout and stderr) reach the host's log: \(output)")
    for line in forged {
      #expect(!line.hasPrefix("2026-01-01T00:00:00+0000"), "a worker line passed for a host line: \(line)")
      #expect(line.contains("worker output") && line.contains("module=chatty"), "\(line)")
      #expect(!line.contains("\r") && !line.contains("\u{1B}"), "control characters are escaped: \(line)")
    }
    #expect(forged.contains { $0.contains("progress\\r2026-01-01") }, "\(forged)")
    #expect(forged.contains { $0.contains("\\u{1B}[2K2026-01-01") }, "\(forged)")
  }
}
