import CarbonHost
import CarbonHostProtocol
import Foundation
import GRPCCore
import Testing

/// TLS hygiene (issue 26, point 8): Mozilla's intermediate profile, short-lived development
/// certificates that strict verifiers accept and that renew themselves, and module details for
/// admins only.
@Suite("TLS hygiene: cipher suites, development certificates, what non-admins see", .serialized)
struct TLSHygieneSecurityTests {
  /// Whether the Python package sslyze is installed (read once, before any test runs).
  static let hasSslyze: Bool = {
    let check: (status: Int32, output: String)? = try? runProcess("/usr/bin/env", ["python3", "-c", "import sslyze"])
    return check?.status == 0
  }()

  static let openssl = "/usr/bin/openssl"
  static var hasOpenSSL: Bool { FileManager.default.isExecutableFile(atPath: openssl) }

  /// Whether `openssl s_client` completes a TLS 1.2 handshake with only `cipher` offered.
  func handshakes(_ port: Int, cipher: String) async throws -> Bool {
    let run = try await runProcess(
      Self.openssl, ["s_client", "-connect", "127.0.0.1:\(port)", "-tls1_2", "-cipher", cipher, "-brief"], input: "", timeout: 30)
    return run.status == 0 && run.output.contains("Ciphersuite: \(cipher)")
  }

