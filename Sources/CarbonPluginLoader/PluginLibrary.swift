import CarbonPluginABI
import Crypto
import CarbonDomain
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Why a shared library was refused or could not be loaded. Each case carries the message an
/// admin sees in `carbonhub modules` and in the logs.
public enum PluginLoadError: Error, Equatable, CustomStringConvertible {
  case fileNotFound(path: String)
  case unsafePermissions(path: String, mode: UInt32)
  /// The file or a directory above it belongs to another user than root or the host's.
  case unsafeOwner(path: String, owner: UInt32, hostUser: UInt32)
  /// The configured path is a symbolic link and the deployment does not set `trust.allow_symlinks`.
  case symbolicLink(path: String, target: String)
  /// The sealed in-memory copy the library is loaded from could not be made.
  case privateCopyFailed(path: String, reason: String)
  case digestMismatch(path: String, expected: String, actual: String)
  case dlopenFailed(path: String, reason: String)
  case missingEntrySymbol(path: String)
  case nullDescriptor(path: String)
  case abiMismatch(path: String, plugin: UInt32, host: UInt32)
  case invalidDescriptor(path: String, reason: String)
  case initFailed(module: String, status: CarbonStatus, message: String)
  /// The policy requires a manifest (`requirement` names the deployment key) and there is none.
  case manifestMissing(path: String, requirement: String)
  /// The manifest file is unreadable or invalid; `field` names the offending key when there is one.
  case invalidManifest(path: String, field: String?, reason: String)
  /// The library's bytes are not those the manifest describes.
  case binaryTampered(path: String, manifest: String, actual: String)
  /// `trust.require_signature` and no signature file.
  case unsigned(path: String)
  /// The signature does not verify under the named publisher's key.
  case invalidSignature(path: String, publisher: String, reason: String)
  /// `trust.require_signature` and the manifest names no publisher, or one the deployment does not trust.
  case untrustedPublisher(path: String, publisher: String?, trusted: [String])
  /// The manifest declares another ABI version than the host's (checked before dlopen).
  case manifestABIMismatch(path: String, manifest: UInt32, host: UInt32)
  /// After dlopen, the descriptor declares something else than the manifest.
  case manifestMismatch(path: String, field: String, manifest: String, library: String)
  /// An isolated module's worker process could not be started or died before it was ready
  /// (see `WorkerSupervisor`); the reason names the cause (exit code, signal, timeout).
  case workerFailed(module: String, reason: String)

  public var description: String {
    switch self {
    case .fileNotFound(let path): return "\(path): no such file"
    case .unsafePermissions(let path, let mode):
      return "\(path) is writable by group or others (mode \(String(mode & 0o7777, radix: 8))); "
        + "refusing to load a plugin from it: run `chmod go-w` on it (the plugin and every directory "
        + "above it must be writable only by root or the host's user; a root-owned sticky directory "
        + "such as /tmp is accepted)"
    case .unsafeOwner(let path, let owner, let hostUser):
      return "\(path) belongs to uid \(owner), neither root nor the host's user (uid \(hostUser)); "
        + "refusing to load a plugin from it: whoever owns it could replace the plugin's code"
    case .symbolicLink(let path, let target):
      return "\(path) is a symbolic link (to \(target)); refusing to follow it: configure the real "
        + "path, or set trust.allow_symlinks = true"
    case .privateCopyFailed(let path, let reason):
      return "\(path): cannot make the private copy it is loaded from: \(reason)"
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
      return "module \(module) failed to initialise (status \(status.name)): \(message)"
    case .manifestMissing(let path, let requirement):
      return "\(path) has no manifest (\(PluginManifest.manifestPath(forLibrary: path))) and the deployment sets "
        + "\(requirement): write it with `carbonhub plugin manifest`"
        + (requirement == "trust.require_signature" ? " and sign it with `carbonhub plugin sign`" : "")
    case .invalidManifest(let path, let field, let reason):
      return "\(path): invalid manifest: " + (field.map { "\($0): " } ?? "") + reason
    case .binaryTampered(let path, let manifest, let actual):
      return "\(path) is not the binary its manifest describes (the manifest says sha256 \(manifest), the file is "
        + "\(actual)): it was modified after the manifest was written, or rebuilt without rerunning "
        + "`carbonhub plugin manifest`; refusing to load it"
    case .unsigned(let path):
      return "\(path) is not signed (no \(PluginManifest.signaturePath(forLibrary: path))) and the deployment sets "
        + "trust.require_signature: sign its manifest with `carbonhub plugin sign`"
    case .invalidSignature(let path, let publisher, let reason):
      return "\(PluginManifest.signaturePath(forLibrary: path)): the signature does not verify with publisher "
        + "'\(publisher)''s key: \(reason); refusing to load \(path)"
    case .untrustedPublisher(let path, let publisher, let trusted):
      let trustedList = trusted.isEmpty ? "none" : trusted.joined(separator: ", ")
      guard let publisher else {
        return "\(PluginManifest.manifestPath(forLibrary: path)) names no publisher, and the deployment sets "
          + "trust.require_signature: write the manifest with `carbonhub plugin manifest --publisher NAME` and sign it"
      }
      return "\(path) is signed by publisher '\(publisher)', which this deployment does not trust (trusted: "
        + "\(trustedList)): add its public key under [trust.publishers] if you trust it"
    case .manifestABIMismatch(let path, let manifest, let host):
      return "\(path): its manifest says plugin ABI version \(manifest) but this host speaks version \(host): "
        + "rebuild the plugin against this host's carbon_plugin.h and rewrite its manifest, or run a host for ABI \(manifest)"
    case .manifestMismatch(let path, let field, let manifest, let library):
      return "\(path): \(field): manifest says \(manifest), library declares \(library); refusing it: "
        + "rewrite the manifest from the binary you mean to run"
    case .workerFailed(let module, let reason): return "module \(module): worker process failed: \(reason)"
    }
  }
}

