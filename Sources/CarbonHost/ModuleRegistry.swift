import CarbonDomain
import CarbonPluginLoader
import Foundation
import Logging
import Synchronization

/// The modules of a running host: what is loaded, what failed and why, who may call each one,
/// and which module serves each gRPC method path — all of which an admin can change while the
/// host runs (enable, disable, reload, allow-list).
///
/// Readers (every call) take an immutable `ModuleSnapshot` under a short lock; a call keeps its
/// snapshot, so a module disabled or reloaded mid-call finishes that call on the instance it
/// started on. Changes are serialised on one queue (loading runs plugin code: never on Swift's
/// cooperative threads) and announced to `changes` subscribers (health `Watch`, metrics).
public final class ModuleRegistry: Sendable {
  /// The state of one module.
  public enum State: Sendable, Equatable {
    /// Being loaded or started.
    case loading
    case serving
    case failed(reason: String)
    /// An isolated module's worker died; the host is restarting it.
    case restarting(reason: String)
    case disabled
    /// A version taken out of service for good (`retired`, `carbonhub admin retire`): calls
    /// that ask for it get FAILED_PRECONDITION naming the versions still served.
    case retired

    /// True only for `.serving`.
    public var isServing: Bool { self == .serving }

    /// "serving", "disabled", "failed: reason"…
    public var text: String {
      switch self {
      case .loading: return "loading"
      case .serving: return "serving"
      case .disabled: return "disabled"
      case .retired: return "retired"
      case .failed(let reason): return "failed: \(reason)"
      case .restarting(let reason): return "restarting: \(reason)"
      }
    }
  }

  /// What the host knows of a module's code: read from the library's descriptor.
  public struct Metadata: Sendable {
    public let name: String
    public let version: String
    public let summary: String
    public let abiVersion: UInt32
    /// SHA-256 of the library file, lowercase hex.
    public let sha256: String
    /// Library path (absolute).
    public let path: String
    public let methods: [PluginMethod]
    /// The serialized FileDescriptorSet of the module's messages and services.
    public let descriptorSet: [UInt8]
    /// What the manifest check found ("signed by acme", "unsigned", "none").
    public let manifest: String
    /// The request fields the host fills in for this module (the caller's identity).
    let hostFilled: HostFilledFields
    /// Where the module's responses carry their calculation traces (for receipts).
    let traces: ResponseTraces
    /// The module's requests read from proto3 JSON, with the module's own descriptors (the HTTP
    /// gateway, and the explanation of a JSON request a module refused); nil when its
    /// descriptor set does not parse (the loader has refused it then).
    let jsonRequests: JSONToProtobuf?
    /// The module's sample requests, from the `<library>.examples/` directory beside the
    /// library (`ExampleCase`'s layout: `<Method>[.<case>].json` and its `.expect.json`), as the
    /// OpenAPI description and the console offer them. Empty when there is no such directory.
    public let examples: [ExampleCase]
    /// Why the examples directory could not be read (a bad `.expect.json`), if it could not.
    public let examplesProblem: String?

    /// `examples`: `Metadata.examples(of:)` of the library, read on a thread that may block.
    init(_ library: PluginLibrary, examples: ([ExampleCase], String?)) {
      name = library.name
      version = library.version
      summary = library.summary
      abiVersion = library.abiVersion
      sha256 = library.sha256
      path = library.path
      methods = library.methods
      descriptorSet = library.descriptorSet
      manifest = "\(library.manifestCheck)"
      hostFilled = HostFilledFields(descriptorSet: library.descriptorSet)
      traces = ResponseTraces(descriptorSet: library.descriptorSet)
      jsonRequests = try? JSONToProtobuf(descriptorSet: library.descriptorSet)
      (self.examples, examplesProblem) = examples
    }

    /// An isolated module's metadata: what its worker's loader read, and what the host's
    /// own checks before starting the worker found (digest, manifest).
    init(_ hello: WorkerHello, _ preflight: PluginLibrary.Preflight, examples: ([ExampleCase], String?)) {
      name = hello.name
      version = hello.version
      summary = hello.summary
      abiVersion = hello.abiVersion
      sha256 = hello.sha256
      path = preflight.path
      methods = hello.methods
      descriptorSet = hello.descriptorSet
      manifest = "\(preflight.manifestCheck)"
      hostFilled = HostFilledFields(descriptorSet: hello.descriptorSet)
      traces = ResponseTraces(descriptorSet: hello.descriptorSet)
      jsonRequests = try? JSONToProtobuf(descriptorSet: hello.descriptorSet)
      (self.examples, examplesProblem) = examples
    }

    /// The examples beside the library at `path` (`<path>.examples/`), sorted by file name, or
    /// why they cannot be read. Reads files: not on Swift's cooperative threads.
    static func examples(of path: String) -> ([ExampleCase], String?) {
      let directory = path + ".examples"
      var isDirectory: ObjCBool = false
      guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else { return ([], nil) }
      do {
        return (try ExampleCase.load(directory: directory), nil)
      } catch {
        return ([], "\(error)")
      }
    }

    /// The fully qualified gRPC services of the module, in declaration order.
    public var services: [String] {
      var services: [String] = []
      for method in methods where !services.contains(method.service) { services.append(method.service) }
      return services
    }
  }

  /// One module of the deployment as the host sees it at one moment.
  public struct ModuleSnapshot: Sendable {
    /// The module's name (the deployment key, or the plugin's declared name when discovered):
    /// "esca", or "esca@1.0.0" for one of several versions served side by side.
    public let name: String
    /// Library path (absolute).
    public let path: String
    public let state: State
    /// The loaded code's description: present once a library was opened (also when its
    /// initialisation failed, and for a disabled module that served before).
    public let metadata: Metadata?
    /// Where calls run; present only when serving.
    public let backend: ModuleBackend?
    /// Who may call: nil means any caller the host accepts.
    public let allow: [String]?
    /// The deployment entry (limits, isolation, config).
    public let settings: DeploymentConfig.ModuleEntry
    /// How many times the module's worker was restarted.
    public let restarts: Int
    /// Calls in flight and the concurrency limit; shared by every snapshot of this module.
    let gate: CallGate

