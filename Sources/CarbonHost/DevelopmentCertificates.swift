import Crypto
import Foundation
import SwiftASN1
import X509

/// A development certificate authority and the certificates it issues, kept as PEM files in a
/// directory (`<state_dir>/tls` by default):
///
/// | file | content |
/// |---|---|
/// | `ca.pem` | the CA certificate: give it to clients (`--ca`) so they trust the server |
/// | `ca-key.pem` | the CA private key (mode 0600) |
/// | `server.pem`, `server-key.pem` | the server certificate (SANs: localhost, 127.0.0.1, ::1) and key |
///
/// Issued certificates live `leafValidity` (90 days, as public CAs now issue them) and carry
/// the CA's key identifier (AuthorityKeyIdentifier) and their own, so strict verifiers
/// (`openssl verify -x509_strict`) accept them; `ensure()` renews the server certificate when
/// it is near its end, and the whole set when the CA is.
///
/// For development and tests only: production deployments give their own certificate and key
/// in the deployment file.
public struct DevelopmentCertificates: Sendable {
  /// The directory holding the files.
  public let directory: String

  public var caCertificatePath: String { directory + "/ca.pem" }
  public var caKeyPath: String { directory + "/ca-key.pem" }
  public var serverCertificatePath: String { directory + "/server.pem" }
  public var serverKeyPath: String { directory + "/server-key.pem" }

  public init(directory: String) {
    self.directory = directory
  }

  /// Whether the CA and server files already exist.
  public var exist: Bool {
    [caCertificatePath, caKeyPath, serverCertificatePath, serverKeyPath].allSatisfy {
      FileManager.default.fileExists(atPath: $0)
    }
  }

  /// How long an issued (server or client) certificate is valid: 90 days.
  public static let leafValidity: TimeInterval = 90 * 86400
  /// How long the development CA is valid: 5 years (clients keep trusting one CA file).
  public static let caValidity: TimeInterval = 5 * 365 * 86400
  /// A server certificate with less than this left is renewed on start: 30 days.
  public static let renewalMargin: TimeInterval = 30 * 86400

  /// Creates the CA and the server certificate unless they already exist; renews the server
  /// certificate (same CA) when it expires within `renewalMargin`, and everything when the CA
  /// expires within `leafValidity` (a renewed server certificate must not outlive its CA).
  /// Returns true when new files were written.
  @discardableResult
  public func ensure(extraHostNames: [String] = [], now: Date = Date()) throws -> Bool {
    guard exist, let ca = try? Self.readCertificate(caCertificatePath),
      ca.notValidAfter.timeIntervalSince(now) > Self.leafValidity
    else {
      try create(extraHostNames: extraHostNames)
      return true
    }
    if let server = try? Self.readCertificate(serverCertificatePath), server.notValidAfter.timeIntervalSince(now) > Self.renewalMargin {
      return false
    }
    try issueServerCertificate(extraHostNames: extraHostNames)
    return true
  }

  /// The certificate of a PEM file.
  static func readCertificate(_ path: String) throws -> Certificate {
    try Certificate(pemEncoded: String(contentsOfFile: path, encoding: .utf8))
  }

