import Foundation
import TOMLKit

/// The deployment file as written, decoded by TOMLKit's `TOMLDecoder` in strict mode: every key
/// the file may hold is declared once, in a `CodingKeys` enum below, and any other key is an
/// error naming it. Values are checked and turned into a `DeploymentConfig` by
/// `DeploymentConfig.parse`; docs/deployment.md describes each key.
struct DeploymentFile: Decodable {
  var listen: String?
  var pluginDir: String?
  var stateDir: String?
  var maxMessageBytes: Int?
  var tls: TLS?
  var modules: [String: Module]?
  var access: Access?
  var metricsListen: String?
  var httpListen: String?
  var instanceName: String?
  var workerExecutable: String?
  var trust: Trust?
  var auditLog: String?
  var limits: Limits?
  var workers: Workers?
  var receipts: Receipts?

  enum CodingKeys: String, CodingKey, CaseIterable {
    case listen, tls, modules, access, trust, limits, workers, receipts
    case pluginDir = "plugin_dir", stateDir = "state_dir", maxMessageBytes = "max_message_bytes"
    case metricsListen = "metrics_listen", httpListen = "http_listen", instanceName = "instance_name", workerExecutable = "worker_executable"
    case auditLog = "audit_log"
  }

  /// `[tls]`.
  struct TLS: Decodable {
    var certificate: String?
    var key: String?
    var insecureLoopback: Bool?

    enum CodingKeys: String, CodingKey, CaseIterable {
      case certificate, key
      case insecureLoopback = "insecure_loopback"
    }
  }

  /// `[access]`.
  struct Access: Decodable {
    var clientCA: String?
    var requireClientCertificate: Bool?
    var admins: [String]?
    var crl: [String]?

    enum CodingKeys: String, CodingKey, CaseIterable {
      case admins, crl
      case clientCA = "client_ca", requireClientCertificate = "require_client_certificate"
    }
  }

  /// `[trust]`; `publishers` maps a publisher's name to its base64 Ed25519 public key.
  struct Trust: Decodable {
    var requireSignature: Bool?
    var requireManifest: Bool?
    var allowSymlinks: Bool?
    var publishers: [String: String]?

    enum CodingKeys: String, CodingKey, CaseIterable {
      case publishers
      case requireSignature = "require_signature", requireManifest = "require_manifest", allowSymlinks = "allow_symlinks"
    }
  }

  /// `[modules.<name>]`.
  struct Module: Decodable {
    var enabled: Bool?
    var path: String?
    var sha256: String?
    /// Present when the file has a `config` table; its content is the module's, read from the
    /// TOML table itself so that every number reaches the module as written.
    var config: ModuleConfigTable?
    var allow: [String]?
    var rules: [Rule]?
    var isolation: String?
    var memoryLimitMB: Int?
    var maxConcurrentCalls: Int?
    var callTimeoutMilliseconds: Int?
    var maxMessageBytes: Int?
    var workerUser: String?
    var confinement: String?
    var connectPorts: [Int]?
    var readPaths: [String]?
    var `default`: Bool?
    var retired: Bool?

    enum CodingKeys: String, CodingKey, CaseIterable {
      case enabled, path, sha256, config, allow, rules, isolation, confinement, `default`, retired
      case memoryLimitMB = "memory_limit_mb", maxConcurrentCalls = "max_concurrent_calls"
      case callTimeoutMilliseconds = "call_timeout_ms", maxMessageBytes = "max_message_bytes"
      case workerUser = "worker_user", connectPorts = "connect_ports", readPaths = "read_paths"
    }
  }

  /// `[[modules.<name>.rules]]`.
  struct Rule: Decodable {
    var methods: [String]?
    var allow: [String]?

    enum CodingKeys: String, CodingKey, CaseIterable {
      case methods, allow
    }
  }

  /// `[limits]`.
  struct Limits: Decodable {
    var memoryBudgetMB: Int?
    var maxResidentMB: Int?
    var streamBufferBytes: Int?
    var unaryTimeoutMilliseconds: Int?
    var streamingTimeoutMilliseconds: Int?
    var handshakeTimeoutMilliseconds: Int?
    var idleTimeoutMilliseconds: Int?
    var drainTimeoutMilliseconds: Int?
    var maxConnections: Int?
    var maxConnectionsPerAddress: Int?
    var maxConcurrentStreams: Int?
    var keepaliveMinPingIntervalMilliseconds: Int?
    var keepalivePermitWithoutCalls: Bool?
    var pluginThreads: Int?
    var inlineFastCalls: Bool?

