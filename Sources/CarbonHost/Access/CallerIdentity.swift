import Foundation
import NIOSSL
import Synchronization
import X509

/// Who is calling, as established by the TLS handshake.
///
/// A caller is known by the typed names its client certificate carries: the subject's common
/// names (`cn:`), then its subject-alternative-name DNS names (`dns:`), URIs (`uri:`) and
/// e-mail addresses (`email:`). The deployment's `access.admins` and each module's `allow` list
/// name identities with their type (`IdentityPattern`), and a pattern matches only a name of
/// its type: a certificate for CN=coop-a with the e-mail address "ops" is `cn:coop-a` and
/// `email:ops`, never `cn:ops`.
public struct CallerIdentity: Sendable, Equatable, CustomStringConvertible {
  /// One name of a certificate, with its type.
  public struct Name: Sendable, Hashable, CustomStringConvertible {
    /// Where in the certificate the name comes from.
    public enum Kind: String, Sendable, CaseIterable {
      /// A common name of the subject.
      case cn
      /// A subject-alternative-name DNS name.
      case dns
      /// A subject-alternative-name URI (e.g. a SPIFFE ID).
      case uri
      /// A subject-alternative-name e-mail address (rfc822Name).
      case email
    }

    /// The type.
    public let kind: Kind
    /// The name as the certificate spells it.
    public let value: String

    /// A typed name.
    public init(_ kind: Kind, _ value: String) {
      self.kind = kind
      self.value = value
    }

    /// `type:value`, as in the deployment file and in logs ("cn:ops").
    public var description: String { "\(kind.rawValue):\(value)" }
  }

  /// The caller's names, common name first; empty for a caller without a certificate.
  public let names: [Name]
  /// The name the caller acts under: the one that granted the role or allow-list entry the
  /// current action relies on (see `acting(as:)`), else its first name. Logged as `caller`.
  public let principal: Name?

  /// A caller that presented no client certificate.
  public static let anonymous = CallerIdentity(names: [])

  /// An identity with these names, acting under the first.
  public init(names: [Name]) {
    self.names = names
    principal = names.first
  }

  /// The same caller acting under `name` (one of its names): what logs show as its identity.
  public func acting(as name: Name?) -> CallerIdentity {
    guard let name, names.contains(name) else { return self }
    return CallerIdentity(names: names, principal: name)
  }

  private init(names: [Name], principal: Name?) {
    self.names = names
    self.principal = principal
  }

  /// True when the caller presented a certificate the client CA verified.
  public var isAuthenticated: Bool { !names.isEmpty }

  /// The name used in logs: the principal with its type ("cn:ops"), or "anonymous".
  public var description: String { principal?.description ?? "anonymous" }

  /// The caller's first name that one of `list`'s patterns matches (type and value), nil when
  /// none does. `"*"` in the list matches any authenticated caller, under its first name.
  public func match(in list: [String]) -> Name? {
    guard isAuthenticated else { return nil }
    let patterns = list.compactMap { try? IdentityPattern($0) }
    if patterns.contains(.anyAuthenticated) { return names.first }
    return names.first { name in patterns.contains { $0.matches(name) } }
  }

  /// True when one of the caller's names is matched by one of `list`'s patterns.
  public func matches(any list: [String]) -> Bool { match(in: list) != nil }

  /// The names of a verified client certificate.
  public init(certificate: Certificate) {
    var names: [Name] = []
    for relativeName in certificate.subject {
      for attribute in relativeName where attribute.type == .RDNAttributeType.commonName {
        names.append(Name(.cn, String(describing: attribute.value)))
      }
    }
    if let alternatives = try? certificate.extensions.subjectAlternativeNames {
      for name in alternatives {
        switch name {
        case .dnsName(let dns): names.append(Name(.dns, dns))
        case .uniformResourceIdentifier(let uri): names.append(Name(.uri, uri))
        case .rfc822Name(let email): names.append(Name(.email, email))
        default: break
        }
      }
    }
    var unique: [Name] = []
    for name in names where !unique.contains(name) { unique.append(name) }
    self.init(names: unique)
  }

  /// The names of a certificate as NIOSSL hands it over; nil if it cannot be parsed.
  init?(_ certificate: NIOSSLCertificate) {
    guard let der = try? certificate.toDERBytes(), let parsed = try? Certificate(derEncoded: der) else { return nil }
    self.init(certificate: parsed)
  }
}

/// An identity as the deployment names it in `access.admins` and `allow` lists:
/// `cn:NAME`, `dns:NAME`, `uri:URI`, `email:ADDRESS`, or `*` (any authenticated caller).
///
/// A bare name without a type prefix means `cn:NAME`, so that deployment files written before
/// names were typed keep their meaning for the common name, and no longer match an e-mail
/// address, DNS name or URI that happens to be spelled the same.
public enum IdentityPattern: Sendable, Hashable, CustomStringConvertible {
  /// `*`.
  case anyAuthenticated
  /// One typed name.
  case name(CallerIdentity.Name)

  /// Why a pattern's text was refused.
  public struct Error: Swift.Error, Equatable, CustomStringConvertible {
    /// What is wrong with it.
    public let reason: String
    /// The reason.
    public var description: String { reason }
  }

  /// Parses `cn:…`, `dns:…`, `uri:…`, `email:…`, `*` or a bare common name.
  public init(_ text: String) throws(Error) {
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    guard !trimmed.isEmpty else { throw Error(reason: "must not be empty") }
    if trimmed == "*" {
      self = .anyAuthenticated
      return
    }
    for kind in CallerIdentity.Name.Kind.allCases where trimmed.hasPrefix(kind.rawValue + ":") {
      let value = String(trimmed.dropFirst(kind.rawValue.count + 1))
      guard !value.isEmpty else {
        throw Error(reason: "'\(text)' names no \(kind.rawValue) after the type (e.g. \(kind.rawValue):ops)")
      }
      self = .name(CallerIdentity.Name(kind, value))
      return
    }
    self = .name(CallerIdentity.Name(.cn, trimmed))
  }

  /// True when this pattern grants `name`: same type, same value.
  public func matches(_ name: CallerIdentity.Name) -> Bool {
    switch self {
    case .anyAuthenticated: return true
    case .name(let expected): return expected == name
    }
  }

  /// `*` or `type:value`.
  public var description: String {
    switch self {
    case .anyAuthenticated: return "*"
    case .name(let name): return name.description
    }
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