    /// The module this is a version of ("esca" of "esca@1.0.0").
    public var moduleName: String { DeploymentConfig.ModuleEntry.moduleName(ofKey: name) }

    /// The version the plugin declares, or the one the deployment key names before it loaded.
    public var version: ModuleVersion? { versionText.isEmpty ? nil : ModuleVersion(versionText) }

    /// The same as written ("" when unknown), without parsing it: for labels on every call.
    var versionText: String { metadata?.version ?? settings.pinnedVersion ?? "" }

    /// True when this version serves and has the method `path`.
    func serves(_ path: String) -> Bool {
      state.isServing && (metadata?.methods.contains { $0.path == path } ?? false)
    }

    /// Calls of this module in flight now, in process or in its worker (the count held against
    /// `max_concurrent_calls`; a call leaves it when the plugin has really returned).
    public var callsInFlight: Int { gate.current }

    /// The in-process plugin instance, if the module serves in process.
    public var instance: PluginInstance? {
      if case .inProcess(let instance)? = backend { return instance }
      return nil
    }

    /// The isolated module (its worker's supervisor), if the module serves isolated.
    public var isolated: WorkerSupervisor? {
      if case .isolated(let module)? = backend { return module }
      return nil
    }

    /// True when `identity` may call this module.
    public func admits(_ identity: CallerIdentity) -> Bool {
      guard let allow else { return true }
      return identity.match(in: allow) != nil
    }

    /// The caller's name that this module's allow-list grants (nil without an allow-list, or
    /// when the caller is not on it).
    public func allowGrant(for identity: CallerIdentity) -> CallerIdentity.Name? {
      allow.flatMap { identity.match(in: $0) }
    }

    func with(
      state: State? = nil, metadata: Metadata?? = nil, backend: ModuleBackend?? = nil, allow: [String]?? = nil,
      path: String? = nil, restarts: Int? = nil
    ) -> ModuleSnapshot {
      ModuleSnapshot(
        name: name, path: path ?? self.path, state: state ?? self.state, metadata: metadata ?? self.metadata,
        backend: backend ?? self.backend, allow: allow ?? self.allow, settings: settings,
        restarts: restarts ?? self.restarts, gate: gate)
    }
  }

  /// Why an admin action failed; `code` is the gRPC status to answer with.
  public struct ActionError: Error, CustomStringConvertible, Sendable {
    public enum Code: Sendable { case notFound, failedPrecondition, invalidArgument }
    public let code: Code
    public let message: String
    public var description: String { message }
  }

  private struct Table {
    var order: [String] = []
    var modules: [String: ModuleSnapshot] = [:]
    /// Method path → the module (all its versions) one of whose versions serves it.
    var routes: [String: String] = [:]
    /// Module name → its versions' entries, in deployment order.
    var versions: [String: [String]] = [:]
    /// Module name → the entry of the version that answers calls naming none.
    var defaults: [String: String] = [:]
    var generation = 0

    mutating func put(_ module: ModuleSnapshot) {
      generation += 1
      if modules[module.name] == nil { order.append(module.name) }
      modules[module.name] = module
      routes = [:]
      versions = [:]
      for name in order {
        guard let module = modules[name] else { continue }
        versions[module.moduleName, default: []].append(name)
        guard module.state.isServing else { continue }
        for method in module.metadata?.methods ?? [] { routes[method.path] = module.moduleName }
      }
      defaults = versions.compactMapValues { names in
        ModuleRegistry.defaultVersion(among: names.compactMap { modules[$0] })?.name
      }
    }

    /// Every module, in deployment order.
    var ordered: [ModuleSnapshot] { order.compactMap { modules[$0] } }
  }

  private let table = Mutex(Table())
  private let config: DeploymentConfig
  private let logger: Logger
  /// Loads, reloads and other changes, one at a time in the order asked (see `SerialChanges`).
  private let changeQueue = SerialChanges()
  /// The thread of the changes' blocking work (a plugin's `init`, hashing a library): the
  /// registry's own, so that a plugin slow to start delays this registry's changes only.
  private let blockingWork = DispatchQueue(label: "carbonhub.registry-blocking-work")
  /// Set by `shutdown`: no worker is started any more.
  private let stopping = Atomic<Bool>(false)
  /// Workers a reload or a disable replaced, each with the task stopping it once its calls in
  /// flight have finished; `shutdown` stops and waits for them too.
  private let retiring = Mutex<[ObjectIdentifier: (worker: WorkerSupervisor, stopped: Task<Void, Never>)]>([:])
  /// Subscribers to state changes: each is sent every module's state after each change.
  private let changes = ChangeBroadcaster<[ModuleSnapshot]>()
  /// Where loads, reloads, their failures and worker restarts are counted.
  let metrics: HostMetrics

  /// Every module, in deployment order (discovered plugins: file name order).
  public var all: [ModuleSnapshot] { table.withLock { $0.ordered } }

  /// Every module now, and every module after each later change, in the order the changes
  /// were made (none is skipped or coalesced for a reader that keeps up within
  /// `ChangeBroadcaster.backlog` changes). Finish `end` to unsubscribe.
  public func subscribeToChanges() -> (current: [ModuleSnapshot], updates: AsyncStream<[ModuleSnapshot]>, end: AsyncStream<[ModuleSnapshot]>.Continuation) {
    // Under the table's lock, as changes are announced: no change falls between the two.
    table.withLock { table in
      let (updates, end) = changes.subscribe()
      return (table.ordered, updates, end)
    }
  }