    enum CodingKeys: String, CodingKey, CaseIterable {
      case memoryBudgetMB = "memory_budget_mb", maxResidentMB = "max_resident_mb", streamBufferBytes = "stream_buffer_bytes"
      case unaryTimeoutMilliseconds = "unary_timeout_ms", streamingTimeoutMilliseconds = "streaming_timeout_ms"
      case handshakeTimeoutMilliseconds = "handshake_timeout_ms", idleTimeoutMilliseconds = "idle_timeout_ms"
      case drainTimeoutMilliseconds = "drain_timeout_ms"
      case maxConnections = "max_connections", maxConnectionsPerAddress = "max_connections_per_address"
      case maxConcurrentStreams = "max_concurrent_streams"
      case keepaliveMinPingIntervalMilliseconds = "keepalive_min_ping_interval_ms"
      case keepalivePermitWithoutCalls = "keepalive_permit_without_calls"
      case pluginThreads = "plugin_threads", inlineFastCalls = "inline_fast_calls"
    }
  }

  /// `[workers]`, milliseconds.
  struct Workers: Decodable {
    var restartDelay: Int?
    var restartDelayMax: Int?
    var restartResetAfter: Int?
    var startTimeout: Int?
    var cancelGrace: Int?
    var pingInterval: Int?
    var pingTimeout: Int?
    var stopGrace: Int?
    var retireGrace: Int?

    enum CodingKeys: String, CodingKey, CaseIterable {
      case restartDelay = "restart_delay_ms", restartDelayMax = "restart_delay_max_ms"
      case restartResetAfter = "restart_reset_after_ms", startTimeout = "start_timeout_ms"
      case cancelGrace = "cancel_grace_ms", pingInterval = "ping_interval_ms", pingTimeout = "ping_timeout_ms"
      case stopGrace = "stop_grace_ms", retireGrace = "retire_grace_ms"
    }
  }

  /// `[receipts]`.
  struct Receipts: Decodable {
    var enabled: Bool?
    var keyFile: String?
    var batchWindowMicroseconds: Int?

    enum CodingKeys: String, CodingKey, CaseIterable {
      case enabled
      case keyFile = "key_file", batchWindowMicroseconds = "batch_window_us"
    }
  }

  /// Reads `text`: the decoded file, and the TOML table it came from (for the modules' `config`).
  static func read(_ text: String) throws(DeploymentConfig.Error) -> (file: DeploymentFile, table: TOMLTable) {
    let table: TOMLTable
    do {
      table = try TOMLTable(string: text)
    } catch let error as TOMLParseError {
      throw DeploymentConfig.Error(
        key: "", message: "TOML syntax error at line \(error.source.begin.line), column \(error.source.begin.column): \(error.description)")
    } catch {
      throw DeploymentConfig.Error(key: "", message: "cannot read the deployment file: \(error)")
    }
    do {
      return (try TOMLDecoder(strictDecoding: true).decode(DeploymentFile.self, from: table), table)
    } catch let error as UnexpectedKeysError {
      throw unknownKey(error)
    } catch let error as DecodingError {
      throw wrongValue(error)
    } catch {
      throw DeploymentConfig.Error(key: "", message: "cannot read the deployment file: \(error)")
    }
  }

  /// The first unknown key (in key order), with the keys its table allows.
  private static func unknownKey(_ error: UnexpectedKeysError) -> DeploymentConfig.Error {
    let paths = error.keys.values.map { $0.map(PathComponent.init) }
      .filter { !isInsideModuleConfig($0) }
      .sorted { dotted($0) < dotted($1) }
    guard let path = paths.first else {
      return DeploymentConfig.Error(key: "", message: "unknown keys")
    }
    let allowed = allowedKeys(under: Array(path.dropLast()))
    return DeploymentConfig.Error(
      key: dotted(path),
      message: allowed.isEmpty ? "unknown key" : "unknown key (allowed: \(allowed.sorted().joined(separator: ", ")))")
  }