  /// Creates (or replaces) the CA and the server certificate.
  public func create(extraHostNames: [String] = []) throws {
    try FileManager.default.createDirectory(
      atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    let caKey = P256.Signing.PrivateKey()
    let caName = try DistinguishedName {
      OrganizationName("carbonhub")
      CommonName("carbonhub development CA")
    }
    let now = Date()
    let ca = try Certificate(
      version: .v3, serialNumber: .init(), publicKey: .init(caKey.publicKey),
      notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(Self.caValidity - 3600),
      issuer: caName, subject: caName, signatureAlgorithm: .ecdsaWithSHA256,
      extensions: try Certificate.Extensions {
        Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
        Critical(KeyUsage(keyCertSign: true, cRLSign: true))
        SubjectKeyIdentifier(hash: .init(caKey.publicKey))
      },
      issuerPrivateKey: .init(caKey))
    try write(ca.serializeAsPEM().pemString, to: caCertificatePath, mode: 0o644)
    try write(caKey.pemRepresentation, to: caKeyPath, mode: 0o600)
    try issueServerCertificate(extraHostNames: extraHostNames)
  }

  /// Issues the server certificate (SANs: localhost, the extra names, 127.0.0.1, ::1) from the CA.
  private func issueServerCertificate(extraHostNames: [String]) throws {
    try issue(
      commonName: "carbonhub server", dnsNames: ["localhost"] + extraHostNames, ipAddresses: ["127.0.0.1", "::1"],
      usage: .serverAuth, certificatePath: serverCertificatePath, keyPath: serverKeyPath)
  }

  /// What a certificate is for.
  public enum Usage: Sendable {
    case serverAuth
    case clientAuth
  }

  /// Issues a certificate signed by the development CA (which must exist) and writes it and
  /// its key as PEM files.
  ///
  /// - Parameters:
  ///   - uris, emails: subject-alternative-name URIs (e.g. SPIFFE IDs) and e-mail addresses.
  ///   - validity: seconds from issue to expiry (plus the hour of clock skew allowed before);
  ///     at most `leafValidity`.
  public func issue(
    commonName: String, dnsNames: [String] = [], ipAddresses: [String] = [], uris: [String] = [],
    emails: [String] = [], usage: Usage, certificatePath: String, keyPath: String,
    validity: TimeInterval = DevelopmentCertificates.leafValidity
  ) throws {
    let caKey = try P256.Signing.PrivateKey(pemRepresentation: String(contentsOfFile: caKeyPath, encoding: .utf8))
    let ca = try Certificate(pemEncoded: String(contentsOfFile: caCertificatePath, encoding: .utf8))
    let key = P256.Signing.PrivateKey()
    let subject = try DistinguishedName {
      OrganizationName("carbonhub")
      CommonName(commonName)
    }
    var alternativeNames: [GeneralName] =
      dnsNames.map { .dnsName($0) } + uris.map { .uniformResourceIdentifier($0) } + emails.map { .rfc822Name($0) }
    for address in ipAddresses {
      guard let bytes = Self.ipAddressBytes(address) else {
        throw DeploymentConfig.Error(key: "ip", message: "'\(address)' is not an IP address")
      }
      alternativeNames.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(bytes))))
    }
    let now = Date()
    let authorityKey = try ca.extensions.subjectKeyIdentifier?.keyIdentifier ?? SubjectKeyIdentifier(hash: ca.publicKey).keyIdentifier
    let lifetime = min(validity, Self.leafValidity)
    let certificate = try Certificate(
      version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
      notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(lifetime - 3600),
      issuer: ca.subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
      extensions: try Certificate.Extensions {
        Critical(BasicConstraints.notCertificateAuthority)
        Critical(KeyUsage(digitalSignature: true))
        try ExtendedKeyUsage([usage == .serverAuth ? .serverAuth : .clientAuth])
        if !alternativeNames.isEmpty { SubjectAlternativeNames(alternativeNames) }
        AuthorityKeyIdentifier(keyIdentifier: authorityKey)
        SubjectKeyIdentifier(hash: .init(key.publicKey))
      },
      issuerPrivateKey: .init(caKey))
    try write(certificate.serializeAsPEM().pemString, to: certificatePath, mode: 0o644)
    try write(key.pemRepresentation, to: keyPath, mode: 0o600)
  }

  private func write(_ text: String, to path: String, mode: Int) throws {
    try FileManager.default.createDirectory(
      atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: mode])
    try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
  }

  static func ipAddressBytes(_ text: String) -> [UInt8]? {
    var v4 = in_addr()
    if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
    var v6 = in6_addr()
    if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
    return nil
  }
}
