import Foundation
import Logging
import NIOCore
import NIOSSL
import SwiftASN1
import Synchronization
import X509

/// Verifies client certificates at the TLS handshake when the deployment gives certificate
/// revocation lists (`[access] crl`): the chain must lead to the client CA (RFC 5280 path
/// validation by swift-certificates' `Verifier`), the leaf must be meant for client
/// authentication, and no certificate in the chain may be revoked by its issuer's current CRL.
///
/// BoringSSL cannot be given CRLs through swift-nio-ssl, and its custom verification hook
/// replaces its own checks entirely; so with CRLs configured the whole verification runs here,
/// with the same trust roots. Without CRLs the host keeps BoringSSL's verification.
///
/// A refusal fails the handshake (the client sees a TLS alert, never a gRPC status), is logged
/// as a warning naming the certificate and the reason, and is recorded in the audit log.
public final class ClientCertificateVerifier: Sendable {
  /// The deployment's CRLs, reloaded when their files change.
  public let revocations: RevocationLists
  /// `revocations.clientCAs` as the verifier's trust roots, indexed once rather than per handshake.
  private let roots: CertificateStore
  private let logger: Logger
  private let audit: AuditLog?

  /// A verifier trusting the client CAs `revocations` was read against (the deployment's
  /// `client_ca`) and enforcing its lists.
  public init(revocations: RevocationLists, logger: Logger, audit: AuditLog?) {
    self.revocations = revocations
    roots = CertificateStore(revocations.clientCAs)
    self.logger = logger
    self.audit = audit
  }

  /// What a verification concluded.
  public enum Outcome: Sendable, Equatable {
    case accepted
    case refused(reason: String)
  }

  /// Verifies the chain a client presented (leaf first), at `time`.
  public func verify(presented chain: [Certificate], at time: Date = Date()) async -> Outcome {
    guard let leaf = chain.first else { return .refused(reason: "no certificate") }
    let lists = revocations.current(at: time)
    var verifier = Verifier(rootCertificates: roots) {
      RFC5280Policy(validationTime: time)
      ClientAuthenticationPolicy()
      RevocationPolicy(lists: lists, time: time)
    }
    switch await verifier.validate(leafCertificate: leaf, intermediates: CertificateStore(chain.dropFirst())) {
    case .validCertificate:
      return .accepted
    case .couldNotValidate(let failures):
      // A revocation or staleness finding is the most useful to an operator: show it first.
      let reasons = failures.map { "\($0.policyFailureReason)" }
      let reason = reasons.first { $0.contains("revoked") || $0.contains("CRL") } ?? reasons.first
      return .refused(reason: reason ?? "the certificate does not lead to the client CA")
    }
  }

  /// The callback given to each connection's `NIOSSLServerHandler`; `peer` names the
  /// connection in logs.
  func handshakeCallback(peer: String) -> NIOSSLCustomVerificationCallback {
    { [self] presented, promise in
      let chain: [Certificate]
      do {
        chain = try presented.map { try Certificate(derEncoded: try $0.toDERBytes()) }
      } catch {
        refuse(identity: "unparsable certificate", subject: "?", serial: "?", peer: peer, reason: "the certificate cannot be parsed: \(error)")
        promise.succeed(.failed)
        return
      }
      // Path validation is async in swift-certificates; the handshake waits on the promise.
      Task {
        let outcome = await verify(presented: chain)
        if case .refused(let reason) = outcome, let leaf = chain.first {
          let identity = CallerIdentity(certificate: leaf).principal.map(\.description) ?? "anonymous"
          refuse(identity: identity, subject: "\(leaf.subject)", serial: "\(leaf.serialNumber)", peer: peer, reason: reason)
        }
        promise.succeed(outcome == .accepted ? .certificateVerified : .failed)
      }
    }
  }

  private func refuse(identity: String, subject: String, serial: String, peer: String, reason: String) {
    logger.warning(
      "client certificate refused at the TLS handshake",
      metadata: ["peer": "\(peer)", "caller": "\(identity)", "subject": "\(subject)", "serial": "\(serial)", "reason": "\(reason)"])
    audit?.record(.init(kind: "refusal", who: identity, peer: peer, action: "TLS handshake", outcome: "UNAUTHENTICATED", detail: reason))
  }
}

/// The deployment's certificate revocation lists (`[access] crl`), each checked against the
/// client CA that signed it, and read again when one of their files changes (checked at most
/// every `checkInterval` at a handshake). A file that changed but no longer reads or verifies
/// is logged as an error and the lists in force stay in force: a broken update never
/// un-revokes a certificate.
public final class RevocationLists: Sendable {
  /// The files, as the deployment names them.
  public let files: [String]
  /// How often, at most, the files are looked at for changes.
  public let checkInterval: TimeInterval
  /// The CAs of `access.client_ca`: the only signers a list may have, and the trust roots.
  let clientCAs: [Certificate]
  private let logger: Logger
  private let state: Mutex<State>

  private struct State {
    var lists: [CertificateRevocationList]
    var fileVersions: [FileVersion?]
    var lastCheck: Date
  }

  /// What identifies a file's contents cheaply: inode, size and modification time.
  private struct FileVersion: Equatable {
    var inode: UInt64
    var size: Int64
    var modified: timespec

    static func == (a: Self, b: Self) -> Bool {
      a.inode == b.inode && a.size == b.size && a.modified.tv_sec == b.modified.tv_sec && a.modified.tv_nsec == b.modified.tv_nsec
    }

    init?(path: String) {
      var info = stat()
      guard stat(path, &info) == 0 else { return nil }
      inode = UInt64(info.st_ino)
      size = Int64(info.st_size)
      modified = info.st_mtim
    }
  }

