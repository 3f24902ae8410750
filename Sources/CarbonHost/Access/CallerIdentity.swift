import Foundation
import NIOSSL
import Synchronization
import X509

/// Who is calling, as established by the TLS handshake.
///
/// A caller is known by the names its client certificate carries: the subject's common name,
/// then its subject-alternative-name DNS names, URIs and e-mail addresses. The deployment's
/// `access.admins` and each module's `allow` list match any of these names.
public struct CallerIdentity: Sendable, Equatable, CustomStringConvertible {
  /// The caller's names, common name first; empty for a caller without a certificate.
  public let names: [String]

  /// A caller that presented no client certificate.
  public static let anonymous = CallerIdentity(names: [])

  public init(names: [String]) {
    self.names = names
  }

  /// True when the caller presented a certificate the client CA verified.
  public var isAuthenticated: Bool { !names.isEmpty }

  /// The name used in logs: the first name, or "anonymous".
  public var description: String { names.first ?? "anonymous" }

  /// True when one of the caller's names is in `list`.
  public func matches(any list: [String]) -> Bool {
    names.contains { list.contains($0) }
  }

  /// The names of a verified client certificate.
  public init(certificate: Certificate) {
    var names: [String] = []
    for relativeName in certificate.subject {
      for attribute in relativeName where attribute.type == .RDNAttributeType.commonName {
        names.append(String(describing: attribute.value))
      }
    }
    if let alternatives = try? certificate.extensions.subjectAlternativeNames {
      for name in alternatives {
        switch name {
        case .dnsName(let dns): names.append(dns)
        case .uniformResourceIdentifier(let uri): names.append(uri)
        case .rfc822Name(let email): names.append(email)
        default: break
        }
      }
    }
    var unique: [String] = []
    for name in names where !unique.contains(name) { unique.append(name) }
    self.names = unique
  }

  /// The names of a certificate as NIOSSL hands it over; nil if it cannot be parsed.
  init?(_ certificate: NIOSSLCertificate) {
    guard let der = try? certificate.toDERBytes(), let parsed = try? Certificate(derEncoded: der) else { return nil }
    self.init(certificate: parsed)
  }
}

/// The identity of every open TLS connection, keyed by the peer address string gRPC puts in
/// `ServerContext.remotePeer` ("ipv4:127.0.0.1:53412").
///
/// grpc-swift-nio-transport does not hand a custom listener's peer certificate to handlers, so
/// the listener records it here when the handshake completes and removes it when the connection
/// closes; handlers look it up by `remotePeer`, which is unique among open connections.
public final class PeerDirectory: Sendable {
  private let identities = Mutex<[String: CallerIdentity]>([:])

  public init() {}

  func record(_ identity: CallerIdentity, for peer: String) {
    identities.withLock { $0[peer] = identity }
  }

  func forget(_ peer: String) {
    _ = identities.withLock { $0.removeValue(forKey: peer) }
  }

  /// The identity of the connection `peer` (anonymous when it presented no certificate).
  public func identity(of peer: String) -> CallerIdentity {
    identities.withLock { $0[peer] } ?? .anonymous
  }

  /// Connections currently known (for tests and metrics).
  public var count: Int { identities.withLock { $0.count } }
}
