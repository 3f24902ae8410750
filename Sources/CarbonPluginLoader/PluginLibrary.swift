import CarbonPluginABI
import Crypto
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Why a shared library was refused or could not be loaded. Each case carries the message an
/// admin sees in `carbonhub modules` and in the logs.
public enum PluginLoadError: Error, Equatable, CustomStringConvertible {
  case fileNotFound(path: String)
  case unsafePermissions(path: String, mode: UInt32)
  case digestMismatch(path: String, expected: String, actual: String)
  case dlopenFailed(path: String, reason: String)
  case missingEntrySymbol(path: String)
  case nullDescriptor(path: String)
  case abiMismatch(path: String, plugin: UInt32, host: UInt32)
  case invalidDescriptor(path: String, reason: String)
  case initFailed(module: String, status: UInt32, message: String)
  /// An isolated module's worker process could not be started or died before it was ready
  /// (see `IsolatedModule`); the reason names the cause (exit code, signal, timeout).
  case workerFailed(module: String, reason: String)

  public var description: String {
    switch self {
    case .fileNotFound(let path): return "\(path): no such file"
    case .unsafePermissions(let path, let mode):
      return "\(path) is writable by group or others (mode \(String(mode & 0o7777, radix: 8))); "
        + "refusing to load it: run `chmod go-w` on it and its directory"
    case .digestMismatch(let path, let expected, let actual):
      return "\(path): sha256 mismatch: the deployment pins \(expected) but the file is \(actual)"
    case .dlopenFailed(let path, let reason): return "\(path): dlopen failed: \(reason)"
    case .missingEntrySymbol(let path):
      return "\(path) does not export `\(CARBON_PLUGIN_ENTRY_SYMBOL)`: not a carbonhub plugin"
    case .nullDescriptor(let path): return "\(path): carbon_plugin_entry() returned NULL"
    case .abiMismatch(let path, let plugin, let host):
      return "\(path) was built for plugin ABI version \(plugin) but this host speaks version \(host): "
        + "rebuild the plugin against this host's carbon_plugin.h"
    case .invalidDescriptor(let path, let reason): return "\(path): invalid descriptor: \(reason)"
    case .initFailed(let module, let status, let message):
      return "module \(module) failed to initialise (status \(ModuleCallStatus.name(of: status))): \(message)"
    case .workerFailed(let module, let reason): return "module \(module): worker process failed: \(reason)"
    }
  }
}

/// One method as a plugin declares it.
public struct PluginMethod: Sendable, Hashable {
  /// Full gRPC path, e.g. "/carbon.examples.v1.Units/Convert".
  public let path: String
  /// True for server-streaming.
  public let isServerStreaming: Bool

  /// Creates a method description (the loader reads them from the descriptor; an isolated
  /// module's worker reports them in its hello).
  public init(path: String, isServerStreaming: Bool) {
    self.path = path
    self.isServerStreaming = isServerStreaming
  }

  /// The fully qualified service ("carbon.examples.v1.Units").
  public var service: String {
    let trimmed = path.hasPrefix("/") ? path.dropFirst() : Substring(path)
    return String(trimmed.split(separator: "/").first ?? "")
  }
  /// The method name ("Convert").
  public var name: String { String(path.split(separator: "/").last ?? "") }
}

/// A plugin shared library opened and validated: its descriptor has been read and checked,
/// no instance exists yet. Keep it alive as long as any instance of it is in use.
public final class PluginLibrary: @unchecked Sendable {
  /// Path the library was loaded from.
  public let path: String
  /// SHA-256 of the file, lowercase hex.
  public let sha256: String
  public let name: String
  public let version: String
  public let summary: String
  public let abiVersion: UInt32
  public let methods: [PluginMethod]
  /// The serialized FileDescriptorSet the plugin embeds.
  public let descriptorSet: [UInt8]

  let descriptor: UnsafePointer<carbon_plugin_descriptor>
  private let handle: UnsafeMutableRawPointer

  /// The ABI version of this host.
  public static var hostABIVersion: UInt32 { carbon_plugin_header_abi_version() }

  /// Validates and opens a plugin.
  ///
  /// Order matters: every check that needs no plugin code (existence, permissions, digest)
  /// runs before `dlopen`, which runs the library's constructors.
  public init(path: String, expectedSHA256: String? = nil) throws(PluginLoadError) {
    let url = URL(fileURLWithPath: path).standardizedFileURL
    let path = url.path
    self.path = path
    var info = stat()
    guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
      throw .fileNotFound(path: path)
    }
    try Self.checkNotWritableByOthers(path: path, mode: UInt32(info.st_mode))
    let directory = url.deletingLastPathComponent().path
    if stat(directory, &info) == 0 {
      try Self.checkNotWritableByOthers(path: directory, mode: UInt32(info.st_mode))
    }
    guard let contents = FileManager.default.contents(atPath: path) else {
      throw .fileNotFound(path: path)
    }
    sha256 = SHA256.hash(data: contents).map { String(format: "%02x", $0) }.joined()
    if let expected = expectedSHA256?.lowercased(), !expected.isEmpty, expected != sha256 {
      throw .digestMismatch(path: path, expected: expected, actual: sha256)
    }

    guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
      throw .dlopenFailed(path: path, reason: dlerror().map { String(cString: $0) } ?? "unknown")
    }
    // A refused library is never dlclose'd: unloading Swift (or C++) code whose constructors ran
    // and registered runtime metadata crashes the process later. It stays mapped, inert.
    guard let symbol = dlsym(handle, CARBON_PLUGIN_ENTRY_SYMBOL) else {
      throw .missingEntrySymbol(path: path)
    }
    let entry = unsafeBitCast(symbol, to: carbon_plugin_entry_fn.self)
    guard let descriptor = entry() else {
      throw .nullDescriptor(path: path)
    }
    let d = descriptor.pointee
    guard d.abi_version == Self.hostABIVersion else {
      throw .abiMismatch(path: path, plugin: d.abi_version, host: Self.hostABIVersion)
    }
    do {
      let read = try Self.read(descriptor: d, path: path)
      (name, version, summary, methods, descriptorSet) = read
    } catch {
      throw error
    }
    abiVersion = d.abi_version
    self.descriptor = descriptor
    self.handle = handle
  }

  // Libraries stay mapped for the life of the process: unloading Swift code that registered
  // runtime metadata is not safe, and hosts reload by loading a new file.
  deinit {}

  /// Creates an instance with the module's JSON config and private data directory.
  public func makeInstance(configJSON: String, dataDirectory: String) throws(PluginLoadError)
    -> PluginInstance
  {
    var instance: UnsafeMutableRawPointer? = nil
    var errorMessage: UnsafeMutablePointer<CChar>? = nil
    let d = descriptor.pointee
    let status = configJSON.withCString { config in
      d.initialize(d.module_data, config, strlen(config), dataDirectory, &instance, &errorMessage)
    }
    let message = errorMessage.map { String(cString: $0) }
    if let errorMessage { d.free_buffer(errorMessage) }
    guard status == CARBON_STATUS_OK, let instance else {
      throw .initFailed(
        module: name, status: status.rawValue,
        message: message ?? (status == CARBON_STATUS_OK ? "init returned no instance" : "no message"))
    }
    return PluginInstance(library: self, instance: instance)
  }

  private static func checkNotWritableByOthers(path: String, mode: UInt32) throws(PluginLoadError) {
    if mode & UInt32(S_IWGRP | S_IWOTH) != 0 {
      throw .unsafePermissions(path: path, mode: mode)
    }
  }

  private static func read(descriptor d: carbon_plugin_descriptor, path: String) throws(PluginLoadError)
    -> (String, String, String, [PluginMethod], [UInt8])
  {
    guard d.struct_size >= UInt32(MemoryLayout<carbon_plugin_descriptor>.size) else {
      throw .invalidDescriptor(path: path, reason: "struct_size \(d.struct_size) is smaller than ABI v1's descriptor")
    }
    guard let namePointer = d.name, let versionPointer = d.version else {
      throw .invalidDescriptor(path: path, reason: "name and version are required")
    }
    let name = String(cString: namePointer)
    guard !name.isEmpty,
      name.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" })
    else {
      throw .invalidDescriptor(path: path, reason: "module name '\(name)' must match [a-z0-9-]+")
    }
    guard d.initialize != nil, d.call != nil, d.free_buffer != nil, d.shutdown != nil else {
      throw .invalidDescriptor(path: path, reason: "initialize, call, free_buffer and shutdown are required")
    }
    var methods: [PluginMethod] = []
    if d.method_count > 0 {
      guard let table = d.methods else {
        throw .invalidDescriptor(path: path, reason: "method_count is \(d.method_count) but methods is NULL")
      }
      for index in 0..<d.method_count {
        let entry = table[index]
        guard let pathPointer = entry.path else {
          throw .invalidDescriptor(path: path, reason: "methods[\(index)].path is NULL")
        }
        let methodPath = String(cString: pathPointer)
        let parts = methodPath.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].isEmpty, parts[1].contains("."), !parts[2].isEmpty else {
          throw .invalidDescriptor(
            path: path, reason: "methods[\(index)].path '\(methodPath)' is not /<package>.<Service>/<Method>")
        }
        guard entry.kind == CARBON_METHOD_UNARY || entry.kind == CARBON_METHOD_SERVER_STREAMING else {
          throw .invalidDescriptor(path: path, reason: "methods[\(index)].kind \(entry.kind.rawValue) is unknown")
        }
        methods.append(PluginMethod(path: methodPath, isServerStreaming: entry.kind == CARBON_METHOD_SERVER_STREAMING))
      }
    }
    var descriptorSet: [UInt8] = []
    if d.descriptor_set_length > 0, let bytes = d.descriptor_set {
      descriptorSet = Array(UnsafeBufferPointer(start: bytes, count: d.descriptor_set_length))
    }
    return (
      name, String(cString: versionPointer), d.description.map { String(cString: $0) } ?? "",
      methods, descriptorSet
    )
  }
}
