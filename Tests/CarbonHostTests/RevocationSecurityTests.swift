import CarbonDomain
import CarbonHost
import CarbonHostProtocol
import Foundation
import GRPCCore
import Synchronization
import Testing
import X509

/// Revocation (issue 26, point 3): "`[access] crl = [...]` (PEM/DER CRLs, reloaded on change or
/// by an admin RPC); a revoked client or admin certificate is refused at the handshake with a
/// clear log line."
///
/// The lists are made by OpenSSL's `ca` command on the development CA, a producer independent
/// of the host's reader.
@Suite("Revocation: CRLs refuse revoked client and admin certificates at the handshake", .serialized)
struct RevocationSecurityTests {
  /// OpenSSL's `ca` command run on a development CA: revokes certificates and writes CRLs.
  struct OpenSSLCA {
    let certificates: DevelopmentCertificates
    let directory: String

    init(_ certificates: DevelopmentCertificates) throws {
      self.certificates = certificates
      directory = certificates.directory + "/openssl-ca"
      try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
      FileManager.default.createFile(atPath: directory + "/index.txt", contents: Data())
      try "01\n".write(toFile: directory + "/crlnumber", atomically: true, encoding: .utf8)
      // `crlnumber` makes OpenSSL write a v2 list with a CRL-number extension.
      try """
        [ ca ]
        default_ca = test_ca
        [ test_ca ]
        database = \(directory)/index.txt
        crlnumber = \(directory)/crlnumber
        default_md = sha256
        default_crl_days = 7

        """.write(toFile: directory + "/ca.cnf", atomically: true, encoding: .utf8)
    }

    private func openssl(_ arguments: [String]) async throws {
      let result = try await runProcess(
        "/usr/bin/openssl",
        ["ca", "-config", directory + "/ca.cnf", "-keyfile", certificates.caKeyPath, "-cert", certificates.caCertificatePath] + arguments)
      guard result.status == 0 else { throw CommandFailed(output: result.output) }
    }

    struct CommandFailed: Error { let output: String }

    func revoke(_ certificatePath: String) async throws { try await openssl(["-revoke", certificatePath]) }

    /// Writes the current list to `path` (through a temporary file and a rename, as a CA's
    /// publication job would), valid `hours` hours.
    func publish(to path: String, hours: Int = 7 * 24, format: String = "PEM") async throws {
      let temporary = path + ".new"
      try await openssl(["-gencrl", "-crlhours", "\(hours)", "-out", temporary])
      if format == "DER" {
        let converted = try await runProcess("/usr/bin/openssl", ["crl", "-in", temporary, "-outform", "DER", "-out", temporary + ".der"])
        guard converted.status == 0 else { throw CommandFailed(output: converted.output) }
        try FileManager.default.removeItem(atPath: temporary)
        try FileManager.default.moveItem(atPath: temporary + ".der", toPath: temporary)
      }
      guard rename(temporary, path) == 0 else { throw CommandFailed(output: "rename failed") }
    }
  }

  private func issueClients(_ dev: DevelopmentCertificates, _ names: [String]) throws -> [String: ClientTransportFactory.ClientCertificate] {
    var issued: [String: ClientTransportFactory.ClientCertificate] = [:]
    for name in names {
      let prefix = dev.directory + "/client-" + name
      try dev.issue(commonName: name, usage: .clientAuth, certificatePath: prefix + ".pem", keyPath: prefix + "-key.pem")
      issued[name] = .init(certificate: prefix + ".pem", key: prefix + "-key.pem")
    }
    return issued
  }

  /// A development CA with clients coop-a and coop-b, coop-a revoked, and the list published,
  /// valid `hours` hours.
  private func revokedCoopA(_ label: String, hours: Int) async throws -> (
    base: String, dev: DevelopmentCertificates, clients: [String: ClientTransportFactory.ClientCertificate], ca: OpenSSLCA, crl: String
  ) {
    let base = try TestEnvironment.temporaryDirectory(label)
    let dev = DevelopmentCertificates(directory: base + "/tls")
    try dev.create()
    let clients = try issueClients(dev, ["coop-a", "coop-b"])
    let ca = try OpenSSLCA(dev)
    try await ca.revoke(clients["coop-a"]!.certificate)
    let crl = base + "/revoked.pem"
    try await ca.publish(to: crl, hours: hours)
    return (base, dev, clients, ca, crl)
  }

  private func certificate(_ path: String) throws -> Certificate {
    try Certificate(pemEncoded: String(contentsOfFile: path, encoding: .utf8))
  }

