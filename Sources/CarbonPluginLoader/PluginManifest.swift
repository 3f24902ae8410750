import Crypto
import Foundation

/// The sidecar manifest of a plugin, `<library file>.manifest.json`: what the library is
/// (name, version, ABI version, methods) and the SHA-256 of its exact bytes, written when the
/// library is built (`carbonhub plugin manifest`) and optionally signed by a publisher
/// (`<library file>.manifest.sig`, see `PluginTrustPolicy`).
///
/// The loader checks it before `dlopen` (digest, ABI version, signature) and compares it with
/// the library's descriptor after (name, version, methods), so a binary that is not the one
/// the manifest describes is refused before its constructors run.
///
/// ```json
/// { "format": 1, "name": "gwp", "version": "1.0.0", "abi_version": 1,
///   "sha256": "…64 hex…", "publisher": "acme",
///   "methods": [{ "path": "/carbon.examples.v1.Gwp/ToCo2e", "server_streaming": false }] }
/// ```
public struct PluginManifest: Sendable, Equatable, Codable {
  /// One method the manifest declares.
  public struct Method: Sendable, Hashable, Codable {
    /// Full gRPC path, e.g. "/carbon.examples.v1.Gwp/ToCo2e".
    public var path: String
    /// True for a method that answers with a stream (server-streaming or bidirectional).
    public var serverStreaming: Bool
    /// True for a bidirectional-streaming method (a stream of requests). Absent means false,
    /// so manifests written before such methods existed read unchanged.
    public var clientStreaming: Bool

    /// A method entry.
    public init(path: String, serverStreaming: Bool, clientStreaming: Bool = false) {
      self.path = path
      self.serverStreaming = serverStreaming || clientStreaming
      self.clientStreaming = clientStreaming
    }

    /// The entry of a method as a library declares it.
    public init(_ method: PluginMethod) {
      self.init(path: method.path, serverStreaming: method.isServerStreaming, clientStreaming: method.isClientStreaming)
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
      case path
      case serverStreaming = "server_streaming"
      case clientStreaming = "client_streaming"
    }

    public init(from decoder: any Decoder) throws {
      let container = try decoder.container(keyedBy: CodingKeys.self)
      path = try container.decode(String.self, forKey: .path)
      serverStreaming = try container.decode(Bool.self, forKey: .serverStreaming)
      clientStreaming = try container.decodeIfPresent(Bool.self, forKey: .clientStreaming) ?? false
    }

    public func encode(to encoder: any Encoder) throws {
      var container = encoder.container(keyedBy: CodingKeys.self)
      try container.encode(path, forKey: .path)
      try container.encode(serverStreaming, forKey: .serverStreaming)
      // Written only when true: a manifest of a module without such methods stays as it was.
      if clientStreaming { try container.encode(true, forKey: .clientStreaming) }
    }

    /// "(unary)", "(server streaming)" or "(bidirectional streaming)".
    var kindLabel: String {
      clientStreaming ? "(bidirectional streaming)" : serverStreaming ? "(server streaming)" : "(unary)"
    }
  }

  /// The manifest format this loader reads and writes.
  public static let currentFormat = 1

  /// Manifest format version (1).
  public var format: Int
  /// The module name the library declares.
  public var name: String
  /// The version the library declares.
  public var version: String
  /// The plugin ABI version the library was built against.
  public var abiVersion: UInt32
  /// SHA-256 of the library file, lowercase hex.
  public var sha256: String
  /// The methods the library declares, in its order.
  public var methods: [Method]
  /// Name of the publisher whose key signs this manifest (a key of the deployment's
  /// `[trust.publishers]`); nil for an unsigned manifest.
  public var publisher: String?

  /// A manifest in the current format.
  public init(
    name: String, version: String, abiVersion: UInt32, sha256: String, methods: [Method], publisher: String? = nil
  ) {
    self.format = Self.currentFormat
    self.name = name
    self.version = version
    self.abiVersion = abiVersion
    self.sha256 = sha256
    self.methods = methods
    self.publisher = publisher
  }

  /// The manifest describing an opened library.
  public init(describing library: PluginLibrary, publisher: String? = nil) {
    self.init(
      name: library.name, version: library.version, abiVersion: library.abiVersion, sha256: library.sha256,
      methods: library.methods.map(Method.init),
      publisher: publisher)
  }

  enum CodingKeys: String, CodingKey, CaseIterable {
    case format, name, version, sha256, methods, publisher
    case abiVersion = "abi_version"
  }

  /// The manifest path of a library: `<library>.manifest.json`.
  public static func manifestPath(forLibrary path: String) -> String { path + ".manifest.json" }

  /// The detached signature path of a library: `<library>.manifest.sig`.
  public static func signaturePath(forLibrary path: String) -> String { path + ".manifest.sig" }

