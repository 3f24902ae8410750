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
    /// The key under `[modules]`: the name the plugin declares ("esca"), or that name and the
    /// version it declares ("esca@1.0.0") for one of several versions served side by side.
    public var name: String
    /// Answers the calls that name no version (`default`); without one, the highest serving
    /// release of the module does (docs/versions-and-receipts.md).
    public var isDefaultVersion: Bool = false
    /// Listed but not loaded (`retired`): calls that ask for this version get
    /// FAILED_PRECONDITION naming the versions still served.
    public var retired: Bool = false
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

    /// The module this entry is a version of: the key before any `@` ("esca" of "esca@1.0.0").
    public var moduleName: String { Self.moduleName(ofKey: name) }
    /// The version the key names ("1.0.0" of "esca@1.0.0"); nil for a key without `@`.
    public var pinnedVersion: String? { Self.pinnedVersion(ofKey: name) }

    /// "esca" of "esca@1.0.0" (and of "esca").
    public static func moduleName(ofKey key: String) -> String {
      key.firstIndex(of: "@").map { String(key[..<$0]) } ?? key
    }

    /// "1.0.0" of "esca@1.0.0"; nil for "esca".
    public static func pinnedVersion(ofKey key: String) -> String? {
      key.firstIndex(of: "@").map { String(key[key.index(after: $0)...]) }
    }

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

  /// Signed receipts of module calls (`[receipts]`, docs/versions-and-receipts.md).
  public struct Receipts: Sendable, Equatable {
    /// Sign a receipt for every successful module call (`enabled`, default true).
    public var enabled: Bool = true
    /// The Ed25519 private key file (`key_file`: base64 of the 32-byte key, as `carbonhub plugin
    /// keygen` writes it); nil: `<state_dir>/receipts/receipt.key`, created on first start.
    public var keyFile: String?
    /// How long the receipts of calls that end close together wait to be signed as one batch
    /// (`batch_window_us`; default 0: each receipt signed alone, at once). A receipt asked for
    /// longer than this after the previous signature is signed at once. docs/performance.md
    /// ("Receipts") has the measurements behind the default.
    public var batchWindow: Duration = .zero

    public init(enabled: Bool = true, keyFile: String? = nil, batchWindow: Duration = .zero) {
      self.enabled = enabled
      self.keyFile = keyFile
      self.batchWindow = batchWindow
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
  /// How isolated modules' workers are restarted, timed and pinged (`[workers]`).
  public var workers = WorkerTimings()
  /// Modules, in file order. Empty means: every plugin found in `pluginDirectory`.
  public var modules: [ModuleEntry] = []
  /// Client authentication and roles.
  public var access = Access()
  /// Address of the Prometheus metrics endpoint (`metrics_listen`, plain HTTP, `GET /metrics`);
  /// nil: no endpoint.
  public var metricsListen: String?
  /// Address of the HTTP/JSON gateway (`http_listen`: every module method at
  /// `POST /v1/{module}/{Method}`, its OpenAPI description at `/openapi.json`), with the gRPC
  /// listener's TLS and client certificates; nil: no gateway.
  public var httpListen: String?
  /// Name of this host in logs, metrics and the `carbonhub-instance` response header
  /// (`instance_name`); defaults to the listen address.
  public var instanceName: String?
  /// The audit log file (`audit_log`): admin actions and refusals as JSON lines; nil:
  /// `<state_dir>/audit.log`.
  public var auditLog: String?
  /// The `carbonhub` executable started as the worker of isolated modules (`worker_executable`);
  /// nil: this process's own executable.
  public var workerExecutable: String?
  /// Receipts on or off, and their key (`[receipts]`).
  public var receipts = Receipts()
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
    let (file, table) = try DeploymentFile.read(text)
    var config = defaults
    if let listen = file.listen { config.listen = listen }
    if let dir = file.pluginDir { config.pluginDirectory = dir }
    if let dir = file.stateDir { config.stateDirectory = dir }
    if let max = file.maxMessageBytes {
      guard max >= 1024 else { throw Error(key: "max_message_bytes", message: "must be at least 1024") }
      config.maxMessageBytes = max
    }
    if let tls = file.tls {
      config.tlsCertificate = tls.certificate
      config.tlsKey = tls.key
      config.insecureLoopback = tls.insecureLoopback ?? false
      guard (config.tlsCertificate == nil) == (config.tlsKey == nil) else {
        throw Error(key: "tls", message: "give both `certificate` and `key`, or neither (development certificate)")
      }
    }
    config.metricsListen = file.metricsListen ?? config.metricsListen
    config.httpListen = file.httpListen ?? config.httpListen
    config.instanceName = file.instanceName ?? config.instanceName
    config.workerExecutable = file.workerExecutable ?? config.workerExecutable
    config.auditLog = file.auditLog ?? config.auditLog
    if let access = file.access {
      config.access.clientCA = access.clientCA
      config.access.requireClientCertificate = access.requireClientCertificate ?? (config.access.clientCA != nil)
      config.access.admins = try identities(access.admins, key: "access.admins") ?? []
      config.access.crl = try nonEmpty(access.crl, key: "access.crl") ?? []
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
    if let trust = file.trust {
      config.trust = try trustPolicy(trust)
    }
    if let limits = file.limits {
      config.limits = try Limits(limits)
    }
    if let workers = file.workers {
      config.workers = try WorkerTimings(workers)
    }
    if let receipts = file.receipts {
      config.receipts.enabled = receipts.enabled ?? true
      if let keyFile = receipts.keyFile, keyFile.trimmingCharacters(in: .whitespaces).isEmpty {
        throw Error(key: "receipts.key_file", message: "must not be empty")
      }
      config.receipts.keyFile = receipts.keyFile
      if let window = receipts.batchWindowMicroseconds {
        guard (0...100_000).contains(window) else {
          throw Error(key: "receipts.batch_window_us", message: "must be between 0 and 100000 (microseconds)")
        }
        config.receipts.batchWindow = .microseconds(window)
      }
      if !config.receipts.enabled && config.receipts.keyFile != nil {
        throw Error(key: "receipts.key_file", message: "receipts are off (`enabled = false`): remove the key or turn them on")
      }
    }
    for (name, module) in (file.modules ?? [:]).sorted(by: { $0.key < $1.key }) {
      let configTable = table["modules"]?.table?[name]?.table?["config"]?.table
      let entry = try moduleEntry(name, module, configTable: configTable)
      if entry.isDefaultVersion, let other = config.modules.first(where: { $0.moduleName == entry.moduleName && $0.isDefaultVersion }) {
        throw Error(key: "modules.\(name).default", message: "'\(other.name)' is already the default version of '\(entry.moduleName)'")
      }
      config.modules.append(entry)
    }
    try config.validate()
    return config
  }

  /// `[modules.<name>]`, checked.
  private static func moduleEntry(
    _ name: String, _ module: DeploymentFile.Module, configTable: TOMLTable?
  ) throws(Error) -> ModuleEntry {
    let key = "modules.\(name)"
    guard let path = module.path else {
      throw Error(key: "\(key).path", message: "is required")
    }
    var entry = ModuleEntry(name: name, path: path)
    if entry.moduleName.isEmpty || entry.pinnedVersion?.isEmpty == true || entry.pinnedVersion?.contains("@") == true {
      throw Error(key: key, message: "a module is named NAME or NAME@VERSION (e.g. \"esca@1.0.0\")")
    }
    entry.enabled = module.enabled ?? true
    entry.isDefaultVersion = module.default ?? false
    entry.retired = module.retired ?? false
    if entry.retired && entry.isDefaultVersion {
      throw Error(key: "\(key).default", message: "a retired version cannot be the default")
    }
    if let sha = module.sha256 {
      guard sha.count == 64, sha.allSatisfy(\.isHexDigit) else {
        throw Error(key: "\(key).sha256", message: "must be 64 hexadecimal characters")
      }
      entry.sha256 = sha.lowercased()
    }
    entry.allow = try identities(module.allow, key: "\(key).allow")
    entry.methodRules = try methodRules(module.rules ?? [], key: "\(key).rules")
    if let isolation = module.isolation {
      guard let value = Isolation(rawValue: isolation) else {
        throw Error(key: "\(key).isolation", message: "must be \"in_process\" or \"isolated\", not \"\(isolation)\"")
      }
      entry.isolation = value
    }
    entry.memoryLimitMB = try positive(module.memoryLimitMB, key: "\(key).memory_limit_mb")
    entry.maxConcurrentCalls = try positive(module.maxConcurrentCalls, key: "\(key).max_concurrent_calls")
    entry.callTimeoutMilliseconds = try positive(module.callTimeoutMilliseconds, key: "\(key).call_timeout_ms")
    if let max = module.maxMessageBytes {
      guard max >= 1024 else { throw Error(key: "\(key).max_message_bytes", message: "must be at least 1024") }
      entry.maxMessageBytes = max
    }
    if entry.memoryLimitMB != nil && entry.isolation != .isolated {
      throw Error(key: "\(key).memory_limit_mb", message: "only applies to `isolation = \"isolated\"` modules")
    }
    if let user = module.workerUser {
      guard entry.isolation == .isolated else {
        throw Error(key: "\(key).worker_user", message: "only applies to `isolation = \"isolated\"` modules")
      }
      guard let resolved = WorkerUser(name: user) else {
        throw Error(key: "\(key).worker_user", message: "no user \(user.quoted) on this system")
      }
      guard resolved.uid != 0 else {
        throw Error(key: "\(key).worker_user", message: "must be an unprivileged user, not root")
      }
      entry.workerUser = resolved
    }
    entry.confinement = try confinement(module, isolated: entry.isolation == .isolated, key: key)
    if let configTable {
      // TOMLKit's JSON keeps every number as the file writes it; JSONValue hands it on as is
      // (JSONSerialization would round some decimals).
      do {
        entry.configJSON = String(decoding: try JSONValue(parsing: Array(configTable.convert(to: .json).utf8)).serialized, as: UTF8.self)
      } catch {
        throw Error(key: "\(key).config", message: "cannot be handed to the module as JSON: \(error)")
      }
    }
    return entry
  }

  /// `[trust]`: `require_signature`, `require_manifest` (default true), `allow_symlinks`
  /// (default false) and `[trust.publishers]` name = "base64 Ed25519 public key", each key
  /// validated here so a bad one is named at start-up.
  private static func trustPolicy(_ trust: DeploymentFile.Trust) throws(Error) -> PluginTrustPolicy {
    var policy = PluginTrustPolicy.deploymentDefault
    policy.requireSignature = trust.requireSignature ?? false
    policy.requireManifest = trust.requireManifest ?? PluginTrustPolicy.deploymentDefault.requireManifest
    policy.allowSymlinks = trust.allowSymlinks ?? PluginTrustPolicy.deploymentDefault.allowSymlinks
    for (name, text) in (trust.publishers ?? [:]).sorted(by: { $0.key < $1.key }) {
      do {
        policy.trustedPublishers[name] = try PublisherKey(base64: text)
      } catch {
        throw Error(
          key: "trust.publishers.\(name)",
          message: "\(error.reason): give the base64 Ed25519 public key of a .pub file written by `carbonhub plugin keygen`")
      }
    }
    if policy.requireSignature && policy.trustedPublishers.isEmpty {
      throw Error(key: "trust.require_signature", message: "is true but [trust.publishers] lists no key: no plugin could load")
    }
    return policy
  }

  /// `value`, refused when it is 0 or below.
  static func positive(_ value: Int?, key: String) throws(Error) -> Int? {
    guard let value else { return nil }
    guard value > 0 else { throw Error(key: key, message: "must be greater than 0") }
    return value
  }

  /// `list`, refused when one of its strings is blank.
  private static func nonEmpty(_ list: [String]?, key: String) throws(Error) -> [String]? {
    guard let list else { return nil }
    for (index, string) in list.enumerated() where string.trimmingCharacters(in: .whitespaces).isEmpty {
      throw Error(key: "\(key)[\(index)]", message: "must not be empty")
    }
    return list
  }

  /// A list of identities (`cn:…`, `dns:…`, `uri:…`, `email:…`, `*`, or a bare common name),
  /// each checked with `IdentityPattern`.
  private static func identities(_ list: [String]?, key: String) throws(Error) -> [String]? {
    guard let list = try nonEmpty(list, key: key) else { return nil }
    for (index, text) in list.enumerated() {
      do {
        _ = try IdentityPattern(text)
      } catch {
        throw Error(key: "\(key)[\(index)]", message: error.reason)
      }
    }
    return list
  }

  /// `[[…rules]]`: each with `methods` (names or `Prefix*`) and `allow` (identities), both
  /// required and non-empty.
  private static func methodRules(_ list: [DeploymentFile.Rule], key: String) throws(Error) -> [MethodRule] {
    var rules: [MethodRule] = []
    for (index, rule) in list.enumerated() {
      let ruleKey = "\(key)[\(index)]"
      guard let methods = try nonEmpty(rule.methods, key: "\(ruleKey).methods"), !methods.isEmpty else {
        throw Error(key: "\(ruleKey).methods", message: "give at least one method name or Prefix*")
      }
      for (position, method) in methods.enumerated()
      where method.dropLast(method.hasSuffix("*") ? 1 : 0).contains(where: { !($0.isLetter || $0.isNumber || $0 == "_") }) {
        throw Error(key: "\(ruleKey).methods[\(position)]", message: "'\(method)' is not a method name (Convert) or a prefix (Get*)")
      }
      guard let allow = try identities(rule.allow, key: "\(ruleKey).allow"), !allow.isEmpty else {
        throw Error(key: "\(ruleKey).allow", message: "give at least one identity")
      }
      rules.append(MethodRule(methods: methods, allow: allow))
    }
    return rules
  }

  /// An isolated module's `confinement`, `connect_ports` (1…65535) and `read_paths`
  /// (absolute); refused on a module that runs in process, where nothing can confine it.
  private static func confinement(_ module: DeploymentFile.Module, isolated: Bool, key: String) throws(Error) -> WorkerConfinement {
    var confinement = WorkerConfinement()
    let given: [(String, Bool)] = [
      ("confinement", module.confinement != nil), ("connect_ports", module.connectPorts != nil), ("read_paths", module.readPaths != nil),
    ]
    for (name, present) in given where present && !isolated {
      throw Error(key: "\(key).\(name)", message: "only applies to `isolation = \"isolated\"` modules")
    }
    if let mode = module.confinement {
      guard let value = WorkerConfinement.Mode(rawValue: mode) else {
        let modes = WorkerConfinement.Mode.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
        throw Error(key: "\(key).confinement", message: "must be one of \(modes), not \(mode.quoted)")
      }
      confinement.mode = value
    }
    for (index, port) in (module.connectPorts ?? []).enumerated() {
      guard (1...65535).contains(port) else {
        throw Error(key: "\(key).connect_ports[\(index)]", message: "must be a TCP port (1 to 65535)")
      }
      confinement.connectPorts.append(UInt16(port))
    }
    if let paths = try nonEmpty(module.readPaths, key: "\(key).read_paths") {
      for (index, path) in paths.enumerated() where !path.hasPrefix("/") {
        throw Error(key: "\(key).read_paths[\(index)]", message: "must be an absolute path")
      }
      confinement.readPaths = paths
    }
    return confinement
  }

  /// The largest message any module accepts.
  var largestMessageBytes: Int {
    modules.compactMap(\.maxMessageBytes).reduce(maxMessageBytes, max)
  }

  /// What the transport reads of one request message before it gives up: four times the
  /// largest module limit. A request above its module's limit is refused earlier, from its
  /// prefix (`OversizedRequestGuard`); the ceiling is the backstop for paths no module serves,
  /// where the transport resets the stream (it sends no status).
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
    if let httpListen, (try? ListenAddress(httpListen)) == nil {
      throw Error(key: "http_listen", message: "'\(httpListen)' is not HOST:PORT")
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