  @Test func anOpenSSLListIsReadAndItsSignatureChecked() async throws {
    let (base, dev, clients, ca, pem) = try await revokedCoopA("crl-read", hours: 7 * 24)

    let lists = try CertificateRevocationList.load(contentsOf: pem)
    #expect(lists.count == 1)
    let list = try #require(lists.first)
    let caCertificate = try certificate(dev.caCertificatePath)
    #expect(list.issuer == caCertificate.subject)
    #expect(list.isSigned(by: caCertificate))
    #expect(list.revokes(try certificate(clients["coop-a"]!.certificate)))
    #expect(!list.revokes(try certificate(clients["coop-b"]!.certificate)))
    let validity = try #require(list.nextUpdate).timeIntervalSince(list.thisUpdate)
    #expect(abs(validity - 7 * 86400) < 2, "openssl -crlhours 168")

    // The same list in DER reads the same.
    let der = base + "/revoked.der"
    try await ca.publish(to: der, format: "DER")
    #expect(try CertificateRevocationList.load(contentsOf: der).first?.revokedSerialNumbers == list.revokedSerialNumbers)

    // A list signed by another CA than the deployment's client CA is refused, naming the key.
    let other = DevelopmentCertificates(directory: base + "/other")
    try other.create()
    #expect(!list.isSigned(by: try certificate(other.caCertificatePath)))
    func loadError(_ file: String, clientCA: String) -> DeploymentConfig.Error? {
      do {
        _ = try RevocationLists(files: [pem, file], clientCAFile: clientCA, logger: TestEnvironment.logger)
        return nil
      } catch {
        return error
      }
    }
    #expect(loadError(pem, clientCA: dev.caCertificatePath) == nil)
    let foreign = loadError(pem, clientCA: other.caCertificatePath)
    #expect(foreign?.key == "access.crl[0]" && "\(foreign!)".contains("not signed by a CA of `access.client_ca`"), "\(String(describing: foreign))")

    // A list whose signed part was altered (one byte of the revoked serial number) is refused.
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: der)))
    let serial = Array(try certificate(clients["coop-a"]!.certificate).serialNumber.bytes)
    let at = try #require(bytes.firstRange(of: serial)).upperBound - 1
    bytes[at] ^= 0x01
    let tampered = base + "/tampered.der"
    try Data(bytes).write(to: URL(fileURLWithPath: tampered))
    let altered = loadError(tampered, clientCA: dev.caCertificatePath)
    #expect(altered?.key == "access.crl[1]" && "\(altered!)".contains("not signed"), "\(String(describing: altered))")

    // A file that is no list at all names the key and says so.
    let garbage = base + "/garbage.pem"
    try "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n".write(toFile: garbage, atomically: true, encoding: .utf8)
    let unreadable = loadError(garbage, clientCA: dev.caCertificatePath)
    #expect(unreadable?.key == "access.crl[1]" && "\(unreadable!)".contains("is not a certificate revocation list"))
  }

  @Test func theDeploymentFileNamesTheLists() throws {
    let defaults = DeploymentConfig(pluginDirectory: "/p", stateDirectory: "/s")
    let config = try DeploymentConfig.parse(toml: "[access]\nclient_ca = \"ca.pem\"\ncrl = [\"a.pem\", \"b.der\"]", defaults: defaults)
    #expect(config.access.crl == ["a.pem", "b.der"])
    do {
      _ = try DeploymentConfig.parse(toml: "[access]\ncrl = [\"a.pem\"]", defaults: defaults)
      Issue.record("a CRL without a client CA is refused")
    } catch {
      #expect(error.key == "access.crl")
    }
  }

  @Test func aStaleListOrAServerCertificateIsRefused() async throws {
    let (base, dev, clients, _, pem) = try await revokedCoopA("crl-stale", hours: 1)
    let verifier = ClientCertificateVerifier(
      revocations: try RevocationLists(files: [pem], clientCAFile: dev.caCertificatePath, logger: TestEnvironment.logger),
      logger: TestEnvironment.logger, audit: nil)

    let coopB = try certificate(clients["coop-b"]!.certificate)
    #expect(await verifier.verify(presented: [coopB]) == .accepted)
    guard case .refused(let revoked) = await verifier.verify(presented: [try certificate(clients["coop-a"]!.certificate)]) else {
      Issue.record("a revoked certificate was accepted")
      return
    }
    #expect(revoked.contains("is revoked by the CRL of"), "\(revoked)")

    // Two hours later the one-hour list is out of date: OpenSSL's X509_V_ERR_CRL_HAS_EXPIRED.
    guard case .refused(let stale) = await verifier.verify(presented: [coopB], at: Date().addingTimeInterval(2 * 3600)) else {
      Issue.record("a certificate was accepted on an out-of-date CRL")
      return
    }
    #expect(stale.contains("out of date"), "\(stale)")

    // The server's certificate (extended key usage serverAuth) is no client certificate.
    guard case .refused(let usage) = await verifier.verify(presented: [try certificate(dev.serverCertificatePath)]) else {
      Issue.record("a server certificate was accepted as a client certificate")
      return
    }
    #expect(usage.contains("not for client authentication"), "\(usage)")

    // A certificate from another CA leads nowhere.
    let other = DevelopmentCertificates(directory: base + "/other")
    try other.create()
    let stranger = try issueClients(other, ["coop-a"])
    #expect(await verifier.verify(presented: [try certificate(stranger["coop-a"]!.certificate)]) != .accepted)
  }

  @Test func aRevokedClientOrAdminIsRefusedAtTheHandshakeAndTheListIsReloaded() async throws {
    let log = CapturedLog()
    let state = Mutex<(clients: [String: ClientTransportFactory.ClientCertificate], ca: OpenSSLCA?, crl: String)>(([:], nil, ""))
    let host = try await RunningHost.start(
      modules: [("units", try TestEnvironment.plugin("libExampleUnits.so"))], logger: log.logger
    ) { config in
      let dev = DevelopmentCertificates(directory: config.stateDirectory + "/tls")
      try dev.ensure()
      let clients = try issueClients(dev, ["ops", "coop-a", "coop-b"])
      let ca = try OpenSSLCA(dev)
      let crl = config.stateDirectory + "/revoked.pem"
      try await ca.publish(to: crl)
      state.withLock { $0 = (clients, ca, crl) }
      config.access = .init(clientCA: dev.caCertificatePath, requireClientCertificate: true, admins: ["cn:ops"], crl: [crl])
      config.auditLog = config.stateDirectory + "/audit.log"
    }
    defer { Task { try? await host.stop() } }
    let (clients, ca, crl) = state.withLock { ($0.clients, $0.ca!, $0.crl) }
    let auditFile = (host.caFile as NSString).deletingLastPathComponent + "/../audit.log"

    func convert(_ caller: String?) async -> String? {
      await outcome {
        try await host.withClient(certificate: caller.flatMap { clients[$0] }) { client in
          _ = try await Carbon_Examples_V1_Units.Client(wrapping: client).convert(.with {
            $0.quantity = Quantity(6, .tC)
            $0.targetUnit = .tCo2E
          })
        }
      }
    }
    func disable(_ caller: String) async -> String? {
      await outcome {
        try await host.withClient(certificate: clients[caller]) { client in
          let admin = Carbon_Host_V1_HostAdmin.Client(wrapping: client)
          _ = try await admin.disableModule(.with { $0.name = "units" })
          _ = try await admin.enableModule(.with { $0.name = "units" })
        }
      }
    }

    // Before any revocation: every certificate works; no certificate still gets a gRPC status.
    #expect(await convert("coop-a") == nil)
    #expect(await convert("coop-b") == nil)
    #expect(await disable("ops") == nil)
    #expect(await convert(nil) == "unauthenticated", "a caller without a certificate is not refused at the handshake")

    // The CA revokes coop-a and the admin, and publishes a new list: the host reads it.
    try await ca.revoke(clients["coop-a"]!.certificate)
    try await ca.revoke(clients["ops"]!.certificate)
    try await ca.publish(to: crl)
    try await Task.sleep(for: .milliseconds(2200))
    #expect(await convert("coop-a") == "unavailable", "the handshake fails: no gRPC call reaches the host")
    #expect(await disable("ops") == "unavailable")
    #expect(await convert("coop-b") == nil, "an unrevoked certificate still works")

    let refusals = log.lines.filter { $0.contains("client certificate refused at the TLS handshake") }
    #expect(refusals.contains { $0.contains("caller=cn:coop-a") && $0.contains("is revoked by the CRL of") }, "\(refusals)")
    #expect(refusals.contains { $0.contains("caller=cn:ops") }, "\(refusals)")
    #expect(log.lines.contains { $0.contains("certificate revocation lists reloaded") && $0.contains("revoked=2") }, "\(log.lines)")
    let audited = try String(contentsOfFile: auditFile, encoding: .utf8).split(separator: "\n")
      .filter { $0.contains("\"TLS handshake\"") }
    #expect(audited.contains { $0.contains("\"who\":\"cn:ops\"") && $0.contains("UNAUTHENTICATED") }, "\(audited)")

    // A broken update never un-revokes: the lists in force stay in force.
    try "not a list".write(toFile: crl, atomically: true, encoding: .utf8)
    try await Task.sleep(for: .milliseconds(2200))
    #expect(await convert("coop-a") == "unavailable")
    #expect(log.lines.contains { $0.contains("certificate revocation lists NOT reloaded") }, "\(log.lines)")
    #expect(await convert("coop-b") == nil)
  }
}

/// How an RPC ended: nil when it succeeded, else the gRPC status code's name.
private func outcome(_ body: () async throws -> Void) async -> String? {
  do {
    try await body()
    return nil
  } catch let error as RPCError {
    return "\(error.code)"
  } catch {
    return "\(error)"
  }
}