  /// Increases with every change of any module (state, binary, allow-list).
  public var generation: Int { table.withLock { $0.generation } }

  /// Modules that are serving.
  public var serving: [ModuleSnapshot] { all.filter { $0.state.isServing } }

  /// The serving module that answers a method path when the caller names no version.
  public func route(_ methodPath: String) -> ModuleSnapshot? {
    try? route(methodPath, version: nil)?.get()
  }

  /// Why no version of a module can answer a call (`route(_:version:)`).
  public struct RouteRefusal: Error, Sendable {
    public enum Code: Sendable { case notFound, failedPrecondition, unavailable, unimplemented }
    public let code: Code
    public let message: String
  }

  /// The version of a module that answers `methodPath` for a caller who asked for `version`
  /// (nil: the module's default version), or why none can. Nil when no serving module has
  /// the method at all (see `owner(of:)`).
  ///
  /// A version is chosen only among those that serve the method: the highest that `version`
  /// selects; calls naming no version go to the default (`defaultVersion(among:)`), and are
  /// refused, not sent to another version, when it cannot answer.
  public func route(_ methodPath: String, version selector: VersionSelector?) -> Result<ModuleSnapshot, RouteRefusal>? {
    table.withLock { table -> Result<ModuleSnapshot, RouteRefusal>? in
      guard let moduleName = table.routes[methodPath] else { return nil }
      // Every call comes here: the lists the refusals name are made only for a refusal.
      func versions() -> [ModuleSnapshot] { (table.versions[moduleName] ?? []).compactMap { table.modules[$0] } }
      func served() -> String { Self.versionList(versions().filter(\.state.isServing)) }
      func having() -> String { Self.versionList(versions().filter { $0.serves(methodPath) }) }
      guard let selector else {
        guard let chosen = table.defaults[moduleName].flatMap({ table.modules[$0] }) else { return nil }
        if chosen.serves(methodPath) { return .success(chosen) }
        guard chosen.state.isServing else {
          return .failure(RouteRefusal(
            code: .unavailable,
            message: "\(methodPath): module '\(chosen.name)', the default version of '\(moduleName)', is \(chosen.state.text)"))
        }
        return .failure(RouteRefusal(
          code: .unimplemented,
          message: "\(methodPath): version \(chosen.version?.text ?? "?") of '\(moduleName)', its default, has no such method; "
            + "versions that have it: \(having()) (ask for one with the \(VersionSelector.header) header)"))
      }
      let selected = versions().selected(by: selector)
      guard !selected.isEmpty else {
        return .failure(RouteRefusal(
          code: .notFound,
          message: "\(VersionSelector.header): module '\(moduleName)' has no version '\(selector)' (versions served: \(served()))"))
      }
      if let best = selected.filter({ $0.serves(methodPath) }).highestVersion {
        return .success(best)
      }
      if let retired = selected.first(where: { $0.state == .retired }) {
        return .failure(RouteRefusal(
          code: .failedPrecondition,
          message: "\(VersionSelector.header): version \(retired.version?.text ?? selector.text) of '\(moduleName)' is retired; "
            + "versions served: \(served())"))
      }
      if let serving = selected.first(where: \.state.isServing) {
        return .failure(RouteRefusal(
          code: .unimplemented,
          message: "\(methodPath): version \(serving.version?.text ?? selector.text) of '\(moduleName)' has no such method; "
            + "versions that have it: \(having())"))
      }
      let module = selected[0]
      return .failure(RouteRefusal(code: .unavailable, message: "\(methodPath): module '\(module.name)' is \(module.state.text)"))
    }
  }

  /// The version of a module that answers calls naming none, among `versions` (every entry of
  /// one module): the one the deployment marks `default` unless it is retired, else the
  /// highest serving release, else the highest serving pre-release.
  static func defaultVersion(among versions: [ModuleSnapshot]) -> ModuleSnapshot? {
    if let configured = versions.first(where: { $0.settings.isDefaultVersion && $0.state != .retired }) { return configured }
    let serving = versions.filter { $0.state.isServing && $0.version != nil }
    let releases = serving.filter { !$0.version!.isPreRelease }
    return (releases.isEmpty ? serving : releases).highestVersion
  }

  /// One serving version of each module that has one: the highest that `selector` selects,
  /// else the module's default version when it serves, else its highest serving version.
  public func servingVersions(selectedBy selector: VersionSelector?) -> [ModuleSnapshot] {
    table.withLock { table in
      var chosen: [ModuleSnapshot] = []
      for (moduleName, names) in table.versions.sorted(by: { $0.key < $1.key }) {
        let serving = names.compactMap { table.modules[$0] }.filter(\.state.isServing)
        guard !serving.isEmpty else { continue }
        let selected = selector.flatMap { serving.selected(by: $0).highestVersion }
        let fallback = table.defaults[moduleName].flatMap { table.modules[$0] }.flatMap { $0.state.isServing ? $0 : nil }
        chosen.append(selected ?? fallback ?? serving.highestVersion!)
      }
      return chosen
    }
  }

  /// True when `module` is the version of its module that answers calls naming none.
  public func isDefaultVersion(_ module: ModuleSnapshot) -> Bool {
    table.withLock { $0.defaults[module.moduleName] == module.name }
  }

  /// "1.0.0, 1.1.0" (or "none"), highest last.
  private static func versionList(_ modules: [ModuleSnapshot]) -> String {
    let texts = modules.compactMap(\.version).sorted().map(\.text)
    return texts.isEmpty ? "none" : texts.joined(separator: ", ")
  }

  /// Every serving version of the module that serves `methodPath`.
  public func servingVersions(of methodPath: String) -> [ModuleSnapshot] {
    table.withLock { table in
      guard let moduleName = table.routes[methodPath] else { return [] }
      return (table.versions[moduleName] ?? []).compactMap { table.modules[$0] }.filter { $0.serves(methodPath) }
    }
  }

