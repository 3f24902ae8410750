import CarbonDomain
import CarbonHost
import CarbonHostProtocol
import Foundation
import GRPCCore
import Logging
import Synchronization
import Testing

/// Typed identities (issue 26, point 4): `cn:`, `dns:`, `uri:`, `email:` in the deployment;
/// a pattern matches only a name of its type; logs name the identity that granted the role.
@Suite("Identities: typed names, hostile certificates, the granting identity in logs", .serialized)
struct IdentitySecurityTests {
  @Test func patternsAreTypedAndABareNameMeansTheCommonName() throws {
    #expect(try IdentityPattern("cn:ops") == .name(.init(.cn, "ops")))
    #expect(try IdentityPattern("ops") == .name(.init(.cn, "ops")), "backward compatibility: a bare name is a common name")
    #expect(try IdentityPattern("dns:coop-a.example.org") == .name(.init(.dns, "coop-a.example.org")))
    #expect(try IdentityPattern("uri:spiffe://coop/a") == .name(.init(.uri, "spiffe://coop/a")))
    #expect(try IdentityPattern("email:ops@example.org") == .name(.init(.email, "ops@example.org")))
    #expect(try IdentityPattern("*") == .anyAuthenticated)
    #expect(throws: IdentityPattern.Error.self) { try IdentityPattern("email:") }
    #expect(throws: IdentityPattern.Error.self) { try IdentityPattern(" ") }

    let hostile = CallerIdentity(names: [.init(.cn, "coop-a"), .init(.email, "ops")])
    #expect(hostile.match(in: ["ops"]) == nil, "the e-mail address 'ops' is not the common name 'ops'")
    #expect(hostile.match(in: ["email:ops"]) == .init(.email, "ops"))
    #expect(hostile.match(in: ["*"]) == .init(.cn, "coop-a"))
    #expect(CallerIdentity.anonymous.match(in: ["*"]) == nil)
    #expect("\(hostile.acting(as: .init(.email, "ops")))" == "email:ops")
    #expect("\(hostile.acting(as: .init(.cn, "someone-else")))" == "cn:coop-a", "a caller acts only under its own names")
  }

  @Test func theDeploymentFileNamesTheOffendingIdentity() throws {
    let defaults = DeploymentConfig(pluginDirectory: "/p", stateDirectory: "/s")
    let ok = try DeploymentConfig.parse(
      toml: "[access]\nclient_ca = \"ca.pem\"\nadmins = [\"cn:ops\", \"email:ops@example.org\", \"ops2\"]", defaults: defaults)
    #expect(ok.access.admins == ["cn:ops", "email:ops@example.org", "ops2"])
    for (toml, key) in [
      ("[access]\nclient_ca = \"ca.pem\"\nadmins = [\"cn:ops\", \"dns:\"]", "access.admins[1]"),
      ("[access]\nclient_ca = \"ca.pem\"\nadmins = [\"*\"]", "access.admins[0]"),
      ("[modules.units]\npath = \"u.so\"\nallow = [\"uri:\"]", "modules.units.allow[0]"),
    ] {
      do {
        _ = try DeploymentConfig.parse(toml: toml, defaults: defaults)
        Issue.record("expected an error for \(toml)")
      } catch {
        #expect(error.key == key, "\(error)")
      }
    }
  }

