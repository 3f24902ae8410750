import Foundation
import Synchronization

/// The host's resident memory against `[limits] max_resident_mb`. The memory budget counts the
/// request and response bytes the host holds; what a plugin makes of a request (its decoded
/// form can be many times the wire size) and its working memory only the kernel sees. While the
/// resident set is above the limit, new calls are refused with RESOURCE_EXHAUSTED, as Envoy's
/// overload manager acts on heap size. Calls in flight go on: they are what will free it.
public final class ResidentMemoryGuard: Sendable {
  /// The limit, bytes.
  public let limitBytes: Int
  private let sampledBytes = Atomic<Int>(0)
  private let sampledAt = Atomic<UInt64>(0)
  /// How long a reading is used before the next one: one `/proc/self/statm` read per 20 ms at
  /// most, whatever the call rate.
  private static let sampleInterval: UInt64 = 20_000_000
  private static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

  public init(limitBytes: Int) {
    self.limitBytes = limitBytes
  }

  /// The resident set now (at most 20 ms old), bytes; 0 when the kernel does not say (not Linux).
  public var residentBytes: Int {
    let now = DispatchTime.now().uptimeNanoseconds
    let last = sampledAt.load(ordering: .acquiring)
    if last != 0 && now &- last < Self.sampleInterval {
      return sampledBytes.load(ordering: .relaxed)
    }
    let bytes = Self.readResidentBytes() ?? 0
    sampledBytes.store(bytes, ordering: .relaxed)
    sampledAt.store(now, ordering: .releasing)
    return bytes
  }

  /// False while the resident set is above the limit.
  func admits() -> Bool { residentBytes <= limitBytes }

  /// The second field of `/proc/self/statm` (resident pages), read without Foundation's file
  /// APIs: this runs on the call path.
  static func readResidentBytes() -> Int? {
    let descriptor = open("/proc/self/statm", O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { return nil }
    defer { close(descriptor) }
    var buffer = [UInt8](repeating: 0, count: 128)
    let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
    guard count > 0 else { return nil }
    let fields = buffer[..<count].split(separator: UInt8(ascii: " "))
    guard fields.count >= 2, let pages = Int(String(decoding: fields[1], as: UTF8.self)) else { return nil }
    return pages * pageSize
  }
}