  /// The entry of a module name's version that answers calls naming `version` (nil: its
  /// default), whatever its state; nil when the deployment has no such module or version.
  public func module(named moduleName: String, version selector: VersionSelector?) -> ModuleSnapshot? {
    table.withLock { table in
      let versions = (table.versions[moduleName] ?? []).compactMap { table.modules[$0] }
      guard let selector else { return table.defaults[moduleName].flatMap { table.modules[$0] } ?? versions.first }
      let selected = versions.selected(by: selector)
      return selected.filter(\.state.isServing).highestVersion ?? selected.first
    }
  }

  /// The module (serving or not) whose last known methods include `methodPath`.
  public func owner(of methodPath: String) -> ModuleSnapshot? {
    all.first { $0.metadata?.methods.contains { $0.path == methodPath } ?? false }
  }

  /// A module by name.
  public func module(named name: String) -> ModuleSnapshot? { table.withLock { $0.modules[name] } }

  private init(config: DeploymentConfig, logger: Logger, metrics: HostMetrics) {
    self.config = config
    self.logger = logger
    self.metrics = metrics
  }

  /// Loads the modules of a deployment. A module that is refused or fails to initialise is
  /// recorded as failed with the reason; the others are served. In-process modules are serving
  /// or failed when it returns; isolated ones are `loading` until their worker reports.
  public static func load(_ config: DeploymentConfig, logger: Logger, metrics: HostMetrics = HostMetrics()) async -> ModuleRegistry {
    let registry = ModuleRegistry(config: config, logger: logger, metrics: metrics)
    let discovered = config.modules.isEmpty
    // Reading every library's ELF symbols is file work: on the blocking-work thread.
    let entries =
      discovered
      ? await registry.onBlockingWorkThread { discover(in: config.pluginDirectory, logger: logger) } : config.modules
    for entry in entries {
      let path = resolve(entry.path, relativeTo: config.pluginDirectory)
      let module = ModuleSnapshot(
        name: entry.name, path: path, state: entry.retired ? .retired : entry.enabled ? .loading : .disabled, metadata: nil,
        backend: nil, allow: entry.allow, settings: entry, restarts: 0, gate: CallGate(limit: entry.maxConcurrentCalls))
      guard entry.enabled && !entry.retired else {
        registry.table.withLock { $0.put(module) }
        logger.info("module \(module.state.text) by the deployment", metadata: ["module": "\(entry.name)"])
        continue
      }
      if entry.isolation == .isolated {
        // A worker takes a process start and a plugin load: the host serves its other
        // modules meanwhile, and health reports this one as loading until it is ready.
        registry.publish(module)
        registry.changeQueue.enqueue {
          await registry.start(module, path: path, sha256: entry.sha256, takesDeclaredName: false)
        }
      } else {
        await registry.start(module, path: path, sha256: entry.sha256, takesDeclaredName: discovered)
      }
    }
    return registry
  }

  /// Stops every isolated module's worker, letting their calls finish for up to `grace`
  /// (default: the deployment's `[workers] stop_grace_ms`). In-process modules have nothing to stop.
  public func shutdown(grace: Duration? = nil) async {
    let grace = grace ?? config.workers.stopGrace
    let workers: [WorkerSupervisor] = await withCheckedContinuation { continuation in
      let enqueued = changeQueue.enqueue { [self] in
        stopping.store(true, ordering: .releasing)
        continuation.resume(returning: all.compactMap(\.isolated))
      }
      // A second shutdown: the first has stopped everything, or is stopping it.
      if !enqueued { continuation.resume(returning: []) }
    }
    // Changes asked from now on are refused ("the host is stopping"); one still running (a
    // reload starting a worker) ends before the workers are stopped, so none is left behind.
    await changeQueue.finish()
    // The retiring workers as well: their calls get the same grace, and none outlives the host.
    let retired = retiring.withLock { Array($0.values) }
    await withTaskGroup(of: Void.self) { group in
      for worker in workers + retired.map(\.worker) { group.addTask { await worker.stop(draining: grace) } }
      for (_, stopped) in retired { group.addTask { await stopped.value } }
    }
  }

  // MARK: Admin actions

  /// Loads (if needed) and serves a disabled or failed module.
  public func enable(_ name: String, by caller: CallerIdentity) async throws(ActionError) -> ModuleSnapshot {
    try await serially { () async throws(ActionError) in
      let module = try self.existing(name)
      if module.state.isServing { return module }
      self.logger.notice("admin: enable module", metadata: ["module": "\(name)", "caller": "\(caller)"])
      await self.start(module, path: module.path, sha256: module.settings.sha256, takesDeclaredName: false)
      let result = try self.existing(name)
      if case .failed(let reason) = result.state {
        throw ActionError(code: .failedPrecondition, message: "module '\(name)' failed to load: \(reason)")
      }
      return result
    }
  }

  /// Stops serving a module; calls in flight finish on the instance they started on.
  public func disable(_ name: String, by caller: CallerIdentity) async throws(ActionError) -> ModuleSnapshot {
    try await stop(name, becoming: .disabled, by: caller)
  }

  /// Takes one version of a module out of service for good: calls asking for it get
  /// FAILED_PRECONDITION naming the versions still served; calls naming no version go to the
  /// default among the others. Calls in flight finish; `enable` serves it again.
  public func retire(_ name: String, by caller: CallerIdentity) async throws(ActionError) -> ModuleSnapshot {
    try await stop(name, becoming: .retired, by: caller)
  }

