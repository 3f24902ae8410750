import Foundation
import SwiftASN1
import X509

/// An X.509 certificate revocation list (RFC 5280 §5): which serial numbers an issuer has
/// revoked, as of `thisUpdate`, until `nextUpdate`.
///
/// swift-certificates verifies chains and has OCSP types but does not parse CRLs; this type
/// reads the DER structure with swift-asn1 and checks the issuer's signature with
/// swift-certificates' public-key API, so no second crypto library enters the host.
///
/// Only complete, direct CRLs are accepted: a CRL with a critical extension the host does not
/// implement (a delta CRL indicator, a partitioned issuing distribution point, an entry for
/// another issuer) is refused when it is loaded, as RFC 5280 §5.2 requires, rather than read
/// as if it covered what it does not.
public struct CertificateRevocationList: Sendable, Hashable {
  /// The CA that signed the list.
  public let issuer: DistinguishedName
  /// When the list was issued.
  public let thisUpdate: Date
  /// When the next list is due; past it, the list is stale.
  public let nextUpdate: Date?
  /// The revoked certificates' serial numbers.
  public let revokedSerialNumbers: Set<Certificate.SerialNumber>
  /// The signed part of the list, as encoded.
  let signedBytes: [UInt8]
  let signatureAlgorithm: Certificate.SignatureAlgorithm
  let signature: [UInt8]

  /// Why a list cannot be used.
  public struct Error: Swift.Error, CustomStringConvertible {
    public let description: String
  }

  /// Critical extensions this type implements (none: see the type's comment).
  private static let understoodCriticalExtensions: Set<ASN1ObjectIdentifier> = []

