import CarbonPluginLoader
import Foundation
import CarbonDomain
import TOMLKit

/// A deployment: where the host listens, its TLS material, and which modules it serves.
///
/// Read from a TOML file (see `docs/deployment.md` for the reference) or built from the
/// embedded default, then adjusted by command-line flags.
public struct DeploymentConfig: Sendable, Equatable {
  /// A module entry of the deployment file (`[modules.<name>]`).
  public struct ModuleEntry: Sendable, Equatable {
    /// The key under `[modules]`; must equal the name the plugin declares.
    public var name: String
    /// False keeps the module listed but not loaded.
    public var enabled: Bool = true
    /// Path of the shared library; relative paths are relative to `plugin_dir`.
    public var path: String
    /// Expected SHA-256 of the library (lowercase hex); nil means not pinned.
    public var sha256: String?
    /// The module's `config` table as JSON, handed to its `init`.
    public var configJSON: String = "{}"
    /// Who may call the module (`allow`); nil means any caller the host accepts.
    public var allow: [String]? = nil
    /// Per-method rules (`[[modules.<name>.rules]]`), checked after `allow`; see `MethodRule`.
    public var methodRules: [MethodRule] = []
    /// Where the module's code runs (`isolation`).
    public var isolation: Isolation = .inProcess
    /// Address-space limit of an isolated module's worker (`memory_limit_mb`).
    public var memoryLimitMB: Int? = nil
    /// The unprivileged user an isolated module's worker runs as (`worker_user`, a name from the
    /// system's user database); nil: the host's own user. Needs a host started as root.
    public var workerUser: WorkerUser? = nil
    /// What an isolated module's worker may reach (`confinement`, `connect_ports`,
    /// `read_paths`): by default its data directory, the system's libraries, no network.
    public var confinement = WorkerConfinement()
    /// Calls answered at once (`max_concurrent_calls`); more get RESOURCE_EXHAUSTED. nil: no limit.
    public var maxConcurrentCalls: Int? = nil
    /// Server-side deadline of every call of the module (`call_timeout_ms`), on top of the
    /// caller's own; nil: `[limits]`'s `unary_timeout_ms` or `streaming_timeout_ms` by kind.
    public var callTimeoutMilliseconds: Int? = nil
    /// Largest request or response message of the module (`max_message_bytes`); nil: the
    /// deployment's. Set it above the deployment's for a module whose unary batches are large.
    public var maxMessageBytes: Int? = nil

    public init(name: String, enabled: Bool = true, path: String, sha256: String? = nil, configJSON: String = "{}") {
      self.name = name
      self.enabled = enabled
      self.path = path
      self.sha256 = sha256
      self.configJSON = configJSON
    }
  }

  /// Where a module's code runs.
  public enum Isolation: String, Sendable, Equatable {
    /// dlopen'd into the host (default).
    case inProcess = "in_process"
    /// In a `carbonhub worker` child process.
    case isolated
  }

  /// Who may call what (`[access]`).
  public struct Access: Sendable, Equatable {
    /// PEM file of the CA that issues client certificates (`client_ca`); nil: no mTLS.
    public var clientCA: String?
    /// Refuse calls without a client certificate (`require_client_certificate`); defaults to
    /// true once `client_ca` is set.
    public var requireClientCertificate: Bool = false
    /// Identities with the `admin` role (`admins`).
    public var admins: [String] = []
    /// Certificate revocation lists of the client CA (`crl`: PEM or DER files), read again
    /// when they change; a revoked client or admin certificate is refused at the handshake.
    public var crl: [String] = []

    public init(clientCA: String? = nil, requireClientCertificate: Bool = false, admins: [String] = [], crl: [String] = []) {
      self.clientCA = clientCA
      self.requireClientCertificate = requireClientCertificate
      self.admins = admins
      self.crl = crl
    }
  }

