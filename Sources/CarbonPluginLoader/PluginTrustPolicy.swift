import Crypto
import Foundation

/// An Ed25519 public key a deployment trusts to sign plugin manifests.
public struct PublisherKey: Sendable, Hashable, CustomStringConvertible {
  /// The 32-byte raw public key.
  public let rawRepresentation: Data

  /// A key from its base64 text (the content of a `.pub` file written by `carbonhub plugin
  /// keygen`); surrounding whitespace is ignored.
  public init(base64 text: String) throws(KeyError) {
    let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
    guard let data = Data(base64Encoded: trimmed) else { throw KeyError(reason: "is not base64") }
    guard data.count == 32, (try? Curve25519.Signing.PublicKey(rawRepresentation: data)) != nil else {
      throw KeyError(reason: "is \(data.count) bytes; an Ed25519 public key is 32")
    }
    rawRepresentation = data
  }

  /// The public half of a signing key.
  public init(_ key: Curve25519.Signing.PublicKey) {
    rawRepresentation = key.rawRepresentation
  }

  /// Base64 text of the key, as in a `.pub` file.
  public var base64: String { rawRepresentation.base64EncodedString() }

  /// The base64 text.
  public var description: String { base64 }

  /// True when `signature` is this key's Ed25519 signature of `data`.
  public func isValidSignature(_ signature: Data, for data: Data) -> Bool {
    guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: rawRepresentation) else { return false }
    return key.isValidSignature(signature, for: data)
  }

  /// Why a key text was rejected; the caller names where it came from.
  public struct KeyError: Error, Equatable, CustomStringConvertible {
    /// What is wrong with the text.
    public let reason: String
    /// An error with its reason.
    public init(reason: String) { self.reason = reason }
    /// The reason.
    public var description: String { reason }
  }
}

/// What a deployment demands of plugin manifests and signatures (the deployment file's
/// `[trust]` table). This type's own default demands nothing (a manifest, when present, is
/// still checked): it serves the tools (`carbonhub verify`, the tests' direct loads). A
/// deployment's default is `deploymentDefault`, which requires a manifest of every plugin it
/// does not pin.
///
/// Under `requireSignature` a plugin loads only with a manifest whose detached signature
/// verifies under the key of the publisher the manifest names, and that publisher is in
/// `trustedPublishers`. Without it, a signature from a trusted publisher is still verified (a
/// bad one is refused: it means the manifest changed after signing), and a signature from
/// anyone else is ignored, as it would be absent.
public struct PluginTrustPolicy: Sendable, Equatable {
  /// Refuse plugins without a valid signature by a trusted publisher.
  public var requireSignature: Bool
  /// Refuse plugins without a manifest (implied by `requireSignature`).
  public var requireManifest: Bool
  /// Publisher name → public key.
  public var trustedPublishers: [String: PublisherKey]
  /// Accept a configured plugin path (or sidecar) that is a symbolic link (`allow_symlinks`);
  /// its target is checked like any plugin file either way.
  public var allowSymlinks: Bool

  /// A policy; the defaults demand nothing and refuse symbolic links.
  public init(
    requireSignature: Bool = false, requireManifest: Bool = false, trustedPublishers: [String: PublisherKey] = [:],
    allowSymlinks: Bool = false
  ) {
    self.requireSignature = requireSignature
    self.requireManifest = requireManifest
    self.trustedPublishers = trustedPublishers
    self.allowSymlinks = allowSymlinks
  }

  /// What a deployment demands unless its `[trust]` table says otherwise: a manifest for every
  /// plugin it does not pin by `sha256` (a deleted manifest must not pass for "none written").
  public static let deploymentDefault = PluginTrustPolicy(requireManifest: true)