  /// Reads every file; each CRL must be signed by a CA of `clientCAFile`. Errors name the
  /// file's key (`access.crl[1]`).
  public init(files: [String], clientCAFile: String, checkInterval: TimeInterval = 2, logger: Logger) throws(DeploymentConfig.Error) {
    self.files = files
    self.checkInterval = checkInterval
    self.logger = logger
    do {
      clientCAs = try Self.certificates(inPEMFile: clientCAFile)
    } catch {
      throw DeploymentConfig.Error(key: "access.client_ca", message: "cannot read \(clientCAFile): \(error)")
    }
    let versions = files.map { FileVersion(path: $0) }
    let lists = try Self.read(files, issuers: clientCAs)
    state = Mutex(State(lists: lists, fileVersions: versions, lastCheck: Date()))
  }

  /// The lists in force at `time`, after reading the files again if they changed.
  public func current(at time: Date = Date()) -> [CertificateRevocationList] {
    let due = state.withLock { state -> Bool in
      guard time.timeIntervalSince(state.lastCheck) >= checkInterval else { return false }
      state.lastCheck = time
      return true
    }
    if due { reloadIfChanged() }
    return state.withLock { $0.lists }
  }

  /// Reads the files again if any changed since they were last read. Returns false when a
  /// changed file could not be used (the previous lists stay in force).
  @discardableResult
  public func reloadIfChanged() -> Bool {
    let versions = files.map { FileVersion(path: $0) }
    guard versions != state.withLock({ $0.fileVersions }) else { return true }
    do {
      let lists = try Self.read(files, issuers: clientCAs)
      state.withLock {
        $0.lists = lists
        $0.fileVersions = versions
      }
      logger.notice(
        "certificate revocation lists reloaded",
        metadata: ["files": "\(files.joined(separator: ","))", "revoked": "\(lists.reduce(0) { $0 + $1.revokedSerialNumbers.count })"])
      return true
    } catch {
      // Remember the versions so that a broken file is reported once, not at every handshake.
      state.withLock { $0.fileVersions = versions }
      logger.error("certificate revocation lists NOT reloaded: the lists in force stay in force", metadata: ["error": "\(error)"])
      return false
    }
  }

  private static func read(_ files: [String], issuers: [Certificate]) throws(DeploymentConfig.Error) -> [CertificateRevocationList] {
    var all: [CertificateRevocationList] = []
    for (index, file) in files.enumerated() {
      let key = "access.crl[\(index)]"
      let lists: [CertificateRevocationList]
      do {
        lists = try CertificateRevocationList.load(contentsOf: file)
      } catch {
        throw DeploymentConfig.Error(key: key, message: "\(file) is not a certificate revocation list: \(error)")
      }
      for list in lists {
        guard issuers.contains(where: { list.isSigned(by: $0) }) else {
          throw DeploymentConfig.Error(
            key: key, message: "the CRL in \(file) (issuer \(list.issuer)) is not signed by a CA of `access.client_ca`")
        }
      }
      all += lists
    }
    return all
  }

  static func certificates(inPEMFile path: String) throws -> [Certificate] {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    return try PEMDocument.parseMultiple(pemString: text).filter { $0.discriminator == "CERTIFICATE" }
      .map { try Certificate(derEncoded: $0.derBytes) }
  }
}

/// Refuses a chain in which a certificate is revoked by its issuer's CRL, or whose issuer's
/// CRLs are all past their next update (a stale list cannot vouch that nothing was revoked
/// since: OpenSSL refuses the same way). A CA without a configured CRL is not checked.
struct RevocationPolicy: VerifierPolicy {
  let lists: [CertificateRevocationList]
  let time: Date
  let verifyingCriticalExtensions: [ASN1ObjectIdentifier] = []

  func chainMeetsPolicyRequirements(chain: UnverifiedCertificateChain) async -> PolicyEvaluationResult {
    // The last certificate is the trust anchor: it is trusted by configuration, not by a CRL.
    for certificate in chain.dropLast() {
      let issued = lists.filter { $0.issuer == certificate.issuer }
      guard !issued.isEmpty else { continue }
      if issued.contains(where: { $0.revokes(certificate) }) {
        return .failsToMeetPolicy(reason: "certificate serial \(certificate.serialNumber) (\(certificate.subject)) is revoked by the CRL of \(certificate.issuer)")
      }
      if !issued.contains(where: { $0.nextUpdate.map { time < $0 } ?? true }) {
        let due = issued.compactMap(\.nextUpdate).max().map { "\($0)" } ?? "?"
        return .failsToMeetPolicy(reason: "the CRL of \(certificate.issuer) is out of date (its next update was due \(due)): publish a new one")
      }
    }
    return .meetsPolicy
  }
}

/// Requires a client certificate meant for client authentication: when the leaf restricts its
/// extended key usage, the restriction must include `clientAuth` (BoringSSL's "ssl_client"
/// purpose check, which the host's own verification replaces when CRLs are configured).
struct ClientAuthenticationPolicy: VerifierPolicy {
  let verifyingCriticalExtensions: [ASN1ObjectIdentifier] = [.X509ExtensionID.extendedKeyUsage]

  func chainMeetsPolicyRequirements(chain: UnverifiedCertificateChain) async -> PolicyEvaluationResult {
    let usage: ExtendedKeyUsage?
    do {
      usage = try chain.leaf.extensions.extendedKeyUsage
    } catch {
      return .failsToMeetPolicy(reason: "the certificate's extended key usage cannot be read")
    }
    if let usage, !usage.contains(.clientAuth) && !usage.contains(.any) {
      return .failsToMeetPolicy(reason: "the certificate is not for client authentication (extended key usage without clientAuth)")
    }
    return .meetsPolicy
  }
}