  /// Host and port to listen on, e.g. "127.0.0.1:8443"; port 0 picks a free port.
  public var listen: String = "127.0.0.1:8443"
  /// PEM certificate chain of the server; nil with `key` nil means "development certificate".
  public var tlsCertificate: String?
  /// PEM private key of the server.
  public var tlsKey: String?
  /// Serve plaintext instead of TLS. Only allowed on a loopback address (local debugging).
  public var insecureLoopback: Bool = false
  /// Directory searched for plugins (`*.so`) when `modules` is empty, and base of relative paths.
  public var pluginDirectory: String
  /// Directory for the development CA, certificates and each module's private data.
  public var stateDirectory: String
  /// Largest request or response message, bytes (gRPC's own default, 4 MiB): a batch larger
  /// than that has a streaming twin, or its module a larger `max_message_bytes`.
  public var maxMessageBytes: Int = 4 * 1024 * 1024
  /// What clients may cost the host: memory, time and connections (`[limits]`).
  public var limits = Limits()
  /// Modules, in file order. Empty means: every plugin found in `pluginDirectory`.
  public var modules: [ModuleEntry] = []
  /// Client authentication and roles.
  public var access = Access()
  /// Address of the Prometheus metrics endpoint (`metrics_listen`, plain HTTP, `GET /metrics`);
  /// nil: no endpoint.
  public var metricsListen: String?
  /// Name of this host in logs, metrics and the `carbonhub-instance` response header
  /// (`instance_name`); defaults to the listen address.
  public var instanceName: String?
  /// The audit log file (`audit_log`): admin actions and refusals as JSON lines; nil:
  /// `<state_dir>/audit.log`.
  public var auditLog: String?
  /// The `carbonhub` executable started as the worker of isolated modules (`worker_executable`);
  /// nil: this process's own executable.
  public var workerExecutable: String?
  /// What plugins' manifests and signatures must satisfy (`[trust]`); by default a manifest is
  /// required for every plugin the deployment does not pin, and symbolic links are refused.
  public var trust = PluginTrustPolicy.deploymentDefault

  public init(pluginDirectory: String, stateDirectory: String) {
    self.pluginDirectory = pluginDirectory
    self.stateDirectory = stateDirectory
  }

  /// A deployment-file error naming the offending key.
  public struct Error: Swift.Error, CustomStringConvertible, Equatable {
    public let key: String
    public let message: String
    public var description: String { key.isEmpty ? message : "\(key): \(message)" }
  }

  /// The embedded default: every plugin of `pluginDirectory` on 127.0.0.1:8443, with a
  /// development certificate kept in `stateDirectory`.
  public static func embeddedDefault(pluginDirectory: String, stateDirectory: String) -> DeploymentConfig {
    DeploymentConfig(pluginDirectory: pluginDirectory, stateDirectory: stateDirectory)
  }