  /// Decides on a library from its manifest and signature files alone, before any of its code
  /// runs: the manifest's presence and validity, the signature, the binary's digest against
  /// the manifest, and the manifest's ABI version against the host's.
  ///
  /// - Parameters:
  ///   - path: the library's path (for messages and the sidecar paths).
  ///   - sha256: the digest of the bytes that will be loaded, lowercase hex.
  ///   - manifest: the manifest file's bytes, nil when there is none.
  ///   - signature: the signature file's bytes, nil when there is none.
  ///   - hostABIVersion: the ABI version of this host.
  ///   - pinned: the deployment pins the library's digest (already checked): `requireManifest`
  ///     does not apply to it (`requireSignature` still does).
  public func check(
    library path: String, sha256: String, manifest: Data?, signature: Data?, hostABIVersion: UInt32,
    pinned: Bool = false
  ) throws(PluginLoadError) -> ManifestCheck {
    let manifestPath = PluginManifest.manifestPath(forLibrary: path)
    guard let manifestData = manifest else {
      if requireSignature { throw .manifestMissing(path: path, requirement: "trust.require_signature") }
      if requireManifest && !pinned { throw .manifestMissing(path: path, requirement: "trust.require_manifest") }
      return .none
    }
    let parsed: PluginManifest
    do {
      parsed = try PluginManifest.parse(manifestData)
    } catch {
      throw .invalidManifest(path: manifestPath, field: error.field, reason: error.reason)
    }

    // Authenticity first: a manifest edited to match a modified binary must read as a bad
    // signature, not as a good manifest.
    var signedBy: String?
    switch (signature, parsed.publisher) {
    case (nil, _):
      if requireSignature { throw .unsigned(path: path) }
    case (.some, nil):
      if requireSignature { throw .untrustedPublisher(path: path, publisher: nil, trusted: trustedPublishers.keys.sorted()) }
    case (.some(let signatureData), .some(let publisher)):
      guard let key = trustedPublishers[publisher] else {
        if requireSignature {
          throw .untrustedPublisher(path: path, publisher: publisher, trusted: trustedPublishers.keys.sorted())
        }
        break
      }
      let text = String(decoding: signatureData, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
      guard let bytes = Data(base64Encoded: text), bytes.count == 64 else {
        throw .invalidSignature(path: path, publisher: publisher, reason: "the file is not the base64 of a 64-byte Ed25519 signature")
      }
      guard key.isValidSignature(bytes, for: manifestData) else {
        throw .invalidSignature(
          path: path, publisher: publisher,
          reason: "the manifest was changed after it was signed, or it was signed with another key")
      }
      signedBy = publisher
    }

    guard parsed.sha256 == sha256.lowercased() else {
      throw .binaryTampered(path: path, manifest: parsed.sha256, actual: sha256.lowercased())
    }
    guard parsed.abiVersion == hostABIVersion else {
      throw .manifestABIMismatch(path: path, manifest: parsed.abiVersion, host: hostABIVersion)
    }
    if let signedBy { return .signed(parsed, publisher: signedBy) }
    return .unsigned(parsed)
  }
}

/// What the manifest check found for a loaded library.
public enum ManifestCheck: Sendable, Equatable, CustomStringConvertible {
  /// No manifest (allowed by the policy).
  case none
  /// A manifest that matches the binary, without a verified signature.
  case unsigned(PluginManifest)
  /// A manifest that matches the binary, signed by a trusted publisher.
  case signed(PluginManifest, publisher: String)

  /// The manifest, when there is one.
  public var manifest: PluginManifest? {
    switch self {
    case .none: return nil
    case .unsigned(let manifest), .signed(let manifest, _): return manifest
    }
  }

  /// "no manifest", "manifest, unsigned" or "manifest signed by <publisher>".
  public var description: String {
    switch self {
    case .none: return "no manifest"
    case .unsigned: return "manifest, unsigned"
    case .signed(_, let publisher): return "manifest signed by '\(publisher)'"
    }
  }
}

/// A publisher's Ed25519 private key, as `carbonhub plugin keygen` writes it (`NAME.key`:
/// base64 of the 32-byte raw key) and `carbonhub plugin sign` uses it.
public struct PublisherSigningKey: Sendable {
  private let rawRepresentation: Data

  /// A new random key.
  public init() {
    rawRepresentation = Curve25519.Signing.PrivateKey().rawRepresentation
  }

  /// A key from the base64 text of a `.key` file; surrounding whitespace is ignored.
  public init(base64 text: String) throws(PublisherKey.KeyError) {
    let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
    guard let data = Data(base64Encoded: trimmed) else { throw PublisherKey.KeyError(reason: "is not base64") }
    guard data.count == 32, (try? Curve25519.Signing.PrivateKey(rawRepresentation: data)) != nil else {
      throw PublisherKey.KeyError(reason: "is \(data.count) bytes; an Ed25519 private key is 32")
    }
    rawRepresentation = data
  }

  private var key: Curve25519.Signing.PrivateKey { curve25519 }

  /// The key as swift-crypto's type, for signing other things than manifests (the host's
  /// receipts use keys of this same file format).
  public var curve25519: Curve25519.Signing.PrivateKey {
    // Validated in every initialiser.
    try! Curve25519.Signing.PrivateKey(rawRepresentation: rawRepresentation)
  }

  /// Base64 text of the private key, as in a `.key` file.
  public var base64: String { rawRepresentation.base64EncodedString() }

  /// The public key to list under the deployment's `[trust.publishers]`.
  public var publicKey: PublisherKey { PublisherKey(key.publicKey) }

  /// The detached signature file's text for these exact manifest bytes: base64 of the
  /// 64-byte Ed25519 signature.
  public func signature(for manifest: Data) -> String {
    // Signing with a valid Ed25519 key does not fail (BoringSSL's ED25519_sign returns 1).
    (try! key.signature(for: manifest)).base64EncodedString()
  }
}
