import CarbonPluginLoader
import Foundation
import Logging
import Synchronization

/// The modules of a running host: what was loaded, what failed and why, and which module
/// serves each gRPC method path.
public final class ModuleRegistry: Sendable {
  /// The state of one module.
  public enum State: Sendable, Equatable {
    case serving
    case failed(reason: String)
    case disabled
  }

  /// One module of the deployment as the host sees it.
  public struct Module: Sendable {
    /// The module's name (the deployment key, or the plugin's declared name when discovered).
    public let name: String
    /// Library path (absolute).
    public let path: String
    public let state: State
    /// Present when the library was opened (serving, or failed during init).
    public let library: PluginLibrary?
    /// Present only when serving.
    public let instance: PluginInstance?
  }

  private let modules: [Module]
  private let routes: [String: Module]

  /// Every module, in deployment order (discovered plugins: file name order).
  public var all: [Module] { modules }

  /// Modules that are serving.
  public var serving: [Module] { modules.filter { $0.state == .serving } }

  /// The serving module that owns a method path, and its instance.
  public func route(_ methodPath: String) -> Module? { routes[methodPath] }

  /// A module by name.
  public func module(named name: String) -> Module? { modules.first { $0.name == name } }

  init(modules: [Module]) {
    self.modules = modules
    var routes: [String: Module] = [:]
    for module in modules where module.state == .serving {
      for method in module.library?.methods ?? [] { routes[method.path] = module }
    }
    self.routes = routes
  }

  /// Loads the modules of a deployment. A module that is refused or fails to initialise is
  /// recorded as failed with the reason; the others are served.
  public static func load(_ config: DeploymentConfig, logger: Logger) -> ModuleRegistry {
    let entries = config.modules.isEmpty ? discover(in: config.pluginDirectory, logger: logger) : config.modules
    var modules: [Module] = []
    var claimedPaths: [String: String] = [:]
    for entry in entries {
      let path = resolve(entry.path, relativeTo: config.pluginDirectory)
      guard entry.enabled else {
        modules.append(Module(name: entry.name, path: path, state: .disabled, library: nil, instance: nil))
        logger.info("module disabled by the deployment", metadata: ["module": "\(entry.name)"])
        continue
      }
      func fail(_ reason: String, library: PluginLibrary? = nil) {
        logger.error("module not loaded", metadata: ["module": "\(entry.name)", "reason": "\(reason)"])
        modules.append(Module(name: entry.name, path: path, state: .failed(reason: reason), library: library, instance: nil))
      }
      let library: PluginLibrary
      do {
        library = try PluginLibrary(path: path, expectedSHA256: entry.sha256, trust: config.trust)
      } catch {
        fail(error.description)
        continue
      }
      // A discovered plugin takes its declared name; a configured one must declare its key.
      let name = config.modules.isEmpty ? library.name : entry.name
      guard library.name == name else {
        fail("the deployment calls this module '\(entry.name)' but the plugin declares '\(library.name)'", library: library)
        continue
      }
      if modules.contains(where: { $0.name == name && $0.state == .serving }) {
        fail("another plugin already serves a module named '\(name)'", library: library)
        continue
      }
      if let clash = library.methods.first(where: { claimedPaths[$0.path] != nil }) {
        fail("method \(clash.path) is already served by module '\(claimedPaths[clash.path]!)'", library: library)
        continue
      }
      let dataDirectory = config.stateDirectory + "/modules/" + name
      do {
        try FileManager.default.createDirectory(
          atPath: dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
      } catch {
        fail("cannot create its data directory \(dataDirectory): \(error)", library: library)
        continue
      }
      do {
        let instance = try library.makeInstance(configJSON: entry.configJSON, dataDirectory: dataDirectory)
        for method in library.methods { claimedPaths[method.path] = name }
        modules.append(Module(name: name, path: library.path, state: .serving, library: library, instance: instance))
        logger.info(
          "module serving",
          metadata: [
            "module": "\(name)", "version": "\(library.version)", "methods": "\(library.methods.count)",
            "sha256": "\(library.sha256)", "manifest": "\(library.manifestCheck)",
          ])
      } catch {
        fail(error.description, library: library)
      }
    }
    return ModuleRegistry(modules: modules)
  }

  /// Every plugin (`*.so` file exporting the entry symbol) of a directory, as deployment
  /// entries named after the file until the plugin declares its name. Other shared libraries
  /// (a dependency's `libGRDB-dynamic.so`) are told apart from the ELF file alone and skipped,
  /// never opened.
  static func discover(in directory: String, logger: Logger) -> [DeploymentConfig.Module] {
    let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    let plugins = files.filter { $0.hasSuffix(".so") }.sorted().filter { file in
      if ELFSymbols.isPlugin(path: directory + "/" + file) { return true }
      logger.debug("skipped: not a plugin (exports no carbon_plugin_entry)", metadata: ["file": "\(directory)/\(file)"])
      return false
    }
    if plugins.isEmpty { logger.warning("no plugin (*.so) found", metadata: ["plugin_dir": "\(directory)"]) }
    return plugins.map { DeploymentConfig.Module(name: $0, path: directory + "/" + $0) }
  }

  static func resolve(_ path: String, relativeTo directory: String) -> String {
    path.hasPrefix("/") ? path : directory + "/" + path
  }
}