  /// Parses a deployment file. Unknown keys are errors (a typo must not silently change a
  /// deployment). `defaults` supplies directories the file leaves out.
  public static func parse(toml text: String, defaults: DeploymentConfig) throws(Error) -> DeploymentConfig {
    let root: [String: Any]
    // The same document as written, for the modules' `config` tables: handed on with every
    // number exactly as the file gives it (JSONSerialization would round some decimals).
    let exact: JSONValue
    do {
      let table = try TOMLTable(string: text)
      let json = table.convert(to: .json)
      guard let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else {
        throw Error(key: "", message: "the deployment file is not a table")
      }
      root = object
      exact = try JSONValue(parsing: Array(json.utf8))
    } catch let error as Error {
      throw error
    } catch let error as TOMLParseError {
      throw Error(key: "", message: "TOML syntax error at line \(error.source.begin.line), column \(error.source.begin.column): \(error.description)")
    } catch {
      throw Error(key: "", message: "cannot read the deployment file: \(error)")
    }

    var config = defaults
    let reader = TableReader(table: root, prefix: "")
    try reader.allowOnly([
      "listen", "plugin_dir", "state_dir", "max_message_bytes", "tls", "modules", "access", "metrics_listen",
      "instance_name", "worker_executable", "trust", "audit_log", "limits",
    ])
    if let listen = try reader.string("listen") { config.listen = listen }
    if let dir = try reader.string("plugin_dir") { config.pluginDirectory = dir }
    if let dir = try reader.string("state_dir") { config.stateDirectory = dir }
    if let max = try reader.integer("max_message_bytes") {
      guard max >= 1024 else { throw Error(key: "max_message_bytes", message: "must be at least 1024") }
      config.maxMessageBytes = max
    }
    if let tls = try reader.table("tls") {
      try tls.allowOnly(["certificate", "key", "insecure_loopback"])
      config.tlsCertificate = try tls.string("certificate")
      config.tlsKey = try tls.string("key")
      config.insecureLoopback = try tls.bool("insecure_loopback") ?? false
      guard (config.tlsCertificate == nil) == (config.tlsKey == nil) else {
        throw Error(key: "tls", message: "give both `certificate` and `key`, or neither (development certificate)")
      }
    }
    config.metricsListen = try reader.string("metrics_listen") ?? config.metricsListen
    config.instanceName = try reader.string("instance_name") ?? config.instanceName
    config.workerExecutable = try reader.string("worker_executable") ?? config.workerExecutable
    config.auditLog = try reader.string("audit_log") ?? config.auditLog
    if let access = try reader.table("access") {
      try access.allowOnly(["client_ca", "require_client_certificate", "admins", "crl"])
      config.access.clientCA = try access.string("client_ca")
      config.access.requireClientCertificate = try access.bool("require_client_certificate") ?? (config.access.clientCA != nil)
      config.access.admins = try access.identities("admins") ?? []
      config.access.crl = try access.strings("crl") ?? []
      if config.access.clientCA == nil && !config.access.crl.isEmpty {
        throw Error(key: "access.crl", message: "revocation lists apply to client certificates: set `client_ca` too")
      }
      if let any = config.access.admins.firstIndex(of: "*") {
        throw Error(key: "access.admins[\(any)]", message: "'*' would make every authenticated caller an admin: name the admins")
      }
      if config.access.clientCA == nil && config.access.requireClientCertificate {
        throw Error(key: "access.require_client_certificate", message: "needs `client_ca` (the CA that issues client certificates)")
      }
      if config.access.clientCA == nil && !config.access.admins.isEmpty {
        throw Error(key: "access.admins", message: "admins are recognised by their client certificate: set `client_ca` too")
      }
    }
    if let trust = try reader.table("trust") {
      config.trust = try parseTrust(trust)
    }
    if let limits = try reader.table("limits") {
      config.limits = try Limits.parse(limits)
    }
    if let modules = try reader.table("modules") {
      for name in modules.table.keys.sorted() {
        guard let module = try modules.table(name) else { continue }
        try module.allowOnly([
          "enabled", "path", "sha256", "config", "allow", "isolation", "memory_limit_mb", "max_concurrent_calls",
          "call_timeout_ms", "rules", "max_message_bytes", "worker_user", "confinement", "connect_ports", "read_paths",
        ])
        guard let path = try module.string("path") else {
          throw Error(key: "modules.\(name).path", message: "is required")
        }
        var entry = ModuleEntry(name: name, path: path)
        entry.enabled = try module.bool("enabled") ?? true
        if let sha = try module.string("sha256") {
          guard sha.count == 64, sha.allSatisfy(\.isHexDigit) else {
            throw Error(key: "modules.\(name).sha256", message: "must be 64 hexadecimal characters")
          }
          entry.sha256 = sha.lowercased()
        }
        entry.allow = try module.identities("allow")
        entry.methodRules = try module.methodRules("rules")
        if let isolation = try module.string("isolation") {
          guard let value = Isolation(rawValue: isolation) else {
            throw Error(key: "modules.\(name).isolation", message: "must be \"in_process\" or \"isolated\", not \"\(isolation)\"")
          }
          entry.isolation = value
        }
        entry.memoryLimitMB = try module.positiveInteger("memory_limit_mb")
        entry.maxConcurrentCalls = try module.positiveInteger("max_concurrent_calls")
        entry.callTimeoutMilliseconds = try module.positiveInteger("call_timeout_ms")
        if let max = try module.integer("max_message_bytes") {
          guard max >= 1024 else { throw Error(key: "modules.\(name).max_message_bytes", message: "must be at least 1024") }
          entry.maxMessageBytes = max
        }
        if entry.memoryLimitMB != nil && entry.isolation != .isolated {
          throw Error(key: "modules.\(name).memory_limit_mb", message: "only applies to `isolation = \"isolated\"` modules")
        }
        if let user = try module.string("worker_user") {
          guard entry.isolation == .isolated else {
            throw Error(key: "modules.\(name).worker_user", message: "only applies to `isolation = \"isolated\"` modules")
          }
          guard let resolved = WorkerUser(name: user) else {
            throw Error(key: "modules.\(name).worker_user", message: "no user \(user.quoted) on this system")
          }
          guard resolved.uid != 0 else {
            throw Error(key: "modules.\(name).worker_user", message: "must be an unprivileged user, not root")
          }
          entry.workerUser = resolved
        }
        entry.confinement = try module.confinement(isolated: entry.isolation == .isolated)
        if try module.table("config") != nil, let moduleConfig = exact["modules"]?[name]?["config"] {
          entry.configJSON = String(decoding: moduleConfig.serialized, as: UTF8.self)
        }
        config.modules.append(entry)
      }
    }
    try config.validate()
    return config
  }