  private func stop(_ name: String, becoming state: State, by caller: CallerIdentity) async throws(ActionError) -> ModuleSnapshot {
    try await serially { () async throws(ActionError) in
      let module = try self.existing(name)
      self.logger.notice(
        "admin: \(state == .retired ? "retire" : "disable") module", metadata: ["module": "\(name)", "caller": "\(caller)"])
      let stopped = module.with(state: state, backend: .some(nil))
      self.publish(stopped)
      self.retire(module.backend)
      return stopped
    }
  }

  /// Loads a new binary for a serving (or failed) module and switches calls to it. The old
  /// binary keeps serving when the new one is refused or fails to initialise.
  ///
  /// A new `path` must lie inside the deployment's `plugin_dir` (after resolving symbolic
  /// links): the admin role changes which of the deployment's plugins serve, not which files
  /// of the machine the host runs. The deployment's `sha256` pin of the module applies to every
  /// reload, with or without a new path; a `sha256` given with the reload pins a module the
  /// deployment does not pin, and must equal the deployment's pin when it does.
  public func reload(
    _ name: String, path newPath: String?, sha256: String?, by caller: CallerIdentity
  ) async throws(ActionError) -> ModuleSnapshot {
    try await serially { () async throws(ActionError) in
      let module = try self.existing(name)
      let path = newPath.map { Self.resolve($0, relativeTo: self.config.pluginDirectory) } ?? module.path
      if newPath != nil, !Self.isInside(path, directory: self.config.pluginDirectory) {
        self.logger.error(
          "admin: reload refused: path outside plugin_dir",
          metadata: ["module": "\(name)", "path": "\(path)", "caller": "\(caller)"])
        throw ActionError(
          code: .failedPrecondition,
          message: "path: \(path) is outside the deployment's plugin_dir (\(self.config.pluginDirectory)): "
            + "a reload may only load a plugin from that directory")
      }
      let deploymentPin = module.settings.sha256
      if let deploymentPin, let sha256, sha256.lowercased() != deploymentPin.lowercased() {
        throw ActionError(
          code: .failedPrecondition,
          message: "sha256: the deployment pins module '\(name)' to \(deploymentPin); a reload cannot change the pin")
      }
      let pin = deploymentPin ?? sha256
      self.logger.notice(
        "admin: reload module", metadata: ["module": "\(name)", "path": "\(path)", "caller": "\(caller)"])
      switch await self.open(name: name, path: path, sha256: pin, settings: module.settings, takesDeclaredName: false) {
      case .failure(let failure):
        self.metrics.record(.reloadFailed)
        self.logger.error(
          "reload refused: the current binary keeps serving",
          metadata: ["module": "\(name)", "reason": "\(failure.reason)"])
        throw ActionError(
          code: .failedPrecondition,
          message: "module '\(name)': the new binary was not loaded (\(failure.reason)); "
            + (module.state.isServing ? "the current one keeps serving" : "the module stays \(module.state.text)"))
      case .success(let (metadata, backend)):
        let reloaded = module.with(state: .serving, metadata: .some(metadata), backend: .some(backend), path: path)
        self.publish(reloaded)
        self.retire(module.backend)
        self.metrics.record(.reloaded)
        self.logger.notice(
          "module reloaded",
          metadata: ["module": "\(name)", "version": "\(metadata.version)", "sha256": "\(metadata.sha256)"])
        return reloaded
      }
    }
  }

  /// Replaces a module's allow-list (nil: any caller the host accepts).
  public func setAccess(_ name: String, allow: [String]?, by caller: CallerIdentity) async throws(ActionError) -> ModuleSnapshot {
    try await serially { () async throws(ActionError) in
      let module = try self.existing(name)
      for (index, entry) in (allow ?? []).enumerated() {
        do throws(IdentityPattern.Error) {
          _ = try IdentityPattern(entry)
        } catch {
          throw ActionError(code: .invalidArgument, message: "allow[\(index)]: \(error.reason)")
        }
      }
      self.logger.notice(
        "admin: set module access",
        metadata: ["module": "\(name)", "allow": "\(allow?.joined(separator: ",") ?? "*any*")", "caller": "\(caller)"])
      let changed = module.with(allow: .some(allow))
      self.publish(changed)
      return changed
    }
  }

  /// Applies `change` to module `name` before returning: for a change callers must see as soon
  /// as they hear of it (a worker's death is published before its callers get UNAVAILABLE, so
  /// that health never shows a stale SERVING). It does not wait for the change queue, whose
  /// actions may take seconds (a worker start): the change is read and written under the
  /// table's lock.
  private func update(_ name: String, _ change: (ModuleSnapshot) -> ModuleSnapshot) {
    table.withLock { table in
      guard let module = table.modules[name] else { return }
      table.put(change(module))
      changes.announce(table.ordered)
    }
  }

  /// Follows an isolated module's worker: a death makes the module `restarting` (and counts a
  /// restart), a new worker makes it serving again, a worker that cannot be restarted makes it
  /// failed. Changes from a worker the registry no longer serves (retired by a reload or a
  /// disable, or still starting) are ignored.
  private func isolatedStateChanged(_ name: String, _ worker: WorkerSupervisor, _ state: WorkerSupervisor.State) {
    let change: (ModuleSnapshot) -> ModuleSnapshot = { [metrics] module in
      guard let current = module.isolated, current === worker else { return module }
      switch state {
      case .restarting(_, let reason):
        let died = module.state.isServing
        if died { metrics.recordWorkerRestart(module) }
        return module.with(state: .restarting(reason: reason), restarts: module.restarts + (died ? 1 : 0))
      case .serving:
        return module.with(state: .serving)
      case .failed(let reason):
        return module.with(state: .failed(reason: reason), backend: .some(nil))
      case .starting, .stopped:
        return module
      }
    }
    // At once, in the worker's own order: a death must be visible before its callers hear
    // UNAVAILABLE, and a later change must not be overtaken by an earlier one still queued.
    update(name, change)
  }