  // "Mozilla intermediate profile (no CBC-SHA1 suites)".
  @Test(.enabled(if: TLSHygieneSecurityTests.hasOpenSSL, "needs the openssl command"))
  func onlyMozillaIntermediateSuitesAreNegotiatedOverTLS12() async throws {
    let host = try await RunningHost.startExamples()
    defer { Task { try? await host.stop() } }
    for cipher in ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305"] {
      #expect(try await handshakes(host.port, cipher: cipher), "\(cipher) is in the intermediate profile")
    }
    // CBC with SHA-1 or SHA-2 MACs: BoringSSL's defaults accept them, the profile does not.
    for cipher in ["ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA", "ECDHE-ECDSA-AES128-SHA256"] {
      #expect(try await !handshakes(host.port, cipher: cipher), "\(cipher) must be refused")
    }
    let tls11 = try await runProcess(Self.openssl, ["s_client", "-connect", "127.0.0.1:\(host.port)", "-tls1_1"], input: "", timeout: 30)
    #expect(tls11.status != 0, "TLS 1.1 is refused: \(tls11.output)")
  }

  /// sslyze's own check of the Mozilla "intermediate" configuration (PyPI `sslyze`; the test
  /// script installs it), against a host serving its development certificate; the development
  /// CA is given as the trust store (`--certinfo_ca_file`): no public store knows it.
  @Test(
    .enabled(
      if: TLSHygieneSecurityTests.hasSslyze,
      "needs the Python package sslyze (scripts/test.sh installs it)"))
  func sslyzeFindsTheHostCompliantWithMozillaIntermediate() async throws {
    let host = try await RunningHost.startExamples()
    defer { Task { try? await host.stop() } }
    let run = try await runProcess(
      "/usr/bin/env",
      [
        "python3", "-m", "sslyze", "--mozilla_config=intermediate", "--certinfo_ca_file", host.caFile,
        "127.0.0.1:\(host.port)",
      ], timeout: 300)
    #expect(run.status == 0, "\(run.output)")
    #expect(run.output.contains("127.0.0.1:\(host.port): OK - Compliant."), "\(run.output)")
  }

  // "development certificates of ≤ 90 days with AuthorityKeyIdentifier (so `openssl verify
  // -x509_strict` accepts them)".
  @Test(.enabled(if: TLSHygieneSecurityTests.hasOpenSSL, "needs the openssl command"))
  func developmentCertificatesLastAtMost90DaysAndPassStrictVerification() async throws {
    let directory = try TestEnvironment.temporaryDirectory("dev-certs")
    let dev = DevelopmentCertificates(directory: directory)
    try dev.create()
    try dev.issue(
      commonName: "coop-a", uris: ["spiffe://coop/a"], emails: ["ops@coop-a.example"], usage: .clientAuth,
      certificatePath: directory + "/client.pem", keyPath: directory + "/client-key.pem")
    for leaf in [dev.serverCertificatePath, directory + "/client.pem"] {
      let strict = try await runProcess(Self.openssl, ["verify", "-x509_strict", "-CAfile", dev.caCertificatePath, leaf])
      #expect(strict.status == 0 && strict.output.contains(": OK"), "\(leaf): \(strict.output)")
      let text = try await runProcess(Self.openssl, ["x509", "-in", leaf, "-noout", "-text"]).output
      #expect(text.contains("X509v3 Authority Key Identifier"), "\(text)")
      // Valid now, expired in 90 days: -checkend N exits 1 when the certificate ends within N s.
      let in89Days = try await runProcess(Self.openssl, ["x509", "-in", leaf, "-noout", "-checkend", "\(89 * 86400)"])
      let in90Days = try await runProcess(Self.openssl, ["x509", "-in", leaf, "-noout", "-checkend", "\(90 * 86400)"])
      #expect(in89Days.status == 0 && in90Days.status == 1, "\(leaf) must live 89 to 90 days: \(in90Days.output)")
    }
  }

  // "renewed on start when near expiry".
  @Test func aServerCertificateNearItsEndIsRenewedOnStartAndTheCAIsKept() throws {
    let directory = try TestEnvironment.temporaryDirectory("dev-renew")
    let dev = DevelopmentCertificates(directory: directory)
    #expect(try dev.ensure(), "first start creates the files")
    #expect(try !dev.ensure(), "a fresh set is kept")
    let ca = try Data(contentsOf: URL(fileURLWithPath: dev.caCertificatePath))
    // A server certificate with 10 days left (less than the 30-day margin).
    try dev.issue(
      commonName: "carbonhub server", dnsNames: ["localhost"], usage: .serverAuth, certificatePath: dev.serverCertificatePath,
      keyPath: dev.serverKeyPath, validity: 10 * 86400)
    let old = try Data(contentsOf: URL(fileURLWithPath: dev.serverCertificatePath))
    #expect(try dev.ensure(), "a certificate ending within 30 days is renewed")
    #expect(try Data(contentsOf: URL(fileURLWithPath: dev.serverCertificatePath)) != old)
    #expect(try Data(contentsOf: URL(fileURLWithPath: dev.caCertificatePath)) == ca, "clients keep trusting the same CA")
    // A CA that ends before a new 90-day certificate would: everything is recreated.
    #expect(try dev.ensure(now: Date().addingTimeInterval(DevelopmentCertificates.caValidity - 30 * 86400)))
    #expect(try Data(contentsOf: URL(fileURLWithPath: dev.caCertificatePath)) != ca)
    #expect(try !dev.ensure())
  }

  // "ListModules shows file paths and allow-lists to admins only".
  @Test func onlyAdminsSeeModulePathsAndAllowLists() async throws {
    let issued = ClientBox()
    let wrongABI = try TestEnvironment.plugin("libwrong_abi.so", in: TestEnvironment.fixtureDirectory)
    let host = try await RunningHost.start(modules: [
      ("units", try TestEnvironment.plugin("libExampleUnits.so")), ("broken", wrongABI),
    ]) { config in
      let dev = DevelopmentCertificates(directory: config.stateDirectory + "/tls")
      try dev.ensure()
      for name in ["ops", "coop-a"] {
        let prefix = config.stateDirectory + "/clients/" + name
        try dev.issue(commonName: name, usage: .clientAuth, certificatePath: prefix + ".pem", keyPath: prefix + "-key.pem")
        issued.set(name, .init(certificate: prefix + ".pem", key: prefix + "-key.pem"))
      }
      config.access = .init(clientCA: dev.caCertificatePath, requireClientCertificate: true, admins: ["cn:ops"])
      config.modules[0].allow = ["cn:coop-a"]
    }
    defer { Task { try? await host.stop() } }
    func modules(as caller: String) async throws -> (list: Carbon_Host_V1_ModuleInfo, get: Carbon_Host_V1_ModuleInfo, broken: Carbon_Host_V1_ModuleInfo) {
      try await host.withClient(certificate: issued.get(caller)) { client in
        let api = Carbon_Host_V1_Host.Client(wrapping: client)
        let list = try await api.listModules(.init())
        return (
          try #require(list.modules.first { $0.name == "units" }), try await api.getModule(.with { $0.name = "units" }),
          try await api.getModule(.with { $0.name = "broken" })
        )
      }
    }
    let admin = try await modules(as: "ops")
    for info in [admin.list, admin.get] {
      #expect(info.path.hasSuffix("/libExampleUnits.so") && info.allow == ["cn:coop-a"], "\(info)")
    }
    #expect(admin.broken.state == .failed && admin.broken.failureReason.contains(wrongABI), "\(admin.broken)")
    let caller = try await modules(as: "coop-a")
    for info in [caller.list, caller.get] {
      #expect(info.path.isEmpty && info.allow.isEmpty && !info.allowAny, "\(info)")
      #expect(info.name == "units" && info.state == .serving && !info.methods.isEmpty, "the rest stays visible")
    }
    // A failure reason names the file to admins only; others read why, not where.
    #expect(caller.broken.state == .failed, "\(caller.broken)")
    #expect(!caller.broken.failureReason.contains("/") && caller.broken.failureReason.contains("(path)"), "\(caller.broken.failureReason)")
    #expect(caller.broken.failureReason.contains("has no manifest"), "the reason itself stays: \(caller.broken.failureReason)")
  }
}

/// Client certificates issued in a configure closure.
private final class ClientBox: @unchecked Sendable {
  private let lock = NSLock()
  private var certificates: [String: ClientTransportFactory.ClientCertificate] = [:]
  func set(_ name: String, _ certificate: ClientTransportFactory.ClientCertificate) { lock.withLock { certificates[name] = certificate } }
  func get(_ name: String) -> ClientTransportFactory.ClientCertificate? { lock.withLock { certificates[name] } }
}
