import CarbonHostProtocol
import CarbonPluginLoader
import Crypto
import Foundation
import Logging

/// Signs the host's receipts with its Ed25519 receipt key (receipt.proto, docs/versions-and-receipts.md).
///
/// The key comes from the deployment file (`[receipts] key_file`) or, by default, from
/// `<state_dir>/receipts/receipt.key`, generated on the first start like the development CA. Its
/// public half is served by `Host.GetReceiptKey` and written beside it as `receipt.pub`.
/// Both files use the format `carbonhub plugin keygen` writes: base64 of the 32-byte raw key.
public struct ReceiptSigner: Sendable {
  /// The public key receipts are checked with.
  public let publicKey: PublisherKey
  /// Which key signed (first 8 bytes of SHA-256 of the raw public key, hex), carried in receipts.
  public let keyID: String
  /// The host's name, stated in every receipt.
  public let instanceName: String
  /// Immutable once made; swift-crypto 3 does not mark the type Sendable. Kept built (rather
  /// than rebuilt from its raw bytes per call, which derives the public key again).
  nonisolated(unsafe) private let key: Curve25519.Signing.PrivateKey

  /// A signer with `key`.
  public init(key: PublisherSigningKey, instanceName: String) {
    self.key = key.curve25519
    publicKey = key.publicKey
    keyID = Self.keyID(of: key.publicKey)
    self.instanceName = instanceName
  }

  /// The key id of `publicKey`: the first 8 bytes of SHA-256 of its raw bytes, lowercase hex.
  public static func keyID(of publicKey: PublisherKey) -> String {
    ReceiptVerification.hex(Data(SHA256.hash(data: publicKey.rawRepresentation).prefix(8)))
  }

  /// Receipts for `contents` (serialized `ReceiptContent`s, at least one), in order, under one
  /// signature: each with its leaf index and audit path in the batch's Merkle tree.
  public func signBatch(_ contents: [Data]) -> [Carbon_Host_V1_Receipt] {
    let (root, paths) = ReceiptTree.build(contents.map(ReceiptTree.leafHash)[...])
    // Signing with a valid Ed25519 key does not fail (BoringSSL's ED25519_sign returns 1).
    let signature = (try? key.signature(for: ReceiptTree.signaturePrefix + root)) ?? Data()
    return zip(contents, paths).enumerated().map { index, leaf in
      var receipt = Carbon_Host_V1_Receipt()
      receipt.content = leaf.0
      receipt.signature = signature
      receipt.keyID = keyID
      receipt.leafIndex = UInt64(index)
      receipt.batchSize = UInt64(contents.count)
      receipt.inclusionPath = leaf.1
      return receipt
    }
  }

  /// `content` signed alone (a batch of one).
  public func sign(_ content: Carbon_Host_V1_ReceiptContent) -> Carbon_Host_V1_Receipt {
    // Serializing a message built by the host does not fail.
    signBatch([(try? content.serializedData()) ?? Data()])[0]
  }

  /// The deployment's signer: nil when `[receipts] enabled = false`. A key file that cannot be
  /// read, or holds no Ed25519 key, is an error naming the file; the default key is created on
  /// first use (mode 0600) with its public half beside it.
  public static func load(
    _ settings: DeploymentConfig.Receipts, stateDirectory: String, instanceName: String, logger: Logger
  ) throws(DeploymentConfig.Error) -> ReceiptSigner? {
    guard settings.enabled else { return nil }
    let path = settings.keyFile ?? stateDirectory + "/receipts/receipt.key"
    if settings.keyFile == nil, !FileManager.default.fileExists(atPath: path) {
      let key = PublisherSigningKey()
      do {
        try FileManager.default.createDirectory(
          atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try NewFile.create(path, key.base64 + "\n", mode: 0o600)
        try NewFile.create(stateDirectory + "/receipts/receipt.pub", key.publicKey.base64 + "\n", mode: 0o644)
      } catch {
        throw DeploymentConfig.Error(key: "receipts.key_file", message: "cannot create the receipt key \(path): \(error)")
      }
      logger.notice("receipt key created", metadata: ["file": "\(path)", "key_id": "\(keyID(of: key.publicKey))"])
    }
    guard let text = FileManager.default.contents(atPath: path) else {
      throw DeploymentConfig.Error(key: "receipts.key_file", message: "cannot read \(path)")
    }
    do throws(PublisherKey.KeyError) {
      let key = try PublisherSigningKey(base64: String(decoding: text, as: UTF8.self))
      return ReceiptSigner(key: key, instanceName: instanceName)
    } catch {
      throw DeploymentConfig.Error(
        key: "receipts.key_file", message: "\(path) \(error) (write one with `carbonhub plugin keygen --out NAME`)")
    }
  }
}

extension ReceiptSigner {
  /// The answer of `Host.GetReceiptKey`.
  var keyMessage: Carbon_Host_V1_ReceiptKey {
    var message = Carbon_Host_V1_ReceiptKey()
    message.enabled = true
    message.algorithm = "Ed25519"
    message.publicKey = publicKey.rawRepresentation
    message.publicKeyBase64 = publicKey.base64
    message.keyID = keyID
    message.hostInstance = instanceName
    return message
  }
}