  /// Stops a backend that no longer serves once its calls in flight have finished. An
  /// in-process instance stays loaded (a library is never unloaded; see `PluginLibrary`).
  private func retire(_ backend: ModuleBackend?) {
    guard case .isolated(let worker)? = backend else { return }
    let key = ObjectIdentifier(worker)
    let grace = config.workers.retireGrace
    retiring.withLock { retiring in
      // Inserted under the lock the task's own removal takes: it cannot remove itself first.
      retiring[key] = (worker, Task { [weak self] in
        await worker.stop(draining: grace)
        _ = self?.retiring.withLock { $0.removeValue(forKey: key) }
      })
    }
  }

  // MARK: Loading

  private func existing(_ name: String) throws(ActionError) -> ModuleSnapshot {
    guard let module = module(named: name) else {
      throw ActionError(code: .notFound, message: "name: no module named '\(name)' in this deployment")
    }
    return module
  }

  /// Runs an admin action in the change queue, after the changes asked before it.
  private func serially<T: Sendable>(_ action: @escaping @Sendable () async throws(ActionError) -> T) async throws(ActionError) -> T {
    let result: Result<T, ActionError> = await withCheckedContinuation { continuation in
      let enqueued = changeQueue.enqueue {
        do throws(ActionError) {
          continuation.resume(returning: .success(try await action()))
        } catch {
          continuation.resume(returning: .failure(error))
        }
      }
      if !enqueued {
        continuation.resume(returning: .failure(ActionError(code: .failedPrecondition, message: "the host is stopping")))
      }
    }
    return try result.get()
  }

  private func publish(_ module: ModuleSnapshot) {
    table.withLock { table in
      table.put(module)
      changes.announce(table.ordered)
    }
  }

  /// Opens, checks and starts one module, recording the outcome.
  private func start(_ module: ModuleSnapshot, path: String, sha256: String?, takesDeclaredName: Bool) async {
    publish(module.with(state: .loading))
    let outcome = await open(name: module.name, path: path, sha256: sha256, settings: module.settings, takesDeclaredName: takesDeclaredName)
    record(module, outcome, takesDeclaredName: takesDeclaredName)
  }

  /// Publishes what opening `module` gave: serving, or failed with the reason.
  private func record(_ module: ModuleSnapshot, _ outcome: Result<(Metadata, ModuleBackend), OpenFailure>, takesDeclaredName: Bool) {
    switch outcome {
    case .success(let (metadata, backend)):
      // A discovered plugin takes its declared name, and its version too when another
      // version of the module is listed already.
      var name = takesDeclaredName ? metadata.name : module.name
      if takesDeclaredName, self.module(named: name).map({ $0.name != module.name }) == true {
        name = "\(metadata.name)@\(metadata.version)"
      }
      if takesDeclaredName && name != module.name {
        // A discovered plugin is listed under its file name until it declares its own.
        table.withLock { table in
          table.order.removeAll { $0 == module.name }
          table.modules[module.name] = nil
        }
      }
      let serving = ModuleSnapshot(
        name: name, path: metadata.path, state: .serving, metadata: metadata, backend: backend, allow: module.allow,
        settings: module.settings, restarts: module.restarts, gate: module.gate)
      publish(serving)
      metrics.record(.loaded)
      logger.info(
        "module serving",
        metadata: [
          "module": "\(name)", "version": "\(metadata.version)", "methods": "\(metadata.methods.count)",
          "sha256": "\(metadata.sha256)", "manifest": "\(metadata.manifest)",
        ])
    case .failure(let failure):
      metrics.record(.loadFailed)
      logger.error("module not loaded", metadata: ["module": "\(module.name)", "reason": "\(failure.reason)"])
      publish(module.with(state: .failed(reason: failure.reason), metadata: .some(failure.metadata ?? module.metadata), backend: .some(nil)))
    }
  }

  private struct OpenFailure: Error {
    let reason: String
    var metadata: Metadata? = nil
  }

  /// Opens a module in its isolation: in a worker, or in process on the registry's blocking-work
  /// thread (a plugin's `init` may take seconds: a database to reach, tables to read), never on
  /// Swift's cooperative threads. Does not touch the table.
  private func open(
    name: String, path: String, sha256: String?, settings: DeploymentConfig.ModuleEntry, takesDeclaredName: Bool
  ) async -> Result<(Metadata, ModuleBackend), OpenFailure> {
    let opened =
      settings.isolation == .isolated
      ? await openIsolated(name: name, path: path, sha256: sha256, settings: settings)
      : await onBlockingWorkThread { [self] in
        openInProcess(name: name, path: path, sha256: sha256, settings: settings, takesDeclaredName: takesDeclaredName)
      }
    // The examples are documentation: a bad one does not stop the module, it is said.
    if case .success(let (metadata, _)) = opened, let problem = metadata.examplesProblem {
      logger.warning("the module's examples are not offered", metadata: ["module": "\(name)", "problem": "\(problem)"])
    }
    return opened
  }