/// One method as a plugin declares it.
public struct PluginMethod: Sendable, Hashable {
  /// Full gRPC path, e.g. "/carbon.examples.v1.Units/Convert".
  public let path: String
  /// True when the method answers with a stream (server-streaming and bidirectional methods).
  public let isServerStreaming: Bool
  /// True when the method takes a stream of requests (bidirectional methods,
  /// `CARBON_METHOD_BIDI_STREAMING`); such a method is always server-streaming too.
  public let isClientStreaming: Bool

  /// Creates a method description (the loader reads them from the descriptor; an isolated
  /// module's worker reports them in its hello).
  public init(path: String, isServerStreaming: Bool, isClientStreaming: Bool = false) {
    self.path = path
    self.isServerStreaming = isServerStreaming || isClientStreaming
    self.isClientStreaming = isClientStreaming
  }

  /// "unary", "server-streaming" or "bidirectional-streaming", for messages.
  public var kindName: String {
    isClientStreaming ? "bidirectional-streaming" : isServerStreaming ? "server-streaming" : "unary"
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
  /// The module name the descriptor declares.
  public let name: String
  /// The module version the descriptor declares.
  public let version: String
  /// The descriptor's one-line description.
  public let summary: String
  /// The descriptor's ABI version (equal to the host's once loaded).
  public let abiVersion: UInt32
  /// The methods the descriptor declares, in its order.
  public let methods: [PluginMethod]
  /// The serialized FileDescriptorSet the plugin embeds.
  public let descriptorSet: [UInt8]
  /// What the manifest check found: no manifest, unsigned, or signed by a trusted publisher.
  public let manifestCheck: ManifestCheck

  /// The module's descriptor, copied: only its first `struct_size` bytes come from the module
  /// (a module built against an older header has a shorter one); later fields read as NULL.
  let descriptor: carbon_plugin_descriptor
  private let handle: UnsafeMutableRawPointer

  /// The ABI version of this host.
  public static var hostABIVersion: UInt32 { UInt32(CARBON_PLUGIN_ABI_VERSION) }

  /// Validates and opens a plugin.
  ///
  /// Order matters: every check that needs no plugin code runs before `dlopen`, which runs the
  /// library's constructors: the file's location (`PluginFile`: real path, symbolic links,
  /// owner and mode of the file and of every directory above it), the digest pin, the manifest
  /// and its signature, the manifest's ABI version, and the ELF export of the entry symbol.
  /// The checked bytes are copied once into a sealed in-memory file (`PluginFile.privateCopy`)
  /// whose digest is the one checked, and `dlopen` maps that copy: the bytes checked are the
  /// bytes loaded, and rewriting or replacing the file afterwards cannot reach the loaded code.
  /// The copy stays open for the life of the process, like the mapping.
  ///
  /// - Parameters:
  ///   - expectedSHA256: the deployment's pin, nil for none. A pinned plugin needs no manifest
  ///     even when the policy requires them (the pin says more than a manifest).
  ///   - trust: what the deployment demands of manifests and signatures; nil ignores manifests
  ///     altogether (only for `carbonhub plugin manifest`, which writes them).
  public init(path: String, expectedSHA256: String? = nil, trust: PluginTrustPolicy? = PluginTrustPolicy())
    throws(PluginLoadError)
  {
    let file = try PluginFile.open(path, allowSymlinks: trust?.allowSymlinks ?? true) { .fileNotFound(path: $0) }
    defer { close(file.descriptor) }
    let path = file.path
    self.path = path
    let copy = try file.privateCopy()
    sha256 = copy.sha256
    manifestCheck = try Self.checkBeforeLoading(path: path, sha256: copy.sha256, expectedSHA256: expectedSHA256, trust: trust)
    // Not a plugin (a system library given by mistake or malice): refused from its ELF symbol
    // table, before its constructors could run.
    let symbols = ELFSymbols(fileDescriptor: copy.descriptor)
    guard symbols?.exportsPluginEntry == true else {
      throw .missingEntrySymbol(path: path)
    }
    // A Swift module built for another Swift runtime: refused before its constructors run
    // against this one.
    if let mismatch = symbols?.swiftToolchainMismatch() {
      throw .invalidDescriptor(path: path, reason: mismatch)
    }

    guard let handle = dlopen(copy.loadPath, RTLD_NOW | RTLD_LOCAL) else {
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
    let d = Self.copy(descriptor)
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
    self.descriptor = d
    self.handle = handle
    if let difference = manifestCheck.manifest?.difference(name: name, version: version, methods: methods) {
      throw .manifestMismatch(path: path, field: difference.field, manifest: difference.manifest, library: difference.library)
    }
  }

  /// What every check before `dlopen` found: the digest of the file and its manifest check.
  public struct Preflight: Sendable, Equatable {
    /// The library's real path.
    public let path: String
    /// SHA-256 of the bytes checked, lowercase hex.
    public let sha256: String
    /// What the manifest check found.
    public let manifestCheck: ManifestCheck
  }

  /// Runs every check `init` runs before `dlopen` (location, owner and mode, digest pin,
  /// manifest, signature, manifest ABI version, entry symbol) and loads nothing: no plugin code
  /// runs.
  ///
  /// Isolated mode uses it: the host applies the deployment's trust policy here, then pins the
  /// worker's loader to the digest found, so the worker loads exactly the bytes checked.
  public static func preflight(
    path: String, expectedSHA256: String? = nil, trust: PluginTrustPolicy? = PluginTrustPolicy()
  ) throws(PluginLoadError) -> Preflight {
    let file = try PluginFile.open(path, allowSymlinks: trust?.allowSymlinks ?? true) { .fileNotFound(path: $0) }
    defer { close(file.descriptor) }
    guard let sha256 = file.sha256() else { throw .fileNotFound(path: file.path) }
    let manifestCheck = try checkBeforeLoading(path: file.path, sha256: sha256, expectedSHA256: expectedSHA256, trust: trust)
    guard ELFSymbols(fileDescriptor: file.descriptor)?.exportsPluginEntry == true else {
      throw .missingEntrySymbol(path: file.path)
    }
    return Preflight(path: file.path, sha256: sha256, manifestCheck: manifestCheck)
  }

  /// The checks on the digest of the bytes that will be loaded: the pin, then the manifest and
  /// signature next to the library's real path.
  private static func checkBeforeLoading(
    path: String, sha256: String, expectedSHA256: String?, trust: PluginTrustPolicy?
  ) throws(PluginLoadError) -> ManifestCheck {
    let pin = expectedSHA256?.lowercased() ?? ""
    if !pin.isEmpty, pin != sha256 {
      throw .digestMismatch(path: path, expected: pin, actual: sha256)
    }
    guard let trust else { return .none }
    let manifest = try readSidecar(PluginManifest.manifestPath(forLibrary: path), trust: trust)
    let signature = try readSidecar(PluginManifest.signaturePath(forLibrary: path), trust: trust)
    return try trust.check(
      library: path, sha256: sha256, manifest: manifest, signature: signature, hostABIVersion: hostABIVersion,
      pinned: !pin.isEmpty)
  }

  /// SHA-256 of a file (lowercase hex), as the loader computes it; nil when it cannot be read.
  public static func sha256(ofFileAt path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    return PluginFile.sha256(of: fd)
  }

  /// The bytes of a manifest or signature file next to the library; nil when it does not
  /// exist. It passes the library's own checks (owner, mode, directories, no symbolic link
  /// unless allowed): a manifest that someone else could write or plant vouches for nothing.
  private static func readSidecar(_ sidecar: String, trust: PluginTrustPolicy) throws(PluginLoadError) -> Data? {
    var info = stat()
    guard lstat(sidecar, &info) == 0 else { return nil }
    let file = try PluginFile.open(sidecar, allowSymlinks: trust.allowSymlinks) {
      .invalidManifest(path: $0, field: nil, reason: "cannot read the file")
    }
    defer { close(file.descriptor) }
    guard let data = file.contents() else {
      throw .invalidManifest(path: sidecar, field: nil, reason: "cannot read the file")
    }
    return data
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
    let d = descriptor
    let status = configJSON.withCString { config in
      d.initialize(d.module_data, config, strlen(config), dataDirectory, &instance, &errorMessage)
    }
    let message = errorMessage.map { String(cString: $0) }
    if let errorMessage { d.free_buffer(errorMessage) }
    guard status == CARBON_STATUS_OK, let instance else {
      throw .initFailed(
        module: name, status: CarbonStatus(code: status.rawValue),
        message: message ?? (status == CARBON_STATUS_OK ? "init returned no instance" : "no message"))
    }
    return PluginInstance(library: self, instance: instance)
  }

  /// Copies a module's descriptor without reading past its `struct_size`.
  static func copy(_ pointer: UnsafePointer<carbon_plugin_descriptor>) -> carbon_plugin_descriptor {
    var copy = carbon_plugin_descriptor()
    // abi_version and struct_size lead every version of the struct.
    let declared = UnsafeRawPointer(pointer).load(fromByteOffset: 4, as: UInt32.self)
    let count = min(Int(declared), MemoryLayout<carbon_plugin_descriptor>.size)
    withUnsafeMutableBytes(of: &copy) { target in
      target.copyMemory(from: UnsafeRawBufferPointer(start: pointer, count: max(count, 8)))
    }
    return copy
  }

  /// The size of ABI v1's descriptor before any appended field: the smallest `struct_size` a
  /// module may declare (a module built against an older copy of the header has exactly this).
  static let baseDescriptorSize = MemoryLayout<carbon_plugin_descriptor>.offset(of: \.call_bidi)!

  /// Whether the module reads and writes proto3 JSON itself: its `encodings` field (when
  /// `struct_size` covers it) is 0 or has `CARBON_ENCODINGS_JSON`. When not, `PluginInstance`
  /// converts JSON calls with the descriptor set.
  static func acceptsJSON(_ d: carbon_plugin_descriptor) -> Bool {
    let end = MemoryLayout<carbon_plugin_descriptor>.offset(of: \.encodings)! + MemoryLayout<UInt32>.size
    guard Int(d.struct_size) >= end, d.encodings != 0 else { return true }
    return d.encodings & UInt32(CARBON_ENCODINGS_JSON) != 0
  }

  /// The descriptor's `call_bidi`, when its `struct_size` covers the field and it is set.
  static func bidiEntry(of d: carbon_plugin_descriptor) -> carbon_call_bidi_fn? {
    let end = MemoryLayout<carbon_plugin_descriptor>.offset(of: \.call_bidi)! + MemoryLayout<carbon_call_bidi_fn?>.size
    return Int(d.struct_size) >= end ? d.call_bidi : nil
  }

  /// The descriptor's `call_cancellable`, when its `struct_size` covers the field and it is set.
  static func cancellableEntry(of d: carbon_plugin_descriptor) -> carbon_call_cancellable_fn? {
    let end = MemoryLayout<carbon_plugin_descriptor>.offset(of: \.call_cancellable)! + MemoryLayout<carbon_call_cancellable_fn?>.size
    return Int(d.struct_size) >= end ? d.call_cancellable : nil
  }

  private static func read(descriptor d: carbon_plugin_descriptor, path: String) throws(PluginLoadError)
    -> (String, String, String, [PluginMethod], [UInt8])
  {
    guard d.struct_size >= UInt32(PluginLibrary.baseDescriptorSize) else {
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
        switch entry.kind {
        case CARBON_METHOD_UNARY.rawValue, CARBON_METHOD_SERVER_STREAMING.rawValue:
          methods.append(PluginMethod(path: methodPath, isServerStreaming: entry.kind == CARBON_METHOD_SERVER_STREAMING.rawValue))
        case CARBON_METHOD_BIDI_STREAMING.rawValue:
          guard PluginLibrary.bidiEntry(of: d) != nil else {
            throw .invalidDescriptor(
              path: path,
              reason: "methods[\(index)] '\(methodPath)' is bidirectional-streaming but the descriptor has no call_bidi (struct_size \(d.struct_size))")
          }
          methods.append(PluginMethod(path: methodPath, isServerStreaming: true, isClientStreaming: true))
        default:
          throw .invalidDescriptor(path: path, reason: "methods[\(index)].kind \(entry.kind) is unknown")
        }
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