  /// Reads one DER-encoded `CertificateList`.
  public init(derEncoded bytes: [UInt8]) throws {
    let root = try DER.parse(bytes)
    var fields: (tbs: ASN1Node, algorithm: ASN1Node, signature: ASN1BitString)?
    try DER.sequence(root, identifier: .sequence) { nodes in
      guard let tbs = nodes.next(), let algorithm = nodes.next(), let signature = nodes.next() else {
        throw Error(description: "a CertificateList has three parts (list, algorithm, signature)")
      }
      fields = (tbs, algorithm, try ASN1BitString(derEncoded: signature))
    }
    guard let fields else { throw Error(description: "empty CertificateList") }
    let outerAlgorithm = try Self.signatureAlgorithm(fields.algorithm)

    var parsed: (DistinguishedName, Date, Date?, Set<Certificate.SerialNumber>)?
    try DER.sequence(fields.tbs, identifier: .sequence) { nodes in
      // version Version OPTIONAL: v2 (1) when present.
      var peek = nodes
      if let first = peek.next(), first.identifier == .integer {
        let version = try Int(derEncoded: first)
        guard version == 1 else { throw Error(description: "CRL version \(version + 1) is not v2") }
        nodes = peek
      }
      guard let innerAlgorithm = nodes.next(), try Self.signatureAlgorithm(innerAlgorithm) == outerAlgorithm else {
        throw Error(description: "the signed algorithm differs from the outer one")
      }
      guard let issuerNode = nodes.next() else { throw Error(description: "no issuer") }
      let issuer = try DistinguishedName(derEncoded: issuerNode)
      guard let thisUpdateNode = nodes.next() else { throw Error(description: "no thisUpdate") }
      let thisUpdate = try Self.time(thisUpdateNode)
      var nextUpdate: Date?
      var rest = nodes
      if let node = rest.next(), node.identifier == .utcTime || node.identifier == .generalizedTime {
        nextUpdate = try Self.time(node)
        nodes = rest
      }
      var revoked = Set<Certificate.SerialNumber>()
      rest = nodes
      if let node = rest.next(), node.identifier == .sequence {
        revoked = try Self.revokedSerialNumbers(node)
        nodes = rest
      }
      if let node = nodes.next() {
        guard node.identifier == ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific) else {
          throw Error(description: "unexpected field \(node.identifier) in the list")
        }
        try Self.checkExtensions(explicitlyTagged: node, what: "the list")
      }
      parsed = (issuer, thisUpdate, nextUpdate, revoked)
    }
    guard let parsed else { throw Error(description: "empty TBSCertList") }
    (issuer, thisUpdate, nextUpdate, revokedSerialNumbers) = parsed
    signedBytes = Array(fields.tbs.encodedBytes)
    signatureAlgorithm = outerAlgorithm
    signature = Array(fields.signature.bytes)
  }

  /// Reads every CRL in a file: PEM (`-----BEGIN X509 CRL-----` blocks, any number) or one DER
  /// list.
  public static func load(contentsOf path: String) throws -> [CertificateRevocationList] {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    if let text = String(data: data, encoding: .utf8), text.contains("-----BEGIN") {
      let documents = try PEMDocument.parseMultiple(pemString: text).filter { $0.discriminator == "X509 CRL" }
      guard !documents.isEmpty else { throw Error(description: "no `X509 CRL` block in the PEM file") }
      return try documents.map { try CertificateRevocationList(derEncoded: $0.derBytes) }
    }
    return [try CertificateRevocationList(derEncoded: Array(data))]
  }

  /// Whether `issuerCertificate` is the list's issuer and signed it.
  public func isSigned(by issuerCertificate: Certificate) -> Bool {
    issuerCertificate.subject == issuer
      && issuerCertificate.publicKey.isValidSignature(signature, for: signedBytes, signatureAlgorithm: signatureAlgorithm)
  }

  /// Whether the list names `certificate` (issued by its issuer) as revoked.
  public func revokes(_ certificate: Certificate) -> Bool {
    certificate.issuer == issuer && revokedSerialNumbers.contains(certificate.serialNumber)
  }

  // MARK: - DER pieces

  /// The signature algorithms the host accepts on a CRL (SHA-1 is refused).
  private static let algorithms: [ASN1ObjectIdentifier: Certificate.SignatureAlgorithm] = [
    [1, 2, 840, 10045, 4, 3, 2]: .ecdsaWithSHA256,
    [1, 2, 840, 10045, 4, 3, 3]: .ecdsaWithSHA384,
    [1, 2, 840, 10045, 4, 3, 4]: .ecdsaWithSHA512,
    [1, 2, 840, 113549, 1, 1, 11]: .sha256WithRSAEncryption,
    [1, 2, 840, 113549, 1, 1, 12]: .sha384WithRSAEncryption,
    [1, 2, 840, 113549, 1, 1, 13]: .sha512WithRSAEncryption,
    [1, 3, 101, 112]: .ed25519,
  ]

  private static func signatureAlgorithm(_ node: ASN1Node) throws -> Certificate.SignatureAlgorithm {
    try DER.sequence(node, identifier: .sequence) { nodes in
      guard let oidNode = nodes.next() else { throw Error(description: "empty AlgorithmIdentifier") }
      let oid = try ASN1ObjectIdentifier(derEncoded: oidNode)
      _ = nodes.next()  // parameters: NULL for RSA, absent otherwise
      guard let algorithm = algorithms[oid] else {
        throw Error(description: "signature algorithm \(oid) is not accepted (ECDSA, RSA with SHA-2, Ed25519)")
      }
      return algorithm
    }
  }

  private static func time(_ node: ASN1Node) throws -> Date {
    let parts: (Int, Int, Int, Int, Int, Int)
    switch node.identifier {
    case .utcTime:
      let t = try UTCTime(derEncoded: node)
      parts = (t.year, t.month, t.day, t.hours, t.minutes, t.seconds)
    case .generalizedTime:
      let t = try GeneralizedTime(derEncoded: node)
      parts = (t.year, t.month, t.day, t.hours, t.minutes, t.seconds)
    default:
      throw Error(description: "expected a time, found \(node.identifier)")
    }
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(identifier: "UTC")!
    let components = DateComponents(year: parts.0, month: parts.1, day: parts.2, hour: parts.3, minute: parts.4, second: parts.5)
    guard let date = calendar.date(from: components) else { throw Error(description: "invalid time") }
    return date
  }

  private static func revokedSerialNumbers(_ node: ASN1Node) throws -> Set<Certificate.SerialNumber> {
    var serials = Set<Certificate.SerialNumber>()
    try DER.sequence(node, identifier: .sequence) { entries in
      while let entry = entries.next() {
        try DER.sequence(entry, identifier: .sequence) { fields in
          guard let serialNode = fields.next(), let dateNode = fields.next() else {
            throw Error(description: "a revoked entry needs a serial number and a date")
          }
          serials.insert(Certificate.SerialNumber(bytes: try ArraySlice<UInt8>(derEncoded: serialNode)))
          _ = try time(dateNode)
          if let extensions = fields.next() {
            try checkExtensions(extensions, what: "a revoked entry")
          }
        }
      }
    }
    return serials
  }

  private static func checkExtensions(explicitlyTagged node: ASN1Node, what: String) throws {
    guard case .constructed(let children) = node.content else { throw Error(description: "malformed extensions") }
    var iterator = children.makeIterator()
    guard let sequence = iterator.next(), iterator.next() == nil else { throw Error(description: "malformed extensions") }
    try checkExtensions(sequence, what: what)
  }

  private static func checkExtensions(_ node: ASN1Node, what: String) throws {
    let extensions = try DER.sequence(of: Certificate.Extension.self, identifier: .sequence, rootNode: node)
    for ext in extensions where ext.critical && !understoodCriticalExtensions.contains(ext.oid) {
      throw Error(description: "\(what) has critical extension \(ext.oid), which the host does not implement (delta or partitioned CRLs are not supported)")
    }
  }
}