  /// Parses manifest bytes; errors name the offending field (`methods[1].path`).
  ///
  /// Unknown keys are errors: a manifest is a security statement, and a misspelt key must not
  /// silently drop part of it.
  public static func parse(_ data: Data) throws(ManifestError) -> PluginManifest {
    let object: Any
    do {
      object = try JSONSerialization.jsonObject(with: data)
    } catch {
      throw ManifestError(field: nil, reason: "not valid JSON")
    }
    guard let root = object as? [String: Any] else { throw ManifestError(field: nil, reason: "must be a JSON object") }
    try rejectUnknownKeys(root, allowed: CodingKeys.allCases.map(\.rawValue), prefix: "")
    if let methods = root["methods"] as? [Any] {
      for (index, method) in methods.enumerated() {
        guard let method = method as? [String: Any] else {
          throw ManifestError(field: "methods[\(index)]", reason: "must be an object")
        }
        try rejectUnknownKeys(method, allowed: Method.CodingKeys.allCases.map(\.rawValue), prefix: "methods[\(index)].")
      }
    }
    var manifest: PluginManifest
    do {
      manifest = try JSONDecoder().decode(PluginManifest.self, from: data)
    } catch let error as DecodingError {
      throw ManifestError(decoding: error)
    } catch {
      throw ManifestError(field: nil, reason: "\(error)")
    }
    try manifest.validate()
    manifest.sha256 = manifest.sha256.lowercased()
    return manifest
  }

  /// The bytes written to the manifest file: pretty-printed JSON with sorted keys and a final
  /// newline. A signature covers these exact bytes; nothing re-serialises them.
  public func encoded() -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    // Encoding a struct of strings, numbers and arrays cannot fail.
    return ((try? encoder.encode(self)) ?? Data()) + Data("\n".utf8)
  }

  /// Checks the values (types were checked by decoding).
  func validate() throws(ManifestError) {
    guard format == Self.currentFormat else {
      throw ManifestError(field: "format", reason: "is \(format); this host reads format \(Self.currentFormat)")
    }
    guard !name.isEmpty else { throw ManifestError(field: "name", reason: "must not be empty") }
    guard !version.isEmpty else { throw ManifestError(field: "version", reason: "must not be empty") }
    guard sha256.count == 64, sha256.allSatisfy(\.isHexDigit) else {
      throw ManifestError(field: "sha256", reason: "must be 64 hexadecimal characters")
    }
    for (index, method) in methods.enumerated() where !method.path.hasPrefix("/") {
      throw ManifestError(field: "methods[\(index)].path", reason: "'\(method.path)' is not /<package>.<Service>/<Method>")
    }
    if let publisher, publisher.isEmpty {
      throw ManifestError(field: "publisher", reason: "must not be empty (leave it out for an unsigned manifest)")
    }
  }

  /// The first difference between this manifest and what a library declares, as
  /// (field, manifest's value, library's value); nil when they agree.
  public func difference(
    name libraryName: String, version libraryVersion: String, methods libraryMethods: [PluginMethod]
  ) -> (field: String, manifest: String, library: String)? {
    if name != libraryName { return ("name", name, libraryName) }
    if version != libraryVersion { return ("version", version, libraryVersion) }
    let declared = Set(libraryMethods.map(Method.init))
    let listed = Set(methods)
    if declared != listed {
      func describe(_ methods: Set<Method>) -> String {
        methods.isEmpty
          ? "none"
          : methods.sorted { $0.path < $1.path }.map { "\($0.path) \($0.kindLabel)" }
            .joined(separator: ", ")
      }
      return ("methods", describe(listed.subtracting(declared)), describe(declared.subtracting(listed)))
    }
    return nil
  }

  private static func rejectUnknownKeys(_ object: [String: Any], allowed: [String], prefix: String) throws(ManifestError) {
    for key in object.keys.sorted() where !allowed.contains(key) {
      throw ManifestError(field: prefix + key, reason: "unknown key (allowed: \(allowed.sorted().joined(separator: ", ")))")
    }
  }
}

/// Why a manifest could not be read, naming the field when there is one.
public struct ManifestError: Error, Equatable, CustomStringConvertible {
  /// The offending field's path (`methods[0].server_streaming`); nil for the whole file.
  public let field: String?
  /// What is wrong with it.
  public let reason: String

  /// An error about `field` (nil: the whole manifest).
  public init(field: String?, reason: String) {
    self.field = field
    self.reason = reason
  }

  init(decoding error: DecodingError) {
    func path(_ codingPath: [any CodingKey]) -> String? {
      guard !codingPath.isEmpty else { return nil }
      return codingPath.reduce("") { text, key in
        if let index = key.intValue { return text + "[\(index)]" }
        return text.isEmpty ? key.stringValue : text + "." + key.stringValue
      }
    }
    switch error {
    case .keyNotFound(let key, let context):
      let parent = path(context.codingPath)
      self.init(field: parent.map { "\($0).\(key.stringValue)" } ?? key.stringValue, reason: "is required")
    case .typeMismatch(let type, let context):
      self.init(field: path(context.codingPath), reason: "must be \(Self.describe(type))")
    case .valueNotFound(let type, let context):
      self.init(field: path(context.codingPath), reason: "must be \(Self.describe(type)), not null")
    case .dataCorrupted(let context):
      self.init(field: path(context.codingPath), reason: context.debugDescription)
    @unknown default:
      self.init(field: nil, reason: "\(error)")
    }
  }

  private static func describe(_ type: Any.Type) -> String {
    switch type {
    case is String.Type: return "a string"
    case is Bool.Type: return "true or false"
    case is Int.Type, is UInt32.Type: return "an integer"
    case is [Any].Type, is [PluginManifest.Method].Type: return "an array"
    default: return "an object"
    }
  }

  /// "field: reason", or the reason alone.
  public var description: String { field.map { "\($0): \(reason)" } ?? reason }
}
