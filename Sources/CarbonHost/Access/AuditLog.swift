import Foundation
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// The audit log: every admin action and every refused call, one JSON object per line, in a file
/// of its own (`audit_log`, default `<state_dir>/audit.log`), apart from the application log.
///
/// The file is opened with `O_APPEND` (each line lands at the end, whatever else writes to the
/// file), never truncated, created with mode 0600, and refused when it is a symbolic link; each
/// line is written with one `write` and made durable with `fsync` before the action's answer
/// leaves the host. Plugins cannot reach it: a worker's output goes to the application log,
/// escaped (see `WorkerOutputLine`), and in-process plugins are the host's own code.
public final class AuditLog: Sendable {
  /// One audited event.
  public struct Event: Sendable, Encodable, Equatable {
    /// `admin` (a HostAdmin RPC, whatever its outcome) or `refusal` (a call refused by the
    /// access rules).
    public var kind: String
    /// The caller's identity that the decision rests on (`cn:ops`), or `anonymous`.
    public var who: String
    /// The caller's address (`ipv4:127.0.0.1:53412`).
    public var peer: String
    /// What was asked: the gRPC method (`carbon.host.v1.HostAdmin/ReloadModule`).
    public var action: String
    /// The module concerned, when there is one.
    public var module: String?
    /// `ok`, or the gRPC status name of the refusal or failure (`PERMISSION_DENIED`).
    public var outcome: String
    /// The request's relevant fields, or the reason of a refusal.
    public var detail: String?

    /// An event.
    public init(kind: String, who: String, peer: String, action: String, module: String? = nil, outcome: String, detail: String? = nil) {
      self.kind = kind
      self.who = who
      self.peer = peer
      self.action = action
      self.module = module
      self.outcome = outcome
      self.detail = detail
    }
  }

  /// The file's path.
  public let path: String
  private let descriptor: Mutex<Int32>

  /// Opens (creating it, mode 0600, and its directory, mode 0700) the audit file for appending.
  public init(path: String) throws {
    self.path = path
    try FileManager.default.createDirectory(
      atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true,
      attributes: [.posixPermissions: 0o700])
    let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
    guard fd >= 0 else {
      throw DeploymentConfig.Error(key: "audit_log", message: "cannot open \(path) for appending: \(String(cString: strerror(errno)))")
    }
    descriptor = Mutex(fd)
  }

  deinit { descriptor.withLock { _ = close($0) } }

  /// Appends `event` with its time (UTC, ISO 8601 with milliseconds) and syncs the file.
  /// Returns false when the line could not be written or synced (the caller logs it).
  @discardableResult
  public func record(_ event: Event) -> Bool {
    var line = Self.encode(event)
    line.append(UInt8(ascii: "\n"))
    return descriptor.withLock { fd in
      let written = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
      return written == line.count && fsync(fd) == 0
    }
  }

  /// The JSON line of an event (without its newline): keys sorted, `time` added.
  static func encode(_ event: Event, at time: Date = Date()) -> Data {
    struct Stamped: Encodable {
      let time: String
      let event: Event
      func encode(to encoder: any Encoder) throws {
        try event.encode(to: encoder)
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(time, forKey: Key(stringValue: "time")!)
      }
      struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
      }
    }
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return (try? encoder.encode(Stamped(time: formatter.string(from: time), event: event))) ?? Data("{}".utf8)
  }
}
