import Crypto
import Foundation

/// What a receipt states of one direction's messages (receipt.proto): how many, SHA-256 of each
/// while there are at most `listed` of them, and SHA-256 of all of them in order (each as its
/// 8-byte big-endian length then its bytes). The list lets an auditor check one streamed result
/// alone; the running digest keeps a long stream's receipt (and the host's memory) small — a
/// gRPC trailer above 8 KiB is refused by common clients.
public struct MessageHashes {
  /// Messages hashed one by one up to this count.
  public static let listed = 64

  /// How many messages were added.
  public private(set) var count: UInt64 = 0
  private var each: [Data] = []
  private var stream = SHA256()

  public init() {}

  /// Adds the next message.
  public mutating func add(_ message: some DataProtocol) {
    count += 1
    if count <= UInt64(Self.listed) { each.append(Data(SHA256.hash(data: message))) }
    var length = UInt64(message.count).bigEndian
    withUnsafeBytes(of: &length) { stream.update(bufferPointer: $0) }
    stream.update(data: message)
  }

  /// SHA-256 of each message, or nothing when there were more than `listed`.
  public var listedHashes: [Data] { count <= UInt64(Self.listed) ? each : [] }

  /// SHA-256 of every message in order.
  public var streamHash: Data { Data(stream.finalize()) }

  /// The hashes of `messages`, in order.
  public static func of(_ messages: [Data]) -> MessageHashes {
    messages.reduce(into: MessageHashes()) { $0.add($1) }
  }
}