  /// Runs `body` on the registry's blocking-work thread and waits for it without holding a thread.
  private func onBlockingWorkThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
      blockingWork.async { continuation.resume(returning: body()) }
    }
  }

  /// Opens a library, checks it against the deployment and the other modules, and makes an
  /// instance, on the calling thread. Does not touch the table.
  private func openInProcess(
    name: String, path: String, sha256: String?, settings: DeploymentConfig.ModuleEntry, takesDeclaredName: Bool
  ) -> Result<(Metadata, ModuleBackend), OpenFailure> {
    let library: PluginLibrary
    do {
      library = try PluginLibrary(path: path, expectedSHA256: sha256, trust: config.trust)
    } catch {
      return .failure(OpenFailure(reason: error.description))
    }
    let metadata = Metadata(library, examples: Metadata.examples(of: library.path))
    if !takesDeclaredName, let mismatch = Self.mismatch(of: metadata, with: name) {
      return .failure(OpenFailure(reason: mismatch, metadata: metadata))
    }
    // A discovered plugin is listed under its file name until it takes its declared one.
    if let conflict = conflict(of: metadata, besides: takesDeclaredName ? [name, library.name] : [name]) {
      return .failure(OpenFailure(reason: conflict, metadata: metadata))
    }
    let dataDirectory: String
    switch makeDataDirectory(for: library.name) {
    case .success(let directory): dataDirectory = directory
    case .failure(let failure): return .failure(OpenFailure(reason: failure.reason, metadata: metadata))
    }
    do {
      let instance = try library.makeInstance(configJSON: settings.configJSON, dataDirectory: dataDirectory)
      return .success((metadata, .inProcess(instance)))
    } catch {
      return .failure(OpenFailure(reason: error.description, metadata: metadata))
    }
  }

  /// Starts an isolated module: the host runs every check that needs no plugin code (with the
  /// deployment's trust policy), then starts a worker pinned to the digest it checked, and
  /// awaits (no thread held) the worker's report that it has loaded the plugin or failed to.
  private func openIsolated(
    name: String, path: String, sha256: String?, settings: DeploymentConfig.ModuleEntry
  ) async -> Result<(Metadata, ModuleBackend), OpenFailure> {
    // The file checks hash the library, and its examples are read from files: blocking work, as
    // an in-process open.
    typealias Checked = (preflight: PluginLibrary.Preflight, examples: ([ExampleCase], String?))
    let checked: Result<Checked, OpenFailure> = await onBlockingWorkThread { [config] in
      do throws(PluginLoadError) {
        let preflight = try PluginLibrary.preflight(path: path, expectedSHA256: sha256, trust: config.trust)
        return .success((preflight, Metadata.examples(of: preflight.path)))
      } catch {
        return .failure(OpenFailure(reason: error.description))
      }
    }
    let preflight: PluginLibrary.Preflight
    let examples: ([ExampleCase], String?)
    switch checked {
    case .success(let checks): (preflight, examples) = checks
    case .failure(let failure): return .failure(failure)
    }
    let dataDirectory: String
    switch makeDataDirectory(for: DeploymentConfig.ModuleEntry.moduleName(ofKey: name)) {
    case .success(let directory): dataDirectory = directory
    case .failure(let failure): return .failure(failure)
    }
    guard !stopping.load(ordering: .acquiring) else { return .failure(OpenFailure(reason: "the host is stopping")) }
    let handle = WorkerHandle()
    let worker = WorkerSupervisor(
      name: name, libraryPath: preflight.path, expectedSHA256: preflight.sha256, configJSON: settings.configJSON,
      dataDirectory: dataDirectory, workerExecutable: config.workerExecutable ?? Self.ownExecutable,
      memoryLimitMB: settings.memoryLimitMB, workerUser: settings.workerUser, confinement: settings.confinement,
      backoff: config.workers.restartBackoff, cancelGrace: config.workers.cancelGrace, startTimeout: config.workers.startTimeout,
      liveness: config.workers.liveness, logger: logger
    ) { [weak self] state in
      guard let self, let worker = handle.worker else { return }
      self.isolatedStateChanged(name, worker, state)
    }
    handle.worker = worker
    do throws(PluginLoadError) {
      try await worker.start()
    } catch {
      return .failure(OpenFailure(reason: error.description))
    }
    guard let hello = worker.hello else { return .failure(OpenFailure(reason: "the worker reported no plugin")) }
    let metadata = Metadata(hello, preflight, examples: examples)
    if let conflict = Self.mismatch(of: metadata, with: name) ?? conflict(of: metadata, besides: [name]) {
      await worker.stop()
      return .failure(OpenFailure(reason: conflict, metadata: metadata))
    }
    return .success((metadata, .isolated(worker)))
  }

  /// Why a plugin is not the one the module named `name` is (the deployment key, or the name a
  /// discovered plugin took): another module name, or, for NAME@VERSION, another version. Nil
  /// when it is.
  private static func mismatch(of metadata: Metadata, with name: String) -> String? {
    let moduleName = DeploymentConfig.ModuleEntry.moduleName(ofKey: name)
    if metadata.name != moduleName {
      return "the deployment calls this module '\(moduleName)' but the plugin declares '\(metadata.name)'"
    }
    if let pinned = DeploymentConfig.ModuleEntry.pinnedVersion(ofKey: name), pinned != metadata.version {
      return "the deployment serves this entry as version \(pinned) of '\(moduleName)' but the plugin declares version \(metadata.version)"
    }
    return nil
  }

  /// Why a module with `metadata` cannot serve next to the serving modules other than
  /// `besides`: the same version of the same module is served, or one of its methods belongs
  /// to another module. Nil when it can. (Versions of one module share their methods.)
  private func conflict(of metadata: Metadata, besides names: Set<String>) -> String? {
    let others = all.filter { !names.contains($0.name) && $0.state.isServing }
    if let twin = others.first(where: { $0.metadata?.name == metadata.name && $0.metadata?.version == metadata.version }) {
      return "version \(metadata.version) of module '\(metadata.name)' is already served (by '\(twin.name)')"
    }
    for method in metadata.methods {
      if let owner = others.first(where: {
        $0.metadata?.name != metadata.name && $0.metadata?.methods.contains { $0.path == method.path } ?? false
      }) {
        return "method \(method.path) is already served by module '\(owner.name)'"
      }
    }
    return nil
  }

  /// The module's private data directory (created, mode 0700), or why it cannot be.
  private func makeDataDirectory(for name: String) -> Result<String, OpenFailure> {
    let directory = config.stateDirectory + "/modules/" + name
    do {
      try FileManager.default.createDirectory(
        atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
      return .success(directory)
    } catch {
      return .failure(OpenFailure(reason: "cannot create its data directory \(directory): \(error)"))
    }
  }

  /// This process's executable: the `carbonhub` that isolated modules' workers run unless the
  /// deployment names another (`worker_executable`).
  static var ownExecutable: String {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
  }

  /// Every plugin (`*.so` file exporting the entry symbol) of a directory, as deployment
  /// entries named after the file until the plugin declares its name. Other shared libraries
  /// (a dependency's `libGRDB-dynamic.so`) are told apart from the ELF file alone and skipped,
  /// never opened.
  static func discover(in directory: String, logger: Logger) -> [DeploymentConfig.ModuleEntry] {
    let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    let plugins = files.filter { $0.hasSuffix(".so") }.sorted().filter { file in
      if ELFSymbols.isPlugin(path: directory + "/" + file) { return true }
      logger.debug("skipped: not a plugin (exports no carbon_plugin_entry)", metadata: ["file": "\(directory)/\(file)"])
      return false
    }
    if plugins.isEmpty { logger.warning("no plugin (*.so) found", metadata: ["plugin_dir": "\(directory)"]) }
    // Relative to `directory`: `resolve` joins it once (a relative plugin_dir was joined twice).
    return plugins.map { DeploymentConfig.ModuleEntry(name: $0, path: $0) }
  }

  /// True when `path` names a file inside `directory` or below, both with symbolic links
  /// resolved (a path that does not resolve is compared as written, standardized).
  static func isInside(_ path: String, directory: String) -> Bool {
    func real(_ path: String) -> String {
      guard let resolved = realpath(path, nil) else { return URL(fileURLWithPath: path).standardizedFileURL.path }
      defer { free(resolved) }
      return String(cString: resolved)
    }
    let root = real(directory)
    return real(path).hasPrefix(root == "/" ? "/" : root + "/")
  }

  static func resolve(_ path: String, relativeTo directory: String) -> String {
    path.hasPrefix("/") ? path : directory + "/" + path
  }
}

