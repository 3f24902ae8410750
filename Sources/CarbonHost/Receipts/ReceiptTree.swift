import Crypto
import Foundation

/// The Merkle tree of a batch of receipts, as RFC 9162 section 2.1 defines it (Certificate
/// Transparency's): leaf hash SHA-256(0x00 || content), node hash SHA-256(0x01 || left || right),
/// a tree of n leaves split at the largest power of two below n. One signature over the root
/// covers every receipt of the batch; each receipt carries its audit path to the root.
public enum ReceiptTree {
  /// The bytes signed for a batch: this prefix, then the 32-byte root. The prefix keeps a
  /// receipt signature from ever passing for a signature of anything else made with the key.
  public static let signaturePrefix = Data("carbonhub.receipt.v1".utf8)

  /// The leaf hash of a receipt's content.
  public static func leafHash(_ content: Data) -> Data {
    var hasher = SHA256()
    hasher.update(data: [0x00])
    hasher.update(data: content)
    return Data(hasher.finalize())
  }

  static func nodeHash(_ left: Data, _ right: Data) -> Data {
    var hasher = SHA256()
    hasher.update(data: [0x01])
    hasher.update(data: left)
    hasher.update(data: right)
    return Data(hasher.finalize())
  }

  /// The root of `leaves` (leaf hashes, at least one) and each leaf's audit path (RFC 9162
  /// section 2.1.3.1), leaf side first.
  static func build(_ leaves: ArraySlice<Data>) -> (root: Data, paths: [[Data]]) {
    guard leaves.count > 1 else { return (leaves.first!, [[]]) }
    var split = 1
    while split * 2 < leaves.count { split *= 2 }
    let left = build(leaves.prefix(split))
    let right = build(leaves.dropFirst(split))
    return (nodeHash(left.root, right.root), left.paths.map { $0 + [right.root] } + right.paths.map { $0 + [left.root] })
  }

  /// The root that `leaf` at `index` of a tree of `size` leaves reaches by `path` (RFC 9162
  /// section 2.1.3.2), or nil when the path does not fit the index and size.
  public static func root(leaf: Data, index: UInt64, size: UInt64, path: [Data]) -> Data? {
    guard index < size else { return nil }
    var fn = index
    var sn = size - 1
    var hash = leaf
    for sibling in path {
      guard sn != 0, sibling.count == 32 else { return nil }
      if fn & 1 == 1 || fn == sn {
        hash = nodeHash(sibling, hash)
        if fn & 1 == 0 {
          while fn & 1 == 0 && fn != 0 {
            fn >>= 1
            sn >>= 1
          }
        }
      } else {
        hash = nodeHash(hash, sibling)
      }
      fn >>= 1
      sn >>= 1
    }
    return sn == 0 ? hash : nil
  }
}