  /// `[trust]`: `require_signature`, `require_manifest` (default true), `allow_symlinks`
  /// (default false) and `[trust.publishers]` name = "base64 Ed25519 public key", each key
  /// validated here so a bad one is named at start-up.
  private static func parseTrust(_ trust: TableReader) throws(Error) -> PluginTrustPolicy {
    try trust.allowOnly(["require_signature", "require_manifest", "allow_symlinks", "publishers"])
    var policy = PluginTrustPolicy.deploymentDefault
    policy.requireSignature = try trust.bool("require_signature") ?? false
    policy.requireManifest = try trust.bool("require_manifest") ?? PluginTrustPolicy.deploymentDefault.requireManifest
    policy.allowSymlinks = try trust.bool("allow_symlinks") ?? PluginTrustPolicy.deploymentDefault.allowSymlinks
    if let publishers = try trust.table("publishers") {
      for name in publishers.table.keys.sorted() {
        guard let text = try publishers.string(name) else { continue }
        do {
          policy.trustedPublishers[name] = try PublisherKey(base64: text)
        } catch {
          throw Error(
            key: publishers.key(name),
            message: "\(error.reason): give the base64 Ed25519 public key of a .pub file written by `carbonhub plugin keygen`")
        }
      }
    }
    if policy.requireSignature && policy.trustedPublishers.isEmpty {
      throw Error(key: "trust.require_signature", message: "is true but [trust.publishers] lists no key: no plugin could load")
    }
    return policy
  }

  /// The largest message any module accepts.
  var largestMessageBytes: Int {
    modules.compactMap(\.maxMessageBytes).reduce(maxMessageBytes, max)
  }

  /// What the transport reads of one request message before it gives up: four times the
  /// largest module limit. Up to it, a request above its module's limit gets RESOURCE_EXHAUSTED
  /// naming the limit (checked by the host, which the transport cannot do: it resets the
  /// stream); beyond it the transport resets the stream before reading it whole.
  var transportMessageCeiling: Int {
    let (product, overflow) = largestMessageBytes.multipliedReportingOverflow(by: 4)
    return overflow ? Int.max : product
  }

  /// Checks the combination of settings.
  public func validate() throws(Error) {
    guard let address = try? ListenAddress(listen) else {
      throw Error(key: "listen", message: "'\(listen)' is not HOST:PORT")
    }
    if insecureLoopback && !address.isLoopback {
      throw Error(key: "tls.insecure_loopback", message: "plaintext is only allowed on a loopback address, not \(address.host)")
    }
    if insecureLoopback && access.clientCA != nil {
      throw Error(key: "access.client_ca", message: "client certificates need TLS: remove `tls.insecure_loopback`")
    }
    if let metricsListen, (try? ListenAddress(metricsListen)) == nil {
      throw Error(key: "metrics_listen", message: "'\(metricsListen)' is not HOST:PORT")
    }
  }
}

/// A parsed `HOST:PORT` (IPv6 hosts in brackets: `[::1]:8443`).
public struct ListenAddress: Sendable, Equatable {
  public let host: String
  public let port: Int