extension Array where Element == ModuleRegistry.ModuleSnapshot {
  /// The versions `selector` selects.
  func selected(by selector: VersionSelector) -> [ModuleRegistry.ModuleSnapshot] {
    filter { $0.version.map(selector.selects) ?? false }
  }

  /// The one of the highest version (one whose version is unknown comes before any known).
  var highestVersion: ModuleRegistry.ModuleSnapshot? {
    self.max { lhs, rhs in
      guard let right = rhs.version else { return false }
      guard let left = lhs.version else { return true }
      return left < right
    }
  }
}

/// The isolated module a state-change callback belongs to, set once it exists (the callback
/// is given to its initializer).
private final class WorkerHandle: @unchecked Sendable {
  // Written once, before the worker starts and can report anything.
  var worker: WorkerSupervisor?
}

/// Calls in flight for one module, against its `max_concurrent_calls`.
final class CallGate: Sendable {
  let limit: Int?
  private let inFlight = Atomic<Int>(0)

  init(limit: Int?) {
    self.limit = limit
  }

  /// Takes a slot; false when the module is at its limit.
  func enter() -> Bool {
    let now = inFlight.add(1, ordering: .relaxed).newValue
    if let limit, now > limit {
      inFlight.subtract(1, ordering: .relaxed)
      return false
    }
    return true
  }

  /// Gives a slot back (when the plugin has really finished, not when the caller gave up).
  func leave() { inFlight.subtract(1, ordering: .relaxed) }

  var current: Int { inFlight.load(ordering: .relaxed) }
}

/// Sends each subscriber every value announced, in announcement order: a subscriber that
/// re-read shared state on a bare "something changed" could miss a change undone before it
/// read (a worker dying and restarting within milliseconds).
final class ChangeBroadcaster<Value: Sendable>: Sendable {
  /// Changes kept for a subscriber that does not keep up; beyond it the oldest are dropped.
  static var backlog: Int { 256 }
  private let subscribers = Mutex<[UUID: AsyncStream<Value>.Continuation]>([:])

  /// A stream of every value announced from now on, and the continuation that ends it
  /// (finish it to unsubscribe).
  func subscribe() -> (updates: AsyncStream<Value>, end: AsyncStream<Value>.Continuation) {
    let (stream, continuation) = AsyncStream<Value>.makeStream(bufferingPolicy: .bufferingNewest(Self.backlog))
    let id = UUID()
    subscribers.withLock { $0[id] = continuation }
    continuation.onTermination = { [weak self] _ in _ = self?.subscribers.withLock { $0.removeValue(forKey: id) } }
    return (stream, continuation)
  }

  /// Sends `value` to every subscriber; never blocks.
  func announce(_ value: Value) {
    for continuation in subscribers.withLock({ Array($0.values) }) { continuation.yield(value) }
  }
}

/// Runs the registry's changes one at a time, in the order they were asked for, each to its end
/// — awaits included, such as a worker's start — before the next begins: what a serial
/// DispatchQueue gave, without a thread blocked while a change waits.
final class SerialChanges: Sendable {
  private let jobs: AsyncStream<@Sendable () async -> Void>.Continuation
  /// Runs the jobs; `finish()` ends and joins it (or the registry's release ends it).
  private let runner: Task<Void, Never>

  init() {
    let (stream, jobs) = AsyncStream.makeStream(of: (@Sendable () async -> Void).self)
    self.jobs = jobs
    runner = Task { for await job in stream { await job() } }
  }

  deinit { jobs.finish() }

  /// Runs `job` after the changes enqueued before it; false once `finish()` was called (the
  /// job is not run).
  @discardableResult
  func enqueue(_ job: @escaping @Sendable () async -> Void) -> Bool {
    if case .terminated = jobs.yield(job) { return false }
    return true
  }

  /// Refuses further jobs and returns once those already enqueued have run.
  func finish() async {
    jobs.finish()
    await runner.value
  }
}
