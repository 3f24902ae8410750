import CarbonHostProtocol
import CarbonPluginLoader
import Crypto
import Foundation

/// Checks a receipt offline: its signature under the host's public key, then the request and
/// response messages the holder has against the hashes it states. `carbonhub receipt verify`
/// runs it; any language can do the same with receipt.proto and an Ed25519 library.
public enum ReceiptVerification {
  /// Why a receipt was refused, in words an auditor can act on.
  public struct Failure: Error, Equatable, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
  }

  /// What a verified receipt proved.
  public struct Verified: Sendable {
    /// The receipt's statements.
    public let content: Carbon_Host_V1_ReceiptContent
    /// One line per message checked ("request 1 of 1 matches", "response matches message 3 of 12").
    public let checked: [String]
  }

  /// A receipt from a file's bytes: the serialized `Receipt` as the trailer carries it, or the
  /// same in base64 text (as logs and some clients print binary metadata).
  public static func decode(_ bytes: Data) throws(Failure) -> Carbon_Host_V1_Receipt {
    if let receipt = try? Carbon_Host_V1_Receipt(serializedBytes: bytes), receipt.signature.count == 64 { return receipt }
    let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    // Binary metadata travels as unpadded base64: pad it back before decoding.
    let padded = text + String(repeating: "=", count: (4 - text.count % 4) % 4)
    if let decoded = Data(base64Encoded: padded), let receipt = try? Carbon_Host_V1_Receipt(serializedBytes: decoded),
      receipt.signature.count == 64
    {
      return receipt
    }
    throw Failure("not a receipt: neither a serialized carbon.host.v1.Receipt nor its base64 (a receipt has a 64-byte signature)")
  }

  /// Verifies `receipt` under `publicKey`, then each of `requests` and `responses` (when given)
  /// against the hashes it states: all of them in order, or — for a single response of a stream
  /// — that it is one of the streamed messages.
  public static func verify(
    _ receipt: Carbon_Host_V1_Receipt, publicKey: PublisherKey, requests: [Data], responses: [Data]
  ) throws(Failure) -> Verified {
    let keyID = ReceiptSigner.keyID(of: publicKey)
    guard receipt.keyID == keyID else {
      throw Failure("the receipt was signed by key \(receipt.keyID), not by the key given (\(keyID))")
    }
    guard receipt.batchSize >= 1,
      let root = ReceiptTree.root(
        leaf: ReceiptTree.leafHash(receipt.content), index: receipt.leafIndex, size: receipt.batchSize, path: receipt.inclusionPath)
    else {
      throw Failure(
        "the inclusion path does not lead from leaf \(receipt.leafIndex) to the root of a batch of \(receipt.batchSize) (the receipt was changed)")
    }
    guard publicKey.isValidSignature(receipt.signature, for: ReceiptTree.signaturePrefix + root) else {
      throw Failure("bad signature: the receipt's content was changed after it was signed, or another key signed it")
    }
    guard let content = try? Carbon_Host_V1_ReceiptContent(serializedBytes: receipt.content) else {
      throw Failure("the signed content is not a carbon.host.v1.ReceiptContent")
    }
    guard content.format == 1 else { throw Failure("receipt format \(content.format) is not known to this verifier (it knows 1)") }
    var checked: [String] = []
    checked += try match(requests, content.requestSha256, count: content.requestCount, stream: content.requestStreamSha256, kind: "request")
    checked += try match(
      responses, content.responseSha256, count: content.responseCount, stream: content.responseStreamSha256, kind: "response")
    return Verified(content: content, checked: checked)
  }

  private static func match(
    _ messages: [Data], _ stated: [Data], count: UInt64, stream: Data, kind: String
  ) throws(Failure) -> [String] {
    guard !messages.isEmpty else { return [] }
    if stated.isEmpty {
      // More than `MessageHashes.listed` messages: only the digest of them all is stated.
      guard UInt64(messages.count) == count else {
        throw Failure(
          "\(messages.count) \(kind) message(s) given; the receipt states the digest of all \(count) together: give every one, in order")
      }
      guard MessageHashes.of(messages).streamHash == stream else {
        throw Failure("the \(count) \(kind) messages do not match the receipt's digest of them: one was changed, or belongs to another call")
      }
      return ["all \(count) \(kind) messages match"]
    }
    let hashes = messages.map { Data(SHA256.hash(data: $0)) }
    if hashes.count == 1, stated.count > 1 {
      guard let index = stated.firstIndex(of: hashes[0]) else {
        throw Failure("the \(kind) is none of the \(stated.count) \(kind) messages the receipt states (changed, or another call's)")
      }
      return ["\(kind) matches message \(index + 1) of \(stated.count)"]
    }
    guard hashes.count == stated.count else {
      throw Failure("\(hashes.count) \(kind) message(s) given; the receipt states \(stated.count)")
    }
    var lines: [String] = []
    for (index, (hash, statedHash)) in zip(hashes, stated).enumerated() {
      guard hash == statedHash else {
        throw Failure(
          "\(kind) \(index + 1) of \(stated.count) does not match the receipt (sha256 \(hex(hash)), stated \(hex(statedHash))): it was changed, or belongs to another call")
      }
      lines.append("\(kind) \(index + 1) of \(stated.count) matches")
    }
    return lines
  }

  /// Lowercase hexadecimal of `bytes`.
  public static func hex(_ bytes: Data) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
}