  public init(_ text: String) throws {
    if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
      host = String(text[text.index(after: text.startIndex)..<close])
      let rest = text[text.index(after: close)...]
      guard rest.hasPrefix(":"), let port = Int(rest.dropFirst()), (0...65535).contains(port) else {
        throw DeploymentConfig.Error(key: "listen", message: "bad port in '\(text)'")
      }
      self.port = port
    } else {
      let parts = text.split(separator: ":", omittingEmptySubsequences: false)
      guard parts.count == 2, !parts[0].isEmpty, let port = Int(parts[1]), (0...65535).contains(port) else {
        throw DeploymentConfig.Error(key: "listen", message: "'\(text)' is not HOST:PORT")
      }
      host = String(parts[0])
      self.port = port
    }
  }

  /// True for 127.0.0.0/8, ::1 and localhost.
  public var isLoopback: Bool {
    host == "localhost" || host == "::1" || host.hasPrefix("127.")
  }
}

/// Typed access to a JSON-converted TOML table with key paths in errors.
struct TableReader {
  let table: [String: Any]
  let prefix: String

  func key(_ name: String) -> String { prefix.isEmpty ? name : "\(prefix).\(name)" }

  func allowOnly(_ keys: Set<String>) throws(DeploymentConfig.Error) {
    for name in table.keys.sorted() where !keys.contains(name) {
      throw DeploymentConfig.Error(key: key(name), message: "unknown key (allowed: \(keys.sorted().joined(separator: ", ")))")
    }
  }

  func string(_ name: String) throws(DeploymentConfig.Error) -> String? {
    guard let value = table[name] else { return nil }
    guard let string = value as? String else { throw DeploymentConfig.Error(key: key(name), message: "must be a string") }
    return string
  }

  func bool(_ name: String) throws(DeploymentConfig.Error) -> Bool? {
    guard let value = table[name] else { return nil }
    guard Self.isBoolean(value), let bool = value as? Bool else {
      throw DeploymentConfig.Error(key: key(name), message: "must be true or false")
    }
    return bool
  }

  func integer(_ name: String) throws(DeploymentConfig.Error) -> Int? {
    guard let value = table[name] else { return nil }
    guard !Self.isBoolean(value), let number = value as? NSNumber,
      number.doubleValue == number.doubleValue.rounded()
    else {
      throw DeploymentConfig.Error(key: key(name), message: "must be an integer")
    }
    return number.intValue
  }

  func positiveInteger(_ name: String) throws(DeploymentConfig.Error) -> Int? {
    guard let value = try integer(name) else { return nil }
    guard value > 0 else { throw DeploymentConfig.Error(key: key(name), message: "must be greater than 0") }
    return value
  }

  func strings(_ name: String) throws(DeploymentConfig.Error) -> [String]? {
    guard let value = table[name] else { return nil }
    guard let list = value as? [Any], let strings = list as? [String] else {
      throw DeploymentConfig.Error(key: key(name), message: "must be a list of strings")
    }
    for (index, string) in strings.enumerated() where string.trimmingCharacters(in: .whitespaces).isEmpty {
      throw DeploymentConfig.Error(key: "\(key(name))[\(index)]", message: "must not be empty")
    }
    return strings
  }

  /// An isolated module's `confinement`, `connect_ports` (1…65535) and `read_paths`
  /// (absolute); refused on a module that runs in process, where nothing can confine it.
  func confinement(isolated: Bool) throws(DeploymentConfig.Error) -> WorkerConfinement {
    var confinement = WorkerConfinement()
    for name in ["confinement", "connect_ports", "read_paths"] where table[name] != nil && !isolated {
      throw DeploymentConfig.Error(key: key(name), message: "only applies to `isolation = \"isolated\"` modules")
    }
    if let mode = try string("confinement") {
      guard let value = WorkerConfinement.Mode(rawValue: mode) else {
        let modes = WorkerConfinement.Mode.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
        throw DeploymentConfig.Error(key: key("confinement"), message: "must be one of \(modes), not \(mode.quoted)")
      }
      confinement.mode = value
    }
    if let ports = table["connect_ports"] {
      guard let list = ports as? [Any] else { throw DeploymentConfig.Error(key: key("connect_ports"), message: "must be a list of TCP ports") }
      for (index, port) in list.enumerated() {
        guard !Self.isBoolean(port), let number = port as? NSNumber, number.doubleValue == number.doubleValue.rounded(),
          (1...65535).contains(number.intValue)
        else {
          throw DeploymentConfig.Error(key: "\(key("connect_ports"))[\(index)]", message: "must be a TCP port (1 to 65535)")
        }
        confinement.connectPorts.append(UInt16(number.intValue))
      }
    }
    if let paths = try strings("read_paths") {
      for (index, path) in paths.enumerated() where !path.hasPrefix("/") {
        throw DeploymentConfig.Error(key: "\(key("read_paths"))[\(index)]", message: "must be an absolute path")
      }
      confinement.readPaths = paths
    }
    return confinement
  }