  /// The keys a table of the file may hold, by the table's path.
  private static func allowedKeys(under table: [PathComponent]) -> [String] {
    func keys<Keys: CodingKey & CaseIterable>(_: Keys.Type) -> [String] { Keys.allCases.map(\.stringValue) }
    switch table.map(\.name) {
    case []: return keys(CodingKeys.self)
    case ["tls"]: return keys(TLS.CodingKeys.self)
    case ["access"]: return keys(Access.CodingKeys.self)
    case ["trust"]: return keys(Trust.CodingKeys.self)
    case ["limits"]: return keys(Limits.CodingKeys.self)
    case ["workers"]: return keys(Workers.CodingKeys.self)
    case ["receipts"]: return keys(Receipts.CodingKeys.self)
    case let path where path.count == 2 && path[0] == "modules": return keys(Module.CodingKeys.self)
    case let path where path.count == 4 && path[0] == "modules" && path[2] == "rules": return keys(Rule.CodingKeys.self)
    default: return []
    }
  }

  /// A value of the wrong type, named with what the key needs.
  private static func wrongValue(_ error: DecodingError) -> DeploymentConfig.Error {
    let expected: String
    let context: DecodingError.Context
    switch error {
    case .typeMismatch(let type, let errorContext):
      context = errorContext
      expected = String(describing: type)
    case .keyNotFound(_, let errorContext):
      // TOMLKit reports a present key of the wrong type as `A "Bool" does not exist at …`.
      context = errorContext
      let quoted = errorContext.debugDescription.split(separator: "\"", omittingEmptySubsequences: false)
      expected = errorContext.debugDescription.hasPrefix("A \"") && quoted.count > 1 ? String(quoted[1]) : ""
    case .valueNotFound(let type, let errorContext):
      context = errorContext
      expected = String(describing: type)
    case .dataCorrupted(let errorContext):
      context = errorContext
      expected = ""
    @unknown default:
      return DeploymentConfig.Error(key: "", message: "\(error)")
    }
    let message =
      switch expected {
      case "String": "must be a string"
      case "Bool": "must be true or false"
      case "Int": "must be an integer"
      case "TOMLTable": "must be a table"
      case "TOMLArray": "must be a list"
      default: "has the wrong type (\(context.debugDescription))"
      }
    return DeploymentConfig.Error(key: dotted(context.codingPath.map(PathComponent.init)), message: message)
  }

  /// One step of a key's path: a table key or a list index.
  private struct PathComponent {
    let name: String
    let index: Int?

    init(_ key: any CodingKey) {
      name = key.stringValue
      index = key.intValue
    }
  }

  /// `modules.esca.rules[0].allow`: as the errors of `DeploymentConfig.parse` name keys.
  private static func dotted(_ path: [PathComponent]) -> String {
    path.reduce(into: "") { text, component in
      if let index = component.index {
        text += "[\(index)]"
      } else {
        text += text.isEmpty ? component.name : ".\(component.name)"
      }
    }
  }

  /// A key inside a module's `config` table belongs to the module, not to the host.
  private static func isInsideModuleConfig(_ path: [PathComponent]) -> Bool {
    path.count > 3 && path[0].name == "modules" && path[2].name == "config"
  }
}

/// A module's `config` table: any table. Its keys are the module's, so each is visited (which
/// tells the strict decoder they are known) and the values are left to the module.
struct ModuleConfigTable: Decodable {
  init(from decoder: any Decoder) throws {
    let table = try decoder.container(keyedBy: AnyKey.self)
    for key in table.allKeys { _ = try? table.decode(AnyValue.self, forKey: key) }
  }

  private struct AnyKey: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
  }

  /// Any TOML value, with tables and lists visited to their leaves.
  private struct AnyValue: Decodable {
    init(from decoder: any Decoder) throws {
      if let table = try? decoder.container(keyedBy: AnyKey.self) {
        for key in table.allKeys { _ = try? table.decode(AnyValue.self, forKey: key) }
      } else if var list = try? decoder.unkeyedContainer() {
        while !list.isAtEnd {
          guard (try? list.decode(AnyValue.self)) != nil else { break }
        }
      }
    }
  }
}