  // Issue 26, 4: "CN=coop-a + SAN e-mail "ops" becomes admin "ops" and is logged as coop-a."
  @Test func hostileCertificatesGetNoRoleFromANameOfAnotherType() async throws {
    let log = CapturedLog()
    let issued = Mutex<[String: ClientTransportFactory.ClientCertificate]>([:])
    let host = try await RunningHost.start(
      modules: [("units", try TestEnvironment.plugin("libExampleUnits.so"))], logger: log.logger
    ) { config in
      let dev = DevelopmentCertificates(directory: config.stateDirectory + "/tls")
      try dev.ensure()
      // Each certificate is signed by the deployment's own client CA: only its names differ.
      let certificates: [(String, String, [String], [String], [String])] = [
        ("ops", "ops", [], [], []),
        ("email-ops", "coop-a", [], [], ["ops"]),
        ("dns-ops", "coop-b", ["ops"], [], []),
        ("uri-ops", "coop-c", [], ["ops"], []),
        ("mail-admin", "coop-d", [], [], ["ops@example.org"]),
        ("spiffe", "coop-e", [], ["spiffe://coop/e"], []),
        ("cn-spiffe", "spiffe://coop/e", [], [], []),
      ]
      for (file, commonName, dns, uris, emails) in certificates {
        let prefix = config.stateDirectory + "/clients/" + file
        try dev.issue(
          commonName: commonName, dnsNames: dns, uris: uris, emails: emails, usage: .clientAuth,
          certificatePath: prefix + ".pem", keyPath: prefix + "-key.pem")
        issued.withLock { $0[file] = .init(certificate: prefix + ".pem", key: prefix + "-key.pem") }
      }
      config.access = .init(clientCA: dev.caCertificatePath, requireClientCertificate: true, admins: ["ops", "email:ops@example.org"])
      config.modules[0].allow = ["uri:spiffe://coop/e"]
    }
    defer { Task { try? await host.stop() } }
    let certificates = issued.withLock { $0 }

    func whoAmI(_ caller: String) async throws -> Carbon_Host_V1_WhoAmIResponse {
      try await host.withClient(certificate: certificates[caller]) { client in
        try await Carbon_Host_V1_Host.Client(wrapping: client).whoAmI(.init())
      }
    }
    func disableEnable(_ caller: String) async -> RPCError.Code? {
      await rpcStatus {
        try await host.withClient(certificate: certificates[caller]) { client in
          let admin = Carbon_Host_V1_HostAdmin.Client(wrapping: client)
          _ = try await admin.disableModule(.with { $0.name = "units" })
          _ = try await admin.enableModule(.with { $0.name = "units" })
        }
      }
    }

    let hostile = try await whoAmI("email-ops")
    #expect(hostile.identities == ["cn:coop-a", "email:ops"] && hostile.roles.isEmpty, "\(hostile)")
    for caller in ["email-ops", "dns-ops", "uri-ops"] {
      #expect(await disableEnable(caller) == .permissionDenied, "\(caller) holds a name 'ops' of another type than cn")
    }
    #expect(try await whoAmI("ops").roles == ["admin"])
    #expect(try await whoAmI("mail-admin").roles == ["admin"])
    #expect(await disableEnable("mail-admin") == nil)

    // Admin actions are logged under the name that granted the role, not the first name.
    let adminLines = log.lines.filter { $0.contains("admin: disable module") }
    #expect(adminLines.count == 1 && adminLines[0].contains("caller=email:ops@example.org"), "\(adminLines)")
    #expect(!adminLines.joined().contains("caller=cn:coop-d"))

    // A module's allow-list: `uri:` matches the URI, not a common name spelled the same.
    func convert(_ caller: String) async -> RPCError.Code? {
      await rpcStatus {
        try await host.withClient(certificate: certificates[caller]) { client in
          _ = try await Carbon_Examples_V1_Units.Client(wrapping: client).convert(.with {
            $0.quantity = Quantity(6, .tC)
            $0.targetUnit = .tCo2E
          })
        }
      }
    }
    #expect(await convert("spiffe") == nil)
    #expect(await convert("cn-spiffe") == .permissionDenied)
    let refusal = log.lines.first { $0.contains("call refused") } ?? ""
    #expect(refusal.contains("caller=cn:spiffe://coop/e"), "\(log.lines)")
  }
}

/// A logger whose lines (message and metadata, `key=value`) the test reads back.
final class CapturedLog: Sendable {
  private let storage = Mutex<[String]>([])

  var lines: [String] { storage.withLock { $0 } }

  var logger: Logger {
    var logger = Logger(label: "captured") { _ in Handler(log: self) }
    logger.logLevel = .info
    return logger
  }

  fileprivate func append(_ line: String) { storage.withLock { $0.append(line) } }

  private struct Handler: LogHandler {
    let log: CapturedLog
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
      get { metadata[key] }
      set { metadata[key] = newValue }
    }

    func log(
      level: Logger.Level, message: Logger.Message, metadata extra: Logger.Metadata?, source: String, file: String,
      function: String, line: UInt
    ) {
      let all = metadata.merging(extra ?? [:]) { $1 }
      let fields = all.keys.sorted().map { "\($0)=\(all[$0]!)" }.joined(separator: " ")
      log.append("\(level) \(message) \(fields)")
    }
  }
}

/// The gRPC status an RPC ended with; nil when it succeeded.
private func rpcStatus(_ body: () async throws -> Void) async -> RPCError.Code? {
  do {
    try await body()
    return nil
  } catch let error as RPCError {
    return error.code
  } catch {
    Issue.record("unexpected error \(error)")
    return nil
  }
}