  /// A list of identities (`cn:…`, `dns:…`, `uri:…`, `email:…`, `*`, or a bare common name),
  /// each checked with `IdentityPattern`.
  func identities(_ name: String) throws(DeploymentConfig.Error) -> [String]? {
    guard let list = try strings(name) else { return nil }
    for (index, text) in list.enumerated() {
      do {
        _ = try IdentityPattern(text)
      } catch {
        throw DeploymentConfig.Error(key: "\(key(name))[\(index)]", message: error.reason)
      }
    }
    return list
  }

  /// `[[…rules]]`: an array of tables, each with `methods` (names or `Prefix*`) and `allow`
  /// (identities), both required and non-empty.
  func methodRules(_ name: String) throws(DeploymentConfig.Error) -> [MethodRule] {
    guard let value = table[name] else { return [] }
    guard let list = value as? [Any] else {
      throw DeploymentConfig.Error(key: key(name), message: "must be an array of tables ([[\(key(name))]])")
    }
    var rules: [MethodRule] = []
    for (index, item) in list.enumerated() {
      guard let object = item as? [String: Any] else {
        throw DeploymentConfig.Error(key: "\(key(name))[\(index)]", message: "must be a table with `methods` and `allow`")
      }
      let rule = TableReader(table: object, prefix: "\(key(name))[\(index)]")
      try rule.allowOnly(["methods", "allow"])
      guard let methods = try rule.strings("methods"), !methods.isEmpty else {
        throw DeploymentConfig.Error(key: rule.key("methods"), message: "give at least one method name or Prefix*")
      }
      for (position, method) in methods.enumerated()
      where method.dropLast(method.hasSuffix("*") ? 1 : 0).contains(where: { !($0.isLetter || $0.isNumber || $0 == "_") }) {
        throw DeploymentConfig.Error(
          key: "\(rule.key("methods"))[\(position)]", message: "'\(method)' is not a method name (Convert) or a prefix (Get*)")
      }
      guard let allow = try rule.identities("allow"), !allow.isEmpty else {
        throw DeploymentConfig.Error(key: rule.key("allow"), message: "give at least one identity")
      }
      rules.append(MethodRule(methods: methods, allow: allow))
    }
    return rules
  }

  /// JSONSerialization gives booleans as Bool or as NSNumber of Objective-C type "c"/"B".
  private static func isBoolean(_ value: Any) -> Bool {
    if type(of: value) == Bool.self { return true }
    if let number = value as? NSNumber {
      let kind = String(cString: number.objCType)
      return kind == "c" || kind == "B"
    }
    return false
  }

  func table(_ name: String) throws(DeploymentConfig.Error) -> TableReader? {
    guard let value = table[name] else { return nil }
    guard let sub = value as? [String: Any] else { throw DeploymentConfig.Error(key: key(name), message: "must be a table") }
    return TableReader(table: sub, prefix: key(name))
  }
}

/// An isolated worker's user: its name as the deployment gives it, and its ids from the system's
/// user database, read once when the deployment is loaded.
public struct WorkerUser: Sendable, Equatable {
  /// The user's name (`worker_user`).
  public let name: String
  /// Its user id.
  public let uid: uid_t
  /// Its primary group id.
  public let gid: gid_t

  /// Looks `name` up (`getpwnam_r`); nil when the system has no such user.
  public init?(name: String) {
    var entry = passwd()
    var result: UnsafeMutablePointer<passwd>? = nil
    var buffer = [CChar](repeating: 0, count: 4096)
    guard getpwnam_r(name, &entry, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
    self.name = name
    uid = entry.pw_uid
    gid = entry.pw_gid
  }
}
